"""`python3 -m prunability_torch.bench --depth 18 --width 0.5 [--steps 5] [--json FILE]`:
training and forward throughput of the companion's trainer at the lab's bench setting (batch 32 =
P 8 x K 4, 128x64, random images, one thread per process unless --threads). Under torchrun every
process takes its share of the same global batch; rank 0 reports the global rate. Wall-clock
img/s and img per CPU-second of the process (steadier on a shared machine) are both printed.
"""
import argparse
import json
import time

import numpy as np
import torch

from .data import Split
from .model import build_model
from .spec import build_spec
from .train import Trainer, TrainConfig, world
from .cli import _init_distributed


def main() -> None:
    ap = argparse.ArgumentParser(prog="python3 -m prunability_torch.bench", description=__doc__)
    ap.add_argument("--depth", type=int, choices=[18, 34, 50], default=18)
    ap.add_argument("--width", type=float, default=0.5)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    _init_distributed(torch.device("cpu"))
    rank, size = world()
    h, w, p, k = 128, 64, 8, 4
    ids, per = 32, 8
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, (ids * per, h, w, 3), dtype=np.uint8)
    pids = np.repeat(np.arange(1, ids + 1), per)
    split = Split([f"{i}.jpg" for i in range(len(pids))], pids, np.ones_like(pids))
    model = build_model(build_spec(a.depth, a.width, 1, h, w, num_classes=ids))
    trainer = Trainer(model, split, TrainConfig(steps=a.steps + 1, p=p, k=k, warmup_steps=0), images=images, log=lambda s: None)

    x = torch.randn(p * k, 3, h, w)
    model.eval()
    with torch.no_grad():
        model(x)
        t0, c0 = time.perf_counter(), time.process_time()
        for _ in range(a.steps):
            model(x)
        fwd_wall, fwd_cpu = time.perf_counter() - t0, time.process_time() - c0

    trainer.train_step()  # warm-up
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(a.steps):
        trainer.train_step()
    train_wall, train_cpu = time.perf_counter() - t0, time.process_time() - c0
    images_per_step = p * k  # the global batch, whatever the number of processes
    row = {"model": f"ResNet-{a.depth} x{a.width}", "processes": size, "threads": a.threads,
           "forwardImgS": a.steps * p * k / fwd_wall, "forwardImgCpuS": a.steps * p * k / fwd_cpu,
           "trainImgS": a.steps * images_per_step / train_wall,
           "trainImgCpuS": a.steps * images_per_step / (train_cpu * size), "torch": torch.__version__}
    if rank == 0:
        print(json.dumps(row))
        if a.json:
            with open(a.json, "w") as f:
                json.dump(row, f)


if __name__ == "__main__":
    main()
