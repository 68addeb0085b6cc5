"""``refinet bench node``: end-to-end latency of refine_node over DDS at 30 Hz.

Runs the in-process demo graph (player -> refine_node -> live scorer) for ``--duration`` seconds and
writes p50/p95 latency (input stamp to receipt by a subscriber), frame counts and CPU use to JSON.
Only the parser lives at module level: ``refinet bench baseline`` must not need rclpy.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..core.views import VIEWS
from .flags import add_stages_flag

DEFAULT_JSON = Path("bench/node.json")
#: p95 targets at 30 Hz with A+B+C, by where the 2D poses come from (the depth detector adds its own pass).
TARGET_P95_MS = {"topic": 33.0, "depth": 40.0}
#: p95 targets at 30 Hz with A+B+C by people per frame (issue: 3 people 33 ms, 5 people 50 ms).
TARGET_P95_PEOPLE_MS = {1: 33.0, 3: 33.0, 5: 50.0}


def add_node_bench_parser(kinds: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``node`` on the ``refinet bench`` sub-command parsers."""
    p = kinds.add_parser("node", help="refine_node end-to-end latency over DDS at 30 Hz (needs rclpy)")
    p.add_argument("--duration", type=float, default=60.0, help="seconds of 30 Hz input")
    p.add_argument("--rate", type=float, default=30.0, help="input frame rate (Hz)")
    add_stages_flag(p)
    p.add_argument("--view", choices=VIEWS, default="side", help="view of the synthetic sequence and the weights")
    p.add_argument("--device", help="torch device (default: the config's)")
    p.add_argument("--weights-dir", help="folder of {view}_{A,B,C}.pt (default: the config's)")
    p.add_argument("--detector", choices=("topic", "depth"), default="topic",
                   help="depth: refine_node detects the 2D poses on the depth image (its detector: depth)")
    p.add_argument("--people", type=_people, default=(1,), metavar="N[,N...]",
                   help="people at most per frame (a multi-person sequence: people walking through), one run "
                        "each; e.g. 1,3,5 (default 1)")
    p.add_argument("--json", type=Path, help=f"results (default: {DEFAULT_JSON}; bench/node_depth.json with "
                                             "--detector depth)")
    p.set_defaults(handler=run_node_bench)
    return p


def _people(text: str) -> tuple[int, ...]:
    try:
        counts = tuple(int(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected people counts such as 1,3,5, got {text!r}") from None
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError("people counts must be at least 1")
    return counts


def run_node_bench(args: argparse.Namespace) -> int:
    from ..ros.demo.graph import format_result, run_demo_graph

    frames = max(1, round(args.duration * args.rate))
    params = {k: v for k, v in (("device", args.device), ("weights_dir", args.weights_dir)) if v is not None}
    params["detector"] = args.detector
    args.json = args.json or (DEFAULT_JSON if args.detector == "topic" else DEFAULT_JSON.with_name("node_depth.json"))
    rows, met = {}, True
    for people in args.people:
        result = run_demo_graph(view=args.view, frames=frames, stages=args.stages, rate_hz=args.rate,
                                params=params, progress=None, people=people)
        target = TARGET_P95_PEOPLE_MS.get(people, TARGET_P95_MS[args.detector]) if people > 1 else \
            TARGET_P95_MS[args.detector]
        ok = result["p95_ms"] <= target and result["frames_skipped"] == 0
        met &= ok
        per_frame = result.get("people", result["frames_received"]) / max(result["frames_received"], 1)
        rows[str(people)] = {"target_p95_ms": target, "met": ok, "mean_people_per_frame": round(per_frame, 2),
                             **result}
        print(format_result(result))
        print(f"{people} people at most: target p95 <= {target:g} ms with no skipped frame: "
              f"{'met' if ok else 'NOT met'}")
    first = rows[str(args.people[0])]
    payload = {"command": f"refinet bench node --duration {args.duration:g} --rate {args.rate:g} "
                          f"--stages {args.stages} --view {args.view} --detector {args.detector} "
                          f"--people {','.join(map(str, args.people))}", **first, "people_rows": rows}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(payload, indent=2))
    print(f"wrote {args.json}")
    return 0
