"""Training augmentations: perturbations real data has and one synthetic renderer does not cover.

Each function is vectorised over a batch and draws from the caller's generator (deterministic runs).
Why each exists:
* extra depth noise and holes: other sensors (Kinect v2, RealSense) are noisier than the simulated Xtion;
* scene scaling (depth and joints x s, pixels unchanged): people taller/shorter and nearer/farther
  than the generator's population;
* 3D similarity of a skeleton about its root: poses and body proportions beyond the motion library;
* keypoint jitter, joints pushed along their ray, dropped joints: 2D detectors worse than the simulated one.
"""
from __future__ import annotations

import numpy as np

from .camera import PinholeCamera


def noisy_depth(depth_m: np.ndarray, rng: np.random.Generator, max_k: float = 2e-3,
                max_holes: float = 0.03) -> np.ndarray:
    """Add z^2-proportional noise (k ~ U(0, max_k) per frame) and random missing pixels."""
    n = len(depth_m)
    k = rng.uniform(0.0, max_k, (n, 1, 1)).astype(np.float32)
    noise = rng.standard_normal(depth_m.shape, dtype=np.float32)
    out = depth_m + k * depth_m * depth_m * noise
    holes = rng.random(depth_m.shape, dtype=np.float32) < rng.uniform(0.0, max_holes, (n, 1, 1))
    out[holes] = np.nan
    return out


def scene_scales(rng: np.random.Generator, n: int, spread: float = 0.1) -> np.ndarray:
    """(n,) factors for scaling a whole scene about the camera: the image stays valid, metres change."""
    return rng.uniform(1.0 - spread, 1.0 + spread, n)


def jitter_uv(uv: np.ndarray, rng: np.random.Generator, sigma_px: float) -> np.ndarray:
    """Gaussian keypoint noise with a per-frame scale in [0, sigma_px]; NaN stays NaN."""
    scale = rng.uniform(0.0, sigma_px, (len(uv), 1, 1))
    return uv + scale * rng.standard_normal(uv.shape)


def random_rotations(rng: np.random.Generator, n: int, max_deg: float) -> np.ndarray:
    """(n, 3, 3) rotations about uniformly random axes by angles up to max_deg (Rodrigues)."""
    axis = rng.standard_normal((n, 3))
    axis /= np.linalg.norm(axis, axis=-1, keepdims=True)
    angle = np.deg2rad(rng.uniform(-max_deg, max_deg, n))[:, None, None]
    k = np.zeros((n, 3, 3))
    k[:, 0, 1], k[:, 0, 2], k[:, 1, 2] = -axis[:, 2], axis[:, 1], -axis[:, 0]
    k -= k.transpose(0, 2, 1)
    return np.eye(3) + np.sin(angle) * k + (1 - np.cos(angle)) * (k @ k)


def similarity_about(points: np.ndarray, root: np.ndarray, rot: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """(B, J, 3) points rotated by (B, 3, 3) and scaled by (B,) about (B, 3) roots; NaN stays NaN."""
    rel = points - root[:, None, :]
    return root[:, None, :] + scale[:, None, None] * np.einsum("bij,bkj->bki", rot, rel)


def transform_uv(uv: np.ndarray, z: np.ndarray, root: np.ndarray, rot: np.ndarray, scale: np.ndarray,
                 camera: PinholeCamera) -> np.ndarray:
    """Keypoints moved consistently with a 3D similarity: back-project at z, transform, project."""
    return camera.project(similarity_about(camera.backproject(uv, z), root, rot, scale))


def push_along_rays(joints: np.ndarray, rng: np.random.Generator, p: float, low: float = -0.6,
                    high: float = 0.3) -> np.ndarray:
    """With probability p per joint, move it along its camera ray by U(low, high) metres:
    the lookup hit an occluder (nearer) or the background (farther)."""
    hit = rng.random(joints.shape[:-1]) < p
    dz = np.where(hit, rng.uniform(low, high, joints.shape[:-1]), 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        factor = np.maximum(joints[..., 2] + dz, 0.3) / joints[..., 2]
    return np.where(hit[..., None], joints * factor[..., None], joints)


def drop_mask(rng: np.random.Generator, shape: tuple[int, ...], p: float) -> np.ndarray:
    """(B, J) True where a joint is dropped (the detector missed it)."""
    return rng.random(shape) < p
