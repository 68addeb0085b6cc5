"""``refinet bench tracking``: smoothing and tracking over time, on continuous synthetic sequences.

* **Smoothing**: a 30 Hz single-person test sequence (``--stride 1``), A+B+C from the simulated
  OpenPose-like detector, scored raw and One-Euro filtered with the node's constants: mAP@10cm, mDE
  and jitter (RMS joint acceleration; the ground truth's own is the floor), plus the filter's cost
  per frame (it adds no latency by design: causal, no look-ahead).
* **Tracking**: a 30 Hz sequence of up to 3 people walking through (core.synth.walkers: entering,
  leaving, crossing), their 2D poses with empty ids, A+B+C, then the node's tracker. Output k is the
  skeleton of input person k, so each true person's sequence of output ids is known exactly; an
  identity switch is a change in it, counted per 1000 frames, apart and in crossings (within 1 s of
  its image box overlapping another person's: crossing, hiding or hidden); fragmentation is the ids
  each person got, beyond one.
"""
from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ..config_file import read_node_parameters
from ..core.camera import PinholeCamera
from ..core.itop import DepthFile, read_people
from ..core.score_files import evaluate_files
from ..core.synth.cache import cached_split
from ..core.tracking import Tracker, TrackerParams
from ..core.weights import build_pipeline
from .bench import add_sequence_options, write_json

#: A switch within this long of a crossing counts as one in a crossing.
CROSSING_WINDOW_S = 1.0
FPS = 30.0


