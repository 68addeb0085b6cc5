"""Frames of an ITOP-format file as sequences in time: their order, stamps, smoothing and jitter.

ITOP files hold frames of video, one id per frame (``SS_FFFFF``: subject, then a frame number). The
generator's ``_meta.npz`` says exactly which clip a frame belongs to and its 30 Hz index; without it
the ids say it (one sequence per subject, frames in number order, consecutive numbers 1/30 s apart).
Smoothing (core.one_euro) runs along each sequence on these stamps, exactly as the node filters a
track: a gap longer than the filter's ``max_gap_s`` restarts it. Jitter is the RMS frame-to-frame
acceleration of the joints over runs of consecutive frames.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .one_euro import OneEuroFilter, OneEuroParams

FPS = 30.0
_ID = re.compile(r"^(\d+)_(\d+)$")


class SequenceOrderError(ValueError):
    """The frames' order in time cannot be told (no meta file, and ids that are not SS_FFFFF)."""


@dataclass(frozen=True)
class FrameTimes:
    """Per frame: the sequence it belongs to and its time in it (ns), in the file's order."""

    sequence: np.ndarray     # (N,) int
    stamp_ns: np.ndarray     # (N,) int64

    def consecutive(self) -> np.ndarray:
        """(N,) bool: the frame's predecessor in the file is its predecessor in time, 1/30 s before."""
        out = np.zeros(len(self.sequence), bool)
        out[1:] = (self.sequence[1:] == self.sequence[:-1]) & \
            (np.abs(np.diff(self.stamp_ns) - 1e9 / FPS) < 1e6)
        return out


def frame_times(ids: np.ndarray, meta_path: str | Path | None = None) -> FrameTimes:
    """The order in time of the frames `ids` (from the meta file's clip and 30 Hz index when given)."""
    ids = np.asarray(ids).astype(str)
    if meta_path is not None and Path(meta_path).is_file():
        meta = np.load(meta_path, allow_pickle=False)
        index = {i.decode() if isinstance(i, bytes) else str(i): k for k, i in enumerate(meta["ids"])}
        missing = [i for i in ids if i not in index]
        if missing:
            raise SequenceOrderError(f"{meta_path}: no frame order for {len(missing)} id(s), e.g. {missing[:3]}")
        rows = np.array([index[i] for i in ids])
        return FrameTimes(meta["clip"][rows].astype(int), (meta["frame30"][rows].astype(np.int64) * 1e9 / FPS)
                          .astype(np.int64))
    parts = [_ID.match(i) for i in ids]
    if not all(parts):
        bad = next(i for i, p in zip(ids, parts) if not p)
        raise SequenceOrderError(f"frame id {bad!r} is not SS_FFFFF and no _meta.npz was given: the frames' order "
                                 "in time is unknown")
    subject = np.array([int(p.group(1)) for p in parts])
    number = np.array([int(p.group(2)) for p in parts], dtype=np.int64)
    return FrameTimes(subject, (number * 1e9 / FPS).astype(np.int64))


def smooth_sequences(joints: np.ndarray, times: FrameTimes, params: OneEuroParams) -> np.ndarray:
    """(N, J, 3) joints filtered along each sequence in time order (causal), returned in the input order."""
    joints = np.asarray(joints, dtype=np.float64)
    out = np.full_like(joints, np.nan)
    order = np.lexsort((times.stamp_ns, times.sequence))
    filt, current = None, None
    for k in order:
        if times.sequence[k] != current:
            filt, current = OneEuroFilter(params, joints.shape[1]), times.sequence[k]
        out[k] = filt(joints[k], int(times.stamp_ns[k]))
    return out


def jitter(joints: np.ndarray, times: FrameTimes) -> float:
    """RMS acceleration (m/s^2) of the joints over every three consecutive frames of a sequence
    (frames in the file's order; NaN joints left out)."""
    joints = np.asarray(joints, dtype=np.float64)
    order = np.lexsort((times.stamp_ns, times.sequence))
    j, t = joints[order], FrameTimes(times.sequence[order], times.stamp_ns[order])
    step = t.consecutive()
    triple = step[1:-1] & step[2:]
    acc = (j[2:] - 2 * j[1:-1] + j[:-2])[triple] * FPS ** 2
    acc = np.linalg.norm(acc, axis=-1)
    acc = acc[np.isfinite(acc)]
    return float(np.sqrt(np.mean(acc ** 2))) if acc.size else float("nan")


__all__ = ["FrameTimes", "SequenceOrderError", "frame_times", "jitter", "smooth_sequences"]
