"""The lab's ReID losses (src/engine/train/losses.ts): batch-hard triplet on Euclidean distances
(Hermans et al. 2017) and label-smoothed ID cross-entropy (Szegedy et al. 2016)."""
from __future__ import annotations

from typing import Tuple

import torch
import torch.nn.functional as F

DIST_EPS = 1e-12


def pairwise_distances(x: torch.Tensor) -> torch.Tensor:
    xc = x - x.mean(dim=0, keepdim=True)  # translation invariant; smaller norms, less cancellation
    sq = (xc * xc).sum(dim=1, keepdim=True)
    d2 = sq + sq.t() - 2 * xc @ xc.t()
    off = 1 - torch.eye(x.shape[0], dtype=x.dtype, device=x.device)
    return torch.sqrt(torch.clamp(d2, min=DIST_EPS)) * off


def batch_hard_triplet(features: torch.Tensor, labels: torch.Tensor, margin: float = 0.3) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(loss, mean hardest-positive distance, mean hardest-negative distance)."""
    dist = pairwise_distances(features)
    pos = (labels.view(-1, 1) == labels.view(1, -1)).to(dist.dtype)
    dap = (dist * pos).max(dim=1).values
    big = dist.max().detach() + 1
    dan = (dist + pos * big).min(dim=1).values
    return F.relu(dap - dan + margin).mean(), dap.mean(), dan.mean()


def cross_entropy_label_smooth(logits: torch.Tensor, labels: torch.Tensor, epsilon: float = 0.1) -> torch.Tensor:
    c = logits.shape[1]
    targets = F.one_hot(labels, c).to(logits.dtype) * (1 - epsilon) + epsilon / c
    return -(targets * F.log_softmax(logits, dim=1)).sum(dim=1).mean()
