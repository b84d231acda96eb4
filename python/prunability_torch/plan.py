"""Apply the lab's pruning plans (docs/PRUNING_PLAN.md, src/engine/prune/plan-json.ts) to a
dense PyTorch state dict.

A plan names, per dependency group, the channel indices to keep. A group is every slice that
must lose the same channel (src/engine/prune/groups.ts): an inner group is conv K's filters and
BN K plus conv K+1's input channels; a trunk group is every conv (and BN) that writes into one
stage's chain of residual adds, every conv that reads it, and for the last trunk the BNNeck and
the classifier's inputs. `apply_plan` checks the plan (format, fingerprint, scope, indices) and
that it was made for this network, then slices every member of every group.
"""
from __future__ import annotations

import json
import math
from typing import Any, Dict, List, Mapping, Tuple

import torch

from .keys import canonical_state_dict
from .spec import SpecError, clone, infer_spec, validate_spec

PLAN_JSON_FORMAT = "prunability-lab/prune-plan-json@1"


class PlanError(ValueError):
    """A plan that cannot be applied here (the message says why)."""


def _js_number(v: float) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int) or (isinstance(v, float) and v.is_integer() and abs(v) < 1e21):
        return str(int(v))
    r = repr(float(v))
    if "e" in r:  # JavaScript writes 1e-7, Python 1e-07
        mant, exp = r.split("e")
        r = f"{mant}e{'-' if exp.startswith('-') else '+'}{int(exp.lstrip('+-'))}"
    return r


