"""The One-Euro filter (Casiez, Roussel, Vogel, CHI 2012) on 3D joints, driven by message stamps.

A low-pass filter whose cutoff rises with speed: a still joint is smoothed hard (sensor jitter goes),
a moving one follows with little lag. Per joint, on the 3D position:

    dx      = (x - x_prev) / dt,         dx_hat = lowpass(dx, alpha(d_cutoff, dt))
    cutoff  = min_cutoff + beta * |dx_hat|
    x_hat   = lowpass(x, alpha(cutoff, dt)),   alpha(fc, dt) = 1 / (1 + 1 / (2 pi fc dt))

It is causal (each output uses the past and the present only: no latency of its own) and uses the
stamps, never arrival times, so a bag replayed at any rate is filtered identically. A missing joint
(NaN) stays missing and its state is dropped; a time step that is not positive (time went back, a
repeated stamp) or longer than `max_gap_s` restarts the joint from the new value.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class OneEuroParams:
    """min_cutoff (Hz): smoothing of a still joint; beta (s/m): how fast the cutoff grows with speed;
    d_cutoff (Hz): smoothing of the speed estimate."""

    min_cutoff: float = 1.0
    beta: float = 0.5
    d_cutoff: float = 1.0
    max_gap_s: float = 0.5

    def __post_init__(self) -> None:
        if not (self.min_cutoff > 0 and self.beta >= 0 and self.d_cutoff > 0 and self.max_gap_s > 0):
            raise ValueError(f"One-Euro parameters must be positive (beta >= 0): {self}")


def alpha(cutoff_hz: np.ndarray | float, dt_s: float) -> np.ndarray | float:
    return 1.0 / (1.0 + 1.0 / (2.0 * math.pi * cutoff_hz * dt_s))


class OneEuroFilter:
    """Filters one skeleton's (J, 3) joints over time (one instance per track)."""

    def __init__(self, params: OneEuroParams, n_joints: int) -> None:
        self.params = params
        self._x = np.full((n_joints, 3), np.nan)        # last filtered position
        self._dx = np.zeros((n_joints, 3))              # last filtered velocity
        self._stamp_ns: int | None = None

    def reset(self) -> None:
        self._x[:] = np.nan
        self._dx[:] = 0.0
        self._stamp_ns = None

    def __call__(self, joints: np.ndarray, stamp_ns: int) -> np.ndarray:
        """The filtered (J, 3) joints at `stamp_ns`."""
        x = np.asarray(joints, dtype=np.float64)
        dt = None if self._stamp_ns is None else (stamp_ns - self._stamp_ns) / 1e9
        if dt is None or dt <= 0 or dt > self.params.max_gap_s:
            self.reset()
        seen = np.isfinite(x).all(-1)
        fresh = seen & ~np.isfinite(self._x).all(-1)          # new, back after a gap, or after a reset
        out = np.full_like(x, np.nan)
        out[fresh] = x[fresh]
        self._dx[fresh] = 0.0
        going = seen & ~fresh
        if going.any():
            p = self.params
            dx = (x[going] - self._x[going]) / dt
            dx_hat = self._dx[going] + alpha(p.d_cutoff, dt) * (dx - self._dx[going])
            cutoff = p.min_cutoff + p.beta * np.linalg.norm(dx_hat, axis=-1, keepdims=True)
            out[going] = self._x[going] + alpha(cutoff, dt) * (x[going] - self._x[going])
            self._dx[going] = dx_hat
        self._x = np.where(seen[:, None], out, np.nan)         # a missing joint forgets its state
        self._dx[~seen] = 0.0
        self._stamp_ns = stamp_ns
        return out


__all__ = ["OneEuroFilter", "OneEuroParams", "alpha"]
