"""``bag refine``: run the pipeline over a recording, offline, and write it back with /refinet/skeletons.

The bag is streamed: depth and 2D pose are paired by header stamp (as a detector that copies the
image header produces them), paired frames are refined in batches, and every input message is copied
through. The output stays in log-time order: input messages wait in a small buffer until the batch
covering them has been refined, and a refined frame is logged when its later input arrived.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
from tqdm import tqdm

from ..core.camera import PinholeCamera
from ..core.depth import limit_range
from ..core.joints import NUM_JOINTS
from ..core.layouts import KeypointLayout, get_layout
from ..core.pipeline import Pipeline, stages_label
from ..core.pose_input import clean_keypoints
from ..message_codec import KeypointCountError, camera_from_info, depth_from_image, keypoints_from_msg
from ..stamps import stamp_ns
from . import layout as L
from .bagio import (BagError, add_connection, copy_connection, custom_data, new_bag, open_bag, read_messages,
                    require_topics)
from .rosbags_codec import CODEC
from .typestore import typestore

DEFAULT_BATCH = 64


@dataclass
class RefineReport:
    """What a run did; unmatched frames had a depth image or a 2D pose but not both."""

    frames: int = 0
    skeletons: int = 0
    unmatched_depth: int = 0
    unmatched_pose2d: int = 0
    repaired_confidence: int = 0    # skeletons whose confidence was NaN/inf or outside [0, 1] (cleaned)
    seconds: float = 0.0

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else float("nan")


@dataclass
class _Frame:
    log_ns: int
    image: Any                      # sensor_msgs/Image (decoded only when its batch runs)
    body_ids: list[str]
    uv: np.ndarray                  # (P, K, 2) in the input keypoint layout
    confidence: np.ndarray          # (P, K)


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


class _Batcher:
    """Collects paired frames and refines them in batches of one camera (the keypoint layout is mapped
    per batch too: per message it would cost more than the baseline lifting)."""

    def __init__(self, pipeline: Pipeline, keypoints: KeypointLayout, batch_size: int, depth_range: tuple[float, float],
                 emit: Callable[[int, Any], None]) -> None:
        self.pipeline, self.keypoints, self.batch_size, self.emit = pipeline, keypoints, batch_size, emit
        self.depth_range = depth_range
        self.frames: list[_Frame] = []
        self.camera: PinholeCamera | None = None

    def set_camera(self, camera: PinholeCamera) -> None:
        if self.camera is not None and camera != self.camera:
            self.flush()
        self.camera = camera

    def add(self, frame: _Frame) -> None:
        self.frames.append(frame)
        if len(self.frames) >= self.batch_size:
            self.flush()

    def flush(self) -> None:
        if not self.frames:
            return
        if self.camera is None:
            raise BagError(f"no {L.CAMERA_INFO_TOPIC} message before the depth frame at "
                           f"{stamp_ns(self.frames[0].image.header.stamp)} ns")
        counts = [len(f.body_ids) for f in self.frames]
        joints, conf = np.empty((0, NUM_JOINTS, 3)), np.empty((0, NUM_JOINTS))
        if sum(counts):
            depth = limit_range(np.stack([depth_from_image(f.image) for f in self.frames]), *self.depth_range)
            uv, confidence = self.keypoints.to_itop(np.concatenate([f.uv for f in self.frames]),
                                                    np.concatenate([f.confidence for f in self.frames]))
            if any(c != 1 for c in counts):      # one row per person
                depth = np.repeat(depth, counts, axis=0)
            state = self.pipeline.run(depth, uv, confidence, self.camera)
            joints, conf = state.joints, state.confidence
        bounds = np.cumsum([0, *counts])
        for f, a, b in zip(self.frames, bounds[:-1], bounds[1:]):
            self.emit(f.log_ns, CODEC.skeleton3d_array(f.image.header, f.body_ids, joints[a:b], conf[a:b]))
        self.frames = []


def _keypoints(msg: Any, keypoints: KeypointLayout, src: Path,
               report: RefineReport) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Body ids, pixels and cleaned confidence of a Skeleton2DArray, checked against the keypoint layout."""
    try:
        ids, uv, conf = keypoints_from_msg(msg, keypoints)
    except KeypointCountError as exc:
        raise BagError(f"{src}: {L.POSE2D_TOPIC}: {exc} (see --keypoint-layout)") from exc
    uv, conf, repaired = clean_keypoints(uv, conf)
    report.repaired_confidence += repaired
    return ids, uv, conf


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


def refine_bag(src: Path, dst: Path, pipeline: Pipeline, keypoint_layout: str = "itop15",
               batch_size: int = DEFAULT_BATCH, storage: str = "mcap", progress: bool = True,
               depth_range: tuple[float, float] = (0.0, np.inf)) -> RefineReport:
    """Write `dst` = `src` + /refinet/skeletons (replacing any already there). Depth outside
    `depth_range` (metres) is invalid, as in the node (min_range / max_range)."""
    keypoints = get_layout(keypoint_layout)
    report, pairer, started = RefineReport(), _Pairer(), time.perf_counter()
    label = stages_label(pipeline.names)
    with open_bag(src) as reader:
        inputs = require_topics(reader, L.REFINE_INPUTS)
        with new_bag(dst, storage, {**custom_data(src), L.META_STAGES: label}) as writer:
            copies = {c.id: copy_connection(writer, c) for c in reader.connections if c.topic != L.REFINED_TOPIC}
            out, output = add_connection(writer, L.REFINED_TOPIC, L.SKELETON3D_ARRAY), _OrderedOutput(writer)

            def emit(log_ns: int, msg: Any) -> None:
                output.add(out, log_ns, typestore().serialize_cdr(msg, L.SKELETON3D_ARRAY))
                report.frames += 1
                report.skeletons += len(msg.skeletons)

            batcher = _Batcher(pipeline, keypoints, batch_size, depth_range, emit)
            bar = tqdm(total=inputs[L.DEPTH_TOPIC].msgcount, desc=f"bag refine {label}", unit="frame",
                       disable=not progress)
            kept = [c for c in reader.connections if c.id in copies]
            for conn, log_ns, msg, raw in read_messages(reader, kept, set(L.REFINE_INPUTS)):
                output.add(copies[conn.id], log_ns, raw)
                if conn.topic == L.CAMERA_INFO_TOPIC:
                    batcher.set_camera(camera_from_info(msg))
                if conn.topic not in (L.DEPTH_TOPIC, L.POSE2D_TOPIC):
                    continue
                bar.update(conn.topic == L.DEPTH_TOPIC)
                item = msg if conn.topic == L.DEPTH_TOPIC else _keypoints(msg, keypoints, src, report)
                pair = pairer.add(conn.topic, stamp_ns(msg.header.stamp), log_ns, item)
                if pair:
                    paired_ns, image, (ids, uv, conf) = pair
                    batcher.add(_Frame(paired_ns, image, ids, uv, conf))
                    if not batcher.frames:      # the batch just ran: everything read so far can go out
                        output.flush()
            batcher.flush()
            output.flush()
            bar.close()
    report.unmatched_depth = pairer.unmatched(L.DEPTH_TOPIC)
    report.unmatched_pose2d = pairer.unmatched(L.POSE2D_TOPIC)
    report.seconds = time.perf_counter() - started
    return report
