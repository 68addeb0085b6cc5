"""The metrics of the ITOP literature: mAP at a distance threshold and mean distance error.

mAP@t is the fraction of (valid frame, joint) pairs whose 3D Euclidean error is below t,
pooled over frames and joints. A joint the method could not place (NaN) counts as a miss
for mAP and is left out of mDE, whose coverage is reported as ``missing_rate``.
"""
from __future__ import annotations

import numpy as np

from .joints import JOINT_NAMES, LOWER_BODY, MERGED_GROUPS, UPPER_BODY

THRESHOLD_M = 0.10
THRESHOLD_5CM_M = 0.05


def joint_errors(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """(N, J) Euclidean errors in metres; +inf where the prediction is missing, NaN where GT is."""
    pred = np.asarray(pred, dtype=np.float64)
    gt = np.asarray(gt, dtype=np.float64)
    err = np.linalg.norm(pred - gt, axis=-1)
    err[~np.isfinite(pred).all(-1)] = np.inf
    err[~np.isfinite(gt).all(-1)] = np.nan
    return err


def _stats(err: np.ndarray) -> dict[str, float]:
    """Pooled stats over the finite-GT entries of `err` (any shape)."""
    scored = err[~np.isnan(err)]
    if scored.size == 0:
        return {"mAP": float("nan"), "mAP_5cm": float("nan"), "mDE_cm": float("nan"), "n": 0}
    placed = scored[np.isfinite(scored)]
    return {
        "mAP": float(np.mean(scored < THRESHOLD_M)),
        "mAP_5cm": float(np.mean(scored < THRESHOLD_5CM_M)),
        "mDE_cm": float(placed.mean() * 100.0) if placed.size else float("nan"),
        "n": int(scored.size),
    }


def evaluate(pred: np.ndarray, gt: np.ndarray, valid: np.ndarray | None = None) -> dict:
    """Paper-style metrics over the valid frames. Returns a JSON-ready dict."""
    err = joint_errors(pred, gt)
    if valid is not None:
        err = err[np.asarray(valid, dtype=bool)]
    full = _stats(err)
    n_scored = max(full["n"], 1)
    return {
        "mAP": full["mAP"],
        "mAP_5cm": full["mAP_5cm"],
        "mDE_cm": full["mDE_cm"],
        "upper_mAP": _stats(err[:, UPPER_BODY])["mAP"],
        "lower_mAP": _stats(err[:, LOWER_BODY])["mAP"],
        "missing_rate": float(np.isinf(err).sum() / n_scored),
        "n_frames": int(err.shape[0]),
        "per_joint": {name: _stats(err[:, list(idx)]) for name, idx in MERGED_GROUPS.items()},
        "per_joint_15": {name: _stats(err[:, j]) for j, name in enumerate(JOINT_NAMES)},
    }


def format_table(result: dict, title: str = "") -> str:
    """The paper-style text table: summary lines, then the 9-row per-joint table."""
    lines = [title] if title else []
    lines += [
        f"frames (valid): {result['n_frames']}",
        f"mAP@10cm {result['mAP']:.3f}   mAP@5cm {result['mAP_5cm']:.3f}   mDE {result['mDE_cm']:.1f} cm",
        f"upper body mAP {result['upper_mAP']:.3f}   lower body mAP {result['lower_mAP']:.3f}"
        f"   missing {100 * result['missing_rate']:.1f}%",
        f"{'joint':<10} {'mAP@10':>7} {'mAP@5':>7} {'mDE cm':>7}",
    ]
    for name, row in result["per_joint"].items():
        lines.append(f"{name:<10} {row['mAP']:>7.3f} {row['mAP_5cm']:>7.3f} {row['mDE_cm']:>7.1f}")
    return "\n".join(lines)
