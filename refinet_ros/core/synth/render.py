"""Depth rendering by ray casting (vectorised numpy, no per-pixel Python).

Rays go through pixel centres with unit z, so a ray parameter *is* the optical-frame depth
z that a depth camera reports. Body primitives are intersected only for the pixels inside
their projected bounding box (a person covers a few % of the image); background planes
(floor, walls) are intersected analytically for all pixels; furniture boxes for their
bounding box. A z-buffer keeps the nearest hit.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from ..camera import PinholeCamera
from .body import Primitives, rot_z
from .scene import CameraPose, Scene

NEAR = 0.05

#: Object ids in the returned id map.
ID_NONE, ID_PLANE, ID_BOX = -3, -2, -1   # body primitives are >= 0


@lru_cache(maxsize=8)
def _rays(camera: PinholeCamera) -> np.ndarray:
    return camera.pixel_grid_rays().astype(np.float64)


def _bbox_spheres(camera: PinholeCamera, centres: np.ndarray, radii: np.ndarray) -> np.ndarray:
    """Pixel boxes (K, 4) = u0, u1, v0, v1 (exclusive ends) enclosing spheres (K, M, 3) of
    radii (K, M); the union over M. A sphere reaching behind NEAR gives the full image."""
    x, y, z = centres[..., 0], centres[..., 1], centres[..., 2]
    r = radii
    zn, zf = np.maximum(z - r, NEAR), z + r
    with np.errstate(divide="ignore", invalid="ignore"):
        u_lo = camera.fx * np.minimum((x - r) / zn, (x - r) / zf) + camera.cx
        u_hi = camera.fx * np.maximum((x + r) / zn, (x + r) / zf) + camera.cx
        v_lo = camera.fy * np.minimum((y - r) / zn, (y - r) / zf) + camera.cy
        v_hi = camera.fy * np.maximum((y + r) / zn, (y + r) / zf) + camera.cy
    behind = (z - r) < NEAR
    u0 = np.where(behind, 0, np.floor(u_lo)).min(-1)
    u1 = np.where(behind, camera.width, np.ceil(u_hi) + 1).max(-1)
    v0 = np.where(behind, 0, np.floor(v_lo)).min(-1)
    v1 = np.where(behind, camera.height, np.ceil(v_hi) + 1).max(-1)
    out = np.stack([np.clip(u0, 0, camera.width), np.clip(u1, 0, camera.width),
                    np.clip(v0, 0, camera.height), np.clip(v1, 0, camera.height)], -1)
    return out.astype(np.int64)


def _hit_sphere(d: np.ndarray, dd: np.ndarray, c: np.ndarray, r: float) -> np.ndarray:
    b = d @ c                     # ray origin is the camera centre (0)
    h = b * b - dd * (c @ c - r * r)
    with np.errstate(invalid="ignore"):
        t = (b - np.sqrt(h)) / dd
    return np.where((h >= 0) & (t > NEAR), t, np.inf)


def hit_capsule(d: np.ndarray, a: np.ndarray, b: np.ndarray, r: float) -> np.ndarray:
    """Nearest ray parameter of rays t*d (n,3) with the capsule a-b radius r (inf = miss)."""
    dd = np.einsum("ij,ij->i", d, d)
    ba, oa = b - a, -a
    baba, baoa, oaoa = ba @ ba, ba @ oa, oa @ oa
    bard, rdoa = d @ ba, d @ oa
    qa = baba * dd - bard * bard
    qb = baba * rdoa - baoa * bard
    qc = baba * oaoa - baoa * baoa - r * r * baba
    h = qb * qb - qa * qc
    with np.errstate(invalid="ignore", divide="ignore"):
        t = (-qb - np.sqrt(h)) / qa
        y = baoa + t * bard
    t_cyl = np.where((h >= 0) & (qa > 1e-12) & (y > 0) & (y < baba) & (t > NEAR), t, np.inf)
    return np.minimum(t_cyl, np.minimum(_hit_sphere(d, dd, a, r), _hit_sphere(d, dd, b, r)))


def hit_ellipsoid(d: np.ndarray, c: np.ndarray, rot: np.ndarray, radii: np.ndarray) -> np.ndarray:
    """Nearest ray parameter with the ellipsoid (centre c, axes = columns of rot, semi-axes radii)."""
    m = rot.T / radii[:, None]          # world -> unit-sphere coordinates
    o = -(m @ c)
    dp = d @ m.T
    qa = np.einsum("ij,ij->i", dp, dp)
    qb = dp @ o
    h = qb * qb - qa * (o @ o - 1.0)
    with np.errstate(invalid="ignore"):
        t = (-qb - np.sqrt(h)) / qa
    return np.where((h >= 0) & (t > NEAR), t, np.inf)


def hit_box(d: np.ndarray, o: np.ndarray, rot: np.ndarray, half: np.ndarray) -> np.ndarray:
    """Slab test: rays o + t*d (o, d in the camera frame; box axes = columns of rot about its centre)."""
    ob = rot.T @ o
    db = d @ rot
    with np.errstate(divide="ignore", invalid="ignore"):
        t1 = (-half - ob) / db
        t2 = (half - ob) / db
    tn = np.nanmax(np.minimum(t1, t2), axis=1)
    tf = np.nanmin(np.maximum(t1, t2), axis=1)
    return np.where((tf >= tn) & (tn > NEAR), tn, np.inf)


def render_background(camera: PinholeCamera, pose: CameraPose, scene: Scene | None) -> tuple[np.ndarray, np.ndarray]:
    """Static background (planes and boxes) for a fixed camera: computed once per clip.

    Returns depth (H, W) float64 metres (inf = nothing) and ids (H, W) int16."""
    rays = _rays(camera)
    hh, ww = camera.height, camera.width
    zbuf = np.full((hh, ww), np.inf)
    ids = np.full((hh, ww), ID_NONE, dtype=np.int16)
    if scene is None:
        return zbuf, ids
    n_c = scene.plane_n @ pose.R.T                       # (P, 3) normals in the camera frame
    k_c = scene.plane_k - scene.plane_n @ pose.C
    for n, k in zip(n_c, k_c):                           # rays have unit z: den = n.d
        den = n[0] * rays[..., 0] + n[1] * rays[..., 1] + n[2]
        with np.errstate(divide="ignore", invalid="ignore"):
            t = k / den
        m = (t > NEAR) & (t < zbuf)
        zbuf[m] = t[m]
        ids[m] = ID_PLANE
    if len(scene.box_c):
        rc = rot_z(scene.box_yaw)                             # (B, 3, 3) world box axes
        signs = np.array(np.meshgrid([-1, 1], [-1, 1], [-1, 1])).reshape(3, -1).T
        for k in range(len(scene.box_c)):
            cc = pose.to_camera(scene.box_c[k] + (signs * scene.box_half[k]) @ rc[k].T)
            if (cc[:, 2] < NEAR).all():
                continue
            if (cc[:, 2] < NEAR).any():
                u0, u1, v0, v1 = 0, ww, 0, hh
            else:
                u0, u1, v0, v1 = _bbox_spheres(camera, cc[None], np.zeros((1, 8)))[0]
            if u1 <= u0 or v1 <= v0:
                continue
            blk = rays[v0:v1, u0:u1].reshape(-1, 3)
            o = pose.to_camera(scene.box_c[k][None])[0]      # box centre in the camera frame
            t = hit_box(blk, -o, pose.R @ rc[k], scene.box_half[k]).reshape(v1 - v0, u1 - u0)
            zb, ib = zbuf[v0:v1, u0:u1], ids[v0:v1, u0:u1]
            m = t < zb
            zb[m] = t[m]
            ib[m] = ID_BOX
    return zbuf, ids


def render_body(camera: PinholeCamera, pose: CameraPose, body: Primitives,
                background: tuple[np.ndarray, np.ndarray] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Render one frame of body primitives (WORLD frame) over a background.

    Returns noise-free depth (H, W) float64 metres (inf = nothing hit) and an id map (H, W)
    int16: body primitive index (capsules first, then ellipsoids) or ID_PLANE / ID_BOX / ID_NONE."""
    rays = _rays(camera)
    if background is None:
        zbuf = np.full((camera.height, camera.width), np.inf)
        ids = np.full(zbuf.shape, ID_NONE, dtype=np.int16)
    else:
        zbuf, ids = background[0].copy(), background[1].copy()
    prims = body.transformed(pose.R, -pose.R @ pose.C)
    nc = len(prims.cap_r)
    boxes_c = _bbox_spheres(camera, np.stack([prims.cap_a, prims.cap_b], 1),
                            np.stack([prims.cap_r, prims.cap_r], 1))
    boxes_e = _bbox_spheres(camera, prims.ell_c[:, None], prims.ell_radii.max(-1)[:, None])
    for k in range(nc + len(prims.ell_c)):
        u0, u1, v0, v1 = boxes_c[k] if k < nc else boxes_e[k - nc]
        if u1 <= u0 or v1 <= v0:
            continue
        blk = rays[v0:v1, u0:u1].reshape(-1, 3)
        if k < nc:
            t = hit_capsule(blk, prims.cap_a[k], prims.cap_b[k], float(prims.cap_r[k]))
        else:
            e = k - nc
            t = hit_ellipsoid(blk, prims.ell_c[e], prims.ell_r[e], prims.ell_radii[e])
        t = t.reshape(v1 - v0, u1 - u0)
        zb, ib = zbuf[v0:v1, u0:u1], ids[v0:v1, u0:u1]
        m = t < zb
        zb[m] = t[m]
        ib[m] = k
    return zbuf, ids


def render(camera: PinholeCamera, pose: CameraPose, body: Primitives | None, scene: Scene | None
           ) -> tuple[np.ndarray, np.ndarray]:
    """Background plus body in one call (see :func:`render_body`)."""
    bg = render_background(camera, pose, scene)
    return bg if body is None else render_body(camera, pose, body, bg)
