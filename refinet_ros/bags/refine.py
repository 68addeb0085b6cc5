"""``bag refine``: run the pipeline over a recording, offline, and write it back with /refinet/skeletons.

The bag is streamed: depth and 2D pose are paired by header stamp (as a detector that copies the
image header produces them), each pair is checked by the node's own input path
(:func:`refinet_ros.frame_input.prepare_frame`, with the latest camera_info), so a frame the node
would skip is skipped and counted here too, for the same reason; checked frames are refined in
batches, and every input message is copied through. The output stays in log-time order: input
messages wait in a small buffer until the batch covering them has been refined, and a refined frame
is logged when its later input arrived.
"""
from __future__ import annotations

import re
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
from tqdm import tqdm

from ..core.camera import PinholeCamera
from ..core.joints import NUM_JOINTS
from ..core.pipeline import Pipeline, stages_label
from ..frame_input import Detect, Frame, InputLimits, SkipFrame, prepare_detected_frame, prepare_frame
from ..core.tracking import Tracker
from ..pose_messages import BodyGatherer, PoseReader, pose_reader
from ..stamps import stamp_ns
from . import layout as L
from .bagio import (BagError, add_connection, copy_connection, custom_data, new_bag, open_bag, read_messages,
                    require_topics)
from .rosbags_codec import CODEC
from .typestore import typestore

DEFAULT_BATCH = 64


@dataclass
class RefineReport:
    """What a run did; unmatched frames had a depth image or a 2D pose but not both; skipped frames
    were paired but unusable (reason -> count, and the first such frame's detail); repaired counts
    skeletons whose input was cleaned (kind -> count)."""

    frames: int = 0
    skeletons: int = 0
    unmatched_depth: int = 0
    unmatched_pose2d: int = 0
    skipped: Counter = field(default_factory=Counter)
    first_skip: dict[str, str] = field(default_factory=dict)
    repaired: Counter = field(default_factory=Counter)
    seconds: float = 0.0

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else float("nan")

    def skip(self, reason: str, detail: str) -> None:
        self.skipped[reason] += 1
        self.first_skip.setdefault(reason, detail)


@dataclass
class _Frame:
    log_ns: int
    header: Any                     # the depth image's header: the output's stamp and frame
    frame: Frame                    # checked: depth in metres, ITOP-order keypoints


@dataclass
class _Pairer:
    """Exact-stamp pairing of two in-order streams. Once a pair completes at stamp s, an unpaired
    entry older than s can never be completed and is dropped (and counted)."""

    waiting: dict[str, dict[int, tuple[int, Any]]] = field(
        default_factory=lambda: {L.DEPTH_TOPIC: {}, L.POSE2D_TOPIC: {}})
    dropped: dict[str, int] = field(default_factory=lambda: {L.DEPTH_TOPIC: 0, L.POSE2D_TOPIC: 0})

    def add(self, topic: str, stamp: int, log_ns: int, item: Any) -> tuple[int, Any, Any] | None:
        """(log time, depth item, pose item) when `item` completes a pair, else None."""
        other = L.POSE2D_TOPIC if topic == L.DEPTH_TOPIC else L.DEPTH_TOPIC
        if stamp not in self.waiting[other]:
            self.waiting[topic][stamp] = (log_ns, item)
            return None
        _, partner = self.waiting[other].pop(stamp)
        for name, queue in self.waiting.items():
            for old in [s for s in queue if s < stamp]:
                del queue[old]
                self.dropped[name] += 1
        depth, pose = (item, partner) if topic == L.DEPTH_TOPIC else (partner, item)
        return log_ns, depth, pose

    def unmatched(self, topic: str) -> int:
        return self.dropped[topic] + len(self.waiting[topic])


