"""Models in the lab's safetensors format, both ways.

The lab exports a PyTorch-layout state dict with its spec in the metadata
(`prunability-lab.spec`); this module reads that (or any ResNet ReID checkpoint the lab's key map
knows, inferring the spec from the shapes) into a ReIDResNet, and writes a ReIDResNet back with
the spec and a lineage record (`prunability-lab.lineage`: which engine trained it, how many
steps, on what), which the lab shows as the model's history.
"""
from __future__ import annotations

import json
from typing import Any, Dict, List, Mapping, Optional, Tuple

import torch

from . import safetensors_io
from .keys import canonical_state_dict
from .model import ReIDResNet, build_model
from .spec import SPEC_METADATA_KEY, SpecError, infer_spec, validate_spec

LINEAGE_METADATA_KEY = "prunability-lab.lineage"


class ModelFileError(ValueError):
    """A model file that cannot be used (the message says which file and why)."""


def load_state_dict_file(path: str) -> Tuple[Dict[str, torch.Tensor], Dict[str, str]]:
    """A .safetensors file, or a torch .pt/.pth state dict (e.g. torchvision ImageNet weights)."""
    if path.endswith((".pt", ".pth", ".tar")):
        try:
            obj = torch.load(path, map_location="cpu")
        except Exception as e:  # noqa: BLE001 - any unpickling failure is a bad file for the user
            raise ModelFileError(f"{path} is not a readable torch checkpoint ({e}).") from None
        if isinstance(obj, dict) and "state_dict" in obj and isinstance(obj["state_dict"], dict):
            obj = obj["state_dict"]
        if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
            raise ModelFileError(f"{path} does not hold a state dict of tensors.")
        return dict(obj), {}
    try:
        return safetensors_io.load(path)
    except safetensors_io.SafetensorsError as e:
        raise ModelFileError(str(e)) from None
    except OSError as e:
        raise ModelFileError(f"Cannot read {path}: {e.strerror}.") from None


def spec_from_metadata(meta: Mapping[str, str]) -> Optional[Dict[str, Any]]:
    text = meta.get(SPEC_METADATA_KEY)
    if text is None:
        return None
    try:
        return validate_spec(json.loads(text))
    except (json.JSONDecodeError, SpecError) as e:
        raise ModelFileError(f"The file's {SPEC_METADATA_KEY} metadata is not a valid spec ({e}); fix or remove it.") from None


def load_model(path: str, last_stride: Optional[int] = None, input_size: Optional[Tuple[int, int]] = None,
               drop_classifier: bool = False) -> Tuple[ReIDResNet, Dict[str, str], List[str]]:
    """(model in eval mode, metadata, notes). The spec comes from the file's metadata when it has
    one; otherwise from the shapes, with last stride and input size from the arguments or the
    ReID defaults (1, 128x64), which the notes then say."""
    raw, meta = load_state_dict_file(path)
    sd = canonical_state_dict(raw, drop_classifier=drop_classifier)
    notes: List[str] = []
    spec = spec_from_metadata(meta)
    try:
        shaped = infer_spec({k: list(v.shape) for k, v in sd.items()}, last_stride=last_stride or (spec or {}).get("lastStride", 1),
                            height=(input_size or (0, 0))[0] or (spec or {"input": {"height": 128}})["input"]["height"],
                            width_px=(input_size or (0, 0))[1] or (spec or {"input": {"width": 64}})["input"]["width"],
                            width=(spec or {}).get("widthMultiplier"), drop_classifier=drop_classifier)
    except SpecError as e:
        raise ModelFileError(f"{path}: {e}") from None
    if spec is None:
        if last_stride is None:
            notes.append("The file does not state the last stride; using 1 (pass --last-stride 2 for a torchvision-style model).")
        if input_size is None:
            notes.append("The file does not state the input size; using 128x64 (pass --input-size HxW otherwise).")
    elif drop_classifier:
        spec = dict(spec, head=dict(spec["head"], numClasses=0))
    for k, v in sd.items():
        if v.is_floating_point() and not torch.isfinite(v).all():
            raise ModelFileError(f"{path}: tensor {k} holds NaN or infinite values.")
    model = build_model(shaped)
    try:
        from .model import load_lab_state_dict

        load_lab_state_dict(model, sd)
    except ValueError as e:
        raise ModelFileError(f"{path}: {e}") from None
    model.eval()
    return model, meta, notes


def save_model(path: str, model: ReIDResNet, lineage: Optional[Mapping[str, Any]] = None,
               include_classifier: bool = True, dtype: torch.dtype = torch.float32) -> None:
    """The model as lab safetensors: PyTorch layout and names, spec (and lineage) in the metadata."""
    spec = dict(model.spec)
    sd = {}
    for k, v in model.state_dict().items():
        if k.startswith("classifier.") and not include_classifier:
            continue
        sd[k] = v.to(dtype) if v.is_floating_point() else v
    if not include_classifier:
        spec = dict(spec, head=dict(spec["head"], numClasses=0))
    meta = {"format": "pt", SPEC_METADATA_KEY: json.dumps(spec, separators=(",", ":"))}
    if lineage is not None:
        meta[LINEAGE_METADATA_KEY] = json.dumps(lineage, separators=(",", ":"))
    safetensors_io.save(path, sd, meta)
