"""``refinet demo``: the main job on a fresh machine, with an embedded (generated, fixed-seed) input."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..core.evaluation import evaluate_files
from ..core.metrics import format_table
from ..core.pipeline import Pipeline
from .evaluate import save_preview
from .synthetic import test_set

DEMO_FRAMES = 300
DEMO_SEED = 7


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="generate a small synthetic ITOP-style set and evaluate on it")
    p.add_argument("--out", type=Path, default=Path("out/demo"), help="where results and PNGs go")
    p.add_argument("--frames", type=int, default=DEMO_FRAMES, help="frames per view")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    summary = {}
    for view in ("side", "top"):
        paths = test_set(view, args.frames, DEMO_SEED, args.out / "data")
        run_ = evaluate_files(paths["depth_map"], paths["labels"], Pipeline(), paths["pose2d"])
        print(format_table(run_.result, f"\n== {view} view: baseline lifting of simulated detections =="))
        png = save_preview(args.out / f"{view}_baseline.png", paths["depth_map"], run_, "baseline", None)
        summary[view] = {"baseline": {k: run_.result[k] for k in ("mAP", "mDE_cm", "upper_mAP", "lower_mAP")},
                         "png": str(png)}
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2))
    print(f"\nresults and pictures in {args.out}/")
    return 0
