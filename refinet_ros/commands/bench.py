"""``refinet bench ...``: benchmarks that print tables and write JSON under bench/ (never timed tests)."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..core.evaluation import evaluate_files
from ..core.metrics import format_table
from ..core.pipeline import Pipeline
from .synthetic import BENCH_FRAMES, BENCH_SEED, DEFAULT_DATA_DIR, test_set

VIEWS = ("side", "top")


def add_parser(sub: argparse._SubParsersAction) -> None:
    bench = sub.add_parser("bench", help="benchmarks (accuracy, speed); write JSON under bench/")
    kinds = bench.add_subparsers(dest="bench", required=True, metavar="KIND")
    p = kinds.add_parser("baseline", help="baseline lifting on the fixed-seed synthetic test sets, side and top")
    _common(p, Path("bench/baseline.json"))
    p.set_defaults(handler=run_baseline)
    from ..core.train_cli import add_bench_models_parser
    from ..ros.bench_node import add_node_bench_parser
    from .bag import add_bench_parser
    add_bench_parser(kinds)
    add_node_bench_parser(kinds)
    add_bench_models_parser(kinds)


def _common(p: argparse.ArgumentParser, default_json: Path) -> None:
    p.add_argument("--frames", type=int, default=BENCH_FRAMES, help="test frames per view")
    p.add_argument("--seed", type=int, default=BENCH_SEED)
    p.add_argument("--data", type=Path, default=DEFAULT_DATA_DIR, help="where the synthetic test sets are cached")
    p.add_argument("--json", type=Path, default=default_json)


def write_json(path: Path, payload: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2))
    print(f"wrote {path}")


def run_baseline(args: argparse.Namespace) -> int:
    payload = {"command": f"refinet bench baseline --frames {args.frames} --seed {args.seed}",
               "seed": args.seed, "frames_per_view": args.frames, "views": {}}
    for view in VIEWS:
        paths = test_set(view, args.frames, args.seed, args.data)
        run = evaluate_files(paths["depth_map"], paths["labels"], Pipeline(), paths["pose2d"])
        print(format_table(run.result, f"baseline, synthetic {view} view (seed {args.seed})"))
        payload["views"][view] = run.result
    write_json(args.json, payload)
    return 0
