"""Network inputs built from depth maps and poses: depth patches (A), normalised skeletons (B),
per-joint point clouds (C).

Every function is vectorised over B frames x J joints (one gather, like :func:`depth.depth_at`):
per-joint Python loops would blow the per-frame latency budget of a real-time node.
Missing joints (NaN) give all-zero inputs and a False mask, never NaN: the networks must
stay finite whatever the depth holds.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .camera import ITOP_FOCAL, PinholeCamera
from .depth import depth_at, gather_pixels
from .joints import L_HIP, L_SHOULDER, NECK, R_HIP, R_SHOULDER, TORSO

PATCH_SIZE = 40
#: Depth differences are divided by this (metres) and clipped to [-1, 1]: a limb-sized range.
PATCH_DEPTH_SCALE = 0.5
#: Value of pixels with no reading or outside the image: "far behind the joint".
PATCH_BACKGROUND = 1.0
#: Fallback window for the patch centre depth when the 5x5 window holds no reading.
CENTRE_FALLBACK_WINDOW = 15

CLOUD_POINTS = 64
CLOUD_HALF_SIZE = 0.15
CLOUD_GRID = 24
#: A cube holding fewer points than this is grown (x2) once: a joint estimate off the body still sees it.
CLOUD_MIN_POINTS = 16

#: Joints whose mean is the skeleton root: the trunk is the most reliably detected part.
ROOT_JOINTS = np.array([NECK, R_SHOULDER, L_SHOULDER, TORSO, R_HIP, L_HIP])


def centre_depth(depth_m: np.ndarray, uv: np.ndarray) -> np.ndarray:
    """Robust depth at each keypoint (B, J): 5x5 median, else a wider window (joint on a depth hole)."""
    z = depth_at(depth_m, uv, 5)
    hole = ~np.isfinite(z) & np.isfinite(uv).all(-1)
    if hole.any():
        z_wide = depth_at(depth_m, np.where(hole[..., None], uv, np.nan), CENTRE_FALLBACK_WINDOW)
        z = np.where(hole, z_wide, z)
    return z


def depth_patches(depth_m: np.ndarray, uv: np.ndarray, size: int = PATCH_SIZE, step: float = 1.0,
                  scale: float = PATCH_DEPTH_SCALE) -> np.ndarray:
    """(B, H, W) metres + (B, J, 2) pixels -> (B, J, size, size) float32 normalised depth patches.

    Each patch is centred on the keypoint's nearest pixel, samples every `step` pixels (pass
    camera.fx / ITOP_FOCAL so a patch spans the same angle as 40 ITOP pixels at any resolution),
    and holds (depth - centre depth) / scale clipped to [-1, 1]; no reading / off-image = +1.
    Missing keypoints, and keypoints with no depth nearby, give all-zero patches.
    """
    depth_m = np.asarray(depth_m, dtype=np.float32)
    uv = np.asarray(uv, dtype=np.float64)
    z0 = centre_depth(depth_m, uv)
    ok = np.isfinite(z0)
    safe_uv = np.where(ok[..., None], uv, 0.0)
    offs = (np.arange(size) - size // 2) * step
    ui = np.rint(safe_uv[..., 0, None, None] + offs[None, :]).astype(np.int64)   # (B, J, 1, S)
    vi = np.rint(safe_uv[..., 1, None, None] + offs[:, None]).astype(np.int64)   # (B, J, S, 1)
    ui, vi = np.broadcast_arrays(ui, vi)
    vals = gather_pixels(depth_m, ui, vi)
    rel = (vals - np.where(ok, z0, 0.0)[..., None, None].astype(np.float32)) / np.float32(scale)
    patches = np.where(np.isfinite(rel), np.clip(rel, -1.0, 1.0), PATCH_BACKGROUND)
    return np.where(ok[..., None, None], patches, 0.0).astype(np.float32)


def patch_step(camera: PinholeCamera) -> float:
    """Pixel stride that makes a patch span the angle of `PATCH_SIZE` ITOP pixels."""
    return float(camera.fx / ITOP_FOCAL)


@dataclass
class PointClouds:
    """Per-joint local point clouds, normalised: (p - joint) / half, so inside the cube is [-1, 1]^3."""

    points: np.ndarray  # (B, J, N, 3) float32, 0 where not `mask`
    mask: np.ndarray    # (B, J, N) bool, real (possibly repeated) points
    count: np.ndarray   # (B, J) distinct points found in the cube
    half: np.ndarray    # (B, J) cube half size used (metres), to scale offsets back


def _crop_cube(depth_m: np.ndarray, joints: np.ndarray, camera: PinholeCamera, half: np.ndarray,
               grid: int, batch: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Back-projected points of a grid x grid pixel sample of each cube's image box, and in-cube mask.

    The box is the projection of the cube's nearest face, so its pixel size shrinks with depth;
    a fixed grid over it keeps the cost independent of distance. Returns (B, J, G*G, 3), (B, J, G*G);
    with `batch`, joints (S, 3) are crops of the images depth_m[batch] (S,).
    """
    z_near = np.maximum(joints[..., 2] - half, 0.05)
    centre_uv = camera.project(joints)
    r_u = camera.fx * half / z_near
    r_v = camera.fy * half / z_near
    t = np.linspace(-1.0, 1.0, grid)
    ui = np.rint(centre_uv[..., 0, None, None] + r_u[..., None, None] * t[None, :]).astype(np.int64)
    vi = np.rint(centre_uv[..., 1, None, None] + r_v[..., None, None] * t[:, None]).astype(np.int64)
    ui, vi = np.broadcast_arrays(ui, vi)
    z = gather_pixels(depth_m, ui, vi, None if batch is None else batch[:, None, None])
    pts = camera.backproject(np.stack([ui, vi], -1).astype(np.float64), z)
    pts = pts.reshape(*joints.shape[:-1], grid * grid, 3)
    with np.errstate(invalid="ignore"):
        inside = (np.abs(pts - joints[..., None, :]) <= half[..., None, None]).all(-1)
    return pts, inside


