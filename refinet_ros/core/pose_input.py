"""Untrusted 2D pose input made safe before it reaches the pipeline.

A detector's message can hold anything: NaN or inf coordinates, confidences of 1e9 or -5, NaN
confidences, the same body id twice, or fifty people. Fed to stage B as they are, one NaN confidence
makes all 15 joints NaN and a confidence of 1e9 moves joints by 1e8 m. Every boundary that reads
2D poses (the node, the bag tools; ITOP files are checked by their reader) applies these rules and
counts what it had to repair, so a repaired input is never silent.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np


def clean_keypoints(uv: np.ndarray, confidence: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """(P, K, 2) pixels and (P, K) confidence -> cleaned copies and the number of skeletons repaired.

    A keypoint with a non-finite coordinate is missing (NaN, confidence 0); a non-finite confidence
    is 0; every confidence is clipped to [0, 1] (what the stages were trained on)."""
    uv = np.array(uv, dtype=np.float64)
    conf = np.array(confidence, dtype=np.float64)
    missing = ~np.isfinite(uv).all(-1)
    bad_conf = ~np.isfinite(conf) | (conf < 0) | (conf > 1)
    # NaN, NaN is how a message says "missing"; inf or a half-NaN coordinate is garbage
    repaired = bad_conf | (missing & ~np.isnan(uv).all(-1))
    uv[missing] = np.nan
    conf = np.clip(np.nan_to_num(conf, nan=0.0, posinf=0.0, neginf=0.0), 0.0, 1.0)
    conf[missing] = 0.0
    return uv, conf, int(repaired.any(-1).sum())


def unique_names(names: Sequence[str]) -> tuple[list[str], int]:
    """Later repeats of a non-empty name get a ``_2``, ``_3``, ... suffix (never one already used);
    returns the names and how many were renamed. Empty names (untracked bodies) stay empty."""
    taken = set(names)
    seen: set[str] = set()
    out, renamed = [], 0
    for name in names:
        new = name
        if name and name in seen:
            k = 2
            while f"{name}_{k}" in taken:
                k += 1
            new = f"{name}_{k}"
            renamed += 1
        taken.add(new)
        seen.add(new)
        out.append(new)
    return out, renamed


def most_confident(confidence: np.ndarray, cap: int) -> np.ndarray:
    """Indices (in input order) of the `cap` skeletons with the highest mean confidence."""
    mean = np.asarray(confidence, dtype=np.float64).reshape(len(confidence), -1).mean(-1)
    keep = np.argsort(-mean, kind="stable")[:cap]
    return np.sort(keep)
