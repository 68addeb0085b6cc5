"""The resolution the stages run at: frames of high-resolution cameras are brought to ITOP's scale.

The stages were trained on ITOP's Xtion (fx = 285.7 px at 320x240): module A's 40x40-pixel patches
and the baseline's depth window are pixels of that scale. A 1280x720 camera (fx about 900) seen
through them would give A patches a third the metric size and cost ten times the pixels. Frames
whose focal length is more than MAX_RATIO times the training one are therefore resampled first to a
camera of the same field of view with the training focal length (nearest neighbour: no depth is
invented between a person and the wall), and their keypoints scaled with them. The 3D result is in
the same optical frame, metric, whatever the resolution; smaller cameras are used as they are.
"""
from __future__ import annotations

import numpy as np

from .camera import ITOP_FOCAL, PinholeCamera

#: Cameras with a focal length up to this many times the training one run at their own resolution.
MAX_RATIO = 1.25


def working_camera(camera: PinholeCamera) -> PinholeCamera:
    """`camera` itself, or the same camera scaled down to the training focal length."""
    focal = max(camera.fx, camera.fy)
    return camera if focal <= MAX_RATIO * ITOP_FOCAL else camera.scaled(ITOP_FOCAL / focal)


def resample_depth(depth_m: np.ndarray, camera: PinholeCamera, work: PinholeCamera) -> np.ndarray:
    """(..., H, W) metres of `camera` -> `work`'s image, nearest neighbour."""
    if work == camera:
        return depth_m
    scale = work.fx / camera.fx
    cols = np.clip(np.round((np.arange(work.width) + 0.5) / scale - 0.5), 0, camera.width - 1).astype(int)
    rows = np.clip(np.round((np.arange(work.height) + 0.5) / scale - 0.5), 0, camera.height - 1).astype(int)
    return np.asarray(depth_m)[..., rows, :][..., cols]


def to_working_pixels(uv: np.ndarray, camera: PinholeCamera, work: PinholeCamera) -> np.ndarray:
    """Pixels of `camera` -> pixels of `work` (pixel centres at integers in both)."""
    if work == camera:
        return uv
    return (np.asarray(uv, dtype=np.float64) + 0.5) * (work.fx / camera.fx) - 0.5


__all__ = ["MAX_RATIO", "resample_depth", "to_working_pixels", "working_camera"]
