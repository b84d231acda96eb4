"""The command line. Every command has --help; every failure is one line on stderr and a
non-zero exit, with nothing written (outputs are written atomically at the end)."""
from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import sys
import time
from dataclasses import asdict
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.distributed as dist

from . import __version__
from .data import AugmentConfig, DatasetError, Split, read_dataset
from .evaluate import embed, evaluate
from .keys import canonical_state_dict
from .lab_io import ModelFileError, load_model, load_state_dict_file, save_model
from .model import ReIDResNet, build_model, macs_and_params
from .plan import PlanError, apply_plan
from .spec import SpecError, build_spec, with_classes
from .train import Trainer, TrainConfig, TrainingError, world

USER_ERRORS = (ValueError, DatasetError, ModelFileError, PlanError, SpecError, TrainingError, OSError)


def _input_size(text: Optional[str]) -> Optional[Tuple[int, int]]:
    if text is None:
        return None
    try:
        h, w = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise ValueError(f"--input-size must look like 128x64; got {text!r}.") from None
    if not (16 <= h <= 2048 and 16 <= w <= 2048):
        raise ValueError(f"--input-size {text} is outside 16..2048 pixels a side.")
    return h, w


def _add_recipe(p: argparse.ArgumentParser, steps: int, lr: float, warmup: int, p_ids: int) -> None:
    # The lab's defaults: src/engine/train/config.ts (train) and finetune.ts (finetune).
    g = p.add_argument_group("recipe (the lab's defaults)")
    g.add_argument("--steps", type=int, default=steps, help=f"optimiser steps in total (default {steps})")
    g.add_argument("--p", type=int, default=p_ids, help=f"identities per batch (default {p_ids})")
    g.add_argument("--k", type=int, default=4, help="images per identity (default 4)")
    g.add_argument("--optimizer", choices=["adam", "sgd"], default="adam", help="(default adam)")
    g.add_argument("--lr", type=float, default=lr, help=f"base learning rate (default {lr})")
    g.add_argument("--weight-decay", type=float, default=5e-4, help="(default 5e-4)")
    g.add_argument("--momentum", type=float, default=0.9, help="SGD momentum (default 0.9)")
    g.add_argument("--nesterov", action="store_true", help="SGD with Nesterov momentum")
    g.add_argument("--warmup-steps", type=int, default=warmup,
                   help=f"linear warm-up from 0.1 x the learning rate, then cosine decay to 0.01 x (default {warmup})")
    g.add_argument("--margin", type=float, default=0.3, help="triplet margin (default 0.3)")
    g.add_argument("--label-smoothing", type=float, default=0.1, help="of the ID loss (default 0.1)")
    g.add_argument("--no-augment", action="store_true", help="no flip / pad-crop / random erasing")
    g.add_argument("--micro-batches", type=int, default=1,
                   help="split each batch into N shards inside one process (equals N torchrun processes)")
    g.add_argument("--seed", type=int, default=1, help="(default 1)")
    r = p.add_argument_group("running")
    r.add_argument("--threads", type=int, default=0, help="torch CPU threads per process (default: torch's choice)")
    r.add_argument("--device", default="auto",
                   help="auto (default: a GPU when one is visible, else the CPU) | cpu | cuda | cuda:N; under torchrun, cuda is the process's LOCAL_RANK GPU")
    r.add_argument("--checkpoint", help="checkpoint file (default: OUT.ckpt)")
    r.add_argument("--checkpoint-every", type=int, default=200, help="steps between checkpoints (default 200)")
    r.add_argument("--resume", action="store_true", help="continue from --checkpoint")
    r.add_argument("--time-budget", type=float, default=0, help="stop cleanly at a checkpoint after this many minutes")
    r.add_argument("--log-every", type=int, default=50, help="steps between log lines (default 50)")
    r.add_argument("--eval-data", help="a Market-layout folder to score on at the end (and every --eval-every steps)")
    r.add_argument("--eval-every", type=int, default=0)


