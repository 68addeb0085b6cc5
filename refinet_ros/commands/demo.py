"""``refinet demo``: the main job on a fresh machine, with an embedded (generated, fixed-seed) input.

1. Offline: a small synthetic ITOP-style test set per view, refined by the shipped weights and
   scored against the baseline (tables, JSON and PNGs under --out).
2. Live: the ROS graph in one process (player -> refine_node -> evaluator over real DDS),
   when rclpy and the messages are installed (``make venv`` does both), twice: with the 2D poses
   on a topic (one person), and depth only (``detector: depth``) on a sequence of up to
   DEMO_PEOPLE people walking through, with a PNG of what came back.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..core.score_files import evaluate_files
from ..core.metrics import format_table
from ..core.pipeline import Pipeline, parse_stages, stages_label
from ..core.views import VIEWS
from ..core.weights import build_pipeline
from .eval_cmd import save_preview
from .flags import add_stages_flag
from .synthetic import cached_test_set

DEMO_FRAMES = 300
DEMO_SEED = 7
#: People at most in the depth-only live run's sequence.
DEMO_PEOPLE = 3


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="refine a small synthetic ITOP-style set offline and through the ROS graph")
    p.add_argument("--out", type=Path, default=Path("out/demo"), help="where results and PNGs go")
    p.add_argument("--frames", type=int, default=DEMO_FRAMES, help="frames per view")
    add_stages_flag(p)
    p.add_argument("--no-ros", action="store_true", help="skip the live ROS graph")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    stages = parse_stages(args.stages)
    label = stages_label(stages)
    summary: dict = {"stages": label, "frames_per_view": args.frames, "seed": DEMO_SEED}
    for view in VIEWS:
        paths = cached_test_set(view, args.frames, DEMO_SEED, args.out / "data")
        base = evaluate_files(paths["depth_map"], paths["labels"], Pipeline(), paths["pose2d"])
        refined = evaluate_files(paths["depth_map"], paths["labels"], build_pipeline(stages, view),
                                 paths["pose2d"]) if stages else base
        print(format_table(base.result, f"\n== {view} view: baseline lifting of simulated detections =="))
        if stages:
            print(format_table(refined.result, f"\n== {view} view: refined with {label} =="))
        png = save_preview(args.out / f"{view}.png", paths["depth_map"], refined, label, None,
                           {"baseline": base.result} if stages else None)
        summary[view] = {name: {k: r.result[k] for k in ("mAP", "mDE_cm", "upper_mAP", "lower_mAP")}
                         for name, r in (("baseline", base), (label, refined))}
        summary[view]["png"] = str(png)
    if not args.no_ros:
        summary["ros_graph"] = run_live(stages, args.frames)
        summary["ros_graph_depth_only"] = run_live(stages, args.frames, people=DEMO_PEOPLE,
                                                   picture=args.out / "depth_only.png")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2))
    print(f"\nresults and pictures in {args.out}/")
    return 0


def run_live(stages: tuple[str, ...], frames: int, people: int = 1, picture: Path | None = None) -> dict | None:
    """The in-process ROS graph on the side view; skipped with a note where rclpy is missing.
    `people` > 1: depth only (refine_node's detector: depth) on a multi-person sequence."""
    try:
        from ..ros.demo.graph import format_result, run_demo_graph
    except ImportError as exc:
        print(f"\n(live ROS graph skipped: {exc}; `make venv` installs rclpy and the messages)")
        return None
    source = "2D poses on a topic" if people == 1 else f"depth only, built-in detector, up to {people} people"
    print(f"\n== live ROS graph ({source}): player -> refine_node ({stages_label(stages)}) -> evaluator, "
          "30 Hz over DDS ==")
    params = {} if people == 1 else {"detector": "depth"}
    result = run_demo_graph(view="side", frames=frames, stages=",".join(stages) or "none", people=people,
                            params=params, picture=picture)
    print(format_result(result))
    if "png" in result:
        print(f"picture: {result['png']}")
    return result
