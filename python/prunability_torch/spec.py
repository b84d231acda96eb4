"""The lab's ResNet spec (src/engine/model/spec.ts) in Python.

A spec is the plain JSON dict the lab writes: every layer's channel count is explicit, so a
pruned network is a spec with smaller numbers. This module builds the unpruned spec exactly as
the lab does (torchvision layout, width multiplier, last stride, BNNeck), validates specs read
from files, and infers a spec from a state dict's shapes (pruned checkpoints load as themselves).
"""
from __future__ import annotations

import copy
import json
from typing import Any, Dict, List, Mapping, Optional, Sequence

SPEC_FORMAT = "prunability-lab/resnet@1"
SPEC_METADATA_KEY = "prunability-lab.spec"
BLOCKS_PER_STAGE = {18: [2, 2, 2, 2], 34: [3, 4, 6, 3], 50: [3, 4, 6, 3]}


class SpecError(ValueError):
    """A spec that does not describe a runnable ResNet (the message says why)."""


def scale_channels(c: int, width: float) -> int:
    # JavaScript's Math.round rounds halves up; Python's round() rounds them to even.
    import math

    return max(1, int(math.floor(c * width + 0.5)))


def build_spec(depth: int, width: float = 1.0, last_stride: int = 1, height: int = 128, width_px: int = 64,
               bnneck: bool = True, num_classes: int = 0) -> Dict[str, Any]:
    if depth not in BLOCKS_PER_STAGE:
        raise SpecError(f"Unsupported ResNet depth {depth}; expected 18, 34 or 50.")
    if not (0 < width <= 4):
        raise SpecError(f"Width multiplier must be in (0, 4]; got {width}.")
    block = "bottleneck" if depth == 50 else "basic"
    expansion = 4 if block == "bottleneck" else 1
    stem_c = scale_channels(64, width)
    stages: List[List[Dict[str, Any]]] = []
    in_c = stem_c
    for s, planes in enumerate([64, 128, 256, 512]):
        p = scale_channels(planes, width)
        out_c = p * expansion
        blocks = []
        for b in range(BLOCKS_PER_STAGE[depth][s]):
            stride = (last_stride if s == 3 else 2) if (b == 0 and s > 0) else 1
            blocks.append({"inC": in_c, "mid": [p, p] if block == "bottleneck" else [p], "outC": out_c,
                           "stride": stride, "downsample": b == 0 and (stride != 1 or in_c != out_c)})
            in_c = out_c
        stages.append(blocks)
    spec = {"format": SPEC_FORMAT, "depth": depth, "block": block, "widthMultiplier": width,
            "input": {"height": height, "width": width_px}, "stemC": stem_c, "stages": stages,
            "lastStride": last_stride, "head": {"bnneck": bnneck, "numClasses": num_classes}}
    validate_spec(spec)
    return spec


def _pos_int(v: Any, what: str) -> None:
    if not isinstance(v, int) or isinstance(v, bool) or v < 1:
        raise SpecError(f"{what} must be a positive integer; found {json.dumps(v)}.")


# Input sizes beyond this are refused: a ReID crop is at most a few hundred pixels a side.
MAX_INPUT_SIDE = 2048


def validate_spec(spec: Any) -> Dict[str, Any]:
    """Check that a spec describes a runnable network; raise SpecError with a sentence if not."""
    if not isinstance(spec, dict):
        raise SpecError("A model spec is a JSON object.")
    if spec.get("format") != SPEC_FORMAT:
        raise SpecError(f"Unknown model format {json.dumps(spec.get('format'))}; expected \"{SPEC_FORMAT}\".")
    depth = spec.get("depth")
    if depth not in BLOCKS_PER_STAGE:
        raise SpecError(f"Unsupported depth {json.dumps(depth)}; expected 18, 34 or 50.")
    kind = "bottleneck" if depth == 50 else "basic"
    if spec.get("block") != kind:
        raise SpecError(f"ResNet-{depth} uses {kind} blocks, but the spec says {json.dumps(spec.get('block'))}.")
    inp = spec.get("input") or {}
    _pos_int(inp.get("height"), "Input height")
    _pos_int(inp.get("width"), "Input width")
    if inp["height"] > MAX_INPUT_SIDE or inp["width"] > MAX_INPUT_SIDE:
        raise SpecError(f"Input size {inp['height']}x{inp['width']} is implausible for a ReID model (at most {MAX_INPUT_SIDE} a side).")
    _pos_int(spec.get("stemC"), "Stem channels")
    stages = spec.get("stages")
    if not isinstance(stages, list) or len(stages) != 4:
        raise SpecError("A ResNet spec has exactly 4 stages.")
    in_c = spec["stemC"]
    n_mid = 2 if kind == "bottleneck" else 1
    for s, stage in enumerate(stages):
        if not isinstance(stage, list) or not stage:
            raise SpecError(f"Stage layer{s + 1} has no blocks.")
        for i, b in enumerate(stage):
            where = f"layer{s + 1}.{i}"
            if not isinstance(b, dict):
                raise SpecError(f"{where} is malformed: expected a block description.")
            _pos_int(b.get("inC"), f"{where} input channels")
            if b["inC"] != in_c:
                raise SpecError(f"{where} expects {b['inC']} input channels but receives {in_c}.")
            mid = b.get("mid")
            if not isinstance(mid, list) or len(mid) != n_mid:
                raise SpecError(f"{where} must have {n_mid} inner channel count(s).")
            for j, m in enumerate(mid):
                _pos_int(m, f"{where} inner channels [{j}]")
            _pos_int(b.get("outC"), f"{where} output channels")
            if b.get("stride") not in (1, 2):
                raise SpecError(f"{where} stride must be 1 or 2; found {json.dumps(b.get('stride'))}.")
            if not b.get("downsample") and (b["stride"] != 1 or b["inC"] != b["outC"]):
                raise SpecError(f"{where} changes resolution or channels but has no downsample shortcut.")
            in_c = b["outC"]
    if spec.get("lastStride") not in (1, 2):
        raise SpecError(f"Last stride must be 1 or 2; found {json.dumps(spec.get('lastStride'))}.")
    head = spec.get("head")
    if not isinstance(head, dict) or not isinstance(head.get("bnneck"), bool):
        raise SpecError("The head must say whether it has a BNNeck.")
    nc = head.get("numClasses")
    if not isinstance(nc, int) or isinstance(nc, bool) or nc < 0:
        raise SpecError(f"numClasses must be a non-negative integer; found {json.dumps(nc)}.")
    return spec


