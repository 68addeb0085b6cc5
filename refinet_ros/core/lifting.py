"""Baseline 2D -> 3D lifting: robust depth at each 2D joint, back-projected with the intrinsics.

This is the paper's baseline and the entry point of every refinement stage. It lands on the
body *surface* (not the joint centre) and, under occlusion, on whatever body part is in front.
"""
from __future__ import annotations

import numpy as np

from .camera import PinholeCamera
from .depth import depth_at

DEFAULT_WINDOW = 5


def lift_baseline(depth_m: np.ndarray, uv: np.ndarray, camera: PinholeCamera,
                  window: int = DEFAULT_WINDOW) -> np.ndarray:
    """(B, H, W) metres + (B, J, 2) pixels -> (B, J, 3) optical-frame joints; NaN where no depth."""
    z = depth_at(depth_m, uv, window)
    joints = camera.backproject(uv, z)
    joints[~np.isfinite(z)] = np.nan
    return joints
