"""ReID data for training in PyTorch: the Market-1501 family of layouts, the P x K sampler, the
lab's augmentation and normalisation (src/engine/data/, src/engine/train/sampler.ts, augment.ts).

Layouts (as the lab's src/engine/data/market/layout.ts detects them):
- Market-1501 / DukeMTMC-reID / CUHK03-NP and the folders `lab generate` writes: a root with
  bounding_box_train/, query/ and bounding_box_test/; identity and camera from the file name
  (`0002_c1s1_000451_03.jpg`, `0005_c2_f0046985.jpg`, `1_c1_1.png`; person -1 junk, 0 distractor).
- MSMT17 (V1/V2): list_train.txt, list_query.txt, list_gallery.txt with "path label" lines,
  paths relative to train/ and test/ (V2: mask_train_v2/, mask_test_v2/).
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np
import torch
from PIL import Image

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".bmp")
_MARKET_STYLE = re.compile(r"^(-?\d+)_c(\d+)")
_MSMT_CAM = re.compile(r"^(\d+)_(\d+)_(\d+)_")
# Refuse images that declare more pixels than any ReID crop has (decompression bombs).
MAX_IMAGE_PIXELS = 4096 * 4096


class DatasetError(ValueError):
    """A folder that is not a usable ReID dataset (the message says what was found)."""


@dataclass
class Split:
    paths: List[str]
    pids: np.ndarray  # int64; > 0 person, 0 distractor, -1 junk
    camids: np.ndarray

    def __len__(self) -> int:
        return len(self.paths)


@dataclass
class ReidFolder:
    name: str
    train: Split
    query: Split
    gallery: Split


def _market_split(folder: str) -> Split:
    paths, pids, cams = [], [], []
    for f in sorted(os.listdir(folder)):
        if not f.lower().endswith(IMAGE_EXTS):
            continue
        m = _MARKET_STYLE.match(f)
        if not m:
            continue
        paths.append(os.path.join(folder, f))
        pids.append(int(m.group(1)))
        cams.append(int(m.group(2)))
    return Split(paths, np.asarray(pids, dtype=np.int64), np.asarray(cams, dtype=np.int64))


def _msmt_split(root: str, list_file: str, image_dir: str, pid_offset: int = 0) -> Split:
    paths, pids, cams = [], [], []
    with open(list_file) as f:
        for line in f:
            parts = line.split()
            if len(parts) != 2:
                continue
            m = _MSMT_CAM.match(os.path.basename(parts[0]))
            if not m:
                continue
            paths.append(os.path.join(root, image_dir, parts[0]))
            pids.append(int(parts[1]) + 1 + pid_offset)  # MSMT labels start at 0; the lab's persons at 1
            cams.append(int(m.group(3)))
    return Split(paths, np.asarray(pids, dtype=np.int64), np.asarray(cams, dtype=np.int64))


def find_root(path: str) -> Tuple[str, str]:
    """(root, kind) of the first dataset under `path` (itself or up to two folders down)."""
    if not os.path.isdir(path):
        raise DatasetError(f"{path} is not a folder; give the folder of a Market-1501-layout dataset (or MSMT17).")
    candidates = [path]
    for d in sorted(os.listdir(path)):
        sub = os.path.join(path, d)
        if os.path.isdir(sub):
            candidates.append(sub)
            candidates += [os.path.join(sub, e) for e in sorted(os.listdir(sub)) if os.path.isdir(os.path.join(sub, e))]
    for c in candidates:
        if os.path.isdir(os.path.join(c, "bounding_box_test")) and os.path.isdir(os.path.join(c, "query")):
            # CUHK03-NP holds detected/ and labeled/ roots; torchreid's default is detected.
            if os.path.basename(c) == "labeled" and os.path.isdir(os.path.join(os.path.dirname(c), "detected")):
                continue
            return c, "market-style"
        if os.path.isfile(os.path.join(c, "list_query.txt")) and os.path.isfile(os.path.join(c, "list_gallery.txt")):
            return c, "msmt17"
    found = ", ".join(sorted(os.listdir(path))[:12]) or "nothing (it is empty)"
    raise DatasetError(f"{path} holds no ReID dataset: expected query/ and bounding_box_test/ folders (Market-1501 layout) or MSMT17's list files; found: {found}.")


def read_dataset(path: str) -> ReidFolder:
    root, kind = find_root(path)
    if kind == "market-style":
        train_dir = os.path.join(root, "bounding_box_train")
        train = _market_split(train_dir) if os.path.isdir(train_dir) else Split([], np.zeros(0, np.int64), np.zeros(0, np.int64))
        ds = ReidFolder(os.path.basename(os.path.abspath(root)), train, _market_split(os.path.join(root, "query")),
                        _market_split(os.path.join(root, "bounding_box_test")))
    else:
        v2 = os.path.isdir(os.path.join(root, "mask_train_v2"))
        tr, te = ("mask_train_v2", "mask_test_v2") if v2 else ("train", "test")
        lt = os.path.join(root, "list_train.txt")
        train = _msmt_split(root, lt, tr) if os.path.isfile(lt) else Split([], np.zeros(0, np.int64), np.zeros(0, np.int64))
        # Test identities are numbered from 0 again; shift them past the training ones.
        off = 100000
        ds = ReidFolder("MSMT17", train, _msmt_split(root, os.path.join(root, "list_query.txt"), te, off),
                        _msmt_split(root, os.path.join(root, "list_gallery.txt"), te, off))
    if len(ds.query) == 0 or len(ds.gallery) == 0:
        raise DatasetError(f"{root} has no query or gallery images with ReID names (e.g. 0002_c1s1_000451_03.jpg).")
    return ds


def load_images(paths: Sequence[str], height: int, width: int) -> Tuple[np.ndarray, List[str]]:
    """RGB uint8 [n, h, w, 3], resized (bilinear) where a file is another size; unreadable or
    oversized files are skipped and named in the second value."""
    out = np.zeros((len(paths), height, width, 3), dtype=np.uint8)
    skipped: List[str] = []
    keep = np.ones(len(paths), dtype=bool)
    for i, p in enumerate(paths):
        try:
            with Image.open(p) as im:
                if im.width * im.height > MAX_IMAGE_PIXELS:
                    raise ValueError("too many pixels")
                im = im.convert("RGB")
                if im.size != (width, height):
                    im = im.resize((width, height), Image.BILINEAR)
                out[i] = np.asarray(im)
        except Exception:  # noqa: BLE001 - any undecodable file is skipped and reported
            skipped.append(p)
            keep[i] = False
    return out[keep], skipped


def normalize(images: np.ndarray) -> torch.Tensor:
    """uint8 NHWC -> float NCHW, ImageNet-normalised ((x / 255 - mean) / std)."""
    x = torch.from_numpy(images).permute(0, 3, 1, 2).float().div_(255)
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    return (x - mean) / std


@dataclass
class AugmentConfig:
    flip: float = 0.5
    pad_crop: int = 10
    erasing: float = 0.5
    erasing_area: Tuple[float, float] = (0.02, 0.4)
    erasing_aspect: Tuple[float, float] = (0.3, 3.33)


_MEAN_BYTES = np.array([round(m * 255) for m in IMAGENET_MEAN], dtype=np.uint8)


def augment(images: np.ndarray, cfg: AugmentConfig, rng: np.random.Generator) -> np.ndarray:
    """The lab's recipe on uint8 NHWC: flip, pad (black) and crop back at a random offset, random
    erasing with the ImageNet mean colour (0 after normalisation)."""
    n, h, w, _ = images.shape
    out = images.copy()
    for i in range(n):
        img = out[i]
        if cfg.flip > 0 and rng.random() < cfg.flip:
            img = img[:, ::-1]
        if cfg.pad_crop > 0:
            p = cfg.pad_crop
            padded = np.zeros((h + 2 * p, w + 2 * p, 3), dtype=np.uint8)
            padded[p:p + h, p:p + w] = img
            dy, dx = rng.integers(0, 2 * p + 1), rng.integers(0, 2 * p + 1)
            img = padded[dy:dy + h, dx:dx + w]
        img = np.ascontiguousarray(img)
        if cfg.erasing > 0 and rng.random() < cfg.erasing:
            for _ in range(100):  # torchreid tries 100 times
                area = h * w * rng.uniform(*cfg.erasing_area)
                aspect = rng.uniform(*cfg.erasing_aspect)
                eh, ew = int(round((area * aspect) ** 0.5)), int(round((area / aspect) ** 0.5))
                if 0 < eh < h and 0 < ew < w:
                    y, x = rng.integers(0, h - eh + 1), rng.integers(0, w - ew + 1)
                    img[y:y + eh, x:x + ew] = _MEAN_BYTES
                    break
        out[i] = img
    return out


class PKSampler:
    """P identities x K images per batch (torchreid's RandomIdentitySampler). Each epoch's plan is
    a pure function of (seed, epoch), so the sampler's whole state is (epoch, batch) and a
    checkpoint resumes the exact sequence. Only pids > 0 are sampled."""

    def __init__(self, pids: Sequence[int], p: int, k: int, seed: int):
        if p < 1 or k < 1:
            raise ValueError(f"P and K must be positive integers; got P={p}, K={k}.")
        by_id: Dict[int, List[int]] = {}
        for i, pid in enumerate(pids):
            if pid > 0:
                by_id.setdefault(int(pid), []).append(i)
        if len(by_id) < p:
            raise DatasetError(f"A P x K batch needs at least P={p} identities; the training split has {len(by_id)}.")
        self.p, self.k, self.seed = p, k, seed
        self.by_id = [by_id[pid] for pid in sorted(by_id)]
        self.epoch, self.batch = 0, 0
        self._plan = self._build(0)

    def _build(self, epoch: int) -> List[List[int]]:
        rng = np.random.default_rng([self.seed, epoch])
        chunks: List[List[List[int]]] = []
        for idx in self.by_id:
            idx = list(idx)
            if len(idx) < self.k:
                idx = list(rng.choice(idx, size=self.k, replace=True))
            rng.shuffle(idx)
            chunks.append([idx[j:j + self.k] for j in range(0, len(idx) - self.k + 1, self.k)])
        plan: List[List[int]] = []
        avail = [i for i, c in enumerate(chunks) if c]
        while len(avail) >= self.p:
            pick = rng.choice(avail, size=self.p, replace=False)
            plan.append([int(j) for i in pick for j in chunks[i].pop(0)])
            avail = [i for i in avail if chunks[i]]
        return plan

    @property
    def batches_per_epoch(self) -> int:
        return len(self._plan)

    def state(self) -> Dict[str, int]:
        return {"epoch": self.epoch, "batch": self.batch}

    def set_state(self, s: Dict[str, int]) -> None:
        self.epoch, self.batch = int(s["epoch"]), int(s["batch"])
        self._plan = self._build(self.epoch)

    def next(self) -> List[int]:
        if self.batch >= len(self._plan):
            self.epoch, self.batch = self.epoch + 1, 0
            self._plan = self._build(self.epoch)
        out = self._plan[self.batch]
        self.batch += 1
        return out

    def __iter__(self) -> Iterator[List[int]]:
        while True:
            yield self.next()
