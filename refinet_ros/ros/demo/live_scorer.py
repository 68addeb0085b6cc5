"""A scoring client: subscribes to the refined skeletons like any user, scores them live.

It looks each output's stamp up among the frames the player sent, so accuracy (mAP, mDE against the
synthetic ground truth) and end-to-end latency (input stamp to receipt here) are measured on
exactly what went over DDS.
"""
from __future__ import annotations

from typing import Any

import numpy as np
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy

from ...core.joints import NUM_JOINTS
from ...core.metrics import evaluate
from ...message_codec import joints_from_msg
from ...msg import Skeleton3DArray
from ...stamps import stamp_ns
from .player import SequencePlayer


class LiveScorer(Node):
    """Scores each output whose stamp the player sent against that frame's ground truth."""

    def __init__(self, player: SequencePlayer, topic: str, node_name: str = "refinet_evaluator",
                 **node_kwargs: Any) -> None:
        super().__init__(node_name, **node_kwargs)
        self.player = player
        self.indices: list[int] = []            # sequence index of each received frame
        self.joints: list[np.ndarray] = []      # (15, 3) of the first skeleton, NaN if none
        self.latency_ms: list[float] = []
        self.create_subscription(Skeleton3DArray, topic, self._on_skeletons,
                                 QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE))

    def _on_skeletons(self, msg: Skeleton3DArray) -> None:
        now = self.get_clock().now().nanoseconds
        stamp = stamp_ns(msg.header.stamp)
        index = self.player.sent.get(stamp)
        if index is None:
            return
        _, joints = joints_from_msg(msg)
        self.latency_ms.append((now - stamp) / 1e6)
        self.indices.append(index)
        self.joints.append(joints[0] if len(joints) else np.full((NUM_JOINTS, 3), np.nan))

    @property
    def received(self) -> int:
        return len(self.indices)

    def results(self) -> dict[str, Any]:
        """mAP / mDE over the received valid frames and latency percentiles (JSON-ready)."""
        seq, idx = self.player.seq, np.asarray(self.indices, dtype=int)
        lat = np.asarray(self.latency_ms) if self.latency_ms else np.array([np.nan])
        out: dict[str, Any] = {"frames_received": self.received,
                               "p50_ms": float(np.percentile(lat, 50)), "p95_ms": float(np.percentile(lat, 95)),
                               "max_ms": float(lat.max())}
        if self.received:
            metrics = evaluate(np.stack(self.joints), seq.joints[idx], seq.is_valid[idx])
            out.update({k: metrics[k] for k in ("mAP", "mAP_5cm", "mDE_cm", "upper_mAP", "lower_mAP", "n_frames")})
        return out

    def progress_line(self) -> str:
        r = self.results()
        acc = f"mAP@10cm {r['mAP']:.3f} mDE {r['mDE_cm']:.1f} cm  " if "mAP" in r else ""
        return f"received {r['frames_received']:4d}  {acc}latency p50 {r['p50_ms']:.1f} ms p95 {r['p95_ms']:.1f} ms"