def hri_body_topics(bag: Any, prefix: str) -> dict[str, str]:
    """Topic -> body id of every ``<prefix>/<id>/skeleton2d`` (hri_msgs/Skeleton2D) in the bag."""
    pattern = re.compile(rf"^{re.escape(prefix.rstrip('/'))}/([A-Za-z0-9_]+)/skeleton2d$")
    found = {c.topic: m.group(1) for c in bag.connections if (m := pattern.match(c.topic))
             and c.msgtype == L.HRI_SKELETON2D}
    if not found:
        raise BagError(f"{bag.path}: no {L.HRI_SKELETON2D} topics {prefix.rstrip('/')}/<id>/skeleton2d; the bag has "
                       f"{', '.join(sorted(c.topic for c in bag.connections)) or 'no topics'}")
    return found


class _Batcher:
    """Collects checked frames and refines them in batches of one camera."""

    def __init__(self, pipeline: Pipeline, batch_size: int, emit: Callable[[int, Any], None],
                 tracker: Tracker | None = None) -> None:
        self.pipeline, self.batch_size, self.emit, self.tracker = pipeline, batch_size, emit, tracker
        self.frames: list[_Frame] = []

    @property
    def camera(self) -> PinholeCamera | None:
        return self.frames[0].frame.camera if self.frames else None

    def add(self, item: _Frame) -> None:
        if self.frames and item.frame.camera != self.camera:
            self.flush()
        self.frames.append(item)
        if len(self.frames) >= self.batch_size:
            self.flush()

    def flush(self) -> None:
        if not self.frames:
            return
        frames = [f.frame for f in self.frames]
        counts = [len(f.body_ids) for f in frames]
        joints, conf = np.empty((0, NUM_JOINTS, 3)), np.empty((0, NUM_JOINTS))
        if sum(counts):
            depth = np.repeat(np.stack([f.depth_m for f in frames]), counts, axis=0)   # one row per person
            state = self.pipeline.run(depth, np.concatenate([f.uv for f in frames]),
                                      np.concatenate([f.confidence for f in frames]), self.camera)
            joints, conf = state.joints, state.confidence
        bounds = np.cumsum([0, *counts])
        for f, a, b in zip(self.frames, bounds[:-1], bounds[1:]):
            ids, body = f.frame.body_ids, joints[a:b]
            if self.tracker is not None:            # frames go out in stamp order: the node's tracking
                tracked = self.tracker.update(stamp_ns(f.header.stamp), ids, body, f.frame.uv, f.frame.camera.fx)
                ids, body = tracked.body_ids, tracked.joints
            self.emit(f.log_ns, CODEC.skeleton3d_array(f.header, ids, body, conf[a:b], ",".join(self.pipeline.names)))
        self.frames = []


class _OrderedOutput:
    """Holds written messages back until the batch covering them has run, so the output bag stays in
    log-time order although refined frames are produced a batch late."""

    def __init__(self, writer: Any) -> None:
        self.writer = writer
        self.pending: list[tuple[int, int, Any, Any]] = []   # (log time, arrival, connection, raw)

    def add(self, conn: Any, log_ns: int, raw: Any) -> None:
        self.pending.append((log_ns, len(self.pending), conn, raw))

    def flush(self) -> None:
        for log_ns, _, conn, raw in sorted(self.pending, key=lambda p: p[:2]):
            self.writer.write(conn, log_ns, raw)
        self.pending.clear()


