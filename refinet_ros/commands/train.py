"""``refinet train``: train refinement modules on synthetic ITOP-like data or on ITOP-format files.

The parser imports no torch (the handler imports the trainer when it runs), so that building the
``refinet`` parser, ``--help`` and the torch-free commands stay fast.
"""
from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

from ..core.pipeline import STAGE_ORDER, Stage, parse_stages
from ..core.views import VIEWS
from ..core.weights import DEFAULT_WEIGHTS_DIR, load_stage, weights_path
from ..core.synth.world import DEFAULT_WORLD, WORLDS

#: --module value of the depth-image 2D detector (trained on generated frames only).
DETECTOR = "detector"
#: Source frames the detector's training holds in memory (depth + masks: ~0.23 MB each).
DETECTOR_MAX_FRAMES = 12000


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser("train", help="train refinement modules on synthetic data or on ITOP-format files",
                       description="Train on ITOP-format files (--depth/--labels, e.g. the real ITOP train split), "
                                   "or on generated (cached) synthetic splits. Each module trains on the outputs of "
                                   "the earlier stages found in --out (or, when fine-tuning, in the --init "
                                   "weights, copied into --out) and writes {out}/{view}_{module}.pt plus a .json "
                                   "record.")
    p.add_argument("--module", required=True, type=_modules, metavar="A|B|C|A,B,C|detector",
                   help="module(s) to train; several train in A -> B -> C order, each on the outputs of the ones "
                        "before it; 'detector': the depth-image 2D pose detector (generated data, 1-4 people)")
    p.add_argument("--view", required=True, choices=VIEWS)
    p.add_argument("--depth", type=Path, help="ITOP *_depth_map.h5 to train on (default: generated data)")
    p.add_argument("--labels", type=Path, help="its ITOP *_labels.h5 (default: none; needed with --depth)")
    p.add_argument("--pose2d", type=Path, help="2D predictions .npz of those frames (as refinet eval --pose2d; frames "
                                               "without one are left out and counted); default: simulated detector "
                                               "noise on the labels' image_coordinates")
    p.add_argument("--val-depth", type=Path, help="validation depth file; default: hold out whole subjects of --depth")
    p.add_argument("--val-labels", type=Path, help="validation labels file (default: none; needed with --val-depth)")
    p.add_argument("--val-pose2d", type=Path, help="validation 2D predictions (default: simulated, as for --pose2d)")
    p.add_argument("--synthetic-mix", type=float, metavar="F",
                   help="share of generated frames blended into the training stream of --depth files, so that a "
                        "small real set does not make the model forget (default: 0.25 with --depth)")
    p.add_argument("--frames", type=int, default=16000, help="training frames to generate (valid ones are used)")
    p.add_argument("--val-frames", type=int, default=600, help="validation frames (held-out subjects)")
    p.add_argument("--epochs", type=int, help="default: per module, sized for ~30 min on 2 CPU cores")
    p.add_argument("--steps", type=int, help="detector: optimisation steps (default: 40000; --max-minutes bounds them)")
    p.add_argument("--world", choices=WORLDS, default=DEFAULT_WORLD.name,
                   help="detector: recording setup of the generated frames (default: default; 'wide': the camera "
                        "mounts and builds a robot meets)")
    p.add_argument("--batch", type=int, help="batch size (default: per module)")
    p.add_argument("--lr", type=float, help="peak learning rate of the cosine schedule (default: per module)")
    p.add_argument("--seed", type=int, default=0, help="training seed; validation data uses seed + 1")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"),
                   help="torch device; auto: CUDA when available, else the CPU")
    p.add_argument("--out", type=Path, default=DEFAULT_WEIGHTS_DIR, help="weights directory (default: shipped weights)")
    p.add_argument("--data", type=Path, default=Path("data/synth"),
                   help="cache of the generated splits and of the per-epoch training checkpoints")
    p.add_argument("--max-minutes", type=float,
                   help="stop training each module after this long (0: no limit); data generation and upstream runs "
                        "come on top (default: 25, or 10 when fine-tuning from --init weights)")
    p.add_argument("--workers", type=int, default=1, help="data-generation processes")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    p.add_argument("--model", type=_key_value, action="append", default=[], metavar="KEY=VALUE",
                   help="network size override, repeatable (e.g. C: --model point_width=256 --model n_points=128; "
                        "default: the module's own sizes)")
    p.add_argument("--init", metavar="shipped|none|DIR",
                   help="start from trained weights (fine-tuning, at a lower learning rate): the shipped ones of "
                        "this view and module, the ones in DIR, or none (a fresh network); default: shipped with "
                        "--depth, else none")
    p.add_argument("--resume", action="store_true",
                   help="continue an interrupted run from its last epoch checkpoint (under --data/checkpoints); "
                        "the same command with --resume, nothing else changed")
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


