"""prunability_torch: the PyTorch companion of Prunability Lab.

Builds the lab's ReID ResNets from its spec, reads and writes its safetensors, applies its
pruning plans, and trains / fine-tunes with its recipe (torchrun for several processes or
machines). Depends only on what Debian ships: python3-torch, python3-torchvision, python3-numpy,
python3-pil. Run `python3 -m prunability_torch --help`.
"""
from .model import ReIDResNet, build_model, macs_and_params
from .plan import apply_plan, parse_plan
from .spec import build_spec, validate_spec

__all__ = ["ReIDResNet", "build_model", "macs_and_params", "apply_plan", "parse_plan", "build_spec", "validate_spec"]
__version__ = "0.1.0"
