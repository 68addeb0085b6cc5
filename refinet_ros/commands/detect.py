"""``refinet detect``: 2D poses from depth alone, written as the predictions file ``refinet eval --pose2d`` reads."""
from __future__ import annotations

import argparse
from pathlib import Path

from ..core.detect_files import detect_file
from ..core.itop import write_pose2d
from ..core.views import VIEWS
from ..core.weights import load_detector, resolve_view


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser("detect", help="detect 2D poses on ITOP-format depth with the built-in depth detector",
                       description="Run the depth-image 2D pose detector over a *_depth_map.h5 and write a "
                                   "predictions .npz (ids, keypoints, confidence: the most confident person of "
                                   "each frame; n_people: how many were found) for refinet eval --pose2d. A frame "
                                   "with nobody found gets NaN keypoints with confidence 0.")
    p.add_argument("--depth", required=True, type=Path, help="ITOP *_depth_map.h5")
    p.add_argument("--out", required=True, type=Path, help="predictions .npz to write")
    p.add_argument("--view", choices=VIEWS, help="which detector weights; default: from the file name")
    p.add_argument("--weights", type=Path, help="folder of {view}_detector.pt (default: the shipped weights)")
    p.add_argument("--batch-size", type=int, default=32, help="frames per network run")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(handler=run_detect)
    return p


def run_detect(args: argparse.Namespace) -> int:
    detector = load_detector(resolve_view(args.view, args.depth), args.weights)
    found = detect_file(args.depth, detector, args.batch_size, not args.no_progress)
    write_pose2d(args.out, found.ids, found.keypoints, found.confidence, n_people=found.n_people)
    print(f"wrote {args.out}: {len(found.ids)} frames, {int((found.n_people > 0).sum())} with a person, "
          f"{int(found.n_people.sum())} people")
    return 0