def _config(a: argparse.Namespace) -> TrainConfig:
    aug = AugmentConfig(flip=0, pad_crop=0, erasing=0) if a.no_augment else AugmentConfig()
    return TrainConfig(steps=a.steps, p=a.p, k=a.k, seed=a.seed, optimizer=a.optimizer, lr=a.lr, weight_decay=a.weight_decay,
                       momentum=a.momentum, nesterov=a.nesterov, warmup_steps=a.warmup_steps, margin=a.margin,
                       label_smoothing=a.label_smoothing, micro_batches=a.micro_batches, augment=aug)


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python3 -m prunability_torch", description=(
        "The PyTorch companion of Prunability Lab: train and fine-tune the lab's ReID ResNets at scale "
        "(torchrun for several processes), apply its pruning plans, and exchange safetensors with the lab."))
    ap.add_argument("--version", action="version", version=__version__)
    sub = ap.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train a ReID ResNet on a Market-layout training split",
                       description="Train a ReID ResNet (the lab's recipe). With torchrun, data parallel over processes.")
    t.add_argument("--data", required=True, help="dataset folder (Market-1501 / Duke / CUHK03-NP / MSMT17 layout, or `lab generate` output)")
    t.add_argument("--depth", type=int, choices=[18, 34, 50], default=50)
    t.add_argument("--width", type=float, default=1.0, help="width multiplier (default 1)")
    t.add_argument("--last-stride", type=int, choices=[1, 2], default=1)
    t.add_argument("--input-size", default="128x64", help="HxW (default 128x64)")
    t.add_argument("--no-bnneck", action="store_true")
    t.add_argument("--init", help="start from these weights (lab or torchvision .safetensors / .pth); the classifier is new")
    t.add_argument("--out", required=True, help="the trained model, as lab safetensors")
    _add_recipe(t, steps=1000, lr=3.5e-4, warmup=100, p_ids=16)

    f = sub.add_parser("finetune", help="fine-tune a model on N identities x K images of a training split",
                       description="Fine-tune a (pruned) model on a small labelled subset of a domain's training split, with a fresh ID classifier.")
    f.add_argument("--model", required=True, help="lab safetensors (e.g. from `lab export` or apply-plan)")
    f.add_argument("--data", required=True)
    f.add_argument("--ids", type=int, default=0, help="identities to fine-tune on (default: all)")
    f.add_argument("--images-per-id", type=int, default=0, help="images per identity (default: all)")
    f.add_argument("--last-stride", type=int, choices=[1, 2], help="only for files that do not state it")
    f.add_argument("--out", required=True)
    _add_recipe(f, steps=100, lr=1e-4, warmup=0, p_ids=8)

    ap_ = sub.add_parser("apply-plan", help="slice dense weights with a lab pruning plan",
                         description="Apply a pruning plan JSON (lab `export --format plan`) to dense weights (lab, torchvision, torchreid or fast-reid names).")
    ap_.add_argument("--weights", required=True)
    ap_.add_argument("--plan", required=True)
    ap_.add_argument("--out", required=True, help="the pruned model, as lab safetensors")

    e = sub.add_parser("eval", help="mAP / rank-k / mINP on a dataset's query and gallery")
    e.add_argument("--model", required=True)
    e.add_argument("--data", required=True)
    e.add_argument("--last-stride", type=int, choices=[1, 2])
    e.add_argument("--json", action="store_true")

    m = sub.add_parser("embed", help="embeddings of raw RGB images (for parity checks)",
                       description="Read N uint8 RGB images [N, H, W, 3] from a raw file, write float32 embeddings [N, D] (little-endian).")
    m.add_argument("--model", required=True)
    m.add_argument("--images", required=True)
    m.add_argument("--count", type=int, required=True)
    m.add_argument("--out", required=True)

    i = sub.add_parser("info", help="a model's spec, MACs and parameters")
    i.add_argument("--model", required=True)
    i.add_argument("--json", action="store_true")
    return ap


def _say(msg: str) -> None:
    if world()[0] == 0:
        print(msg, flush=True)


def _device(name: str) -> torch.device:
    """The device this process trains on; under torchrun on GPUs, its own GPU (LOCAL_RANK)."""
    try:
        d = torch.device("cuda" if torch.cuda.is_available() else "cpu") if name == "auto" else torch.device(name)
    except RuntimeError:
        d = None
    if d is None or d.type not in ("cpu", "cuda"):
        raise ValueError(f"--device must be auto, cpu, cuda or cuda:N; got {name!r}.")
    if d.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"--device {name}: no CUDA GPU is visible to this process (torch {torch.__version__}).")
        if d.index is None:
            d = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        if d.index >= torch.cuda.device_count():
            raise ValueError(f"--device {name}: this process would use GPU {d.index}, but {torch.cuda.device_count()} GPU(s) are visible; "
                             "start at most one process per GPU (--nproc_per_node).")
        # nccl needs each process bound to its GPU before the process group starts.
        torch.cuda.set_device(d)
    return d


