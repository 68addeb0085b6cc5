"""``refinet generate``: write synthetic ITOP-format data sets (:func:`refinet_ros.core.synth.generate.write_split`)."""
from __future__ import annotations

import argparse
from pathlib import Path

from ..core.camera import PinholeCamera
from ..core.synth.detector import DEFAULT_PROFILE, PROFILES, RANDOM_FAMILY
from ..core.synth.generate import DEFAULT_STRIDE, SPLITS, write_split
from ..core.synth.world import WORLDS
from ..core.views import VIEWS


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "generate", help="write a synthetic ITOP-format data set (depth, labels, 2D detections)",
        description="Synthetic ITOP-like data: ray-cast volumetric people, structured-light sensor "
                    "noise, simulated 2D detector. Writes ITOP_{view}_{split}_{depth_map,labels}.h5, "
                    "_pose2d.npz, _subjects.json and _meta.npz into --out.")
    p.add_argument("--out", required=True, type=Path, help="output directory")
    p.add_argument("--view", choices=(*VIEWS, "both"), default="side", help="camera view, or both")
    p.add_argument("--split", choices=(*SPLITS, "both"), default="train",
                   help="train (subjects 04-19), test (subjects 00-03), or both")
    p.add_argument("--frames", type=int, default=1000, help="frames per view and split")
    p.add_argument("--seed", type=int, default=0, help="seed of everything generated (people, motion, noise)")
    p.add_argument("--detector", choices=(*PROFILES, RANDOM_FAMILY), default=DEFAULT_PROFILE,
                   help="simulated 2D detector: a named profile, or 'random' (the training family: one random "
                        "profile per clip)")
    p.add_argument("--stride", type=int, default=DEFAULT_STRIDE,
                   help="keep every k-th 30 Hz frame of each clip (1 = continuous sequences)")
    p.add_argument("--world", choices=WORLDS, default="default",
                   help="recording setup: 'default' (what the shipped weights were trained on) or 'foreign' (shorter "
                        "people with longer limbs, cameras mounted higher: data the weights never saw)")
    p.add_argument("--people", type=int, default=1,
                   help="people per frame, at most (default 1: plain ITOP files); more adds people walking through, "
                        "entering, leaving and crossing, labelled in the labels' 'people' group (README: Multi-person "
                        "files)")
    p.add_argument("--camera", type=camera_arg, metavar="W,H,fx,fy,cx,cy",
                   help="render another sensor (pixels; default ITOP's Xtion 320,240,285.71,285.71,160,120), "
                        "e.g. 848,480,430,430,424,240 for a RealSense-like depth stream")
    p.add_argument("--workers", type=int, default=1, help="worker processes (output is identical for any value)")
    p.set_defaults(handler=run_generate)
    return p


def camera_arg(text: str) -> PinholeCamera:
    """W,H,fx,fy,cx,cy -> the camera; anything else is a one-line argparse error."""
    try:
        w, h, fx, fy, cx, cy = (float(v) for v in text.split(","))
        if w != int(w) or h != int(h):
            raise ValueError("width and height are whole pixels")
        return PinholeCamera(fx, fy, cx, cy, int(w), int(h))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected W,H,fx,fy,cx,cy (six numbers), got {text!r}: {exc}") from None


def run_generate(args: argparse.Namespace) -> int:
    if args.frames <= 0:
        raise ValueError("--frames must be positive")
    for view in VIEWS if args.view == "both" else (args.view,):
        for split in SPLITS if args.split == "both" else (args.split,):
            paths = write_split(args.out, view, split, args.frames, args.seed, detector_profile=args.detector,
                                stride=args.stride, workers=max(1, args.workers), progress=True,
                                world=args.world, people=args.people, camera=args.camera)
            print(f"{view}/{split}: " + ", ".join(str(p) for p in paths.values()))
    return 0
