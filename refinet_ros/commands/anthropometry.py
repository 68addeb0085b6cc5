"""``refinet anthropometry train|eval``: stature from joints, baseline vs refined (the seed's table).

Data: synthetic people with known bodies (see :mod:`refinet_ros.core.anthropometry_regression`),
generated once and cached under ``data/anthropometry`` as joints only.
"""
from __future__ import annotations

import argparse
import json
import platform
from pathlib import Path

from ..core.anthropometry_regression import (
    DEFAULT_MIN_FRAMES, DEFAULT_WINDOW, FEATURES, GT_SOURCE, JointSet, StatureModel, best_regressor,
    cached_joints, evaluate_model, fit, format_table, markdown_table, source_key,
)
from ..core.pipeline import Pipeline, parse_stages, stages_label
from ..core.synth.cache import cache_name
from ..core.views import VIEWS
from .flags import add_stages_flag

DEFAULT_CACHE = Path("data/anthropometry")
DEFAULT_JSON = Path("bench/anthropometry.json")
TRAIN_SEEDS = (100, 101, 102)
TEST_SEEDS = (200, 201, 202, 203, 204, 205)
#: Suffix of the models earlier versions saved in the cache (executable files: never opened).
OLD_SUFFIX = ".pkl"


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("anthropometry", help="body height from joints: train / evaluate the stature regressors")
    actions = p.add_subparsers(dest="anthropometry", required=True, metavar="ACTION")
    train = actions.add_parser("train", help="fit LR, AdaBoost, RF and kNN on one joint source and save them")
    _common(train)
    train.add_argument("--model", type=Path, help="output file (default: <cache>/stature_<view>_..._<stages>.npz, "
                                                  "named after the training data)")
    train.set_defaults(handler=run_train)
    ev = actions.add_parser("eval", help="baseline vs refined height error table; writes JSON")
    _common(ev)
    ev.add_argument("--models", type=Path, help="folder of trained models (default: the cache); "
                                                "missing ones are trained and saved there")
    ev.add_argument("--json", type=Path, default=DEFAULT_JSON, help="results; a Markdown table goes next to it (.md)")
    ev.add_argument("--window", type=int, default=DEFAULT_WINDOW, help="sliding-window length in frames")
    ev.add_argument("--min-frames", type=int, default=DEFAULT_MIN_FRAMES,
                    help="frames a window needs before it gives an estimate")
    ev.set_defaults(handler=run_eval)


def _seeds(text: str) -> tuple[int, ...]:
    return tuple(int(s) for s in text.split(",") if s.strip())


def _common(p: argparse.ArgumentParser) -> None:
    add_stages_flag(p, "stages of the 'refined' joint source")
    p.add_argument("--view", choices=VIEWS, default="side", help="camera view")
    p.add_argument("--weights-dir", type=Path, help="folder of {view}_{A,B,C}.pt (default: the shipped weights)")
    p.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="where generated joints and models are kept")
    p.add_argument("--train-seeds", type=_seeds, default=TRAIN_SEEDS,
                   help=f"seeds whose train-split people train (default: {','.join(map(str, TRAIN_SEEDS))})")
    p.add_argument("--test-seeds", type=_seeds, default=TEST_SEEDS,
                   help=f"seeds whose test-split people test (default: {','.join(map(str, TEST_SEEDS))})")
    p.add_argument("--train-frames", type=int, default=800, help="frames per train seed (16 people)")
    p.add_argument("--test-frames", type=int, default=400, help="frames per test seed (4 people)")
    p.add_argument("--stride", type=int, default=3, help="generator frame stride (3 = 10 Hz)")
    p.add_argument("--seed", type=int, default=0, help="regressor random state")
    p.add_argument("--no-progress", action="store_true")


def _sources(args: argparse.Namespace) -> dict[str, tuple[str, object]]:
    """label -> (cache key, pipeline factory) for the baseline and the requested stages."""
    from ..core.weights import DEFAULT_WEIGHTS_DIR, build_stages, weights_path
    stages = parse_stages(args.stages)
    out = {"baseline": ("baseline", Pipeline)}
    if stages:
        folder = args.weights_dir or DEFAULT_WEIGHTS_DIR
        files = [weights_path(folder, args.view, s) for s in stages]
        missing = [str(f) for f in files if not f.is_file()]
        if missing:
            raise FileNotFoundError(f"no weights {', '.join(missing)}; use --stages none for the baseline only")
        out[stages_label(stages)] = (source_key(stages_label(stages), files),
                                     lambda: Pipeline(build_stages(stages, args.view, folder)))
    return out


