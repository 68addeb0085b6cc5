"""``refinet train``: train one refinement module on synthetic ITOP-like data.

The parser imports no torch (the handler imports the trainer when it runs), so that building the
``refinet`` parser, ``--help`` and the torch-free commands stay fast.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..core.pipeline import STAGE_ORDER, Stage
from ..core.views import VIEWS
from ..core.weights import DEFAULT_WEIGHTS_DIR, load_stage, weights_path


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser("train", help="train one refinement module on synthetic ITOP-like data",
                       description="Generate (or reuse cached) synthetic train/validation splits, build the "
                                   "already-trained earlier stages from --out, train the module and write "
                                   "{out}/{view}_{module}.pt plus a .json record.")
    p.add_argument("--module", required=True, choices=STAGE_ORDER)
    p.add_argument("--view", required=True, choices=VIEWS)
    p.add_argument("--frames", type=int, default=16000, help="training frames to generate (valid ones are used)")
    p.add_argument("--val-frames", type=int, default=600, help="validation frames (held-out subjects)")
    p.add_argument("--epochs", type=int, help="default: per module, sized for ~30 min on 2 CPU cores")
    p.add_argument("--batch", type=int, help="batch size (default: per module)")
    p.add_argument("--lr", type=float, help="peak learning rate of the cosine schedule (default: per module)")
    p.add_argument("--seed", type=int, default=0, help="training seed; validation data uses seed + 1")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"),
                   help="torch device; auto: CUDA when available, else the CPU")
    p.add_argument("--out", type=Path, default=DEFAULT_WEIGHTS_DIR, help="weights directory (default: shipped weights)")
    p.add_argument("--data", type=Path, default=Path("data/synth"),
                   help="cache of the generated splits and of the per-epoch training checkpoints")
    p.add_argument("--max-minutes", type=float, default=25.0,
                   help="stop training after this long (0: no limit); data generation and upstream runs come on top")
    p.add_argument("--workers", type=int, default=1, help="data-generation processes")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    p.add_argument("--model", type=_key_value, action="append", default=[], metavar="KEY=VALUE",
                   help="network size override, repeatable (e.g. C: --model point_width=256 --model n_points=128; "
                        "default: the module's own sizes)")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(handler=run_train)
    return p


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


def available_upstream(module: str, view: str, weights_dir: Path) -> list[Stage]:
    """The earlier stages that already have weights in `weights_dir`."""
    return [load_stage(n, view, weights_dir) for n in STAGE_ORDER
            if n < module and weights_path(weights_dir, view, n).is_file()]


def run_train(args: argparse.Namespace) -> int:
    import torch  # the trainer and torch load only when a training runs

    from ..core.training import train_module
    from ..core.training_data import synthetic_split

    if args.threads:
        torch.set_num_threads(args.threads)
    progress = not args.no_progress
    train = synthetic_split(args.data, args.view, "train", args.frames, args.seed, args.workers, progress)
    val = synthetic_split(args.data, args.view, "test", args.val_frames, args.seed + 1, args.workers, progress)
    upstream = available_upstream(args.module, args.view, args.out)
    missing = [n for n in STAGE_ORDER if n < args.module and n not in {s.name for s in upstream}]
    if missing:
        print(f"note: no {', '.join(missing)} weights in {args.out}; training {args.module} without them upstream")
    record = train_module(args.module, args.view, train, val, upstream, args.epochs, args.batch, args.lr, args.seed,
                          args.device, weights_path(args.out, args.view, args.module), progress,
                          args.max_minutes or None, dict(args.model), args.data / "checkpoints")
    print(json.dumps({"weights": str(weights_path(args.out, args.view, args.module)), "val": record["val"]}, indent=1))
    return 0
