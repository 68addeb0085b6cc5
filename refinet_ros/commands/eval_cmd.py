"""``refinet eval`` / ``refinet baseline``: score a pipeline on an ITOP-format file pair."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from ..config_file import read_node_parameters
from ..core.camera import PinholeCamera
from ..core.tracking import TrackerParams
from ..core.score_files import EvalRun, evaluate_files
from ..core.itop import DepthFile
from ..core.metrics import format_table
from ..core.pipeline import parse_stages, stages_label
from ..core.views import VIEWS
from ..core.viz import save_report
from ..core.weights import build_pipeline
from .flags import add_int8_flag, add_stages_flag, add_weights_flag

N_PREVIEW_FRAMES = 4


def add_parsers(sub: argparse._SubParsersAction) -> None:
    for name, help_text in (("eval", "evaluate a pipeline (any stage subset; default: the node's A,B,C) on "
                                     "ITOP-format files"),
                            ("baseline", "evaluate the baseline lifting (same as eval --stages none)")):
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument("--depth", required=True, type=Path, help="ITOP *_depth_map.h5")
        p.add_argument("--labels", required=True, type=Path, help="ITOP *_labels.h5")
        p.add_argument("--pose2d", type=Path, help="2D predictions .npz (ids, keypoints, [confidence]); "
                                                   "default: the labels' image_coordinates")
        if name == "eval":
            add_stages_flag(p)
            add_int8_flag(p)
            add_weights_flag(p)
        p.add_argument("--view", choices=VIEWS, help="which weights to use; default: from the file name")
        p.add_argument("--json", type=Path, help="write the metrics as JSON here (default: no JSON)")
        p.add_argument("--png", type=Path, help="write frames + per-joint error chart here "
                                                "(default: next to --json, else none)")
        p.add_argument("--intrinsics", type=_intrinsics, help="fx,fy,cx,cy (default: ITOP Xtion)")
        p.add_argument("--smooth", action="store_true",
                       help="One-Euro filter the joints along each sequence in time, with the node's constants "
                            "(needs the frame order: --meta, or SS_FFFFF ids)")
        p.add_argument("--meta", type=Path, help="the generator's _meta.npz (frame order in time; default: the "
                                                 "one next to --labels, if any)")
        p.add_argument("--batch-size", type=int, default=256, help="frames per pipeline run")
        p.add_argument("--no-progress", action="store_true")
        p.set_defaults(handler=run)


def _sibling_meta(labels: Path) -> Path | None:
    """ITOP_side_test_labels.h5 -> ITOP_side_test_meta.npz when it exists."""
    meta = labels.with_name(labels.name.replace("_labels.h5", "_meta.npz"))
    return meta if meta != labels and meta.is_file() else None


def _intrinsics(text: str) -> tuple[float, float, float, float]:
    values = [float(v) for v in text.split(",")]
    if len(values) != 4:
        raise argparse.ArgumentTypeError("expected fx,fy,cx,cy")
    return tuple(values)  # type: ignore[return-value]


def run(args: argparse.Namespace) -> int:
    stages = parse_stages(getattr(args, "stages", "none"))
    pipeline = build_pipeline(stages, args.view, (args.depth, args.labels), getattr(args, "int8", False),
                              getattr(args, "weights", None))
    meta = args.meta or _sibling_meta(args.labels)
    run_ = evaluate_files(args.depth, args.labels, pipeline, args.pose2d, args.intrinsics,
                          args.batch_size, progress=not args.no_progress,
                          smooth=TrackerParams.from_config(read_node_parameters()).one_euro if args.smooth else None,
                          meta_path=meta)
    label = stages_label(stages)
    print(format_table(run_.result, f"{label} on {args.labels.name}"))
    result = {"stages": label, "depth": str(args.depth), "labels": str(args.labels),
              "pose2d": str(args.pose2d) if args.pose2d else None, **run_.result}
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2))
        print(f"wrote {args.json}")
    png = args.png or (args.json.with_suffix(".png") if args.json else None)
    if png:
        print(f"wrote {save_preview(png, args.depth, run_, label, args.intrinsics)}")
    return 0


def save_preview(path: Path, depth_path: Path, run_: EvalRun, label: str,
                 intrinsics: tuple[float, float, float, float] | None,
                 compare: dict[str, dict] | None = None) -> Path:
    """A few evenly spaced valid frames with GT and predicted skeletons, plus the per-joint chart
    (with bars for the `compare` results, e.g. the baseline, beside this run's)."""
    n = len(run_.labels)
    pick = np.unique(np.linspace(0, n - 1, min(N_PREVIEW_FRAMES, n)).astype(int))
    with DepthFile(depth_path) as depth:
        frame_index = np.flatnonzero(np.isin(depth.ids, run_.labels.ids[pick]))
        frames = depth.read(frame_index)
        camera = PinholeCamera.for_image(depth.shape, intrinsics)
    return save_report(path, frames, run_.labels.joints[pick], run_.pred[pick], camera,
                       [str(i) for i in run_.labels.ids[pick]], {**(compare or {}), label: run_.result},
                       f"{label}: mAP@10cm {run_.result['mAP']:.3f}, mDE {run_.result['mDE_cm']:.1f} cm")
