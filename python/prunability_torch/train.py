"""The lab's training recipe in PyTorch (src/engine/train/): P x K batches, the lab's
augmentation, batch-hard triplet on pooled features + label-smoothed ID loss on the BNNeck
output, Adam (L2 weight decay, as torch.optim.Adam) or SGD with momentum, linear warm-up then
cosine decay, BatchNorm momentum 0.1.

Distributed data parallel (torchrun): every rank draws the same global P x K batch and takes its
own P / world identities (all K images each, so batch-hard mining works per rank); DDP averages
the gradients, and after each step the BatchNorm running statistics are averaged over ranks.
`micro_batches` does the same split inside one process, so a single-process run with
micro_batches = N equals an N-process run to float tolerance (a test checks it).

Checkpoints hold the model, the optimiser's moments, the step and the sampler's position;
augmentation draws from a generator seeded by (seed, step, shard), so a resumed run continues
bit-exactly.
"""
from __future__ import annotations

import json
import math
import os
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Dict, List, Optional

import warnings

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

from .data import AugmentConfig, PKSampler, Split, augment, load_images, normalize
from .losses import batch_hard_triplet, cross_entropy_label_smooth
from .model import ReIDResNet

CHECKPOINT_FORMAT = "prunability-torch/checkpoint@1"
# 1x1 conv gradients come back in another memory layout than DDP's buckets: slower, not wrong.
warnings.filterwarnings("ignore", message="Grad strides do not match bucket view strides")


class TrainingError(RuntimeError):
    """Training cannot go on (diverged, bad checkpoint, ...); the message says why."""


@dataclass
class TrainConfig:
    steps: int = 1000
    p: int = 16
    k: int = 4
    seed: int = 1
    optimizer: str = "adam"  # adam | sgd
    lr: float = 3.5e-4
    weight_decay: float = 5e-4
    momentum: float = 0.9
    nesterov: bool = False
    warmup_steps: int = 100
    warmup_factor: float = 0.1
    min_factor: float = 0.01
    margin: float = 0.3
    triplet_weight: float = 1.0
    id_weight: float = 1.0
    label_smoothing: float = 0.1
    micro_batches: int = 1
    augment: AugmentConfig = field(default_factory=AugmentConfig)

    def validate(self) -> None:
        def bad(msg: str) -> None:
            raise ValueError(msg)

        if self.steps < 0:
            bad(f"--steps must be >= 0; got {self.steps}.")
        if self.p < 2 or self.k < 2:
            bad(f"P must be >= 2 and K >= 2 for the triplet loss; got P={self.p}, K={self.k}.")
        if not (math.isfinite(self.lr) and self.lr > 0):
            bad(f"The learning rate must be a positive finite number; got {self.lr}.")
        if self.optimizer not in ("adam", "sgd"):
            bad(f"--optimizer must be adam or sgd; got {self.optimizer!r}.")
        if not (0 <= self.label_smoothing < 1):
            bad(f"Label smoothing must be in [0, 1); got {self.label_smoothing}.")
        if self.micro_batches < 1:
            bad(f"--micro-batches must be >= 1; got {self.micro_batches}.")


def learning_rate_at(base: float, step: int, total: int, cfg: TrainConfig) -> float:
    """src/engine/train/schedule.ts: linear warm-up from warmup_factor * lr, then cosine to min_factor * lr."""
    if step < cfg.warmup_steps:
        t = 1.0 if cfg.warmup_steps <= 1 else step / (cfg.warmup_steps - 1)
        return base * (cfg.warmup_factor + (1 - cfg.warmup_factor) * t)
    t = min(1.0, (step - cfg.warmup_steps) / max(1, total - cfg.warmup_steps))
    return base * (cfg.min_factor + (1 - cfg.min_factor) * 0.5 * (1 + math.cos(math.pi * t)))


def world() -> tuple:
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def _bn_buffers(model: nn.Module) -> List[torch.Tensor]:
    return [b for n, b in model.named_buffers() if n.endswith(("running_mean", "running_var"))]