def embedding_dim(spec: Mapping[str, Any]) -> int:
    return spec["stages"][-1][-1]["outC"]


def clone(spec: Mapping[str, Any]) -> Dict[str, Any]:
    return copy.deepcopy(dict(spec))


def with_classes(spec: Mapping[str, Any], num_classes: int) -> Dict[str, Any]:
    out = clone(spec)
    out["head"]["numClasses"] = num_classes
    return out


def infer_spec(shapes: Mapping[str, Sequence[int]], last_stride: int = 1, height: int = 128, width_px: int = 64,
               width: Optional[float] = None, drop_classifier: bool = False) -> Dict[str, Any]:
    """A spec from canonical-keyed PyTorch shapes (state_dict.ts's inferSpec)."""
    if "conv1.weight" not in shapes:
        raise SpecError("The checkpoint has no conv1.weight; a ResNet needs it.")
    stem = list(shapes["conv1.weight"])
    if len(stem) != 4 or stem[1:] != [3, 7, 7]:
        raise SpecError(f"conv1.weight has shape {stem}; a ResNet stem is [C, 3, 7, 7].")
    counts = [0, 0, 0, 0]
    bottleneck = False
    import re

    for k in shapes:
        m = re.match(r"^layer([1-4])\.(\d+)\.(conv\d)\.", k)
        if not m:
            continue
        s = int(m.group(1)) - 1
        counts[s] = max(counts[s], int(m.group(2)) + 1)
        bottleneck = bottleneck or m.group(3) == "conv3"
    depth = next((d for d, n in BLOCKS_PER_STAGE.items() if n == counts and (d == 50) == bottleneck), None)
    if depth is None:
        raise SpecError(f"The checkpoint's stages hold {counts} {'bottleneck' if bottleneck else 'basic'} blocks; "
                        "supported: ResNet-18 ([2, 2, 2, 2] basic), ResNet-34 ([3, 4, 6, 3] basic), ResNet-50 ([3, 4, 6, 3] bottleneck).")

    def shape(name: str) -> List[int]:
        if name not in shapes:
            raise SpecError(f"The checkpoint has no {name}; a ResNet-{depth} needs it.")
        return list(shapes[name])

    stages = []
    for s in range(4):
        blocks = []
        for i in range(counts[s]):
            p = f"layer{s + 1}.{i}"
            c1, c2 = shape(f"{p}.conv1.weight"), shape(f"{p}.conv2.weight")
            last = shape(f"{p}.conv3.weight") if bottleneck else c2
            stride = (last_stride if s == 3 else 2) if (i == 0 and s > 0) else 1
            blocks.append({"inC": c1[1], "mid": [c1[0], c2[0]] if bottleneck else [c1[0]], "outC": last[0],
                           "stride": stride, "downsample": f"{p}.downsample.0.weight" in shapes})
        stages.append(blocks)
    classifier = None if drop_classifier else shapes.get("classifier.weight")
    spec = {"format": SPEC_FORMAT, "depth": depth, "block": "bottleneck" if bottleneck else "basic",
            "widthMultiplier": width if width is not None else min(4, stem[0] / 64),
            "input": {"height": height, "width": width_px}, "stemC": stem[0], "stages": stages,
            "lastStride": last_stride, "head": {"bnneck": "bnneck.weight" in shapes,
                                                "numClasses": int(classifier[0]) if classifier else 0}}
    return validate_spec(spec)