def _init_distributed(device: torch.device) -> None:
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")


def _subset(split: Split, ids: int, per_id: int, seed: int) -> Split:
    if ids <= 0 and per_id <= 0:
        return split
    rng = np.random.default_rng([seed, 7919])
    persons = sorted({int(p) for p in split.pids if p > 0})
    if ids > len(persons):
        raise DatasetError(f"--ids {ids} asks for more identities than the training split has ({len(persons)}).")
    chosen = sorted(rng.choice(persons, size=ids, replace=False).tolist()) if ids > 0 else persons
    keep: List[int] = []
    for pid in chosen:
        idx = np.nonzero(split.pids == pid)[0]
        if per_id > 0 and len(idx) > per_id:
            idx = np.sort(rng.choice(idx, size=per_id, replace=False))
        keep += idx.tolist()
    return Split([split.paths[i] for i in keep], split.pids[keep], split.camids[keep])


def _load_init(model: ReIDResNet, path: str) -> str:
    raw, _ = load_state_dict_file(path)
    sd = canonical_state_dict(raw, drop_classifier=True)
    own = model.state_dict()
    taken = {k: v for k, v in sd.items() if k in own and tuple(v.shape) == tuple(own[k].shape)}
    if not any(k.startswith("layer") for k in taken):
        raise ModelFileError(f"{path}: none of its backbone tensors fit this network (different depth or width?).")
    with torch.no_grad():
        for k, v in taken.items():
            own[k].copy_(v)
    skipped = len([k for k in sd if k not in taken])
    return f"initialised {len(taken)} tensors from {path}" + (f" ({skipped} of its tensors did not fit and were skipped)" if skipped else "")


def _on_any_process(flag: bool, device: torch.device) -> bool:
    """True on every process when it is true on one: the processes must stop at the same step,
    or those that go on wait forever in the next step's all-reduce."""
    t = torch.tensor([1.0 if flag else 0.0], device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item())


