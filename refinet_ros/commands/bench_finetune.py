"""``refinet bench finetune``: adapting the weights to ITOP-format data they never saw.

The stand-in for a user's own recordings is the generator's ``foreign`` world (other people,
other camera mounts) with a detector family held out of the shipped weights' training, written
to ITOP files. On its test split the table scores the shipped weights, the shipped weights
fine-tuned on N of its train frames (``refinet train --depth ... --init shipped``), and the same
modules trained from scratch on the same frames, with the same time budget. Every training run
goes through the ``refinet train`` command itself; the JSON records its exact arguments.
"""
from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from ..core.pipeline import Pipeline, parse_stages
from ..core.score_files import evaluate_files
from ..core.synth.cache import cached_split
from ..core.views import VIEWS
from ..core.weights import DEFAULT_WEIGHTS_DIR, build_pipeline, read_record, weights_path
from .bench import write_json
from .synthetic import BENCH_SEED, DEFAULT_DATA_DIR
from . import train as train_cmd

COLUMNS = ("mAP", "mDE_cm", "upper_mAP", "lower_mAP")


def add_finetune_parser(kinds: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``finetune`` on the ``refinet bench`` sub-command parsers."""
    p = kinds.add_parser("finetune", help="fine-tuning on unseen ITOP-format data vs shipped and from-scratch weights")
    p.add_argument("--view", default="side", choices=VIEWS, help="camera view")
    p.add_argument("--train-frames", default="1000,5000", help="train-split sizes to fine-tune on, comma-separated")
    p.add_argument("--test-frames", type=int, default=1000, help="frames of the foreign test split")
    p.add_argument("--modules", default="B,C", help="modules trained (the others come from the shipped weights)")
    p.add_argument("--minutes", type=float, default=5.0, help="training budget per module and run")
    p.add_argument("--detector", default="hrnet", help="2D detector profile of the foreign data (held out of the "
                                                        "shipped weights' training)")
    p.add_argument("--world", default="foreign", help="the generator world of the foreign data")
    p.add_argument("--seed", type=int, default=7, help="seed of the foreign data")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads of the training runs")
    p.add_argument("--data", type=Path, default=DEFAULT_DATA_DIR, help="cache of generated data and trained weights")
    p.add_argument("--json", type=Path, default=Path("bench/finetune.json"), help="results")
    p.set_defaults(handler=run_bench_finetune)
    return p


def _train(argv: list[str]) -> int:
    """Run ``refinet train`` with these arguments, through its own parser."""
    parser = argparse.ArgumentParser(prog="refinet")
    train_cmd.add_parser(parser.add_subparsers())
    args = parser.parse_args(["train", *argv])
    return int(args.handler(args) or 0)


def _score(files: dict[str, Path], pipeline: Pipeline) -> dict:
    run = evaluate_files(files["depth_map"], files["labels"], pipeline, files["pose2d"], progress=False)
    return {k: round(float(run.result[k]), 4) for k in COLUMNS}


def _train_run(args: argparse.Namespace, files: dict[str, Path], out: Path, init: str) -> dict:
    """Train --modules into `out` (shipped weights of the other modules copied in first) and describe the run."""
    modules = parse_stages(args.modules)
    out.mkdir(parents=True, exist_ok=True)
    for name in (n for n in ("A", "B", "C") if n not in modules):
        for suffix in (".pt", ".json"):
            src = weights_path(DEFAULT_WEIGHTS_DIR, args.view, name).with_suffix(suffix)
            shutil.copyfile(src, weights_path(out, args.view, name).with_suffix(suffix))
    argv = ["--module", ",".join(modules), "--view", args.view, "--depth", str(files["depth_map"]),
            "--labels", str(files["labels"]), "--pose2d", str(files["pose2d"]), "--init", init,
            "--max-minutes", str(args.minutes), "--threads", str(args.threads), "--data", str(args.data / "synth"),
            "--out", str(out), "--no-progress"]
    if _train(argv) != 0:
        raise RuntimeError(f"refinet train {' '.join(argv)} failed")
    records = {m: read_record(weights_path(out, args.view, m)) for m in modules}
    last = records[modules[-1]]
    return {"command": "refinet train " + " ".join(argv), "train_frames": last["data"]["train_frames"],
            "synthetic_frames": last["data"]["synthetic_frames"], "val_subjects": last["data"]["val_subjects"],
            "train_seconds": round(sum(r["train_seconds"] for r in records.values()), 1),
            "peak_rss_mib": max(r["peak_rss_mib"] for r in records.values())}


def run_bench_finetune(args: argparse.Namespace) -> int:
    sizes = [int(n) for n in args.train_frames.split(",")]
    world = dict(detector=args.detector, progress=True, world=args.world)
    test = cached_split(args.data, args.view, "test", args.test_frames, args.seed, **world)
    reference = cached_split(args.data, args.view, "test", args.test_frames, BENCH_SEED, args.detector, progress=True)
    shipped = build_pipeline(("A", "B", "C"), args.view)
    rows = {"baseline": {"weights": "none", **_score(test, Pipeline())},
            "shipped": {"weights": "shipped", **_score(test, shipped)}}
    for n in sizes:
        train = cached_split(args.data, args.view, "train", n, args.seed, **world)
        for label, init in (("fine-tuned", "shipped"), ("from scratch", "none")):
            out = args.data / "finetune" / f"{args.view}_{init}_n{n}"
            run = _train_run(args, train, out, init)
            rows[f"{label}, {n} frames"] = {"weights": str(out), **run,
                                            **_score(test, build_pipeline(("A", "B", "C"), args.view, weights_dir=out))}
    rows["shipped, default world (in distribution)"] = {"weights": "shipped", **_score(reference, shipped)}
    print(format_rows(rows, args))
    write_json(args.json, {"command": command_line(args), "view": args.view, "world": args.world,
                           "detector": args.detector, "test_frames": args.test_frames, "rows": rows})
    return 0


def command_line(args: argparse.Namespace) -> str:
    return (f"refinet bench finetune --view {args.view} --train-frames {args.train_frames} --modules {args.modules} "
            f"--minutes {args.minutes:g} --detector {args.detector} --world {args.world} --seed {args.seed}")


def format_rows(rows: dict[str, dict], args: argparse.Namespace) -> str:
    """A markdown table: A+B+C on the foreign test split, one row per weights."""
    lines = [f"**{args.view} view, `{args.world}` world, `{args.detector}` 2D input** (A+B+C, mAP@10cm; "
             f"{args.modules} trained {args.minutes:g} min each on 1 CPU thread)", "",
             "| weights | train frames (real + synthetic) | mAP | mDE (cm) | upper | lower | peak RSS (MiB) |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for name, r in rows.items():
        frames = f"{r['train_frames'] - r['synthetic_frames']} + {r['synthetic_frames']}" if "train_frames" in r else ""
        lines.append(f"| {name} | {frames} | {r['mAP']:.3f} | {r['mDE_cm']:.1f} | {r['upper_mAP']:.3f} | "
                     f"{r['lower_mAP']:.3f} | {r.get('peak_rss_mib', '')} |")
    return "\n".join(lines)
