"""PyTorch ReID checkpoint key names to the lab's (src/engine/model/state-dict.ts canonicalKey):
`module.` (DataParallel), `backbone.` (fast-reid) and `base.` (reid-strong-baseline) prefixes are
stripped; the BNNeck (`heads.bottleneck.0.*`, `bottleneck.*`) becomes `bnneck.*`; the ID
classifier (`fc.*`, `classifier.*`, `heads.classifier.*`) becomes `classifier.*`;
`num_batches_tracked` and fast-reid's pixel_mean / pixel_std are dropped.
"""
from __future__ import annotations

from typing import Dict, Mapping, Optional

import torch

_PREFIXES = ("module.", "backbone.", "base.")
_RENAMES = (("heads.bottleneck.0.", "bnneck."), ("bottleneck.", "bnneck."), ("heads.classifier.", "classifier."), ("fc.", "classifier."))
_IGNORED = {"pixel_mean", "pixel_std"}


def canonical_key(key: str) -> Optional[str]:
    k = key
    changed = True
    while changed:
        changed = False
        for p in _PREFIXES:
            if k.startswith(p):
                k, changed = k[len(p):], True
    if k.endswith("num_batches_tracked") or k in _IGNORED:
        return None
    for old, new in _RENAMES:
        if k.startswith(old):
            return new + k[len(old):]
    return k


def canonical_state_dict(sd: Mapping[str, torch.Tensor], drop_classifier: bool = False) -> Dict[str, torch.Tensor]:
    out: Dict[str, torch.Tensor] = {}
    seen: Dict[str, str] = {}
    for key, t in sd.items():
        name = canonical_key(key)
        if name is None or (drop_classifier and name.startswith("classifier.")):
            continue
        if name in out:
            raise ValueError(f"The checkpoint holds both {seen[name]} and {key}, which are the same tensor ({name}) for the lab.")
        if t.is_floating_point():
            t = t.float()
        out[name], seen[name] = t, key
    # fast-reid's classifier is a bias-free Linear: a zero bias computes the same logits.
    if "classifier.weight" in out and "classifier.bias" not in out:
        out["classifier.bias"] = torch.zeros(out["classifier.weight"].shape[0])
    return out
