"""The soak process's side of ``refinet bench soak``: a player that also sends bad frames, a latency
probe and a /diagnostics reader. refine_node itself runs in another process (see bench_soak).

Imports rclpy at module level: bench_soak imports this module only inside its run function.
"""
from __future__ import annotations

import time
from collections import Counter
from typing import Any

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image
from std_msgs.msg import Header

from ..ros.compat.image import array_to_image
from ..ros.rclpy_codec import CODEC
from ..stamps import NS_PER_S, stamp_ns
from ..ros.demo.live_scorer import LiveScorer
from ..ros.demo.player import DEPTH_ENCODING, SequencePlayer

#: Bad frames, in the order they are cycled through (what each one sends instead of a good frame).
BAD_KINDS: dict[str, str] = {
    "encoding": "depth image with encoding rgb8",
    "size_mismatch": "half-size depth image with the full-size camera_info",
    "nan_confidence": "2D pose with a NaN keypoint confidence",
    "time_jump": "frame stamped 1 s in the past",
}


class SoakPlayer(SequencePlayer):
    """A SequencePlayer that waits for :meth:`begin`, stops at a deadline, and replaces every
    `bad_every`-th frame (0: none) by a bad one, cycling through :data:`BAD_KINDS`.

    Bad frames are left out of ``sent`` (so the latency probe ignores their outputs) and counted in
    ``bad_sent`` by kind; ``ticks`` counts every frame sent, good or bad."""

    def __init__(self, seq: Any, config: Any, n_frames: int, rate_hz: float, bad_every: int = 0,
                 **node_kwargs: Any) -> None:
        super().__init__(seq, config, n_frames, rate_hz, node_name="refinet_soak_player", **node_kwargs)
        self.bad_every = bad_every
        self.ticks = 0
        self.bad_sent: Counter[str] = Counter()
        self.deadline: float | None = None      # time.monotonic() after which no frame is sent

    def begin(self, deadline: float) -> None:
        self.deadline = deadline

    def node_ready(self) -> bool:
        """refine_node subscribes to all three inputs."""
        return super().subscribers_ready()

    def subscribers_ready(self) -> bool:
        return self.deadline is not None and self.node_ready()

    @property
    def done(self) -> bool:
        return self.ticks >= self.n_frames or (self.deadline is not None and time.monotonic() >= self.deadline)

    def bad_kind(self, tick: int) -> str | None:
        """Which bad frame the `tick`-th frame (1-based) is, or None for a good one."""
        if self.bad_every <= 0 or tick % self.bad_every:
            return None
        kinds = list(BAD_KINDS)
        return kinds[(tick // self.bad_every - 1) % len(kinds)]

    def publish_frame(self, header: Header, i: int) -> None:
        self.ticks += 1
        kind = self.bad_kind(self.ticks)
        if kind is None:
            super().publish_frame(header, i)
            return
        self.sent.pop(stamp_ns(header.stamp), None)
        self.bad_sent[kind] += 1
        if kind == "time_jump":
            stamp = stamp_ns(header.stamp) - NS_PER_S
            super().publish_frame(CODEC.header(stamp, header.frame_id), i)
            return
        depth, pose = self._depth_msg(i), self._pose_msg(i)
        if kind == "encoding":
            h, w = self._depth_raw[i].shape
            depth = Image(height=h, width=w, encoding="rgb8", step=3 * w, data=bytes(3 * w * h))
        elif kind == "size_mismatch":
            depth = array_to_image(np.ascontiguousarray(self._depth_raw[i][::2, ::2]), DEPTH_ENCODING)
        elif kind == "nan_confidence":
            confidence = self.seq.confidence[i].copy()
            confidence[0] = np.nan
            pose = self._pose_msg(i, confidence)
        self._publish_raw(header, depth, pose)

    # --- the three messages of a frame, for the bad ones (good frames go through SequencePlayer) ----------
    def _depth_msg(self, i: int) -> Image:
        return array_to_image(self._depth_raw[i], DEPTH_ENCODING)

    def _pose_msg(self, i: int, confidence: np.ndarray | None = None) -> Any:
        conf = self.seq.confidence[i] if confidence is None else confidence
        return CODEC.skeleton2d_array(Header(), [f"s{int(self.seq.subject[i]):02d}"], self.seq.keypoints[i][None],
                                      conf[None])

    def _publish_raw(self, header: Header, depth: Image, pose: Any) -> None:
        depth.header = header
        pose.header = header
        for sk in pose.skeletons:
            sk.header = header
        self._pub_info.publish(CODEC.camera_info(header, self.seq.camera))
        self._pub_depth.publish(depth)
        self._pub_pose.publish(pose)


class LatencyProbe(LiveScorer):
    """The live scorer, plus the receipt time (time.monotonic()) of every scored output."""

    def __init__(self, player: SequencePlayer, topic: str, **node_kwargs: Any) -> None:
        super().__init__(player, topic, node_name="refinet_soak_probe", **node_kwargs)
        self.receipt_times: list[float] = []

    def _on_skeletons(self, msg: Any) -> None:
        before = len(self.latency_ms)
        super()._on_skeletons(msg)
        if len(self.latency_ms) > before:
            self.receipt_times.append(time.monotonic())


def parse_value(text: str) -> int | float | str:
    """A diagnostics KeyValue's value: int, float, or the text itself."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


class DiagnosticsMonitor(Node):
    """Keeps the latest /diagnostics values of refine_node (statuses matched by name or hardware_id; all
    keys, whatever they are; several matching statuses in one array are merged) and counts the levels."""

    LEVELS = {0: "OK", 1: "WARN", 2: "ERROR", 3: "STALE"}

    def __init__(self, node_name_part: str = "refine_node", **node_kwargs: Any) -> None:
        super().__init__("refinet_soak_diagnostics", **node_kwargs)
        self.match = node_name_part
        self.last: dict[str, int | float | str] = {}
        self.level: int | None = None
        self.message = ""
        self.hardware_id = ""
        self.count = 0
        self.levels: Counter[str] = Counter()      # messages per level name, over the whole soak
        self.received_at: float | None = None     # time.monotonic() of the latest matching status
        self.create_subscription(DiagnosticArray, "/diagnostics", self._on_diagnostics,
                                 QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE))

    def _on_diagnostics(self, msg: DiagnosticArray) -> None:
        statuses = [s for s in msg.status if self.match in s.hardware_id or self.match in s.name]
        if not statuses:
            return
        values: dict[str, int | float | str] = {}
        for status in statuses:
            values.update({kv.key: parse_value(kv.value) for kv in status.values})
        levels = [_level(s.level) for s in statuses]
        worst = max(range(len(statuses)), key=lambda k: levels[k])
        self.last, self.level = values, levels[worst]
        self.message, self.hardware_id = statuses[worst].message, statuses[worst].hardware_id
        self.levels[self.LEVELS.get(self.level, str(self.level))] += 1
        self.count += 1
        self.received_at = time.monotonic()


def _level(level: Any) -> int:
    """DiagnosticStatus.level: rclpy gives a one-byte ``bytes``."""
    return int.from_bytes(level, "little") if isinstance(level, (bytes, bytearray)) else int(level)