def canonical_json(v: Any) -> str:
    """JSON with sorted keys, numbers as JavaScript prints them (plan-json.ts's canonical())."""
    if isinstance(v, list):
        return "[" + ",".join(canonical_json(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ",".join(f"{json.dumps(k, ensure_ascii=False)}:{canonical_json(v[k])}" for k in sorted(v)) + "}"
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return _js_number(v)
    return json.dumps(v, ensure_ascii=False)


def spec_fingerprint(spec: Mapping[str, Any]) -> str:
    """FNV-1a (32 bit) over the UTF-16 code units of the canonical JSON (util/prng.ts hashString)."""
    h = 0x811C9DC5
    text = canonical_json(spec)
    raw = text.encode("utf-16-le")
    for u in (int.from_bytes(raw[i:i + 2], "little") for i in range(0, len(raw), 2)):
        h ^= u
        h = (h * 0x01000193) & 0xFFFFFFFF
    return f"fnv1a32:{h:08x}"


# Members are (parameter name, axis in PyTorch layout): conv [out, in, kh, kw], linear [out, in].
Member = Tuple[str, int]
_BN = ("weight", "bias", "running_mean", "running_var")


def _bn(prefix: str) -> List[Member]:
    return [(f"{prefix}.{s}", 0) for s in _BN]


def group_layout(spec: Mapping[str, Any]) -> Dict[str, Dict[str, Any]]:
    """id -> {kind, channels, members}, in the lab's order (stem, then blocks)."""
    groups: Dict[str, Dict[str, Any]] = {}

    def open_(gid: str, kind: str, channels: int) -> Dict[str, Any]:
        groups[gid] = {"id": gid, "kind": kind, "channels": channels, "members": []}
        return groups[gid]

    first = spec["stages"][0][0]
    stem = open_("stem" if first["downsample"] else "trunk1", "stem" if first["downsample"] else "trunk", spec["stemC"])
    stem["members"] += [("conv1.weight", 0)] + _bn("bn1")
    current = stem
    for s, stage in enumerate(spec["stages"]):
        for i, b in enumerate(stage):
            p = f"layer{s + 1}.{i}"
            current["members"].append((f"{p}.conv1.weight", 1))
            if b["downsample"]:
                if i > 0:
                    raise PlanError(f"Block {p} has a projection shortcut in the middle of its stage; plans support them only in a stage's first block.")
                current["members"].append((f"{p}.downsample.0.weight", 1))
                current = open_(f"trunk{s + 1}", "trunk", b["outC"])
                current["members"] += [(f"{p}.downsample.0.weight", 0)] + _bn(f"{p}.downsample.1")
            for k, m in enumerate(b["mid"]):
                g = open_(f"{p}.conv{k + 1}", "inner", m)
                g["members"] += [(f"{p}.conv{k + 1}.weight", 0)] + _bn(f"{p}.bn{k + 1}") + [(f"{p}.conv{k + 2}.weight", 1)]
            last = len(b["mid"]) + 1
            current["members"] += [(f"{p}.conv{last}.weight", 0)] + _bn(f"{p}.bn{last}")
    if spec["head"]["bnneck"]:
        current["members"] += _bn("bnneck")
    current["members"].append(("classifier.weight", 1))  # sliced only where the state dict has one
    return groups


def _same_network(plan_spec: Mapping[str, Any], spec: Mapping[str, Any]) -> str:
    """The first difference that matters for slicing, as a phrase ('' when none)."""
    if plan_spec["depth"] != spec["depth"]:
        return f"the plan is for a ResNet-{plan_spec['depth']}, the weights are a ResNet-{spec['depth']}"
    if plan_spec["stemC"] != spec["stemC"]:
        return f"the stem has {plan_spec['stemC']} channels in the plan's model and {spec['stemC']} in these weights"
    for s in range(4):
        for i, (x, y) in enumerate(zip(plan_spec["stages"][s], spec["stages"][s])):
            where = f"layer{s + 1}.{i}"
            if x["mid"] != y["mid"]:
                return f"{where} has inner channels {x['mid']} in the plan's model and {y['mid']} in these weights"
            if x["outC"] != y["outC"] or x["downsample"] != y["downsample"]:
                return f"{where} outputs {x['outC']} channels in the plan's model and {y['outC']} in these weights"
    if plan_spec["head"]["bnneck"] != spec["head"]["bnneck"]:
        return "one has a BNNeck and the other not"
    return ""


def parse_plan(plan: Any) -> Dict[str, Any]:
    """Validate a plan (dict or JSON text) the way the lab's parsePlan does; return it as a dict."""
    if isinstance(plan, bytes):
        try:
            plan = plan.decode("utf-8")
        except UnicodeDecodeError:
            raise PlanError("The pruning plan is not valid JSON (it is not UTF-8 text).") from None
    if isinstance(plan, str):
        try:
            plan = json.loads(plan)
        except json.JSONDecodeError as e:
            raise PlanError(f"The pruning plan is not valid JSON ({e}).") from None
    if not isinstance(plan, dict):
        raise PlanError("A pruning plan file holds one JSON object; found something else.")
    if plan.get("format") != PLAN_JSON_FORMAT:
        raise PlanError(f"This is not a pruning plan of the lab: its \"format\" is {json.dumps(plan.get('format'))}; expected \"{PLAN_JSON_FORMAT}\".")
    arch = plan.get("architecture")
    if not isinstance(arch, dict) or not isinstance(arch.get("spec"), dict):
        raise PlanError("The pruning plan has no \"architecture.spec\": the model it was made for must be described.")
    try:
        validate_spec(arch["spec"])
    except SpecError as e:
        raise PlanError(f"The pruning plan's architecture is not a valid ResNet spec: {e}") from None
    fp = spec_fingerprint(arch["spec"])
    if arch.get("fingerprint") != fp:
        raise PlanError(f"The pruning plan's architecture fingerprint {json.dumps(arch.get('fingerprint'))} does not match its spec ({fp}); the file was edited or damaged.")
    settings = plan.get("settings")
    scope = settings.get("scope") if isinstance(settings, dict) else None
    if scope not in ("inner", "inner+trunk"):
        raise PlanError(f"The pruning plan's settings.scope must be \"inner\" or \"inner+trunk\"; found {json.dumps(scope)}.")
    seed = settings.get("seed")
    if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool) or seed < 0):
        raise PlanError(f"The pruning plan's settings.seed must be a whole number >= 0; found {json.dumps(seed)}.")
    groups = plan.get("groups")
    if not isinstance(groups, list):
        raise PlanError("The pruning plan has no \"groups\" list.")
    layout = group_layout(arch["spec"])
    seen = set()
    for i, g in enumerate(groups):
        if not isinstance(g, dict) or not isinstance(g.get("id"), str):
            raise PlanError(f"Entry {i} of the plan's \"groups\" must be an object with an \"id\".")
        gid = g["id"]
        known = layout.get(gid)
        if known is None:
            raise PlanError(f"The pruning plan names group \"{gid}\", which its architecture does not have.")
        if gid in seen:
            raise PlanError(f"The pruning plan lists group \"{gid}\" twice.")
        seen.add(gid)
        if g.get("kind") != known["kind"]:
            raise PlanError(f"Group \"{gid}\" is a {known['kind']} group; the plan says {json.dumps(g.get('kind'))}.")
        if scope == "inner" and known["kind"] != "inner":
            raise PlanError(f"The plan's scope is \"inner\" but it cuts {known['kind']} group \"{gid}\"; the file is inconsistent.")
        if g.get("channels") != known["channels"]:
            raise PlanError(f"The pruning plan says group \"{gid}\" has {g.get('channels')} channels; in its architecture it has {known['channels']}.")
        keep = g.get("keep")
        n = known["channels"]
        if not isinstance(keep, list) or not keep:
            raise PlanError(f"Group \"{gid}\" needs a non-empty \"keep\" list of channel indices.")
        for j, v in enumerate(keep):
            if not isinstance(v, int) or isinstance(v, bool) or not (0 <= v < n):
                raise PlanError(f"Group \"{gid}\" has {n} channels (indices 0 to {n - 1}), but its keep list holds {json.dumps(v)}.")
            if j > 0 and v <= keep[j - 1]:
                raise PlanError(f"The keep list of group \"{gid}\" must be strictly increasing; found {keep[j - 1]} before {v}.")
    return plan


