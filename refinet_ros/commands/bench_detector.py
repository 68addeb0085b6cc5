"""``refinet bench detector``: the depth-image 2D detector on held-out synthetic people.

Per view: keypoint accuracy against the simulated ``openpose`` profile on the same frames, person
recall and precision for 1 and for 3-4 people (composed from held-out single-person frames, see
core.synth.crowd), end-to-end A+B+C mAP@10cm from the detector's keypoints against from the
profile's, and the detector's latency on one torch thread for 1 and 4 people.
"""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

from ..core.detect_files import detect_file
from ..core.detector_training import keypoint_errors, load_detector_frames, sample_frame, score_detector
from ..core.itop import read_labels, read_pose2d, write_pose2d
from ..core.score_files import evaluate_files
from ..core.synth.generate import split_prefix
from ..core.synth.world import DEFAULT_WORLD, WORLDS
from ..core.views import VIEWS
from ..core.weights import build_pipeline, load_detector
from .bench import write_json
from .bench_models import one_thread_timings
from .synthetic import BENCH_SEED, DEFAULT_DATA_DIR, cached_test_set


def add_detector_bench_parser(kinds: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``detector`` on the ``refinet bench`` sub-command parsers."""
    p = kinds.add_parser("detector", help="the depth-image 2D detector: keypoints, people, end-to-end, speed")
    p.add_argument("--view", choices=VIEWS, help="only this view (default: both)")
    p.add_argument("--frames", type=int, default=500, help="held-out test frames per view")
    p.add_argument("--crowd-frames", type=int, default=200, help="composed 3-4 people frames per view")
    p.add_argument("--seed", type=int, default=BENCH_SEED, help="seed of the test sets")
    p.add_argument("--weights", type=Path, help="folder of {view}_detector.pt and the stages (default: shipped)")
    p.add_argument("--data", type=Path, default=DEFAULT_DATA_DIR, help="where the synthetic test sets are cached")
    p.add_argument("--world", choices=WORLDS, default=DEFAULT_WORLD.name,
                   help="recording setup of the test people: 'foreign' has other statures and limb proportions, "
                        "higher camera mounts and another labelling convention: depth the detector never saw")
    p.add_argument("--json", type=Path, default=Path("bench/detector.json"), help="results")
    p.set_defaults(handler=run_bench_detector)
    return p


def _latency(detector, depth: np.ndarray, n: int = 100) -> dict:
    timed = one_thread_timings(lambda: detector(depth), n, 10)
    return {"p50_ms": round(timed["p50_ms"], 2), "p95_ms": round(timed["p95_ms"], 2)}


def bench_view(view: str, args: argparse.Namespace) -> dict:
    paths = cached_test_set(view, args.frames, args.seed, args.data, world=args.world)
    detector = load_detector(view, args.weights)
    data = load_detector_frames(split_prefix(paths["labels"].parent, view, "test"))
    single = [(data.depth_m[i].astype(np.float32), [_person(data, i)]) for i in range(len(data))]
    crowd = [sample_frame(data, np.random.default_rng([args.seed, 9, k]), n_people=3 + k % 2, augment=False)
             for k in range(args.crowd_frames)]
    labels = read_labels(paths["labels"])
    valid = labels.subset(np.flatnonzero(labels.is_valid))
    profile = read_pose2d(paths["pose2d"], valid.ids)
    inside = data.camera.in_image(valid.uv)
    found = detect_file(paths["depth_map"], detector, progress=False)
    pipeline = build_pipeline(("A", "B", "C"), view, weights_dir=args.weights)
    with tempfile.TemporaryDirectory() as tmp:
        detected = write_pose2d(Path(tmp) / "detected.npz", found.ids, found.keypoints, found.confidence)
        e2e = {name: evaluate_files(paths["depth_map"], paths["labels"], pipeline, pose, progress=False).result
               for name, pose in (("detector", detected), ("openpose", paths["pose2d"]))}
    return {
        "one_person": score_detector(detector, single),
        "three_to_four_people": score_detector(detector, crowd),
        "openpose_profile": keypoint_errors(np.where(inside, np.linalg.norm(profile.uv - valid.uv, axis=-1),
                                                     np.nan)),
        "end_to_end_A+B+C": {name: {k: _number(r[k]) for k in ("mAP", "mDE_cm", "upper_mAP", "lower_mAP")}
                             for name, r in e2e.items()},
        "latency_1_thread": {"one_person": _latency(detector, single[0][0]),
                             "four_people": _latency(detector, _four(data, args.seed))},
    }


def _number(x: float) -> float | None:
    """Rounded for the JSON; None when undefined (mDE with no joint found)."""
    return round(float(x), 4) if np.isfinite(x) else None


def _person(data, i: int):
    from ..core.synth.crowd import Person
    return Person(data.uv[i], data.joints[i])


def _four(data, seed: int) -> np.ndarray:
    """A composed frame in which four people were actually placed (for the latency row)."""
    for k in range(100):
        depth, people = sample_frame(data, np.random.default_rng([seed, 11, k]), n_people=4, augment=False)
        if len(people) == 4:
            return depth
    return depth


def format_view(view: str, r: dict) -> str:
    one, crowd, op = r["one_person"], r["three_to_four_people"], r["openpose_profile"]
    e2e, lat = r["end_to_end_A+B+C"], r["latency_1_thread"]
    rows = [f"**{view} view**", "",
            "| 2D keypoints | median px | within 5 px | within 10 px | upper median | lower median |",
            "|---|---:|---:|---:|---:|---:|"]
    for name, k in (("depth detector, 1 person", one), ("depth detector, 3-4 people", crowd),
                    ("simulated `openpose` profile", op)):
        rows.append(f"| {name} | {k['median_px']} | {k['within_5px']:.3f} | {k['within_10px']:.3f} | "
                    f"{k['upper_median_px']} | {k['lower_median_px']} |")
    rows += ["", "| people | recall | precision |", "|---|---:|---:|",
             f"| 1 | {one['recall']:.3f} | {one['precision']:.3f} |",
             f"| 3-4 | {crowd['recall']:.3f} | {crowd['precision']:.3f} |", "",
             "| A+B+C from | mAP@10cm | mDE (cm) |", "|---|---:|---:|"]
    rows += [f"| {name} | {v['mAP']:.3f} | {v['mDE_cm'] if v['mDE_cm'] is None else round(v['mDE_cm'], 1)} |"
             for name, v in e2e.items()]
    rows += ["", f"detector latency (1 torch thread): 1 person p50 {lat['one_person']['p50_ms']} ms / p95 "
                 f"{lat['one_person']['p95_ms']} ms; 4 people p50 {lat['four_people']['p50_ms']} ms / p95 "
                 f"{lat['four_people']['p95_ms']} ms"]
    return "\n".join(rows)


def run_bench_detector(args: argparse.Namespace) -> int:
    views = (args.view,) if args.view else VIEWS
    payload = {"command": f"refinet bench detector --frames {args.frames} --seed {args.seed}"
                          + (f" --view {args.view}" if args.view else "")
                          + (f" --world {args.world} --json {args.json}" if args.world != DEFAULT_WORLD.name else ""),
               "world": args.world, "views": {}}
    tables = []
    for view in views:
        payload["views"][view] = bench_view(view, args)
        tables.append(format_view(view, payload["views"][view]))
        print(tables[-1])
    write_json(args.json, payload)
    args.json.with_suffix(".md").write_text(f"    {payload['command']}\n\n" + "\n\n".join(tables) + "\n")
    return 0
