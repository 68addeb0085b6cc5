"""Lens distortion of a camera_info: rectify the depth image and undistort the 2D keypoints, so that
everything after the input path is exact pinhole geometry (what the stages were trained on).

Supported models are sensor_msgs' ``plumb_bob`` (k1 k2 t1 t2 k3), ``rational_polynomial`` (k1 k2 t1
t2 k3 k4 k5 k6) and ``equidistant`` (fisheye k1..k4), through OpenCV. The depth image is remapped
into the undistorted image of the same K and size with nearest-neighbour sampling (interpolating
would invent depth between a person and the wall, as depth_image_proc also avoids), pixels that map
from outside the image become NaN; keypoints, detected on the distorted image, are moved to the
same undistorted image. A camera whose coefficients are all zero needs nothing. Maps are built once
per camera and cached.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from .camera import PinholeCamera

#: distortion_model -> number of coefficients OpenCV takes.
MODELS: dict[str, int] = {"plumb_bob": 5, "rational_polynomial": 8, "equidistant": 4}


class DistortionError(ValueError):
    """A distortion model (or coefficient count) that cannot be undone."""


@dataclass(frozen=True)
class Distortion:
    """A camera_info's distortion_model and D."""

    model: str
    coeffs: tuple[float, ...]

    @property
    def is_zero(self) -> bool:
        return not any(self.coeffs)

    def checked(self) -> "Distortion":
        """Itself, if it can be undone; else DistortionError naming the model."""
        if self.is_zero:
            return self
        if self.model not in MODELS:
            raise DistortionError(f"distortion model {self.model!r} with D = {list(self.coeffs)} is not supported "
                                  f"(supported: {', '.join(MODELS)}; or rectify the image first)")
        need = MODELS[self.model]
        if not np.isfinite(self.coeffs).all() or len(self.coeffs) < need or any(self.coeffs[need:]):
            raise DistortionError(f"{self.model} takes {need} finite coefficients, got {list(self.coeffs)}")
        return self

    def opencv(self) -> np.ndarray:
        d = np.zeros(MODELS[self.model])
        d[: min(len(self.coeffs), len(d))] = self.coeffs[: len(d)]
        return d


def _k(camera: PinholeCamera) -> np.ndarray:
    return np.array([[camera.fx, 0, camera.cx], [0, camera.fy, camera.cy], [0, 0, 1]], dtype=np.float64)


def undistort_points(uv: np.ndarray, camera: PinholeCamera, distortion: Distortion) -> np.ndarray:
    """(..., 2) pixels of the distorted image -> pixels of the undistorted one (same K); NaN stays NaN."""
    uv = np.asarray(uv, dtype=np.float64)
    if distortion.checked().is_zero or uv.size == 0:
        return uv
    flat = uv.reshape(-1, 1, 2)
    finite = np.isfinite(flat).all(-1)[:, 0]
    out = np.full_like(flat, np.nan)
    if finite.any():
        k, d = _k(camera), distortion.opencv()
        pts = flat[finite]
        if distortion.model == "equidistant":
            out[finite] = cv2.fisheye.undistortPoints(pts, k, d, P=k)
        else:
            out[finite] = cv2.undistortPointsIter(pts, k, d, None, k,
                                                  (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 50, 1e-9))
    return out.reshape(uv.shape)


def rectify_depth(depth_m: np.ndarray, camera: PinholeCamera, distortion: Distortion) -> np.ndarray:
    """(H, W) metres of the distorted image -> the undistorted image (same K and size), NaN where unseen."""
    if distortion.checked().is_zero:
        return depth_m
    map_x, map_y = _maps(camera, distortion)
    return cv2.remap(np.asarray(depth_m, np.float32), map_x, map_y, cv2.INTER_NEAREST,
                     borderMode=cv2.BORDER_CONSTANT, borderValue=float("nan"))


@lru_cache(maxsize=8)
def _maps(camera: PinholeCamera, distortion: Distortion) -> tuple[np.ndarray, np.ndarray]:
    k, d, size = _k(camera), distortion.opencv(), (camera.width, camera.height)
    if distortion.model == "equidistant":
        return cv2.fisheye.initUndistortRectifyMap(k, d, np.eye(3), k, size, cv2.CV_32FC1)
    return cv2.initUndistortRectifyMap(k, d, None, k, size, cv2.CV_32FC1)


def distort_points(uv: np.ndarray, camera: PinholeCamera, distortion: Distortion) -> np.ndarray:
    """The inverse of :func:`undistort_points` (pixels of the undistorted image -> the distorted one):
    what a real lens does; used to render distorted test images."""
    uv = np.asarray(uv, dtype=np.float64)
    if distortion.is_zero:
        return uv
    norm = np.stack([(uv[..., 0] - camera.cx) / camera.fx, (uv[..., 1] - camera.cy) / camera.fy,
                     np.ones(uv.shape[:-1])], -1).reshape(-1, 1, 3)
    k, d, zero = _k(camera), distortion.opencv(), np.zeros(3)
    if distortion.model == "equidistant":
        out = cv2.fisheye.projectPoints(norm, zero, zero, k, d)[0]
    else:
        out = cv2.projectPoints(norm, zero, zero, k, d)[0]
    return out.reshape(uv.shape)


__all__ = ["MODELS", "Distortion", "DistortionError", "distort_points", "rectify_depth", "undistort_points"]