def apply_plan(state_dict: Mapping[str, torch.Tensor], plan: Any) -> Tuple[Dict[str, Any], Dict[str, torch.Tensor]]:
    """(pruned spec, pruned state dict) from a dense state dict (lab-exported, torchvision,
    torchreid or fast-reid names) and a plan made for that architecture."""
    plan = parse_plan(plan)
    pspec = plan["architecture"]["spec"]
    sd = canonical_state_dict(state_dict)
    try:
        spec = infer_spec({k: list(v.shape) for k, v in sd.items()}, last_stride=pspec["lastStride"],
                          height=pspec["input"]["height"], width_px=pspec["input"]["width"], width=pspec["widthMultiplier"])
    except SpecError as e:
        raise PlanError(f"The weights are not a ResNet the lab knows: {e}") from None
    diff = _same_network(pspec, spec)
    if diff:
        raise PlanError(f"This pruning plan was made for a different network: {diff}. Plan again for these weights.")
    layout = group_layout(spec)
    out = {k: v.clone() for k, v in sd.items()}
    new_spec = clone(spec)
    for g in plan["groups"]:
        keep = torch.tensor(g["keep"], dtype=torch.long)
        if len(g["keep"]) == g["channels"]:
            continue
        for name, axis in layout[g["id"]]["members"]:
            if name in out:
                out[name] = out[name].index_select(axis, keep).contiguous()
    # The pruned spec's channel counts, read back from the sliced weights.
    new_spec = infer_spec({k: list(v.shape) for k, v in out.items()}, last_stride=spec["lastStride"], height=spec["input"]["height"],
                          width_px=spec["input"]["width"], width=spec["widthMultiplier"])
    return new_spec, out
