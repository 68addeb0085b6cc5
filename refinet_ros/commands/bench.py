"""``refinet bench ...``: benchmarks that print tables and write JSON under bench/ (never timed tests)."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..core.score_files import evaluate_files
from ..core.metrics import format_table
from ..core.pipeline import Pipeline, parse_stages, stages_label
from ..core.views import VIEWS
from ..core.weights import build_pipeline, resolve_view
from .flags import add_int8_flag, add_weights_flag
from .synthetic import BENCH_FRAMES, BENCH_SEED, DEFAULT_DATA_DIR, cached_test_set

#: The paper's ablation rows.
ABLATION_ROWS = ("none", "A", "B", "C", "A,B", "A,B,C")
#: A small fixed set (same seed) whose numbers the JSON records; test_shipped_weights holds floors below them.
SMOKE_FRAMES = 120
SUMMARY_KEYS = ("mAP", "mAP_5cm", "mDE_cm", "upper_mAP", "lower_mAP", "missing_rate", "n_frames")


def add_parser(sub: argparse._SubParsersAction) -> None:
    bench = sub.add_parser("bench", help="benchmarks (accuracy, speed); write JSON under bench/")
    kinds = bench.add_subparsers(dest="bench", required=True, metavar="KIND")
    p = kinds.add_parser("baseline", help="baseline lifting on the fixed-seed synthetic test sets, side and top")
    _common(p, Path("bench/baseline.json"))
    p.set_defaults(handler=run_baseline)
    p = kinds.add_parser("ablation", help="the paper's ablation table: baseline, A, B, C, A+B, A+B+C, side and top")
    _common(p, None)
    p.add_argument("--depth", type=Path, help="score ITOP-format files instead (e.g. ITOP_side_test_depth_map.h5); "
                                              "--json then defaults to bench/ablation_files.json")
    p.add_argument("--labels", type=Path, help="the labels file of --depth (default: none; needed with --depth)")
    p.add_argument("--pose2d", type=Path, help="2D predictions of --depth (default: the labels' own keypoints)")
    add_weights_flag(p)
    p.add_argument("--smoke-frames", type=int, default=SMOKE_FRAMES,
                   help="size of the small fixed set recorded in the JSON's smoke section (the test suite "
                        "checks the weights against floors on a set of the default size)")
    add_int8_flag(p)
    p.set_defaults(handler=run_ablation)
    from .bench_bags import add_bags_parser
    from .bench_cameras import add_cameras_parser
    from .bench_tracking import add_tracking_parser
    from .bench_detector import add_detector_bench_parser
    from .bench_detectors import add_detectors_parser
    from .bench_finetune import add_finetune_parser
    from .bench_models import add_models_parser
    from .bench_node import add_node_bench_parser
    from .bench_soak import add_soak_bench_parser
    add_bags_parser(kinds)
    add_node_bench_parser(kinds)
    add_soak_bench_parser(kinds)
    add_models_parser(kinds)
    add_detectors_parser(kinds)
    add_finetune_parser(kinds)
    add_detector_bench_parser(kinds)
    add_cameras_parser(kinds)
    add_tracking_parser(kinds)


def _common(p: argparse.ArgumentParser, default_json: Path | None) -> None:
    p.add_argument("--frames", type=int, default=BENCH_FRAMES, help="test frames per view")
    p.add_argument("--seed", type=int, default=BENCH_SEED, help="seed of the fixed-seed test sets")
    p.add_argument("--data", type=Path, default=DEFAULT_DATA_DIR, help="where the synthetic test sets are cached")
    p.add_argument("--json", type=Path, default=default_json,
                   help="results" + ("" if default_json else
                                     " (default: bench/ablation.json; with --depth bench/ablation_files.json)"))
    p.add_argument("--view", choices=VIEWS,
                   help="only this view (default: both; e.g. to score another weights directory)")


def add_sequence_options(p: argparse.ArgumentParser, frames: int, frames_help: str, json_default: Path) -> None:
    """--view (one, default side), --frames, --seed, --data, --json of the single-view benchmarks."""
    p.add_argument("--view", choices=VIEWS, default="side", help="camera view")
    p.add_argument("--frames", type=int, default=frames, help=frames_help)
    p.add_argument("--seed", type=int, default=BENCH_SEED, help="seed of the test people and motion")
    p.add_argument("--data", type=Path, default=DEFAULT_DATA_DIR, help="where the synthetic test sets are cached")
    p.add_argument("--json", type=Path, default=json_default, help="results")


def _views(args: argparse.Namespace) -> tuple[str, ...]:
    return (args.view,) if args.view else VIEWS


def write_json(path: Path, payload: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2))
    print(f"wrote {path}")


def run_baseline(args: argparse.Namespace) -> int:
    view_flag = f" --view {args.view}" if args.view else ""
    payload = {"command": f"refinet bench baseline --frames {args.frames} --seed {args.seed}{view_flag}",
               "seed": args.seed, "frames_per_view": args.frames, "views": {}}
    for view in _views(args):
        paths = cached_test_set(view, args.frames, args.seed, args.data)
        run = evaluate_files(paths["depth_map"], paths["labels"], Pipeline(), paths["pose2d"])
        print(format_table(run.result, f"baseline, synthetic {view} view (seed {args.seed})"))
        payload["views"][view] = run.result
    write_json(args.json, payload)
    return 0


def ablation_rows(view: str, paths: dict[str, Path], rows: tuple[str, ...] = ABLATION_ROWS,
                  weights: Path | None = None, progress: bool = True, keypoints: str = "detector",
                  int8: bool = False) -> list[dict]:
    """One summary row per stage subset, with the mAP change against the first (baseline) row."""
    pose2d = paths["pose2d"] if keypoints == "detector" else None
    out = []
    for row in rows:
        stages = parse_stages(row)
        pipeline = build_pipeline(stages, view, int8=int8, weights_dir=weights)
        result = evaluate_files(paths["depth_map"], paths["labels"], pipeline, pose2d, progress=progress)
        out.append({"name": stages_label(stages), **{k: result.result[k] for k in SUMMARY_KEYS},
                    "per_joint": result.result["per_joint"]})
    base = out[0]
    for r in out:
        r["improvement_pct"] = 100.0 * (r["mAP"] - base["mAP"]) / base["mAP"]
        r["mDE_reduction_pct"] = 100.0 * (base["mDE_cm"] - r["mDE_cm"]) / base["mDE_cm"]
    return out


def format_ablation(view: str, rows: list[dict], keypoints: str = "detector") -> str:
    lines = [f"{view} view, {keypoints} keypoints",
             f"{'stages':<8} {'mAP@10':>7} {'mAP@5':>7} {'mDE cm':>7} {'impr %':>7} {'upper':>6} {'lower':>6}"]
    for r in rows:
        lines.append(f"{r['name']:<8} {r['mAP']:>7.3f} {r['mAP_5cm']:>7.3f} {r['mDE_cm']:>7.1f} "
                     f"{r['improvement_pct']:>+7.1f} {r['upper_mAP']:>6.3f} {r['lower_mAP']:>6.3f}")
    return "\n".join(lines)


def run_ablation_files(args: argparse.Namespace) -> int:
    """The ablation rows on ITOP-format files (the real ITOP test split, or a team's own)."""
    if args.labels is None:
        raise ValueError("--depth needs --labels")
    view = resolve_view(args.view, args.depth, args.labels)
    paths = {"depth_map": args.depth, "labels": args.labels, "pose2d": args.pose2d}
    keypoints = "detector" if args.pose2d else "labels"
    rows = ablation_rows(view, paths, weights=args.weights, keypoints=keypoints, int8=args.int8)
    print(format_ablation(view, rows, keypoints))
    files = {k: None if v is None else str(v) for k, v in paths.items()}
    write_json(args.json or Path("bench/ablation_files.json"),
               {"files": files, "weights": str(args.weights) if args.weights else "shipped", "int8": args.int8,
                "keypoints": keypoints, "views": {view: rows}})
    return 0


def run_ablation(args: argparse.Namespace) -> int:
    """`views` holds the table from the simulated detector's keypoints (the paper's setting);
    `label_keypoints` the same rows from the labels' own keypoints with confidence 1 (``refinet eval``
    without --pose2d, the usual way to score real ITOP files): the weights must not depend on one detector."""
    if args.depth is not None:
        return run_ablation_files(args)
    args.json = args.json or Path("bench/ablation.json")
    flags = (f" --view {args.view}" if args.view else "") + (" --int8" if args.int8 else "")
    payload = {"command": f"refinet bench ablation --frames {args.frames} --seed {args.seed}{flags}", "int8": args.int8,
               "seed": args.seed, "frames_per_view": args.frames, "views": {}, "label_keypoints": {"views": {}},
               "smoke": {"frames_per_view": args.smoke_frames, "views": {}, "label_keypoints": {}}}
    tables = {"detector": (payload["views"], payload["smoke"]["views"]),
              "labels": (payload["label_keypoints"]["views"], payload["smoke"]["label_keypoints"])}
    for view in _views(args):
        paths = cached_test_set(view, args.frames, args.seed, args.data)
        smoke_paths = cached_test_set(view, args.smoke_frames, args.seed, args.data)
        for keypoints, (table, smoke_table) in tables.items():
            rows = ablation_rows(view, paths, weights=args.weights, keypoints=keypoints, int8=args.int8)
            print(format_ablation(view, rows, keypoints))
            table[view] = rows
            smoke = ablation_rows(view, smoke_paths, ("none", "A,B,C"), args.weights, False, keypoints, args.int8)
            smoke_table[view] = {r["name"]: {k: r[k] for k in ("mAP", "mDE_cm")} for r in smoke}
    write_json(args.json, payload)
    return 0
