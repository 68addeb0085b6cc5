"""Depth images: REP-118 decoding and robust depth lookup at keypoints.

Inside the core a depth image is float32 metres with NaN for "no reading". A missing
reading must never turn into 0 m: that would place a joint on the camera.
"""
from __future__ import annotations

import numpy as np

SUPPORTED_ENCODINGS = ("16UC1", "mono16", "32FC1")


class DepthEncodingError(ValueError):
    """The depth image cannot be decoded (unknown encoding or bad buffer)."""


def decode_depth(raw: np.ndarray, encoding: str) -> np.ndarray:
    """REP-118: 16UC1 (and mono16) are millimetres with 0 invalid; 32FC1 is metres with NaN/inf invalid."""
    raw = np.asarray(raw)
    if encoding in ("16UC1", "mono16"):
        if raw.dtype != np.uint16:
            raise DepthEncodingError(f"{encoding} depth must be uint16, got {raw.dtype}")
        depth = raw.astype(np.float32) * np.float32(0.001)
        depth[raw == 0] = np.nan
        return depth
    if encoding == "32FC1":
        if raw.dtype != np.float32:
            raise DepthEncodingError(f"32FC1 depth must be float32, got {raw.dtype}")
        depth = raw.astype(np.float32, copy=True)
        depth[~np.isfinite(depth) | (depth <= 0)] = np.nan
        return depth
    raise DepthEncodingError(f"unsupported depth encoding {encoding!r}; expected one of {SUPPORTED_ENCODINGS}")


def limit_range(depth_m: np.ndarray, min_m: float, max_m: float) -> np.ndarray:
    """Readings outside [min_m, max_m] become NaN, like any other invalid pixel.

    A sensor's saturated or garbage values (65535 mm, 1e30 m) are finite: without this bound they
    would be lifted to joints tens of metres (or 1e30 m) away. Works in place on a float array."""
    with np.errstate(invalid="ignore"):
        depth_m[(depth_m < min_m) | (depth_m > max_m)] = np.nan
    return depth_m


def encode_depth(depth_m: np.ndarray, encoding: str) -> np.ndarray:
    """Inverse of decode_depth: metres with NaN -> the raw REP-118 buffer."""
    depth_m = np.asarray(depth_m, dtype=np.float32)
    valid = np.isfinite(depth_m) & (depth_m > 0)
    if encoding in ("16UC1", "mono16"):
        mm = np.where(valid, np.rint(depth_m * 1000.0), 0)
        return np.clip(mm, 0, np.iinfo(np.uint16).max).astype(np.uint16)
    if encoding == "32FC1":
        return np.where(valid, depth_m, np.nan).astype(np.float32)
    raise DepthEncodingError(f"unsupported depth encoding {encoding!r}; expected one of {SUPPORTED_ENCODINGS}")


def from_itop_depth(depth: np.ndarray) -> np.ndarray:
    """ITOP h5 depth (float16 metres, 0 = no reading) -> float32 metres with NaN."""
    out = np.asarray(depth, dtype=np.float32).copy()
    out[~np.isfinite(out) | (out <= 0)] = np.nan
    return out


def to_itop_depth(depth_m: np.ndarray) -> np.ndarray:
    """float32 metres with NaN -> ITOP h5 depth (float16, 0 = no reading)."""
    return np.nan_to_num(np.asarray(depth_m, dtype=np.float32), nan=0.0, posinf=0.0, neginf=0.0).astype(np.float16)


def gather_pixels(depth_m: np.ndarray, ui: np.ndarray, vi: np.ndarray, batch: np.ndarray | None = None) -> np.ndarray:
    """depth_m (B, H, W) at integer pixels ui, vi (B, ...; broadcast together) -> (B, ...); NaN off-image.
    With `batch` (broadcasting with ui, vi) the image of each pixel is depth_m[batch] instead, for a
    subset of a batch's keypoints.

    The one gather behind every windowed lookup (depth_at, patches, point crops): all keypoints
    of a batch in a single fancy-indexing call, no per-joint loop."""
    b, h, w = depth_m.shape
    ui, vi = np.broadcast_arrays(ui, vi)
    inside = (ui >= 0) & (ui < w) & (vi >= 0) & (vi < h)
    bi = np.arange(b).reshape(b, *([1] * (ui.ndim - 1))) if batch is None else batch
    vals = depth_m[bi, np.clip(vi, 0, h - 1), np.clip(ui, 0, w - 1)]
    return np.where(inside, vals, np.nan)


def depth_at(depth_m: np.ndarray, uv: np.ndarray, window: int = 5) -> np.ndarray:
    """Median of the valid depths in a window x window box around each keypoint.

    depth_m: (H, W) metres with NaN, or (B, H, W) with uv (B, J, 2).
    uv: (..., 2) pixel coordinates. Keypoints that are NaN, off-image, or whose window
    holds no valid pixel give NaN. Vectorised: one gather for all keypoints.
    """
    depth_m = np.asarray(depth_m, dtype=np.float32)
    uv = np.asarray(uv, dtype=np.float64)
    batched = depth_m.ndim == 3
    if not batched:
        depth_m, uv = depth_m[None], uv[None]
    _, h, w = depth_m.shape
    r = window // 2
    finite = np.isfinite(uv).all(-1)
    ui = np.rint(np.where(finite, uv[..., 0], -10 * window - w)).astype(np.int64)
    vi = np.rint(np.where(finite, uv[..., 1], -10 * window - h)).astype(np.int64)
    offsets = np.arange(-r, r + 1)
    us = ui[..., None, None] + offsets[None, :]           # (B, J, 1, K)
    vs = vi[..., None, None] + offsets[:, None]           # (B, J, K, 1)
    out = nanmedian_last(gather_pixels(depth_m, us, vs).reshape(*uv.shape[:-1], -1))
    return out if batched else out[0]


def nanmedian_last(vals: np.ndarray) -> np.ndarray:
    """np.nanmedian over the last axis (NaN where a row has no value), ~10x faster on small rows.

    Sorting puts NaN last, so the median of a row's n values sits at positions (n-1)//2 and n//2;
    np.nanmedian's per-call overhead alone is a tenth of a millisecond, and every stage looks depth up.
    """
    ordered = np.sort(vals, axis=-1)
    n = (~np.isnan(vals)).sum(-1, keepdims=True)
    lo = np.take_along_axis(ordered, np.maximum((n - 1) // 2, 0), -1)
    hi = np.take_along_axis(ordered, n // 2 - (n == 0), -1)
    return ((lo + hi) / 2)[..., 0]
