"""The lab's ReID ResNet as a torch.nn.Module, built from a spec (spec.py).

Parameter names are torchvision's (conv1, bn1, layer1.0.conv1, layer2.0.downsample.0, ...),
plus the lab's `bnneck` (BatchNorm1d after global average pooling; its output is the embedding)
and `classifier` (the ID classifier on the embedding, training only), so `state_dict()` has the
keys the lab exports and imports. Every conv's channel count comes from the spec, so pruned
networks are first-class.
"""
from __future__ import annotations

from typing import Any, Dict, Mapping, Optional

import torch
from torch import nn
import torch.nn.functional as F

from .spec import embedding_dim, validate_spec

BN_EPS = 1e-5
BN_MOMENTUM = 0.1


def _bn(c: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(c, eps=BN_EPS, momentum=BN_MOMENTUM)


def _shortcut(b: Mapping[str, Any]) -> Optional[nn.Sequential]:
    """The projection shortcut (1x1 conv + BN) where the spec has one; torchvision's `downsample`."""
    if not b["downsample"]:
        return None
    return nn.Sequential(nn.Conv2d(b["inC"], b["outC"], 1, b["stride"], bias=False), _bn(b["outC"]))


class BasicBlock(nn.Module):
    def __init__(self, b: Mapping[str, Any]):
        super().__init__()
        self.conv1 = nn.Conv2d(b["inC"], b["mid"][0], 3, b["stride"], 1, bias=False)
        self.bn1 = _bn(b["mid"][0])
        self.conv2 = nn.Conv2d(b["mid"][0], b["outC"], 3, 1, 1, bias=False)
        self.bn2 = _bn(b["outC"])
        self.downsample = _shortcut(b)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return F.relu(y + (self.downsample(x) if self.downsample is not None else x))


class Bottleneck(nn.Module):
    # Stride on the 3x3 conv (torchvision's "ResNet v1.5"), as the lab's spec.
    def __init__(self, b: Mapping[str, Any]):
        super().__init__()
        m1, m2 = b["mid"]
        self.conv1 = nn.Conv2d(b["inC"], m1, 1, 1, 0, bias=False)
        self.bn1 = _bn(m1)
        self.conv2 = nn.Conv2d(m1, m2, 3, b["stride"], 1, bias=False)
        self.bn2 = _bn(m2)
        self.conv3 = nn.Conv2d(m2, b["outC"], 1, 1, 0, bias=False)
        self.bn3 = _bn(b["outC"])
        self.downsample = _shortcut(b)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.bn1(self.conv1(x)))
        y = F.relu(self.bn2(self.conv2(y)))
        y = self.bn3(self.conv3(y))
        return F.relu(y + (self.downsample(x) if self.downsample is not None else x))


class ReIDResNet(nn.Module):
    """forward(x) -> {'pooled', 'embedding', 'logits'?}; x is ImageNet-normalised NCHW."""

    def __init__(self, spec: Mapping[str, Any]):
        super().__init__()
        self.spec: Dict[str, Any] = validate_spec(dict(spec))
        self.conv1 = nn.Conv2d(3, spec["stemC"], 7, 2, 3, bias=False)
        self.bn1 = _bn(spec["stemC"])
        block = Bottleneck if spec["block"] == "bottleneck" else BasicBlock
        for s, stage in enumerate(spec["stages"]):
            setattr(self, f"layer{s + 1}", nn.Sequential(*[block(b) for b in stage]))
        dim = embedding_dim(spec)
        self.bnneck = nn.BatchNorm1d(dim, eps=BN_EPS, momentum=BN_MOMENTUM) if spec["head"]["bnneck"] else None
        n = spec["head"]["numClasses"]
        self.classifier = nn.Linear(dim, n) if n > 0 else None
        self.reset_parameters(zero_init_residual=True)

    def reset_parameters(self, zero_init_residual: bool = True) -> None:
        """torchvision's init (the lab's init.ts): Kaiming fan-out convs, BN 1/0, last BN of each
        residual branch zero (a deep ResNet starts as a shallow one), classifier N(0, 0.001)."""
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, (nn.BatchNorm2d, nn.BatchNorm1d)):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        if zero_init_residual:
            for m in self.modules():
                if isinstance(m, BasicBlock):
                    nn.init.zeros_(m.bn2.weight)
                elif isinstance(m, Bottleneck):
                    nn.init.zeros_(m.bn3.weight)
        if self.classifier is not None:
            nn.init.normal_(self.classifier.weight, 0, 0.001)
            nn.init.zeros_(self.classifier.bias)

    def forward(self, x: torch.Tensor, with_logits: bool = False) -> Dict[str, torch.Tensor]:
        h = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 3, 2, 1)
        for s in range(4):
            h = getattr(self, f"layer{s + 1}")(h)
        pooled = h.mean(dim=(2, 3))
        embedding = self.bnneck(pooled) if self.bnneck is not None else pooled
        out = {"pooled": pooled, "embedding": embedding}
        if with_logits:
            if self.classifier is None:
                raise ValueError("This model has no ID classifier (numClasses = 0).")
            out["logits"] = self.classifier(embedding)
        return out