def _load(args: argparse.Namespace, split: str, sources: dict) -> JointSet:
    seeds, n = (args.train_seeds, args.train_frames) if split == "train" else (args.test_seeds, args.test_frames)
    return JointSet.concat([cached_joints(args.cache, args.view, split, s, n, args.stride, sources,
                                          progress=not args.no_progress) for s in seeds])


def _model_path(args: argparse.Namespace, folder: Path | None, key: str) -> Path:
    """Named after the source's cache key and the training data, so a model trained on other
    weights or other people is never picked up by mistake."""
    seeds = "-".join(map(str, args.train_seeds))
    name = cache_name("stature", args.view, "train", seeds, args.train_frames, stride=args.stride)
    return Path(folder or args.cache) / f"{name}_{key.replace('+', '')}.npz"


def run_train(args: argparse.Namespace) -> int:
    sources = _sources(args)
    label = list(sources)[-1]                 # the refined source, or the baseline with --stages none
    model = fit(_load(args, "train", sources), label, args.view, args.seed)
    path = model.save(args.model or _model_path(args, None, sources[label][0]))
    print(f"trained {', '.join(model.regressors)} on {label} joints of {model.train_people} people "
          f"({model.train_frames} frames); wrote {path}")
    return 0


def _model_for(args: argparse.Namespace, source: str, key: str, train: JointSet | None) -> StatureModel:
    path = _model_path(args, args.models, key)
    if path.is_file():
        model = StatureModel.load(path)
        print(f"loaded {path}")
        return model
    old = path.with_suffix(OLD_SUFFIX)
    if old.is_file():
        print(f"ignoring {old}: models of that old format are never loaded (the file could run code); retraining")
    model = fit(train, source, args.view, args.seed)
    print(f"trained {source} regressors on {model.train_people} people; wrote {model.save(path)}")
    return model


def run_eval(args: argparse.Namespace) -> int:
    sources = _sources(args)
    test = _load(args, "test", sources)
    keys = {**{label: key for label, (key, _) in sources.items()}, GT_SOURCE: GT_SOURCE}
    need_training = any(not _model_path(args, args.models, key).is_file() for key in keys.values())
    train = _load(args, "train", sources) if need_training else None
    results = {source: evaluate_model(_model_for(args, source, key, train), test, args.window, args.min_frames)
               for source, key in keys.items()}
    table = {s: r for s, r in results.items() if s != GT_SOURCE}
    print(format_table(table, f"stature error, synthetic {args.view} view, {len(set(test.person))} test people"))
    print(format_table({GT_SOURCE: results[GT_SOURCE]}, "oracle: ground-truth joints (upper bound)"))
    payload = {
        "command": _command_line(args), "view": args.view, "window_frames": args.window,
        "min_frames": args.min_frames, "features": list(FEATURES),
        "train": {"seeds": list(args.train_seeds), "frames_per_seed": args.train_frames, "split": "train"},
        "test": {"seeds": list(args.test_seeds), "frames_per_seed": args.test_frames, "split": "test",
                 "people": int(len(set(test.person))), "frames": len(test)},
        "stride": args.stride, "python": platform.python_version(),
        "sources": keys,  # label -> cache key (stages + digest of the weights used)
        "best": {s: best_regressor(r) for s, r in results.items()}, "results": results,
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(payload, indent=2))
    markdown = args.json.with_suffix(".md")
    markdown.write_text(f"{markdown_table(table)}\n\nGround-truth joints (oracle, upper bound):\n\n"
                        f"{markdown_table({GT_SOURCE: results[GT_SOURCE]})}\n")
    print(f"wrote {args.json} and {markdown}")
    return 0


def _command_line(args: argparse.Namespace) -> str:
    return (f"refinet anthropometry eval --view {args.view} --stages {args.stages} "
            f"--train-seeds {','.join(map(str, args.train_seeds))} --test-seeds {','.join(map(str, args.test_seeds))} "
            f"--train-frames {args.train_frames} --test-frames {args.test_frames} --stride {args.stride} "
            f"--window {args.window}")
