"""``refinet bench bags``: end-to-end `bag refine` throughput (read, decode, refine, write) per stage set.

The recording is a fixed-seed synthetic bag, cached under the data directory. Throughput does not
depend on what the weights have learnt, so where the shipped weights are missing the stages run with
freshly initialised modules of the shipped architecture, and the JSON says so. torch is imported when
the benchmark runs, not when the parser is built.
"""
from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from ..core.pipeline import STAGE_ORDER, Pipeline, stages_label
from ..core.synth.cache import cache_name
from ..core.views import VIEWS
from ..core.weights import DEFAULT_WEIGHTS_DIR, build_stages, weights_path

#: Stage sets timed, with the frames/s each must reach on the 2-core project CPU (None: no target).
CONFIGS: tuple[tuple[tuple[str, ...], float | None], ...] = (((), None), (("B",), 100.0), (("A", "B", "C"), 30.0))


def add_bags_parser(kinds: argparse._SubParsersAction) -> None:
    """Register ``bags`` on the ``refinet bench`` sub-command parsers."""
    p = kinds.add_parser("bags", help="`bag refine` throughput per stage set on a synthetic recording")
    p.add_argument("--frames", type=int, default=600, help="frames of the synthetic 30 Hz recording")
    p.add_argument("--seed", type=int, default=2020, help="seed of the recording")
    p.add_argument("--view", choices=VIEWS, default="side", help="view of the recording and the weights")
    p.add_argument("--batch-size", type=int, default=64, help="frames per pipeline run, as in `bag refine`")
    p.add_argument("--data", type=Path, default=Path("data"), help="where the recording is cached")
    p.add_argument("--json", type=Path, default=Path("bench/bags.json"), help="results")
    p.set_defaults(handler=run_bench_bags)


def run_bench_bags(args: argparse.Namespace) -> int:
    payload = bench_bags(args.data, args.view, args.frames, args.seed, args.batch_size)
    payload["command"] = (f"refinet bench bags --frames {args.frames} --seed {args.seed} --view {args.view} "
                          f"--batch-size {args.batch_size}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(payload, indent=2))
    print(f"wrote {args.json}")
    return 0


def bench_bag(data_dir: Path, view: str, frames: int, seed: int) -> Path:
    """The cached synthetic recording; a bag appears only when complete (see bagio.new_bag)."""
    from ..bags.convert import synth_to_bag
    path = Path(data_dir) / cache_name("bag", view, "test", seed, frames, stride=1)
    if not path.exists():
        synth_to_bag(path, view, frames, seed)
    return path


def _weights_dir(view: str, scratch: Path) -> tuple[Path, str]:
    """The shipped weights if all exist, else untrained ones of the same architecture (timing only)."""
    import torch

    from ..core.models import MODELS
    from ..core.models.common import save_weights

    if all(weights_path(DEFAULT_WEIGHTS_DIR, view, name).is_file() for name in STAGE_ORDER):
        return DEFAULT_WEIGHTS_DIR, "shipped"
    torch.manual_seed(0)
    for name, model in MODELS.items():
        save_weights(weights_path(scratch, view, name), name, model())
    return scratch, "untrained (timing only: shipped weights missing)"


def bench_bags(data_dir: Path, view: str, frames: int, seed: int, batch_size: int) -> dict:
    """Frames/s of `bag refine` for each stage set; the JSON payload of bench/bags.json."""
    import torch

    from ..bags.refine import refine_bag

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
