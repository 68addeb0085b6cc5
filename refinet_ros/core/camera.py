"""Pinhole camera model and frame conventions.

The library works in the REP-103 camera *optical* frame (x right, y down, z forward),
in metres. ITOP labels use a Y-up camera frame; convert at the file boundary only.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

#: ITOP (Asus Xtion PRO, 320x240): X = (u - 160) * 0.0035 * Z.
ITOP_FOCAL = 1.0 / 0.0035
ITOP_WIDTH, ITOP_HEIGHT = 320, 240


@dataclass(frozen=True)
class PinholeCamera:
    """Intrinsics of an undistorted depth image (distortion is ignored, as in ITOP)."""

    fx: float
    fy: float
    cx: float
    cy: float
    width: int
    height: int

    def __post_init__(self) -> None:
        if not (np.isfinite([self.fx, self.fy, self.cx, self.cy]).all() and self.fx > 0 and self.fy > 0):
            raise ValueError(f"invalid intrinsics fx={self.fx} fy={self.fy} cx={self.cx} cy={self.cy}")
        if self.width <= 0 or self.height <= 0:
            raise ValueError(f"invalid image size {self.width}x{self.height}")

    @classmethod
    def from_k(cls, k: Sequence[float] | np.ndarray, width: int, height: int) -> "PinholeCamera":
        """From a 3x3 K matrix, or its 9 row-major values as in sensor_msgs/CameraInfo.k."""
        k = np.asarray(k, dtype=np.float64).reshape(3, 3)
        return cls(float(k[0, 0]), float(k[1, 1]), float(k[0, 2]), float(k[1, 2]), int(width), int(height))

    @classmethod
    def itop(cls) -> "PinholeCamera":
        """The ITOP dataset's Xtion camera."""
        return cls(ITOP_FOCAL, ITOP_FOCAL, ITOP_WIDTH / 2, ITOP_HEIGHT / 2, ITOP_WIDTH, ITOP_HEIGHT)

    @classmethod
    def for_image(cls, shape: tuple[int, int],
                  intrinsics: tuple[float, float, float, float] | None = None) -> "PinholeCamera":
        """The camera of (H, W) depth images: the explicit (fx, fy, cx, cy), else the ITOP Xtion camera
        scaled to that resolution (files carry no intrinsics, and ITOP's are the only ones implied)."""
        h, w = shape
        if intrinsics is not None:
            fx, fy, cx, cy = intrinsics
            return cls(fx, fy, cx, cy, w, h)
        itop = cls.itop()
        if abs(w / itop.width - h / itop.height) > 1e-6:
            raise ValueError(f"depth frames are {w}x{h}, not ITOP's 4:3; pass the camera intrinsics explicitly")
        return itop if w == itop.width else itop.scaled(w / itop.width)

    @property
    def k(self) -> np.ndarray:
        return np.array([[self.fx, 0, self.cx], [0, self.fy, self.cy], [0, 0, 1]], dtype=np.float64)

    def scaled(self, factor: float) -> "PinholeCamera":
        """The same camera at another resolution (e.g. a half-size depth stream)."""
        return PinholeCamera(self.fx * factor, self.fy * factor, (self.cx + 0.5) * factor - 0.5,
                             (self.cy + 0.5) * factor - 0.5, round(self.width * factor), round(self.height * factor))

    def project(self, points: np.ndarray) -> np.ndarray:
        """Optical-frame points (..., 3) -> pixels (..., 2). Points at z <= 0 give NaN."""
        points = np.asarray(points, dtype=np.float64)
        z = points[..., 2]
        with np.errstate(divide="ignore", invalid="ignore"):
            z = np.where(z > 0, z, np.nan)
            u = self.fx * points[..., 0] / z + self.cx
            v = self.fy * points[..., 1] / z + self.cy
        return np.stack([u, v], axis=-1)

    def backproject(self, uv: np.ndarray, depth: np.ndarray) -> np.ndarray:
        """Pixels (..., 2) with depth in metres (...) -> optical-frame points (..., 3). NaN depth stays NaN."""
        uv = np.asarray(uv, dtype=np.float64)
        z = np.asarray(depth, dtype=np.float64)
        x = (uv[..., 0] - self.cx) * z / self.fx
        y = (uv[..., 1] - self.cy) * z / self.fy
        return np.stack([x, y, z], axis=-1)

    def pixel_grid_rays(self) -> np.ndarray:
        """Unit-z ray directions (H, W, 3) through every pixel centre: a point is ray * depth."""
        u, v = np.meshgrid(np.arange(self.width), np.arange(self.height))
        return np.stack([(u - self.cx) / self.fx, (v - self.cy) / self.fy, np.ones(u.shape)], axis=-1)

    def in_image(self, uv: np.ndarray) -> np.ndarray:
        """Mask of finite pixel coordinates that fall inside the image."""
        uv = np.asarray(uv, dtype=np.float64)
        with np.errstate(invalid="ignore"):
            return (np.isfinite(uv).all(-1) & (uv[..., 0] >= 0) & (uv[..., 0] <= self.width - 1)
                    & (uv[..., 1] >= 0) & (uv[..., 1] <= self.height - 1))


def itop_to_optical(points: np.ndarray) -> np.ndarray:
    """ITOP's Y-up camera frame -> REP-103 optical frame (y down). The map is its own inverse."""
    out = np.array(points, dtype=np.float64, copy=True)
    out[..., 1] *= -1.0
    return out


optical_to_itop = itop_to_optical
