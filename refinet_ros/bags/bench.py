"""``refinet bench bags``: end-to-end `bag refine` throughput (read, decode, refine, write) per stage set.

The recording is a fixed-seed synthetic bag, cached under the data directory. Throughput does not
depend on what the weights have learnt, so where the shipped weights are missing the stages run with
freshly initialised modules of the shipped architecture, and the JSON says so.
"""
from __future__ import annotations

import tempfile
from pathlib import Path

import torch

from ..core.models import MODELS
from ..core.models.common import save_weights
from ..core.pipeline import Pipeline, stages_label
from ..core.weights import DEFAULT_WEIGHTS_DIR, build_stages, weights_path
from .convert import synth_to_bag
from .refine import refine_bag

#: Stage sets timed, with the frames/s each must reach on the 2-core project CPU (None: no target).
CONFIGS: tuple[tuple[tuple[str, ...], float | None], ...] = (((), None), (("B",), 100.0), (("A", "B", "C"), 30.0))


def bench_bag(data_dir: Path, view: str, frames: int, seed: int) -> Path:
    """The cached synthetic recording; a bag appears only when complete (see bagio.new_bag)."""
    path = Path(data_dir) / f"bench_bag_{view}_seed{seed}_n{frames}"
    if not path.exists():
        synth_to_bag(path, view, frames, seed)
    return path


def _weights_dir(view: str, scratch: Path) -> tuple[Path, str]:
    """The shipped weights if all exist, else untrained ones of the same architecture (timing only)."""
    if all(weights_path(DEFAULT_WEIGHTS_DIR, view, name).is_file() for name in MODELS):
        return DEFAULT_WEIGHTS_DIR, "shipped"
    torch.manual_seed(0)
    for name, model in MODELS.items():
        save_weights(weights_path(scratch, view, name), name, model())
    return scratch, "untrained (timing only: shipped weights missing)"


def bench_bags(data_dir: Path, view: str, frames: int, seed: int, batch_size: int) -> dict:
    """Frames/s of `bag refine` for each stage set; the JSON payload of bench/bags.json."""
    bag = bench_bag(data_dir, view, frames, seed)
    results = {}
    with tempfile.TemporaryDirectory() as scratch:
        weights, origin = _weights_dir(view, Path(scratch) / "weights")
        for stages, target in CONFIGS:
            pipeline = Pipeline(build_stages(stages, view, weights))
            report = refine_bag(bag, Path(scratch) / stages_label(stages), pipeline, batch_size=batch_size,
                                progress=False)
            results[stages_label(stages)] = {
                "frames": report.frames, "seconds": round(report.seconds, 3), "fps": round(report.fps, 1),
                "target_fps": target, "meets_target": None if target is None else report.fps >= target}
            print(f"{stages_label(stages):>9}: {report.fps:7.1f} frames/s"
                  + (f" (target {target:.0f})" if target else ""))
    return {"bag": str(bag), "view": view, "frames": frames, "seed": seed, "batch_size": batch_size,
            "torch_threads": torch.get_num_threads(), "weights": origin, "results": results}