def _pick(inside: np.ndarray, n_points: int, rng: np.random.Generator | None) -> tuple[np.ndarray, np.ndarray]:
    """Indices (B, J, N) of n_points in-cube candidates, repeating them when there are fewer.

    Deterministic (a fixed candidate order) when rng is None, so inference is reproducible.
    """
    m = inside.shape[-1]
    keys = (rng.random(inside.shape) if rng is not None
            else np.broadcast_to(np.random.default_rng(0).random(m), inside.shape))
    order = np.argsort(np.where(inside, keys, 2.0), axis=-1)
    count = inside.sum(-1)
    slot = np.arange(n_points) % np.maximum(count, 1)[..., None]
    return np.take_along_axis(order, slot, -1), count


def joint_point_clouds(depth_m: np.ndarray, joints: np.ndarray, camera: PinholeCamera,
                       n_points: int = CLOUD_POINTS, half_size: float = CLOUD_HALF_SIZE,
                       grid: int = CLOUD_GRID, rng: np.random.Generator | None = None) -> PointClouds:
    """Depth points inside a cube around each joint estimate, sampled to a fixed count.

    depth_m (B, H, W) metres with NaN, joints (B, J, 3) optical frame (NaN = missing).
    A cube with fewer than CLOUD_MIN_POINTS points is doubled once. Missing joints give count 0.
    """
    depth_m = np.asarray(depth_m, dtype=np.float32)
    joints = np.asarray(joints, dtype=np.float64)
    valid = np.isfinite(joints).all(-1) & (joints[..., 2] > 0)
    safe = np.where(valid[..., None], joints, [0.0, 0.0, 1.0])
    half = np.full(valid.shape, half_size)
    pts, inside = _crop_cube(depth_m, safe, camera, half, grid)
    sparse = inside.sum(-1) < CLOUD_MIN_POINTS
    if sparse.any():                               # those cubes again, twice the size
        half[sparse] = 2 * half_size
        pts[sparse], inside[sparse] = _crop_cube(depth_m, safe[sparse], camera, half[sparse], grid,
                                                 np.nonzero(sparse)[0])
    inside &= valid[..., None]
    idx, count = _pick(inside, n_points, rng)
    chosen = np.take_along_axis(pts, idx[..., None], -2)
    mask = np.take_along_axis(inside, idx, -1)
    norm = (chosen - safe[..., None, :]) / half[..., None, None]
    points = np.where(mask[..., None], norm, 0.0).astype(np.float32)
    return PointClouds(points, mask, count, half)


@dataclass
class NormalisedSkeleton:
    """A root-relative skeleton: what Module B sees, independent of where the person stands."""

    joints: np.ndarray  # (B, J, 3) joints - root, 0 where missing
    mask: np.ndarray    # (B, J) bool valid joints
    root: np.ndarray    # (B, 3) root in the camera frame (0 when no joint is valid)


def skeleton_root(joints: np.ndarray) -> np.ndarray:
    """(B, J, 3) -> (B, 3): mean of the valid trunk joints, else of all valid joints, else 0."""
    valid = np.isfinite(joints).all(-1)
    filled = np.where(valid[..., None], joints, 0.0)

    def mean_of(sel: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        n = sel.sum(-1)
        return (filled * sel[..., None]).sum(-2) / np.maximum(n, 1)[..., None], n

    trunk_sel = np.zeros_like(valid)
    trunk_sel[:, ROOT_JOINTS] = valid[:, ROOT_JOINTS]
    trunk, n_trunk = mean_of(trunk_sel)
    every, _ = mean_of(valid)
    return np.where((n_trunk > 0)[..., None], trunk, every)


def normalise_skeleton(joints: np.ndarray) -> NormalisedSkeleton:
    """Centre each skeleton on its root; missing joints become 0 with mask False."""
    joints = np.asarray(joints, dtype=np.float64)
    valid = np.isfinite(joints).all(-1)
    root = skeleton_root(joints)
    rel = np.where(valid[..., None], joints - root[:, None, :], 0.0)
    return NormalisedSkeleton(rel, valid, root)
