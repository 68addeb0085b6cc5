"""Body measurements from 3D skeletons, and a robust per-body temporal estimate of them.

Measurements are bone lengths between ITOP joint centres, so they do not depend on the pose:
a crouching person has the same thigh as a standing one. Definitions (metres):

* ``shoulder_width``: right shoulder -> left shoulder;
* ``upper_arm``, ``forearm``, ``thigh``, ``shin``: shoulder -> elbow, elbow -> hand,
  hip -> knee, knee -> foot, the mean of both sides when both are valid, else the valid side;
* ``torso``: the chain neck -> torso joint -> mid-hip (a straight neck -> mid-hip line would
  shrink whenever the spine bends);
* ``stature``: the *joint-chain height* head -> neck + torso + thigh + shin, i.e. the length of
  the body chain from the head centre to the ankle. It is NOT the standing height: ITOP's head
  joint is the head centre (the crown is ~6 % of stature higher) and its foot joint is the ankle
  (~4 % above the sole). The learned regressors in :mod:`.anthropometry_regression` map these
  lengths to true stature.

A measurement whose joints are missing (NaN) is NaN, never a guess.
"""
from __future__ import annotations

import warnings
from collections import deque
from dataclasses import dataclass

import numpy as np

from .joints import (
    HEAD, L_ELBOW, L_FOOT, L_HAND, L_HIP, L_KNEE, L_SHOULDER, NECK, R_ELBOW, R_FOOT, R_HAND,
    R_HIP, R_KNEE, R_SHOULDER, TORSO,
)

#: Measurement order of every (..., K) array here and of msg/BodyMeasurements.
MEASUREMENTS: tuple[str, ...] = ("stature", "shoulder_width", "upper_arm", "forearm", "thigh", "shin", "torso")
#: Robust spread: 1.4826 * MAD equals the standard deviation for Gaussian noise.
MAD_TO_STD = 1.4826


def bone(joints: np.ndarray, a: int, b: int) -> np.ndarray:
    """(..., 15, 3) -> (...,) distance between joints a and b; NaN if either is missing."""
    return np.linalg.norm(joints[..., a, :] - joints[..., b, :], axis=-1)


def side_mean(right: np.ndarray, left: np.ndarray) -> np.ndarray:
    """Mean of the two sides where both are finite, the finite one where only one is, else NaN."""
    both = np.stack([right, left])
    n = np.isfinite(both).sum(0)
    total = np.where(np.isfinite(both), both, 0.0).sum(0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, total / n, np.nan)


def _sided(joints: np.ndarray, right: tuple[int, int], left: tuple[int, int]) -> np.ndarray:
    return side_mean(bone(joints, *right), bone(joints, *left))


def torso_length(joints: np.ndarray) -> np.ndarray:
    """Neck -> torso joint -> mid-hip chain; needs both hips (the mid-hip is their midpoint)."""
    mid_hip = 0.5 * (joints[..., R_HIP, :] + joints[..., L_HIP, :])
    upper = bone(joints, NECK, TORSO)
    return upper + np.linalg.norm(joints[..., TORSO, :] - mid_hip, axis=-1)


def leg_length(joints: np.ndarray) -> np.ndarray:
    """Hip -> knee -> foot, per side, then :func:`side_mean`: one whole valid leg suffices."""
    right = bone(joints, R_HIP, R_KNEE) + bone(joints, R_KNEE, R_FOOT)
    left = bone(joints, L_HIP, L_KNEE) + bone(joints, L_KNEE, L_FOOT)
    return side_mean(right, left)


def measure(joints: np.ndarray) -> np.ndarray:
    """(..., 15, 3) skeletons in metres -> (..., K) measurements in :data:`MEASUREMENTS` order."""
    joints = np.asarray(joints, dtype=np.float64)
    torso = torso_length(joints)
    return np.stack([
        bone(joints, HEAD, NECK) + torso + leg_length(joints),
        bone(joints, R_SHOULDER, L_SHOULDER),
        _sided(joints, (R_SHOULDER, R_ELBOW), (L_SHOULDER, L_ELBOW)),
        _sided(joints, (R_ELBOW, R_HAND), (L_ELBOW, L_HAND)),
        _sided(joints, (R_HIP, R_KNEE), (L_HIP, L_KNEE)),
        _sided(joints, (R_KNEE, R_FOOT), (L_KNEE, L_FOOT)),
        torso,
    ], axis=-1)