def _modules(text: str) -> tuple[str, ...]:
    if text.strip().lower() == DETECTOR:
        return (DETECTOR,)
    try:
        names = parse_stages(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if not names:
        raise argparse.ArgumentTypeError("name at least one of A, B, C")
    return names


def init_path(init: str, module: str, view: str) -> Path | None:
    """Where --init's weights of `module` are: shipped -> the package's, none -> None, else in the folder."""
    if init == "none":
        return None
    return weights_path(DEFAULT_WEIGHTS_DIR if init == "shipped" else Path(init), view, module)


def init_weights(init: str, module: str, view: str) -> Path | None:
    """The weights file --init names for `module`; a missing one is an error."""
    path = init_path(init, module, view)
    if path is not None and not path.is_file():
        raise FileNotFoundError(f"--init {init}: no {view} {module} weights at {path}")
    return path


def upstream_stages(module: str, view: str, out: Path, init: str) -> list[Stage]:
    """The earlier stages: from --out, else (fine-tuning) the --init folder's, copied into --out with
    their records so that --out is a complete weights folder for ``--weights``."""
    stages = []
    for name in (n for n in STAGE_ORDER if n < module):
        path = weights_path(out, view, name)
        source = init_path(init, name, view)
        if not path.is_file() and source is not None and source.is_file():
            out.mkdir(parents=True, exist_ok=True)
            for suffix in (".pt", ".json"):
                if source.with_suffix(suffix).is_file():
                    shutil.copyfile(source.with_suffix(suffix), path.with_suffix(suffix))
            print(f"note: upstream {name} copied from {source} into {out}")
        if path.is_file():
            stages.append(load_stage(name, view, out))
        else:
            print(f"note: no {name} weights in {out}; training {module} without them upstream")
    return stages


def training_sets(args: argparse.Namespace):
    """(train, validation, data record): from --depth/--labels files, or generated."""
    from ..core.training_data import synthetic_split
    progress = not args.no_progress
    if args.depth is None:
        if args.labels or args.pose2d or args.val_depth or args.synthetic_mix:
            raise ValueError("--labels, --pose2d, --val-* and --synthetic-mix go with --depth")
        train = synthetic_split(args.data, args.view, "train", args.frames, args.seed, args.workers, progress)
        val = synthetic_split(args.data, args.view, "test", args.val_frames, args.seed + 1, args.workers, progress)
        return train, val, {"source": "synthetic"}
    from ..core import training_files as tf
    if args.labels is None or (args.val_depth is None) != (args.val_labels is None):
        raise ValueError("--depth needs --labels, and --val-depth needs --val-labels")
    chosen = tf.select_frames(tf.ItopFiles(args.depth, args.labels, args.pose2d))
    if args.val_depth is None:
        chosen, val_chosen, val_subjects = tf.split_subjects(chosen, args.seed)
    else:
        val_chosen = tf.select_frames(tf.ItopFiles(args.val_depth, args.val_labels, args.val_pose2d))
        val_subjects = val_chosen.subjects
    mix = 0.25 if args.synthetic_mix is None else args.synthetic_mix
    n_synth = tf.synthetic_share_frames(len(chosen.index), mix)
    synth = (synthetic_split(args.data, args.view, "train", n_synth, args.seed, args.workers, progress)
             if n_synth else None)
    train = tf.load_selection(chosen, args.view, args.seed, synth, progress)
    del synth
    val = tf.load_selection(val_chosen, args.view, args.seed + 1, None, progress)
    record = {"source": "files", "train_files": chosen.files.describe(), "train_counts": chosen.counts,
              "val_files": val_chosen.files.describe(), "val_counts": val_chosen.counts,
              "val_subjects": val_subjects, "train_subjects": chosen.subjects,
              "synthetic_mix": mix, "synthetic_frames": len(train) - len(chosen.index)}
    return train, val, record


def _minutes(max_minutes: float | None, init: Path | None) -> float | None:
    """The time budget of one module: as given (0 = none), else 25 minutes, 10 when fine-tuning."""
    if max_minutes is None:
        return 25.0 if init is None else 10.0
    return max_minutes or None


def run_train(args: argparse.Namespace) -> int:
    import torch  # the trainer and torch load only when a training runs

    from ..core.training import load_init, train_module

    if args.module == (DETECTOR,):
        return run_train_detector(args)
    init = args.init or ("shipped" if args.depth is not None else "none")
    inits = {m: init_weights(init, m, args.view) for m in args.module}   # every --init checked before any work
    for module, path in inits.items():
        if path is not None:
            load_init(path, module, args.view)
    if args.threads:
        torch.set_num_threads(args.threads)
    train, val, data_record = training_sets(args)
    for module in args.module:
        upstream = upstream_stages(module, args.view, args.out, init)
        record = train_module(module, args.view, train, val, upstream, args.epochs, args.batch, args.lr, args.seed,
                              args.device, weights_path(args.out, args.view, module), not args.no_progress,
                              _minutes(args.max_minutes, inits[module]), dict(args.model), args.data / "checkpoints",
                              init=inits[module], data_record=data_record, resume=args.resume)
        print(json.dumps({"weights": str(weights_path(args.out, args.view, module)), "val": record["val"],
                          "peak_rss_mib": record["peak_rss_mib"]}, indent=1))
    return 0


def run_train_detector(args: argparse.Namespace) -> int:
    """``refinet train --module detector``: generated single-person frames, composed into crowds."""
    import torch

    from ..core.detector_training import load_detector_frames, train_detector
    from ..core.synth.cache import cached_split
    from ..core.synth.generate import split_prefix

    if args.depth is not None:
        raise ValueError("--module detector trains on generated frames (it needs segmentation); drop --depth")
    if args.threads:
        torch.set_num_threads(args.threads)
    progress = not args.no_progress
    frames = {}
    for split, n, seed in (("train", args.frames, args.seed), ("test", args.val_frames, args.seed + 1)):
        paths = cached_split(args.data, args.view, split, n, seed, "random", workers=args.workers, progress=progress,
                             world=args.world)
        frames[split] = load_detector_frames(split_prefix(paths["labels"].parent, args.view, split),
                                             min(n, DETECTOR_MAX_FRAMES))
    out = weights_path(args.out, args.view, DETECTOR)
    init = init_weights(args.init or "none", DETECTOR, args.view)
    record = train_detector(args.view, frames["train"], frames["test"], out, args.steps, args.batch, args.lr,
                            args.seed, _minutes(args.max_minutes, init), progress, init=init)
    print(json.dumps({"weights": str(out), "val": record["val"]}, indent=1))
    return 0