class Trainer:
    """Trains `model` (whose classifier has one class per training identity) on `split`."""

    def __init__(self, model: ReIDResNet, split: Split, cfg: TrainConfig, images: Optional[np.ndarray] = None,
                 log: Callable[[str], None] = print):
        cfg.validate()
        self.cfg, self.log = cfg, log
        self.rank, self.world = world()
        shards = self.world * cfg.micro_batches
        if cfg.p % shards != 0:
            raise ValueError(f"P={cfg.p} identities per batch cannot be split evenly over {self.world} process(es) x "
                             f"{cfg.micro_batches} micro-batch(es); choose P divisible by {shards}.")
        if cfg.p // shards < 2 and cfg.triplet_weight > 0:
            raise ValueError(f"Each of the {shards} shards would hold {cfg.p // shards} identity; batch-hard triplet mining needs "
                             f"at least 2 per shard. Use fewer processes (--nproc_per_node) or a larger P.")
        ids = sorted({int(p) for p in split.pids if p > 0})
        self.label_of = {pid: i for i, pid in enumerate(ids)}
        if model.spec["head"]["numClasses"] != len(ids) and cfg.id_weight > 0:
            raise ValueError(f"The model's classifier has {model.spec['head']['numClasses']} classes but the training split has {len(ids)} identities.")
        self.model = model
        self.split = split
        h, w = model.spec["input"]["height"], model.spec["input"]["width"]
        if images is None:
            images, skipped = load_images(split.paths, h, w)
            if skipped:
                raise ValueError(f"{len(skipped)} training images could not be read, e.g. {skipped[0]}.")
        self.images = images
        self.sampler = PKSampler(split.pids, cfg.p, cfg.k, cfg.seed)
        self.step = 0
        params = [p for p in model.parameters() if p.requires_grad]
        if cfg.optimizer == "adam":
            self.opt = torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
        else:
            self.opt = torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay, nesterov=cfg.nesterov)
        # Batches go where the model is (the CLI moves it before building the trainer).
        self.device = next(model.parameters()).device
        self.net: nn.Module = model
        if self.world > 1:
            # Buffers are averaged after each step instead of broadcast from rank 0 (see module doc).
            ids = [self.device] if self.device.type == "cuda" else None
            self.net = nn.parallel.DistributedDataParallel(model, device_ids=ids, broadcast_buffers=False, find_unused_parameters=cfg.id_weight == 0)

    def train_step(self) -> Dict[str, float]:
        cfg = self.cfg
        t0 = time.perf_counter()
        batch = self.sampler.next()  # the same global batch on every rank (same seed)
        shards = self.world * cfg.micro_batches
        per = cfg.p // shards * cfg.k
        lr = learning_rate_at(cfg.lr, self.step, cfg.steps, cfg)
        for g in self.opt.param_groups:
            g["lr"] = lr
        self.model.train()
        self.opt.zero_grad(set_to_none=True)
        before = [b.clone() for b in _bn_buffers(self.model)]
        after = [torch.zeros_like(b) for b in before]
        totals = np.zeros(4)
        for j in range(cfg.micro_batches):
            shard = self.rank * cfg.micro_batches + j
            idx = batch[shard * per:(shard + 1) * per]
            rng = np.random.default_rng([cfg.seed, self.step, shard])
            x = normalize(augment(self.images[idx], cfg.augment, rng)).to(self.device, non_blocking=True)
            labels = torch.tensor([self.label_of[int(self.split.pids[i])] for i in idx], device=self.device)
            for b, v in zip(_bn_buffers(self.model), before):
                b.copy_(v)
            sync = j == cfg.micro_batches - 1 or self.world == 1
            ctx = self.net.no_sync() if (self.world > 1 and not sync) else _null()
            with ctx:
                out = self.net(x, with_logits=cfg.id_weight > 0)
                tri, pos, neg = batch_hard_triplet(out["pooled"], labels, cfg.margin)
                ce = cross_entropy_label_smooth(out["logits"], labels, cfg.label_smoothing) if cfg.id_weight > 0 else torch.zeros((), device=self.device)
                loss = cfg.triplet_weight * tri + cfg.id_weight * ce
                if not torch.isfinite(loss):
                    raise TrainingError(f"The loss became {loss.item()} at step {self.step + 1} (learning rate {lr:.3g}): training diverged. "
                                        "Lower the learning rate; nothing was written for this step.")
                (loss / cfg.micro_batches).backward()
            for a, b in zip(after, _bn_buffers(self.model)):
                a += b / cfg.micro_batches
            totals += np.array([loss.item(), tri.item(), ce.item(), (pos - neg).item()]) / cfg.micro_batches
        self.opt.step()
        with torch.no_grad():
            for b, a in zip(_bn_buffers(self.model), after):
                b.copy_(a)
            if self.world > 1:
                for b in _bn_buffers(self.model):
                    dist.all_reduce(b)
                    b /= self.world
            for p in self.model.parameters():
                if not torch.isfinite(p).all():
                    raise TrainingError(f"A weight became NaN or infinite at step {self.step + 1} (learning rate {lr:.3g}): "
                                        "training diverged. Lower the learning rate.")
        self.step += 1
        return {"step": self.step, "lr": lr, "loss": totals[0], "triplet": totals[1], "id": totals[2],
                "pos_minus_neg": totals[3], "seconds": time.perf_counter() - t0}

    # ---- checkpoints -------------------------------------------------------------------------
    def checkpoint(self) -> Dict[str, Any]:
        return {"format": CHECKPOINT_FORMAT, "spec": self.model.spec, "config": asdict(self.cfg), "step": self.step,
                "sampler": self.sampler.state(), "model": self.model.state_dict(), "optimizer": self.opt.state_dict(),
                "label_of": self.label_of}

    def save_checkpoint(self, path: str) -> None:
        if self.rank != 0:
            return
        tmp = path + ".tmp"
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        torch.save(self.checkpoint(), tmp)
        os.replace(tmp, path)

    def restore(self, ck: Dict[str, Any]) -> None:
        if ck.get("format") != CHECKPOINT_FORMAT:
            raise TrainingError(f"Not a checkpoint of this trainer (format {ck.get('format')!r}).")
        if ck["spec"] != self.model.spec:
            raise TrainingError("The checkpoint was made for another architecture than this run's model.")
        for k, v in ck["model"].items():
            if v.is_floating_point() and not torch.isfinite(v).all():
                raise TrainingError(f"The checkpoint's {k} holds NaN or infinite values; it cannot be resumed.")
        mine = {k: v for k, v in asdict(self.cfg).items() if k not in ("steps", "micro_batches")}
        theirs = {k: v for k, v in ck["config"].items() if k not in ("steps", "micro_batches")}
        if json.dumps(mine, sort_keys=True, default=list) != json.dumps(theirs, sort_keys=True, default=list):
            diff = sorted(k for k in mine if mine[k] != theirs.get(k))
            raise TrainingError(f"The checkpoint was made with other settings ({', '.join(diff)}); resume with the same flags.")
        if ck["label_of"] != self.label_of:
            raise TrainingError("The checkpoint was trained on other identities than this data set's training split.")
        self.model.load_state_dict(ck["model"])
        self.opt.load_state_dict(ck["optimizer"])
        self.sampler.set_state(ck["sampler"])
        self.step = int(ck["step"])


class _null:
    def __enter__(self):
        return None

    def __exit__(self, *a):
        return False