def add_tracking_parser(kinds: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``tracking`` on the ``refinet bench`` sub-command parsers."""
    p = kinds.add_parser("tracking", help="smoothing (jitter, mAP) and tracking (identity switches) over time")
    add_sequence_options(p, 1500, "30 Hz frames per sequence set", Path("bench/tracking.json"))
    p.add_argument("--people", type=int, default=3, help="people at most in the tracking sequence")
    p.set_defaults(handler=run_bench_tracking)
    return p


def bench_smoothing(args: argparse.Namespace, pipeline, params: TrackerParams) -> dict:
    paths = cached_split(args.data, args.view, "test", args.frames, args.seed, stride=1)
    rows = {}
    for name, smooth in (("raw", None), ("smoothed", params.one_euro)):
        run = evaluate_files(paths["depth_map"], paths["labels"], pipeline, paths["pose2d"], progress=False,
                             smooth=smooth, meta_path=paths["meta"])
        rows[name] = {k: run.result[k] for k in ("mAP", "mDE_cm", "jitter_m_s2", "truth_jitter_m_s2", "n_frames")}
    tracker, joints = Tracker(params, seed=0), run.pred
    t0 = time.perf_counter()
    for k in range(len(joints)):
        tracker.update(int(k * 1e9 / FPS), [""], joints[k:k + 1])
    rows["filter_ms_per_frame"] = round((time.perf_counter() - t0) * 1e3 / len(joints), 3)
    rows["jitter_cut"] = round(rows["raw"]["jitter_m_s2"] / rows["smoothed"]["jitter_m_s2"], 2)
    rows["mAP_change_points"] = round(100 * (rows["smoothed"]["mAP"] - rows["raw"]["mAP"]), 2)
    return rows


def bench_identities(args: argparse.Namespace, pipeline, params: TrackerParams) -> dict:
    paths = cached_split(args.data, args.view, "test", args.frames, args.seed + 1, stride=1, people=args.people)
    people = read_people(paths["labels"])
    pose = np.load(paths["pose2d"], allow_pickle=False)
    tracker = Tracker(params, seed=0)
    history: dict[int, list[tuple[int, str]]] = {}          # true track -> (frame, output id)
    with DepthFile(paths["depth_map"]) as depth:
        camera = PinholeCamera.for_image(depth.shape)
        for t in tqdm(range(len(people.ids)), desc="bench tracking", unit="frame"):
            here = np.flatnonzero(people.present[t])
            frame = depth.read(np.array([t]))
            uv, conf = pose["people_keypoints"][t][here], pose["people_confidence"][t][here]
            joints = (pipeline.run(np.repeat(frame, len(here), 0), uv, conf, camera).joints if len(here)
                      else np.empty((0, 15, 3)))
            out = tracker.update(int(t * 1e9 / FPS), [""] * len(here), joints, uv, camera.fx)
            for k, slot in enumerate(here):                # output k is the skeleton of input k: that person
                history.setdefault(int(people.track_id[t][slot]), []).append((t, out.body_ids[k]))
    crossing = _crossing_frames(people)
    never = np.zeros(len(people.ids), bool)
    switches = {"apart": 0, "crossing": 0}
    fragments = 0
    for track, seen in history.items():
        fragments += len({body for _, body in seen}) - 1
        for (_, before), (t, after) in zip(seen, seen[1:]):
            if after != before:
                switches["crossing" if crossing.get(track, never)[t] else "apart"] += 1
    n = len(people.ids)
    crossing_frames = int(np.any(np.stack(list(crossing.values())), 0).sum()) if crossing else 0
    return {"frames": n, "people_max": args.people, "true_tracks": len(history),
            "crossing_frames": crossing_frames,
            "switches_apart": switches["apart"], "switches_in_crossings": switches["crossing"],
            "switches_per_1000_frames": round(1000 * sum(switches.values()) / n, 2),
            "switches_in_crossings_per_1000_frames": round(1000 * switches["crossing"] / n, 2),
            "fragmentation": fragments}


def _crossing_frames(people) -> dict[int, np.ndarray]:
    """True track -> (N,) bool: within CROSSING_WINDOW_S of a frame where its image box (the box of its
    keypoints) overlaps another person's: crossing, or hiding or hidden by someone."""
    n = len(people.ids)
    near: dict[int, np.ndarray] = {}
    with warnings.catch_warnings():                                    # empty slots are all NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        lo, hi = np.nanmin(people.uv, axis=2), np.nanmax(people.uv, axis=2)      # (N, P, 2)
    for t in range(n):
        here = np.flatnonzero(people.present[t])
        for a in here:
            for b in here:
                if a != b and (lo[t, a] < hi[t, b]).all() and (lo[t, b] < hi[t, a]).all():
                    near.setdefault(int(people.track_id[t, a]), np.zeros(n, bool))[t] = True
    pad = int(CROSSING_WINDOW_S * FPS)
    kernel = np.ones(2 * pad + 1)
    return {k: np.convolve(v.astype(float), kernel, "same") > 0 for k, v in near.items()}


def run_bench_tracking(args: argparse.Namespace) -> int:
    pipeline = build_pipeline(("A", "B", "C"), args.view)
    node = read_node_parameters()
    params = TrackerParams.from_config(node, smoothing=True)
    smoothing = bench_smoothing(args, pipeline, params)
    identities = bench_identities(args, pipeline, TrackerParams.from_config(node, smoothing=False))
    payload = {"command": f"refinet bench tracking --view {args.view} --frames {args.frames} --people {args.people} "
                          f"--seed {args.seed}", "stages": "A,B,C", "detector": "openpose",
               "one_euro": vars(params.one_euro), "smoothing": smoothing, "tracking": identities,
               "targets": {"jitter_cut_at_least": 2.0, "mAP_loss_at_most_points": 0.5,
                           "switches_apart": 0, "switches_in_crossings_per_1000_frames_at_most": 1.0}}
    write_json(args.json, payload)
    s, i = smoothing, identities
    print(f"smoothing: mAP {s['raw']['mAP']:.3f} -> {s['smoothed']['mAP']:.3f} ({s['mAP_change_points']:+.2f} points), "
          f"jitter {s['raw']['jitter_m_s2']:.1f} -> {s['smoothed']['jitter_m_s2']:.1f} m/s^2 "
          f"({s['jitter_cut']}x less; truth {s['raw']['truth_jitter_m_s2']:.1f}), "
          f"filter {s['filter_ms_per_frame']} ms/frame")
    print(f"tracking: {i['frames']} frames, {i['true_tracks']} people, switches apart {i['switches_apart']}, "
          f"in crossings {i['switches_in_crossings']} ({i['switches_in_crossings_per_1000_frames']} per 1000 frames), "
          f"fragmentation {i['fragmentation']}")
    return 0
