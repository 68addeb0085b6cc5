"""The in-process demo: player -> refine_node -> live scorer, one process, one executor, real DDS.

This is the graph ``refine.launch.py`` starts, minus the camera: the same RefineNode class with
the same params file (config/refinet.yaml), fed by a synthetic 30 Hz ITOP-style sequence. The
scorer is an ordinary subscriber, so latency includes serialisation and DDS transport.
"""
from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, Callable

import rclpy
from rclpy.executors import SingleThreadedExecutor
from rclpy.parameter import Parameter

from ...core.synth.generate import generate_split
from ..config import DEFAULT_CONFIG
from ..refine_node import RefineNode
from .live_scorer import LiveScorer
from .player import SequencePlayer

DEMO_SEED = 7
#: Frames rendered once and looped: 10 s of distinct motion (rendering costs ~25 ms a frame).
MAX_UNIQUE_FRAMES = 300
DISCOVERY_TIMEOUT_S = 20.0
DRAIN_S = 1.0


def run_demo_graph(view: str = "side", frames: int = 300, stages: str = "A,B,C", rate_hz: float = 30.0,
                   seed: int = DEMO_SEED, config: Path = DEFAULT_CONFIG, params: dict[str, Any] | None = None,
                   domain_id: int | None = None, progress: Callable[[str], None] | None = print,
                   people: int = 1, picture: Path | None = None) -> dict[str, Any]:
    """Play `frames` frames at `rate_hz` through refine_node; return accuracy, latency and load.

    Returns mAP, mAP_5cm, mDE_cm, upper_mAP, lower_mAP, n_frames (valid frames scored), p50_ms,
    p95_ms, max_ms, frames_sent, frames_received, frames_skipped (by refine_node, all reasons),
    skipped (per reason), cpu_percent (this process, % of one core), wall_s, plus the settings.
    `params` overrides further refine_node parameters of `config` (e.g. device, weights_dir).
    `progress` gets a live status line about once a second (None: quiet). `people` > 1 plays a
    multi-person sequence (walkers, core.synth.walkers), scored person by person (adds people,
    people_recall, people_precision). `picture`: a PNG of received frames over depth (adds png)."""
    seq = generate_split(view, "test", min(frames, MAX_UNIQUE_FRAMES), seed=seed, stride=1, people=people)
    overrides = [Parameter(k, value=v) for k, v in {"view": view, "stages": stages, **(params or {})}.items()]
    context = rclpy.Context()
    rclpy.init(context=context, domain_id=_domain_id(domain_id))
    nodes: list[Any] = []
    try:
        refiner = RefineNode(context=context, cli_args=["--ros-args", "--params-file", str(config)],
                             parameter_overrides=overrides)
        player = SequencePlayer(seq, refiner.config, frames, rate_hz, context=context)
        scorer = LiveScorer(player, refiner.config.output_topic, context=context)
        nodes = [refiner, player, scorer]
        executor = SingleThreadedExecutor(context=context)
        for node in nodes:
            executor.add_node(node)
        wall_s, cpu_percent = _spin(executor, player, scorer, frames, progress)
        shown = {}
        if picture is not None and scorer.received:
            shown["png"] = str(scorer.save_picture(picture, f"{view} view, {refiner.config.detector} 2D poses"))
        return {"view": view, "stages": ",".join(refiner.config.stages) or "none", "device": refiner.config.device,
                "detector": refiner.config.detector, "rate_hz": rate_hz, "seed": seed, "people_max": people,
                **scorer.results(), "frames_sent": len(player.sent),
                "frames_skipped": refiner.stats.snapshot()["frames_skipped"],
                "skipped": {k: v for k, v in refiner.stats.skipped.items() if v},
                "cpu_percent": cpu_percent, "wall_s": wall_s, **shown}
    finally:
        for node in reversed(nodes):
            node.destroy_node()
        rclpy.shutdown(context=context)


def format_result(result: dict[str, Any]) -> str:
    """The demo's closing lines: accuracy against the synthetic ground truth, latency, load."""
    acc = (f"mAP@10cm {result['mAP']:.3f}  mAP@5cm {result['mAP_5cm']:.3f}  mDE {result['mDE_cm']:.1f} cm  "
           f"(upper {result['upper_mAP']:.3f}, lower {result['lower_mAP']:.3f}; {result['n_frames']} valid frames)\n"
           if "mAP" in result else "")
    if "people" in result:
        acc += (f"people: {result['people']} in view over the frames, recall {result['people_recall']:.3f}, "
                f"precision {result['people_precision']:.3f}\n")
    return (f"refine_node, {result['view']} view, stages {result['stages']} on {result['device']}:\n{acc}"
            f"latency (input stamp -> receipt) p50 {result['p50_ms']:.1f} ms  p95 {result['p95_ms']:.1f} ms  "
            f"max {result['max_ms']:.1f} ms\n"
            f"frames sent {result['frames_sent']}  received {result['frames_received']}  "
            f"skipped {result['frames_skipped']} {result['skipped'] or ''}  CPU {result['cpu_percent']:.0f}% of a core")


def _domain_id(domain_id: int | None) -> int:
    return int(os.environ.get("ROS_DOMAIN_ID", "0")) if domain_id is None else domain_id


def _spin(executor: SingleThreadedExecutor, player: SequencePlayer, scorer: LiveScorer, frames: int,
          progress: Callable[[str], None] | None) -> tuple[float, float]:
    """Spin until every frame was sent and answered (or DRAIN_S passed since the last was sent).
    Returns the wall time and this process's CPU use (% of one core) while frames were flowing."""
    deadline = time.monotonic() + DISCOVERY_TIMEOUT_S
    while not player.subscribers_ready():
        if time.monotonic() > deadline:
            raise RuntimeError(f"refine_node did not subscribe to the player within {DISCOVERY_TIMEOUT_S} s")
        executor.spin_once(timeout_sec=0.05)
    t0, cpu0 = time.monotonic(), time.process_time()
    next_report, finished_at = t0 + 1.0, None
    while finished_at is None or (time.monotonic() - finished_at < DRAIN_S and scorer.received < frames):
        executor.spin_once(timeout_sec=0.01)
        now = time.monotonic()
        if finished_at is None and player.done:
            finished_at = now
        if progress is not None and now >= next_report:
            progress(f"[{now - t0:5.1f} s] sent {len(player.sent):4d}  {scorer.progress_line()}")
            next_report = now + 1.0
    wall = time.monotonic() - t0
    return wall, 100.0 * (time.process_time() - cpu0) / wall