def _run_training(a: argparse.Namespace, model: ReIDResNet, split: Split, lineage: Dict[str, Any]) -> int:
    cfg = _config(a)
    device = _device(a.device)
    # On the device before the trainer exists: its optimizer and DDP wrapper bind these parameters.
    model.to(device)
    trainer = Trainer(model, split, cfg)
    rank, size = trainer.rank, trainer.world
    ckpt = a.checkpoint or a.out + ".ckpt"
    if a.resume:
        if not os.path.exists(ckpt):
            raise TrainingError(f"--resume: no checkpoint at {ckpt}.")
        trainer.restore(torch.load(ckpt, map_location="cpu"))
        _say(f"resumed {ckpt} at step {trainer.step} of {cfg.steps}")
        # wallSeconds below times this process only; say where it started.
        lineage = dict(lineage, resumedAtStep=trainer.step)
    start, t_last, n_last = time.time(), time.time(), trainer.step
    eval_ds = read_dataset(a.eval_data) if a.eval_data else None
    log_path = a.out + ".log.jsonl"
    stopped_early = False
    # SIGTERM (a scheduler's pre-emption, `kill`, a session's end) finishes the step, saves a
    # checkpoint and stops, so nothing computed since the last checkpoint is lost.
    stop = {"asked": False}
    signal.signal(signal.SIGTERM, lambda *_: stop.update(asked=True))
    while trainer.step < cfg.steps:
        m = trainer.train_step()
        if rank == 0 and (trainer.step % a.log_every == 0 or trainer.step == cfg.steps):
            now = time.time()
            ips = (trainer.step - n_last) * cfg.p * cfg.k / max(1e-9, now - t_last)
            eta = (cfg.steps - trainer.step) * cfg.p * cfg.k / max(1e-9, ips)
            t_last, n_last = now, trainer.step
            line = dict(m, images_per_second=ips, epoch=trainer.sampler.epoch, time=now)
            print(f"step {m['step']}/{cfg.steps} lr {m['lr']:.2e} loss {m['loss']:.3f} (triplet {m['triplet']:.3f}, id {m['id']:.3f}) "
                  f"{ips:.1f} img/s, eta {eta / 60:.1f} min", flush=True)
            with open(log_path, "a") as fh:
                fh.write(json.dumps(line) + "\n")
        if a.eval_every and eval_ds is not None and trainer.step % a.eval_every == 0 and rank == 0:
            r = evaluate(model, eval_ds)
            print(f"eval at step {trainer.step}: mAP {100 * r['mAP']:.1f} rank-1 {100 * r['rank1']:.1f}", flush=True)
            with open(log_path, "a") as fh:
                fh.write(json.dumps({"step": trainer.step, "eval": r}) + "\n")
        over_time = a.time_budget > 0 and (time.time() - start) / 60 >= a.time_budget
        stopping = stop["asked"] or over_time
        if size > 1:
            stopping = _on_any_process(stopping, trainer.device)
        if trainer.step % a.checkpoint_every == 0 or stopping:
            trainer.save_checkpoint(ckpt)
        if stopping and trainer.step < cfg.steps:
            stopped_early = True
            break
    if size > 1:
        dist.barrier()
    wall = time.time() - start
    if stopped_early:
        why = "time budget reached" if over_time else "asked to stop"
        _say(f"{why}: stopped at step {trainer.step} of {cfg.steps}; checkpoint {ckpt}. Continue with the same command plus --resume.")
        return 0
    trainer.save_checkpoint(ckpt)
    if rank == 0:
        lineage = dict(lineage, steps=cfg.steps, config=asdict(cfg), processes=size, wallSeconds=round(wall, 1),
                       torch=torch.__version__, machine=platform.processor() or platform.machine(), device=str(device))
        save_model(a.out, model, lineage=lineage)  # copies to the CPU; the model stays on the device for the eval below
        print(f"wrote {a.out} ({cfg.steps} steps, {size} process(es), {wall / 60:.1f} min)", flush=True)
        if eval_ds is not None:
            r = evaluate(model, eval_ds)
            print(f"eval: mAP {100 * r['mAP']:.1f} rank-1 {100 * r['rank1']:.1f} rank-5 {100 * r['rank5']:.1f} mINP {100 * r['mINP']:.1f}", flush=True)
    return 0


def cmd_train(a: argparse.Namespace) -> int:
    size = _input_size(a.input_size)
    ds = read_dataset(a.data)
    if len(ds.train) == 0:
        raise DatasetError(f"{a.data} has no training images (bounding_box_train/ or list_train.txt).")
    n_ids = len({int(p) for p in ds.train.pids if p > 0})
    spec = build_spec(a.depth, a.width, a.last_stride, size[0], size[1], bnneck=not a.no_bnneck, num_classes=n_ids)
    torch.manual_seed(a.seed)
    model = build_model(spec)
    note = _load_init(model, a.init) if a.init else "from scratch"
    _say(f"ResNet-{a.depth} x{a.width} ({macs_and_params(spec)['macs'] / 1e6:.1f} MMACs), {len(ds.train)} images of {n_ids} identities, {note}")
    cmd = "python3 -m prunability_torch " + " ".join(sys.argv[1:])
    # A model trained from another (pre-training, then source training) carries that one's record.
    prior = json.loads(load_state_dict_file(a.init)[1].get("prunability-lab.lineage", "null") or "null") if a.init else None
    return _run_training(a, model, ds.train, {"engine": "pytorch", "kind": "train", "data": os.path.basename(os.path.abspath(a.data)),
                                              "init": a.init or None, "command": cmd, "previous": prior})


def cmd_finetune(a: argparse.Namespace) -> int:
    model, meta, notes = load_model(a.model, last_stride=a.last_stride, drop_classifier=True)
    for n in notes:
        _say(f"note: {n}")
    ds = read_dataset(a.data)
    split = _subset(ds.train, a.ids, a.images_per_id, a.seed)
    if len(split) == 0:
        raise DatasetError(f"{a.data} has no training images to fine-tune on.")
    n_ids = len({int(p) for p in split.pids if p > 0})
    sd = model.state_dict()
    torch.manual_seed(a.seed)
    model = build_model(with_classes(model.spec, n_ids))
    with torch.no_grad():
        for k, v in model.state_dict().items():
            if k in sd:
                v.copy_(sd[k])
    _say(f"fine-tuning {a.model} on {len(split)} images of {n_ids} identities")
    prior = json.loads(meta.get("prunability-lab.lineage", "null") or "null")
    return _run_training(a, model, split, {"engine": "pytorch", "kind": "finetune", "from": os.path.basename(a.model),
                                           "data": os.path.basename(os.path.abspath(a.data)), "ids": n_ids, "images": len(split),
                                           "previous": prior})


