"""ReID evaluation: embeddings, Euclidean distances, and the Market-1501 protocol as
torchreid / fast-reid compute it (src/engine/eval/): per query, gallery items of the same
identity and camera are dropped, junk (-1) is ignored, queries without a remaining match are
skipped, CMC clipped at 1, non-interpolated AP, mINP."""
from __future__ import annotations

from typing import Dict

import numpy as np
import torch

from .data import ReidFolder, Split, load_images, normalize
from .model import ReIDResNet


@torch.no_grad()
def embed(model: ReIDResNet, images: np.ndarray, batch: int = 128) -> torch.Tensor:
    model.eval()
    device = next(model.parameters()).device
    out = [model(normalize(images[i:i + batch]).to(device))["embedding"].cpu() for i in range(0, len(images), batch)]
    return torch.cat(out) if out else torch.zeros(0, 0)


def market_metrics(dist: np.ndarray, q_pids: np.ndarray, q_cams: np.ndarray, g_pids: np.ndarray, g_cams: np.ndarray,
                   max_rank: int = 10) -> Dict[str, float]:
    order = np.argsort(dist, axis=1, kind="stable")
    cmc_sum = np.zeros(max_rank)
    aps, inps = [], []
    for i in range(dist.shape[0]):
        o = order[i]
        keep = ~((g_pids[o] == q_pids[i]) & (g_cams[o] == q_cams[i])) & (g_pids[o] != -1)
        match = (g_pids[o][keep] == q_pids[i]).astype(np.float64)
        if not match.any():
            continue
        cmc = np.minimum(match.cumsum(), 1)
        cmc_sum += cmc[:max_rank] if len(cmc) >= max_rank else np.pad(cmc, (0, max_rank - len(cmc)), constant_values=1)
        hits = match.cumsum()
        pos = np.nonzero(match)[0]
        aps.append(float((hits[pos] / (pos + 1)).mean()))
        inps.append(float(match.sum() / (pos[-1] + 1)))
    n = len(aps)
    if n == 0:
        raise ValueError("No query has a matching gallery image in another camera; nothing to evaluate.")
    cmc = cmc_sum / n
    return {"mAP": float(np.mean(aps)), "rank1": float(cmc[0]), "rank5": float(cmc[4]), "rank10": float(cmc[9]),
            "mINP": float(np.mean(inps)), "numQueries": n}


def evaluate(model: ReIDResNet, ds: ReidFolder) -> Dict[str, float]:
    h, w = model.spec["input"]["height"], model.spec["input"]["width"]

    def feats(split: Split):
        imgs, skipped = load_images(split.paths, h, w)
        if skipped:
            raise ValueError(f"{len(skipped)} images could not be read, e.g. {skipped[0]}.")
        return embed(model, imgs)

    q, g = feats(ds.query), feats(ds.gallery)
    dist = torch.cdist(q.double(), g.double()).numpy()
    return market_metrics(dist, ds.query.pids, ds.query.camids, ds.gallery.pids, ds.gallery.camids)
