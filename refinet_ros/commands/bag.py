"""``refinet bag ...``: make, refine, evaluate and replay rosbag2 recordings (no ROS runtime but for play)."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..bags import layout as L
from ..bags.bagio import STORAGES, custom_data
from ..config_file import read_node_parameters
from ..frame_input import InputLimits
from ..pose_messages import POSE_INPUTS, pose_reader
from ..core.layouts import LAYOUTS
from ..core.metrics import format_table
from ..core.tracking import Tracker, TrackerParams
from ..core.pipeline import parse_stages, stages_label
from ..core.synth.detector import DEFAULT_PROFILE, PROFILES
from ..core.synth.generate import SPLITS
from ..core.views import VIEWS
from ..core.weights import build_pipeline, load_detector, resolve_view
from .flags import add_int8_flag, add_stages_flag, add_weights_flag


def add_parser(sub: argparse._SubParsersAction) -> None:
    bag = sub.add_parser("bag", help="rosbag2 recordings: convert, refine offline, evaluate, replay",
                         description="rosbag2 workflows; bags are read and written with `rosbags`, "
                                     "so only `bag play` needs a ROS runtime (rclpy).")
    verbs = bag.add_subparsers(dest="bag_command", required=True, metavar="VERB")
    _from_itop(verbs)
    _synth(verbs)
    _refine(verbs)
    _eval(verbs)
    _play(verbs)


def _output(p: argparse.ArgumentParser, depth: bool = True) -> None:
    p.add_argument("--storage", choices=tuple(STORAGES), default="mcap", help="rosbag2 storage plugin")
    if depth:
        p.add_argument("--encoding", choices=("16UC1", "32FC1"), default="16UC1",
                       help="depth encoding (REP-118): 16UC1 millimetres, or 32FC1 metres (lossless for ITOP)")
    p.add_argument("--no-progress", action="store_true")


def _from_itop(verbs: argparse._SubParsersAction) -> None:
    p = verbs.add_parser("from-itop", help="ITOP-format h5 files (+ 2D predictions) -> rosbag2 recording")
    p.add_argument("out", metavar="OUT", type=Path, help="bag directory to create")
    p.add_argument("--depth", required=True, type=Path, help="ITOP *_depth_map.h5")
    p.add_argument("--labels", required=True, type=Path, help="ITOP *_labels.h5")
    p.add_argument("--pose2d", type=Path, help="2D predictions .npz (ids, keypoints, [confidence]) covering "
                                               "every id; default: the labels' image_coordinates")
    p.add_argument("--view", choices=VIEWS, help="recorded in the bag's metadata; default: from the file names")
    p.add_argument("--stamps", choices=("rate", "ids"), default="rate",
                   help="30 Hz in file order, or from the ids' frame numbers (SS_FFFFF)")
    _output(p)
    p.set_defaults(handler=run_from_itop)


def _synth(verbs: argparse._SubParsersAction) -> None:
    p = verbs.add_parser("synth", help="a continuous synthetic 30 Hz recording (the generator's clips in order)")
    p.add_argument("out", metavar="OUT", type=Path, help="bag directory to create")
    p.add_argument("--view", choices=VIEWS, default="side", help="camera view")
    p.add_argument("--frames", type=int, default=300, help="frames to record (30 Hz)")
    p.add_argument("--seed", type=int, default=0, help="seed of the generated people, motion and noise")
    p.add_argument("--split", choices=SPLITS, default="test", help="test = held-out subjects")
    p.add_argument("--detector", choices=tuple(PROFILES), default=DEFAULT_PROFILE,
                   help="simulated 2D detector noise profile")
    _output(p)
    p.set_defaults(handler=run_synth)


def _refine(verbs: argparse._SubParsersAction) -> None:
    p = verbs.add_parser("refine", help="run the pipeline over a bag offline; writes OUT = IN + /refinet/skeletons")
    p.add_argument("src", metavar="IN", type=Path)
    p.add_argument("out", metavar="OUT", type=Path)
    add_stages_flag(p)
    add_int8_flag(p)
    p.add_argument("--view", choices=VIEWS, help="which weights; default: the view recorded in IN")
    add_weights_flag(p)
    p.add_argument("--pose-input", choices=POSE_INPUTS, default="skeleton2d",
                   help="what the 2D poses are (the node's pose_input): skeleton2d (refinet_ros/Skeleton2DArray on "
                        "--pose-topic), yolo (yolo_ros's yolo_msgs/DetectionArray on --pose-topic), hri (ROS4HRI "
                        "hri_msgs/Skeleton2D on every <--hri-prefix>/<id>/skeleton2d topic)")
    p.add_argument("--pose-topic", default=L.POSE2D_TOPIC, help="topic of the 2D poses (skeleton2d, yolo)")
    p.add_argument("--hri-prefix", default="/humans/bodies", help="ROS4HRI bodies namespace (hri)")
    p.add_argument("--keypoint-layout", choices=tuple(LAYOUTS), default="itop15",
                   help="layout of skeleton2d keypoints")
    p.add_argument("--detector", choices=("topic", "depth"), default="topic",
                   help="topic: the bag's /pose2d; depth: detect the 2D poses on each depth image (the node's "
                        "detector: depth; /pose2d not needed; the detector's weights come from --weights)")
    p.add_argument("--smooth", action="store_true",
                   help="the node's tracking and One-Euro smoothing (config/refinet.yaml's constants): stable ids, "
                        "smoothed joints, driven by the header stamps")
    p.add_argument("--batch-size", type=int, default=64, help="frames per pipeline run")
    limits = read_node_parameters()
    p.add_argument("--min-range", type=float, default=limits["min_range"],
                   help="m: nearer depth readings are invalid (default: the node's min_range, %(default)s)")
    p.add_argument("--max-range", type=float, default=limits["max_range"],
                   help="m: farther depth readings are invalid (default: the node's max_range, %(default)s)")
    p.add_argument("--max-bodies", type=int, default=limits["max_bodies"],
                   help="people refined per frame at most, the most confident (default: the node's max_bodies, "
                        "%(default)s)")
    _output(p, depth=False)
    p.set_defaults(handler=run_refine)


def _eval(verbs: argparse._SubParsersAction) -> None:
    p = verbs.add_parser("eval", help="score a skeleton topic against /gt/skeletons (same table as `refinet eval`)")
    p.add_argument("bag", type=Path)
    p.add_argument("--topic", default=L.REFINED_TOPIC, help="Skeleton3DArray topic to score")
    p.add_argument("--gt-topic", default=L.GT_TOPIC, help="ground-truth Skeleton3DArray topic")
    p.add_argument("--json", type=Path, help="write the metrics as JSON here (default: no JSON)")
    p.set_defaults(handler=run_eval)


def _play(verbs: argparse._SubParsersAction) -> None:
    p = verbs.add_parser("play", help="publish a bag into a live ROS graph (rclpy; for installs without `ros2 bag`)")
    p.add_argument("bag", type=Path)
    p.add_argument("--rate", type=float, default=1.0, help="playback speed factor")
    p.add_argument("--loop", action="store_true", help="start over at the end, until interrupted")
    p.add_argument("--clock", action="store_true", help="publish the recorded time on /clock (for use_sim_time)")
    p.add_argument("--topics", nargs="+", help="publish only these topics (default: all)")
    p.add_argument("--wait-for-subscribers", type=float, default=0.0, metavar="SECONDS",
                   help="wait up to this long for every topic to have a subscriber before starting")
    p.set_defaults(handler=run_play)


def run_from_itop(args: argparse.Namespace) -> int:
    from ..bags.convert import itop_to_bag
    view = resolve_view(args.view, args.depth, args.labels)
    n = itop_to_bag(args.depth, args.labels, args.out, view, args.pose2d, args.encoding, args.storage,
                    args.stamps, progress=not args.no_progress)
    print(f"wrote {args.out}: {n} frames ({view} view, {args.encoding} depth, {args.storage})")
    return 0


def run_synth(args: argparse.Namespace) -> int:
    from ..bags.convert import synth_to_bag
    n = synth_to_bag(args.out, args.view, args.frames, args.seed, args.split, args.detector, args.encoding,
                     args.storage, progress=not args.no_progress)
    print(f"wrote {args.out}: {n} frames ({args.view} view, seed {args.seed}, {args.encoding} depth, {args.storage})")
    return 0


def run_refine(args: argparse.Namespace) -> int:
    from ..bags.bagio import BagError
    from ..bags.refine import refine_bag
    if args.batch_size <= 0:
        raise ValueError("--batch-size must be positive")
    stages = parse_stages(args.stages)
    view = args.view or custom_data(args.src).get(L.META_VIEW)
    if stages and view not in VIEWS:
        raise BagError(f"{args.src}: no view in the bag's metadata; pass --view side|top")
    if not 0 <= args.min_range < args.max_range < float("inf"):
        raise ValueError(f"need 0 <= --min-range < --max-range, both finite (got {args.min_range}, {args.max_range})")
    pipeline = build_pipeline(stages, view, (), args.int8, args.weights)
    if args.max_bodies < 1:
        raise ValueError("--max-bodies must be at least 1")
    limits = InputLimits(args.min_range, args.max_range, args.max_bodies)
    detect = None
    if args.detector == "depth":
        if view not in VIEWS:
            raise BagError(f"{args.src}: no view in the bag's metadata; pass --view side|top")
        detect = load_detector(view, args.weights).keypoints
    report = refine_bag(args.src, args.out, pipeline, pose_reader(args.pose_input, args.keypoint_layout),
                        args.batch_size, args.storage, progress=not args.no_progress, limits=limits, detect=detect,
                        pose_topic=args.pose_topic, hri_prefix=args.hri_prefix,
                        tracker=Tracker(TrackerParams.from_config(read_node_parameters(), smoothing=True))
                        if args.smooth else None)
    print(f"wrote {args.out}: {report.frames} frames, {report.skeletons} skeletons refined with "
          f"{stages_label(stages)} in {report.seconds:.1f} s ({report.fps:.0f} frames/s)")
    if report.unmatched_depth or report.unmatched_pose2d:
        print(f"note: {report.unmatched_depth} depth frame(s) without a 2D pose and {report.unmatched_pose2d} "
              "2D pose(s) without a depth frame (matched by header stamp) were not refined")
    for reason, count in sorted(report.skipped.items()):
        print(f"note: {count} frame(s) skipped: {reason} (first: {report.first_skip[reason]}); their input "
              "messages are copied, without a refined skeleton")
    for kind, count in sorted(report.repaired.items()):
        print(f"note: {count} skeleton(s) repaired: {kind}")
    return 0


def run_eval(args: argparse.Namespace) -> int:
    from ..bags.score_bag import evaluate_bag
    run = evaluate_bag(args.bag, args.topic, args.gt_topic)
    label = custom_data(args.bag).get(L.META_STAGES, "?") if args.topic == L.REFINED_TOPIC else args.topic
    print(format_table(run.result, f"{label} ({args.topic}) on {args.bag.name}"))
    if run.unpredicted:
        print(f"note: {run.unpredicted} ground-truth skeleton(s) had no prediction on {args.topic} (scored as missed)")
    if args.json:
        payload = {"stages": label, "bag": str(args.bag), "topic": args.topic, "gt_topic": args.gt_topic, **run.result}
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(payload, indent=2))
        print(f"wrote {args.json}")
    return 0


def run_play(args: argparse.Namespace) -> int:
    from ..ros.bag_play import play_bag
    if args.rate <= 0:
        raise ValueError("--rate must be positive")
    count = play_bag(args.bag, rate=args.rate, loop=args.loop, clock=args.clock, topics=args.topics,
                     wait_for_subscribers=args.wait_for_subscribers)
    print(f"published {count} messages from {args.bag}")
    return 0