def cmd_apply_plan(a: argparse.Namespace) -> int:
    raw, _ = load_state_dict_file(a.weights)
    with open(a.plan, "rb") as fh:
        text = fh.read()
    spec, sd = apply_plan(raw, text)
    model = build_model(spec)
    from .model import load_lab_state_dict

    load_lab_state_dict(model, sd)
    plan = json.loads(text.decode("utf-8"))
    before = macs_and_params(plan["architecture"]["spec"])
    after = macs_and_params(spec)
    save_model(a.out, model, lineage={"engine": "pytorch", "kind": "apply-plan", "criterion": plan.get("criterion"),
                                      "from": os.path.basename(a.weights)})
    print(f"wrote {a.out}: {before['macs'] / 1e6:.1f} -> {after['macs'] / 1e6:.1f} MMACs, "
          f"{before['params'] / 1e6:.2f} -> {after['params'] / 1e6:.2f} M params ({plan.get('criterionName', plan.get('criterion'))})")
    return 0


def cmd_eval(a: argparse.Namespace) -> int:
    model, _, notes = load_model(a.model, last_stride=a.last_stride)
    for n in notes:
        print(f"note: {n}", file=sys.stderr)
    r = evaluate(model, read_dataset(a.data))
    if a.json:
        print(json.dumps(r))
    else:
        print(f"mAP {100 * r['mAP']:.1f}  rank-1 {100 * r['rank1']:.1f}  rank-5 {100 * r['rank5']:.1f}  rank-10 {100 * r['rank10']:.1f}  "
              f"mINP {100 * r['mINP']:.1f}  ({r['numQueries']} queries)")
    return 0


def cmd_embed(a: argparse.Namespace) -> int:
    model, _, _ = load_model(a.model)
    h, w = model.spec["input"]["height"], model.spec["input"]["width"]
    raw = np.fromfile(a.images, dtype=np.uint8)
    if raw.size != a.count * h * w * 3:
        raise ValueError(f"{a.images} holds {raw.size} bytes; {a.count} images of {h}x{w}x3 need {a.count * h * w * 3}.")
    e = embed(model, raw.reshape(a.count, h, w, 3)).numpy().astype("<f4")
    tmp = a.out + ".tmp"
    e.tofile(tmp)
    os.replace(tmp, a.out)
    return 0


def cmd_info(a: argparse.Namespace) -> int:
    model, meta, notes = load_model(a.model)
    cost = macs_and_params(model.spec)
    lineage = json.loads(meta.get("prunability-lab.lineage", "null") or "null")
    if a.json:
        print(json.dumps({"spec": model.spec, "cost": cost, "lineage": lineage, "notes": notes}))
    else:
        s = model.spec
        print(f"ResNet-{s['depth']} x{s['widthMultiplier']}, input {s['input']['height']}x{s['input']['width']}, last stride {s['lastStride']}, "
              f"{cost['macs'] / 1e6:.1f} MMACs, {cost['params'] / 1e6:.2f} M params")
        if lineage:
            print(f"lineage: {json.dumps(lineage)}")
    return 0


COMMANDS = {"train": cmd_train, "finetune": cmd_finetune, "apply-plan": cmd_apply_plan, "eval": cmd_eval, "embed": cmd_embed, "info": cmd_info}


def main(argv: Sequence[str]) -> int:
    a = build_parser().parse_args(argv)
    if getattr(a, "threads", 0):
        torch.set_num_threads(a.threads)
    try:
        if a.command in ("train", "finetune"):
            _init_distributed(_device(a.device))
        return COMMANDS[a.command](a)
    except USER_ERRORS as e:
        msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        if isinstance(e, OSError) and e.strerror:
            msg = f"{e.filename}: {e.strerror}" if e.filename else e.strerror
        if world()[0] == 0:
            print(f"error: {msg}", file=sys.stderr)
        return 1
    finally:
        if dist.is_available() and dist.is_initialized():
            dist.destroy_process_group()
