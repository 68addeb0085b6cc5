"""Pictures people would rather see than read: skeletons over depth, per-joint error bars."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from .camera import PinholeCamera  # noqa: E402
from .joints import LIMBS  # noqa: E402


def draw_skeleton(ax: plt.Axes, uv: np.ndarray, color: str, label: str | None = None) -> None:
    """2D skeleton on an image axis; missing joints (NaN) simply break their limbs."""
    for a, b in LIMBS:
        ax.plot(uv[[a, b], 0], uv[[a, b], 1], color=color, lw=1.5)
    ax.scatter(uv[:, 0], uv[:, 1], s=9, color=color, label=label, zorder=3)


def plot_frames(ax_row: Sequence[plt.Axes], depth: np.ndarray, gt: np.ndarray, pred: np.ndarray,
                camera: PinholeCamera, titles: Sequence[str]) -> None:
    """Depth frames with the GT (green) and predicted (red) 3D skeletons projected into the image.
    Each frame's `gt` / `pred` is one (15, 3) skeleton or a (K, 15, 3) stack of people."""
    for ax, d, g, p, title in zip(ax_row, depth, gt, pred, titles):
        ax.imshow(np.nan_to_num(d, nan=0.0), cmap="viridis", vmin=np.nanmin(d) if np.isfinite(d).any() else 0,
                  vmax=np.nanmax(d) if np.isfinite(d).any() else 1)
        for people, color, label in ((g, "lime", "ground truth"), (p, "red", "prediction")):
            for k, skeleton in enumerate(np.reshape(people, (-1, *np.shape(people)[-2:]))):
                draw_skeleton(ax, camera.project(skeleton), color, label if k == 0 else None)
        ax.set_title(title, fontsize=8)
        ax.set_axis_off()


def plot_per_joint(ax: plt.Axes, results: dict[str, dict]) -> None:
    """Grouped bars of mean distance error per merged joint, one group per method."""
    names = list(next(iter(results.values()))["per_joint"].keys())
    width = 0.8 / len(results)
    x = np.arange(len(names))
    for k, (method, res) in enumerate(results.items()):
        values = [res["per_joint"][n]["mDE_cm"] for n in names]
        ax.bar(x + k * width - 0.4 + width / 2, values, width, label=f"{method} (mAP {res['mAP']:.2f})")
    ax.set_xticks(x, names, fontsize=8)
    ax.set_ylabel("mean distance error (cm)")
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)


def save_report(path: str | Path, depth: np.ndarray, gt: np.ndarray, pred: np.ndarray,
                camera: PinholeCamera, titles: Sequence[str], results: dict[str, dict], title: str) -> Path:
    """One PNG: a row of frames with skeletons over depth, and the per-joint error chart below."""
    n = len(depth)
    fig = plt.figure(figsize=(3.2 * max(n, 3), 6.5))
    grid = fig.add_gridspec(2, max(n, 1), height_ratios=[1.0, 0.9])
    plot_frames([fig.add_subplot(grid[0, i]) for i in range(n)], depth, gt, pred, camera, titles)
    plot_per_joint(fig.add_subplot(grid[1, :]), results)
    fig.suptitle(title)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