def build_model(spec: Mapping[str, Any], state_dict: Optional[Mapping[str, torch.Tensor]] = None) -> ReIDResNet:
    model = ReIDResNet(spec)
    if state_dict is not None:
        load_lab_state_dict(model, state_dict)
    return model


def load_lab_state_dict(model: ReIDResNet, sd: Mapping[str, torch.Tensor]) -> None:
    """Strict load with one sentence naming what is missing, extra or mis-shaped."""
    own = model.state_dict()
    problems = []
    for k, v in own.items():
        if k.endswith("num_batches_tracked"):
            continue
        if k not in sd:
            problems.append(f"{k}: missing")
        elif tuple(sd[k].shape) != tuple(v.shape):
            problems.append(f"{k}: expected shape {list(v.shape)}, found {list(sd[k].shape)}")
    extra = [k for k in sd if k not in own]
    problems += [f"{k}: no such tensor in this ResNet-{model.spec['depth']}" for k in extra]
    if problems:
        more = f"; and {len(problems) - 6} more" if len(problems) > 6 else ""
        raise ValueError(f"The weights do not match the model: {'; '.join(problems[:6])}{more}.")
    with torch.no_grad():
        for k, v in own.items():
            if k in sd:
                v.copy_(sd[k].to(v.dtype))


def macs_and_params(spec: Mapping[str, Any]) -> Dict[str, int]:
    """MACs of convs and linear layers (BN, ReLU, pooling, adds excluded) and parameters without
    the ID classifier, counted as the lab's cost/macs.ts counts them."""
    h, w = spec["input"]["height"], spec["input"]["width"]

    def out(n: int, k: int, s: int, p: int) -> int:
        return (n + 2 * p - k) // s + 1

    macs = 0
    params = 0
    h, w = out(h, 7, 2, 3), out(w, 7, 2, 3)
    macs += h * w * 3 * 49 * spec["stemC"]
    params += 3 * 49 * spec["stemC"] + 2 * spec["stemC"]
    h, w = out(h, 3, 2, 1), out(w, 3, 2, 1)
    for stage in spec["stages"]:
        for b in stage:
            oh, ow = out(h, 3, b["stride"], 1), out(w, 3, b["stride"], 1)
            if spec["block"] == "basic":
                convs = [(b["inC"], b["mid"][0], 9, oh * ow), (b["mid"][0], b["outC"], 9, oh * ow)]
            else:
                convs = [(b["inC"], b["mid"][0], 1, h * w), (b["mid"][0], b["mid"][1], 9, oh * ow), (b["mid"][1], b["outC"], 1, oh * ow)]
            if b["downsample"]:
                convs.append((b["inC"], b["outC"], 1, oh * ow))
            for cin, cout, k, area in convs:
                macs += cin * cout * k * area
                params += cin * cout * k + 2 * cout
            h, w = oh, ow
    if spec["head"]["bnneck"]:
        params += 2 * embedding_dim(spec)
    return {"macs": macs, "params": params}