def as_dict(values: np.ndarray) -> dict[str, float]:
    """One (K,) measurement vector -> {name: value}."""
    return {name: float(v) for name, v in zip(MEASUREMENTS, values)}


# --------------------------------------------------------------------------- temporal estimate
@dataclass(frozen=True)
class Estimate:
    """Robust summary of a window of frames: per-measurement median, spread and frame count."""

    value: np.ndarray    # (..., K) median; NaN with fewer than min_frames valid frames
    spread: np.ndarray   # (..., K) 1.4826 * median absolute deviation
    count: np.ndarray    # (..., K) valid frames behind each value


def summarise(block: np.ndarray, min_frames: int = 1, axis: int = -2) -> Estimate:
    """Median and MAD spread over `axis` (frames), ignoring NaN. The median, not the mean, because a
    few frames with a swapped or misplaced joint must not drag the estimate."""
    block = np.asarray(block, dtype=np.float64)
    count = np.isfinite(block).sum(axis)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)   # all-NaN slices: handled by min_frames below
        median = np.nanmedian(block, axis=axis)
        mad = np.nanmedian(np.abs(block - np.expand_dims(median, axis)), axis=axis)
    enough = count >= max(int(min_frames), 1)
    return Estimate(np.where(enough, median, np.nan), np.where(enough, MAD_TO_STD * mad, np.nan), count)


def rolling_estimate(series: np.ndarray, window: int, min_frames: int = 1) -> Estimate:
    """Causal sliding-window :func:`summarise` of a (T, K) series: row t uses frames t-window+1..t,
    exactly what a :class:`SlidingWindowEstimator` fed the same frames would report at frame t."""
    series = np.asarray(series, dtype=np.float64)
    padded = np.concatenate([np.full((window - 1, series.shape[1]), np.nan), series])
    windows = np.lib.stride_tricks.sliding_window_view(padded, window, axis=0)   # (T, K, window)
    return summarise(windows, min_frames, axis=-1)


class SlidingWindowEstimator:
    """One body's measurements over its last `window` frames (median, spread, count).

    A person's dimensions do not change, but single-frame skeletons jitter and now and then
    mislocate a joint; the median over a window of frames follows the person robustly while
    the spread tells a consumer how far to trust the value. `width` is the number of values
    per frame (the K measurements by default)."""

    def __init__(self, window: int = 30, min_frames: int = 5, width: int = len(MEASUREMENTS)) -> None:
        if window < 1 or min_frames < 1 or width < 1:
            raise ValueError(f"window ({window}), min_frames ({min_frames}) and width ({width}) must be >= 1")
        self.window = window
        self.min_frames = min_frames
        self.width = width
        self._frames: deque[np.ndarray] = deque(maxlen=window)

    def __len__(self) -> int:
        return len(self._frames)

    def update_joints(self, joints: np.ndarray) -> None:
        """Add one (15, 3) skeleton's measurements (needs the default width)."""
        self.update(measure(joints))

    def update(self, values: np.ndarray) -> None:
        """Add one frame's (width,) values (NaN = not measured in that frame)."""
        values = np.asarray(values, dtype=np.float64).reshape(-1)
        if values.size != self.width:
            raise ValueError(f"expected {self.width} values per frame, got {values.size}")
        self._frames.append(values)

    def frames(self) -> np.ndarray:
        """(n, width) the values in the window, oldest first (for a model applied to every frame)."""
        return np.stack(self._frames) if self._frames else np.empty((0, self.width))

    def estimate(self) -> Estimate:
        """(width,) summary of the frames in the window; all NaN while fewer than min_frames."""
        return summarise(self.frames(), self.min_frames)
