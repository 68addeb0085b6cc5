"""Argument parsers of ``refinet train`` and ``refinet bench models``.

Kept free of torch imports (handlers import their module when they run), so that building the
``refinet`` parser, ``--help`` and the torch-free commands stay fast.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from .weights import DEFAULT_WEIGHTS_DIR
from .views import VIEWS

MODULES = ("A", "B", "C")


def add_train_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``refinet train``."""
    p = subparsers.add_parser("train", help="train one refinement module on synthetic ITOP-like data",
                              description="Generate (or reuse cached) synthetic train/validation splits, build the "
                                          "already-trained earlier stages from --out, train the module and write "
                                          "{out}/{view}_{module}.pt plus a .json record.")
    p.add_argument("--module", required=True, choices=MODULES)
    p.add_argument("--view", required=True, choices=VIEWS)
    p.add_argument("--frames", type=int, default=16000, help="training frames to generate (valid ones are used)")
    p.add_argument("--val-frames", type=int, default=600, help="validation frames (held-out subjects)")
    p.add_argument("--epochs", type=int, help="default: per module, sized for ~30 min on 2 CPU cores")
    p.add_argument("--batch", type=int)
    p.add_argument("--lr", type=float)
    p.add_argument("--seed", type=int, default=0, help="training seed; validation data uses seed + 1")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    p.add_argument("--out", type=Path, default=DEFAULT_WEIGHTS_DIR, help="weights directory (default: shipped weights)")
    p.add_argument("--data", type=Path, default=Path("data/synth"),
                   help="cache of the generated splits and of the per-epoch training checkpoints")
    p.add_argument("--max-minutes", type=float, default=25.0,
                   help="stop training after this long (0: no limit); data generation and upstream runs come on top")
    p.add_argument("--workers", type=int, default=1, help="data-generation processes")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    p.add_argument("--model", type=_key_value, action="append", default=[], metavar="KEY=VALUE",
                   help="network size override, repeatable (e.g. C: --model point_width=256 --model n_points=128)")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(handler=_run_train)
    return p


def add_int8_flag(p: argparse.ArgumentParser) -> None:
    """The one definition of ``--int8`` (eval, bag refine, bench ablation, bench models)."""
    p.add_argument("--int8", action="store_true",
                   help="run the networks' Linear layers in int8 on the CPU (B 2-4x faster; A+B+C loses up to 1.5 points of mAP)")


def _key_value(text: str) -> tuple[str, int | float]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    try:
        return key, int(value)
    except ValueError:
        try:
            return key, float(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{key}: {value!r} is not a number") from None


def add_bench_models_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``models`` under the subparsers of ``refinet bench``."""
    p = subparsers.add_parser("models", help="latency of modules A, B, C and the pipeline at batch 1")
    p.add_argument("--view", default="side", choices=VIEWS)
    p.add_argument("--weights", type=Path, default=DEFAULT_WEIGHTS_DIR, help="weights directory")
    p.add_argument("--iterations", type=int, default=200)
    p.add_argument("--threads", type=int, default=2, help="torch CPU threads (the target is a 2-core CPU)")
    p.add_argument("--json", type=Path, default=Path("bench/models.json"))
    add_int8_flag(p)
    p.set_defaults(handler=_run_bench_models)
    return p


def _run_train(args: argparse.Namespace) -> int:
    from .training import run_train
    return run_train(args)


def _run_bench_models(args: argparse.Namespace) -> int:
    from .models.bench import run_bench_models
    return run_bench_models(args)
