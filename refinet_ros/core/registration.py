"""Depth registered into another camera: the depth map as the 2D detector's (colour) camera sees it.

On a robot the 2D poses usually come from the colour image, whose camera has its own intrinsics,
resolution and optical frame. Lifting colour-image keypoints needs depth in that image, which is
what depth_image_proc's ``register`` node computes; this is the same computation, with its
``fill_upsampling_holes`` behaviour: every valid depth pixel (a square of the depth image) is
back-projected at its depth, moved by the depth -> colour extrinsics, projected into the (rectified)
colour camera, and its depth written into every colour pixel whose centre falls inside the projected
square (half-open, so squares share no centre), the nearest depth winning where several land (a
z-buffer: near surfaces hide far ones). Colour pixels that no depth pixel reaches are NaN. Both
cameras are pinhole (the depth image is rectified first, and colour keypoints are undistorted into
the pinhole colour camera: core.distortion).

The registered depth is only used to look up where each colour keypoint lies in 3D; the keypoints
then move into the depth camera (:func:`transfer_keypoints`) and the stages run on the depth
camera's own image, the sensor grid they were trained on. Run on the registered image instead, A's
patches and C's crops would see a resampled depth map, and edge joints would move by a centimetre.
"""
from __future__ import annotations

import numpy as np

from .camera import PinholeCamera
from .depth import depth_at, nanmedian_last
from .lifting import DEFAULT_WINDOW
from .transforms import Rigid

#: A depth pixel fills at most this many colour pixels per axis (a 1280x720 camera seeing a 160x120
#: depth map is 8x): bounds the work on extreme resolution ratios.
MAX_FILL = 16


def register_depth(depth_m: np.ndarray, depth_camera: PinholeCamera, target_camera: PinholeCamera,
                   target_from_depth: Rigid) -> np.ndarray:
    """(H, W) metres of the depth camera -> (H', W') metres in `target_camera`, NaN where unseen.
    `target_from_depth` maps depth-optical-frame points into the target optical frame."""
    depth_m = np.asarray(depth_m, dtype=np.float64)
    out = np.full((target_camera.height, target_camera.width), np.inf)
    rows, cols = np.nonzero(np.isfinite(depth_m) & (depth_m > 0))
    if rows.size == 0:
        return np.full(out.shape, np.nan, np.float32)
    z = depth_m[rows, cols]
    lo_u, lo_v, _ = _project(cols - 0.5, rows - 0.5, z, depth_camera, target_camera, target_from_depth)
    hi_u, hi_v, _ = _project(cols + 0.5, rows + 0.5, z, depth_camera, target_camera, target_from_depth)
    cu, cv, cz = _project(cols.astype(float), rows.astype(float), z, depth_camera, target_camera, target_from_depth)
    ahead = cz > 0
    # colour pixel centres c with lo <= c < hi: neighbouring squares share no centre, so a grid that
    # lines up exactly (same camera) maps pixel to pixel instead of growing every surface by one
    u0, u1 = np.ceil(np.minimum(lo_u, hi_u)), np.ceil(np.maximum(lo_u, hi_u)) - 1
    v0, v1 = np.ceil(np.minimum(lo_v, hi_v)), np.ceil(np.maximum(lo_v, hi_v)) - 1
    # a square smaller than a colour pixel (downsampling) still lands on its nearest pixel
    small_u, small_v = u1 < u0, v1 < v0
    u0, u1 = np.where(small_u, np.round(cu), u0), np.where(small_u, np.round(cu), u1)
    v0, v1 = np.where(small_v, np.round(cv), v0), np.where(small_v, np.round(cv), v1)
    span_u = np.clip(u1 - u0, 0, MAX_FILL - 1).astype(int)
    span_v = np.clip(v1 - v0, 0, MAX_FILL - 1).astype(int)
    for du in range(int(span_u.max(initial=0)) + 1):
        for dv in range(int(span_v.max(initial=0)) + 1):
            pick = ahead & (du <= span_u) & (dv <= span_v)
            uu, vv = (u0[pick] + du).astype(int), (v0[pick] + dv).astype(int)
            inside = (uu >= 0) & (uu < target_camera.width) & (vv >= 0) & (vv < target_camera.height)
            np.minimum.at(out, (vv[inside], uu[inside]), cz[pick][inside])
    out[~np.isfinite(out)] = np.nan
    return out.astype(np.float32)


def transfer_keypoints(uv: np.ndarray, registered_m: np.ndarray, pose_camera: PinholeCamera,
                       depth_camera: PinholeCamera, depth_from_pose: Rigid) -> np.ndarray:
    """(N, J, 2) pinhole pixels of `pose_camera` -> the same keypoints in pixels of `depth_camera`.

    Each keypoint is lifted at the registered depth around it (`registered_m`, in `pose_camera`: the
    surface it lies on), moved into the depth frame and projected. The depth only sets the parallax
    between the two cameras, f * baseline * (1/z - 1/z'): a joint centre 10 cm behind the surface
    moves its keypoint by 0.05 px on a 15 mm rig at 3 m, so a keypoint without depth (off the depth
    camera's view, a hole) takes its body's median depth rather than being dropped; a body with no
    depth at any keypoint gives NaN (nothing could lift it)."""
    uv = np.asarray(uv, dtype=np.float64)
    z = depth_at(registered_m, uv.reshape(-1, 2), DEFAULT_WINDOW).reshape(uv.shape[:-1])
    z = np.where(np.isfinite(z), z, nanmedian_last(z)[..., None])
    return depth_camera.project(depth_from_pose.apply(pose_camera.backproject(uv, z)))


def _project(u: np.ndarray, v: np.ndarray, z: np.ndarray, src: PinholeCamera, dst: PinholeCamera,
             dst_from_src: Rigid) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Depth-image pixels (u, v) at depth z -> (u', v', z') in the target camera."""
    points = np.stack([(u - src.cx) * z / src.fx, (v - src.cy) * z / src.fy, z], -1)
    moved = dst_from_src.apply(points)
    with np.errstate(divide="ignore", invalid="ignore"):
        return (dst.fx * moved[:, 0] / moved[:, 2] + dst.cx, dst.fy * moved[:, 1] / moved[:, 2] + dst.cy,
                moved[:, 2])


__all__ = ["register_depth", "transfer_keypoints"]