def refine_bag(src: Path, dst: Path, pipeline: Pipeline, reader: PoseReader | None = None,
               batch_size: int = DEFAULT_BATCH, storage: str = "mcap", progress: bool = True,
               limits: InputLimits = InputLimits(0.0, np.inf, 1000), detect: Detect | None = None,
               pose_topic: str = L.POSE2D_TOPIC, hri_prefix: str = "/humans/bodies",
               tracker: Tracker | None = None) -> RefineReport:
    """Write `dst` = `src` + /refinet/skeletons (replacing any already there). `reader` says what the
    2D poses are (pose_messages.pose_reader; default our Skeleton2DArray): skeleton2d and yolo read
    `pose_topic`, hri every ``<hri_prefix>/<id>/skeleton2d`` topic, gathered per stamp. `limits` are
    the node's min_range / max_range / max_bodies. With `detect` (the depth-image detector, as the
    node's ``detector: depth``) the 2D poses come from each depth image and no pose topic is needed.
    With `tracker` (core.tracking) the skeletons get the node's stable ids and smoothing."""
    reader = reader or pose_reader("skeleton2d")
    report, pairer, started = RefineReport(), _Pairer(), time.perf_counter()
    label = stages_label(pipeline.names)
    info = None
    with open_bag(src) as bag:
        needed = {t: ty for t, ty in L.REFINE_INPUTS.items() if t != L.POSE2D_TOPIC}
        if detect is None and reader.name != "hri":
            needed[pose_topic] = L.POSE_TYPES[reader.name]
        inputs = require_topics(bag, needed)
        bodies = {} if detect is not None or reader.name != "hri" else hri_body_topics(bag, hri_prefix)
        gatherer = BodyGatherer()
        with new_bag(dst, storage, {**custom_data(src), L.META_STAGES: label}) as writer:
            copies = {c.id: copy_connection(writer, c) for c in bag.connections if c.topic != L.REFINED_TOPIC}
            out, output = add_connection(writer, L.REFINED_TOPIC, L.SKELETON3D_ARRAY), _OrderedOutput(writer)

            def emit(log_ns: int, msg: Any) -> None:
                output.add(out, log_ns, typestore().serialize_cdr(msg, L.SKELETON3D_ARRAY))
                report.frames += 1
                report.skeletons += len(msg.skeletons)

            batcher = _Batcher(pipeline, batch_size, emit, tracker)

            def refine(pair: tuple[int, Any, Any]) -> None:
                paired_ns, depth, pose = pair
                try:
                    frame = (prepare_detected_frame(depth, info, limits, detect) if detect else
                             prepare_frame(depth, pose, info, reader, limits))
                except SkipFrame as skip:
                    report.skip(skip.reason, f"{stamp_ns(depth.header.stamp)} ns: {skip}")
                    return
                report.repaired.update(frame.repairs)
                batcher.add(_Frame(paired_ns, depth.header, frame))
                if not batcher.frames:      # the batch just ran: everything read so far can go out
                    output.flush()

            def add_poses(log_ns: int, poses: list[Any]) -> None:
                for pose in poses:
                    pair = pairer.add(L.POSE2D_TOPIC, stamp_ns(pose.header.stamp), log_ns, pose)
                    if pair is not None:
                        refine(pair)

            bar = tqdm(total=inputs[L.DEPTH_TOPIC].msgcount, desc=f"bag refine {label}", unit="frame",
                       disable=not progress)
            kept = [c for c in bag.connections if c.id in copies]
            decoded, last_ns = {*needed, *bodies}, 0
            for conn, log_ns, msg, raw in read_messages(bag, kept, decoded):
                output.add(copies[conn.id], log_ns, raw)
                last_ns = log_ns
                if conn.topic == L.CAMERA_INFO_TOPIC:
                    info = msg
                elif conn.topic == L.DEPTH_TOPIC:
                    bar.update(1)
                    pair = (log_ns, msg, None) if detect else pairer.add(L.DEPTH_TOPIC, stamp_ns(msg.header.stamp),
                                                                         log_ns, msg)
                    if pair is not None:
                        refine(pair)
                elif conn.topic in bodies:
                    add_poses(log_ns, gatherer.add(bodies[conn.topic], msg))
                elif conn.topic == pose_topic and detect is None:
                    add_poses(log_ns, [msg])
            add_poses(last_ns, gatherer.flush())
            batcher.flush()
            output.flush()
            bar.close()
    report.unmatched_depth = pairer.unmatched(L.DEPTH_TOPIC)
    report.unmatched_pose2d = pairer.unmatched(L.POSE2D_TOPIC)
    report.seconds = time.perf_counter() - started
    return report
