"""``refinet bench cameras``: A+B+C accuracy and latency on other sensors' resolutions.

The same synthetic people and motion (same seed) rendered by cameras of the common RGB-D drivers:
ITOP's Xtion at 320x240, a RealSense-like 848x480 depth stream, a 640x480 (Kinect / Orbbec-like) and
a 1280x720 one, each with the simulated OpenPose-like detector (its pixel noise scales with the
person's apparent size). High-resolution frames run at the stages' working resolution
(core.work_resolution); the table shows the accuracy against the 320x240 result (target: within
2 points of mAP@10cm) and the per-frame latency of A+B+C for one person on one torch thread.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from ..core.camera import PinholeCamera
from ..core.itop import DepthFile, read_labels, read_pose2d
from ..core.score_files import evaluate_files
from ..core.synth.cache import cached_split
from ..core.weights import build_pipeline
from .bench import add_sequence_options, write_json
from .bench_models import one_thread_timings

#: name -> camera (pixels): ITOP's, then the common RGB-D drivers' depth streams.
CAMERAS: dict[str, PinholeCamera] = {
    "itop_320x240": PinholeCamera.itop(),
    "realsense_848x480": PinholeCamera(430.0, 430.0, 423.5, 239.5, 848, 480),
    "vga_640x480": PinholeCamera.itop().scaled(2.0),
    "hd_1280x720": PinholeCamera(640.0, 640.0, 639.5, 359.5, 1280, 720),
}
TARGET_POINTS = 2.0


def add_cameras_parser(kinds: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``cameras`` on the ``refinet bench`` sub-command parsers."""
    p = kinds.add_parser("cameras", help="A+B+C accuracy and latency at other sensors' resolutions")
    add_sequence_options(p, 500, "test frames per camera", Path("bench/cameras.json"))
    p.set_defaults(handler=run_bench_cameras)
    return p


def bench_camera(name: str, camera: PinholeCamera, args: argparse.Namespace, pipeline) -> dict:
    paths = cached_split(args.data, args.view, "test", args.frames, args.seed, camera=camera)
    run = evaluate_files(paths["depth_map"], paths["labels"], pipeline, paths["pose2d"],
                         (camera.fx, camera.fy, camera.cx, camera.cy), progress=False)
    labels = read_labels(paths["labels"])
    first = int(np.flatnonzero(labels.is_valid)[0])
    pose = read_pose2d(paths["pose2d"], labels.ids[[first]])
    with DepthFile(paths["depth_map"]) as depth:
        frame = depth.read(np.array([first]))
    latency = one_thread_timings(lambda: pipeline.run(frame, pose.uv, pose.confidence, camera), 60, 10)
    r = run.result
    print(f"{name:>18}: mAP@10cm {r['mAP']:.3f}  mDE {r['mDE_cm']:.1f} cm  p50 {latency['p50_ms']:.1f} ms  "
          f"p95 {latency['p95_ms']:.1f} ms")
    return {"camera": {"width": camera.width, "height": camera.height, "fx": camera.fx, "fy": camera.fy,
                       "cx": camera.cx, "cy": camera.cy},
            **{k: r[k] for k in ("mAP", "mAP_5cm", "mDE_cm", "upper_mAP", "lower_mAP", "n_frames")}, **latency}


def run_bench_cameras(args: argparse.Namespace) -> int:
    pipeline = build_pipeline(("A", "B", "C"), args.view)
    rows = {name: bench_camera(name, camera, args, pipeline) for name, camera in CAMERAS.items()}
    ref = rows["itop_320x240"]["mAP"]
    for row in rows.values():
        row["points_vs_320x240"] = round(100 * (row["mAP"] - ref), 2)
    worst = min(row["points_vs_320x240"] for row in rows.values())
    payload = {"command": f"refinet bench cameras --view {args.view} --frames {args.frames} --seed {args.seed}",
               "view": args.view, "stages": "A,B,C", "detector": "openpose", "target_points": TARGET_POINTS,
               "met": bool(worst >= -TARGET_POINTS), "cameras": rows}
    write_json(args.json, payload)
    lines = ["| camera | mAP@10cm | vs 320x240 (points) | mDE (cm) | A+B+C p50 ms | p95 ms |",
             "|---|---:|---:|---:|---:|---:|"]
    lines += [f"| {n} | {r['mAP']:.3f} | {r['points_vs_320x240']:+.1f} | {r['mDE_cm']:.1f} | {r['p50_ms']:.1f} | "
              f"{r['p95_ms']:.1f} |" for n, r in rows.items()]
    args.json.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0
