"""Structured-light depth sensor model (Kinect v1 / Asus Xtion PRO, as used for ITOP).

The renderer gives exact depth; a real structured-light sensor does not. Each effect below
mimics a concrete failure of the real device, because each one breaks naive "read the
depth at the 2D joint" lifting in its own way and RefiNet must learn to cope with it:

* **Axial noise growing with z^2.** Depth comes from triangulated disparity, so a fixed
  disparity error maps to sigma_z = k * z^2 (k ~ 1.2e-3 .. 3e-3 /m, Khoshelham & Elberink
  2012). Part of the noise is spatially correlated (the device matches 9x9-ish windows),
  so neighbouring pixels do not average it away.
* **Disparity quantisation.** Disparity is reported in 1/8-pixel steps: depth comes in
  terraces whose spacing grows as q * z^2 (~1.1 cm at 2 m, ~2.6 cm at 3 m, ~5 cm at 4 m),
  plus the millimetre quantisation of the 16-bit output.
* **Missing data at depth discontinuities.** The correlation window straddling a
  silhouette fails, so edges lose readings (a random, ragged band) -- exactly where a 2D
  joint near the outline lands; and the projector, offset from the IR camera by the
  baseline, casts a *shadow* band on the background beside every foreground edge (width =
  f*b*(1/z_fg - 1/z_bg) pixels), so a joint detected just outside the person finds no
  reading or the far wall.
* **Flying (mixed) pixels** at some silhouette pixels: values between foreground and
  background, the source of the 0.3-2 m outliers in baseline lifting.
* **Grazing surfaces** (far floor, walls seen edge-on) return no speckle: dropped.
* **Range limits.** No reading beyond ~5-6 m (speckle too faint) or nearer than 0.5 m.
* **Random dropouts and holes on the body**: dark or shiny clothing, and dark hair (which
  absorbs the 830 nm pattern: often a hole on the top of the head in the top view), give
  blobs without reading on the person.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class SensorParams:
    """One device/session: drawn per clip, so training covers a family of sensors."""

    noise_k: float = 1.6e-3        #: sigma_z = noise_k * z^2 (m)
    corr_frac: float = 0.5         #: share of the noise variance that is spatially correlated
    quant_q: float = 2.85e-3       #: inverse-depth step (1/m): depth terraces of quant_q * z^2
    fb: float = 21.4               #: focal(px) x projector baseline(m) at this resolution
    focal: float = 285.71          #: focal length (px) of the depth image
    shadow_side: int = 1           #: +1: projector to the right of the IR camera
    edge_p: float = 0.6            #: probability an edge pixel is lost
    edge_band: int = 1             #: extra width (px) of the edge band
    fly_p: float = 0.15            #: probability a surviving edge pixel is a mixed pixel
    graze_tan: float = 4.5         #: tan(incidence) above which readings fade out
    drop_p: float = 0.003          #: isolated random dropouts
    holes_rate: float = 0.5        #: expected holes on the body per frame
    hair_p: float = 0.0            #: share of head pixels lost (dark hair)
    z_min: float = 0.5
    z_max: float = 5.5


def sample_sensor(rng: np.random.Generator, focal: float = 285.71) -> SensorParams:
    return SensorParams(
        noise_k=float(rng.uniform(1.2e-3, 3.0e-3)),
        corr_frac=float(rng.uniform(0.2, 0.7)),
        quant_q=float(rng.uniform(2.2e-3, 3.2e-3)),
        fb=float(focal * rng.uniform(0.065, 0.085)),
        focal=float(focal),
        shadow_side=int(1 if rng.random() < 0.8 else -1),
        edge_p=float(rng.uniform(0.25, 0.9)),
        edge_band=int(rng.integers(0, 3)),
        fly_p=float(rng.uniform(0.0, 0.35)),
        graze_tan=float(rng.uniform(3.0, 6.0)),
        drop_p=float(rng.uniform(0.0005, 0.01)),
        holes_rate=float(rng.uniform(0.0, 1.5)),
        hair_p=float(rng.uniform(0.2, 0.8) if rng.random() < 0.3 else 0.0),
        z_min=0.5,
        z_max=float(rng.uniform(5.0, 6.0)),
    )


def _coarse_field(rng: np.random.Generator, shape: tuple[int, int], cell: int) -> np.ndarray:
    """Smooth-ish unit-variance random field: coarse Gaussian noise, bilinearly upsampled."""
    h, w = shape
    gh, gw = h // cell + 2, w // cell + 2
    g = rng.standard_normal((gh, gw))
    y = (np.arange(h) + 0.5) / cell
    x = (np.arange(w) + 0.5) / cell
    y0, x0 = y.astype(int), x.astype(int)
    fy, fx = (y - y0)[:, None], (x - x0)[None, :]
    a = g[y0][:, x0] * (1 - fx) + g[y0][:, x0 + 1] * fx
    b = g[y0 + 1][:, x0] * (1 - fx) + g[y0 + 1][:, x0 + 1] * fx
    out = a * (1 - fy) + b * fy
    return out / 0.6  # bilinear interpolation shrinks the variance (~0.36 on average)


def apply_sensor(z_true: np.ndarray, person: np.ndarray, head: np.ndarray, params: SensorParams,
                 rng: np.random.Generator) -> np.ndarray:
    """Noise-free depth (H, W) (inf = nothing hit) -> measured float32 metres, NaN = no reading.

    person / head: (H, W) bool masks of body pixels and head pixels (for holes and hair)."""
    p = params
    h, w = z_true.shape
    finite = np.isfinite(z_true)
    zf = np.where(finite, z_true, 50.0).astype(np.float32)
    inv = np.where(finite, 1.0 / zf, 0.0).astype(np.float32)

    # --- discontinuities (relative depth jump between 4-neighbours)
    jump_x = np.abs(zf[:, 1:] - zf[:, :-1]) > 0.04 * np.minimum(zf[:, 1:], zf[:, :-1]) + 0.02
    jump_y = np.abs(zf[1:] - zf[:-1]) > 0.04 * np.minimum(zf[1:], zf[:-1]) + 0.02
    edge = np.zeros((h, w), bool)
    edge[:, 1:] |= jump_x
    edge[:, :-1] |= jump_x
    edge[1:] |= jump_y
    edge[:-1] |= jump_y
    band = edge
    for _ in range(p.edge_band):
        grown = band.copy()
        grown[:, 1:] |= band[:, :-1]
        grown[:, :-1] |= band[:, 1:]
        grown[1:] |= band[:-1]
        grown[:-1] |= band[1:]
        band = grown
    lost = band & (rng.random((h, w), dtype=np.float32) < p.edge_p)

    # --- projector shadow: a pixel is unlit if a nearer surface s px towards the projector
    # hides it from the projector's viewpoint: f*b*(1/z_near - 1/z) > s.
    for s in range(1, 10):
        if p.shadow_side > 0:     # the occluder is s px to the right
            lost[:, :-s] |= (inv[:, s:] - inv[:, :-s]) * p.fb > s - 0.5
        else:
            lost[:, s:] |= (inv[:, :-s] - inv[:, s:]) * p.fb > s - 0.5

    # --- grazing incidence: |dz/du| * f / z ~ tan(incidence)
    gx = np.zeros_like(zf)
    gy = np.zeros_like(zf)
    gx[:, 1:-1] = 0.5 * (zf[:, 2:] - zf[:, :-2])
    gy[1:-1] = 0.5 * (zf[2:] - zf[:-2])
    ratio = np.sqrt(gx * gx + gy * gy) * (p.focal / p.graze_tan) / zf - 1.0
    lost |= ~edge & (ratio > 0) & (rng.random((h, w), dtype=np.float32) < ratio)

    # --- axial noise (white + spatially correlated) and quantisation in disparity
    sigma = np.float32(p.noise_k) * zf * zf
    noise = (np.float32(np.sqrt(1 - p.corr_frac)) * rng.standard_normal((h, w), dtype=np.float32)
             + np.float32(np.sqrt(p.corr_frac)) * _coarse_field(rng, (h, w), 6).astype(np.float32))
    z = zf + sigma * noise
    # flying pixels: a share of surviving edge pixels mixes foreground and background
    fly = edge & ~lost & (rng.random((h, w), dtype=np.float32) < p.fly_p)
    if fly.any():
        vv, uu = np.nonzero(fly)
        nb = np.stack([zf[vv, np.clip(uu + 1, 0, w - 1)], zf[vv, np.clip(uu - 1, 0, w - 1)],
                       zf[np.clip(vv + 1, 0, h - 1), uu], zf[np.clip(vv - 1, 0, h - 1), uu], zf[vv, uu]])
        lo, hi = nb.min(0), np.minimum(nb.max(0), p.z_max)
        z[vv, uu] = lo + rng.random(len(vv), dtype=np.float32) * np.maximum(hi - lo, 0)
    step = np.float32(p.quant_q)
    z = 1.0 / (np.maximum(np.rint((1.0 / np.maximum(z, 0.05)) / step), 1.0) * step)
    z = np.rint(z * 1000.0) / 1000.0

    # --- random dropouts, holes on the body, dark hair
    lost |= rng.random((h, w), dtype=np.float32) < p.drop_p
    n_holes = rng.poisson(p.holes_rate)
    if n_holes and person.any():
        vs, us = np.nonzero(person)
        pick = rng.integers(0, len(vs), size=n_holes)
        for v, uu in zip(vs[pick], us[pick]):
            r = int(rng.integers(1, 6))
            yy, xx = np.ogrid[-r:r + 1, -r:r + 1]
            disc = (yy * yy + xx * xx) <= r * r * rng.uniform(0.5, 1.0)
            v0, v1, u0, u1 = max(v - r, 0), min(v + r + 1, h), max(uu - r, 0), min(uu + r + 1, w)
            lost[v0:v1, u0:u1] |= disc[v0 - (v - r):v1 - (v - r), u0 - (uu - r):u1 - (uu - r)]
    if p.hair_p > 0 and head.any():
        field = _coarse_field(rng, (h, w), 4)
        thr = np.quantile(field[head], p.hair_p)
        lost |= head & (field < thr)

    valid = finite & ~lost & (z >= p.z_min) & (z <= p.z_max)
    return np.where(valid, z, np.nan).astype(np.float32)
