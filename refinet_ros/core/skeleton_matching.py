"""One-to-one matching of two sets of 3D skeletons (frame to frame, or detections to ground truth).

The cost of a pair is the mean distance over the joints both have (NaN joints are missing); pairs
farther than a gate are never matched, so a person is not paired with someone across the room
just because the counts differ. The assignment is optimal (scipy's Hungarian method) on what each
pair saves against leaving both unmatched (its distance minus the gate), not a maximum number of
pairs: when one person leaves and another enters, forcing every pair in the gate would hand the
newcomer someone's track and that person a new one.
"""
from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment

from .depth import nanmedian_last


def skeleton_distances(a: np.ndarray, b: np.ndarray, median: bool = False) -> np.ndarray:
    """(M, K) mean (or median: a few badly placed joints do not count) joint distance, metres, of
    (M, J, 3) and (K, J, 3) skeletons; inf without a common joint."""
    d = np.linalg.norm(np.asarray(a, float)[:, None] - np.asarray(b, float)[None], axis=-1)   # (M, K, J)
    finite = np.isfinite(d)
    with np.errstate(invalid="ignore"):
        if median:
            centre = nanmedian_last(np.where(finite, d, np.nan)) if d.size else d.sum(-1)
        else:
            centre = np.where(finite, d, 0.0).sum(-1) / finite.sum(-1)
    return np.where(finite.any(-1), centre, np.inf)


def match_skeletons(a: np.ndarray, b: np.ndarray, gate_m: float | np.ndarray,
                    median: bool = False) -> list[tuple[int, int]]:
    """Pairs (i, j) of skeletons a[i], b[j] whose joint distance is under `gate_m` (one gate, or one per
    b[j]), minimising the total of distance minus gate over the pairs (:func:`assign`)."""
    if len(a) == 0 or len(b) == 0:
        return []
    return assign(skeleton_distances(a, b, median), gate_m)


def assign(cost: np.ndarray, gate: float | np.ndarray) -> list[tuple[int, int]]:
    """Pairs (i, j) with cost[i, j] under the gate (one, or one per column j) minimising the sum of
    cost minus gate over the pairs: a pair out of its gate saves nothing and is left unmatched."""
    cost = np.asarray(cost, float)
    if cost.size == 0:
        return []
    gate = np.broadcast_to(np.asarray(gate, float), (cost.shape[1],))[None]
    inside = cost < gate
    rows, cols = linear_sum_assignment(np.where(inside, cost - gate, 0.0))
    return [(int(i), int(j)) for i, j in zip(rows, cols) if inside[i, j]]


__all__ = ["assign", "match_skeletons", "skeleton_distances"]
