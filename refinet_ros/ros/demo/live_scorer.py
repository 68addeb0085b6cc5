"""A scoring client: subscribes to the refined skeletons like any user, scores them live.

It looks each output's stamp up among the frames the player sent, so accuracy (mAP, mDE against the
synthetic ground truth) and end-to-end latency (input stamp to receipt here) are measured on
exactly what went over DDS. On a multi-person sequence every person present is scored: skeletons
are matched to the people one to one (core.skeleton_matching, within PEOPLE_GATE_M), a person
with no skeleton counts all its joints as misses, and recall / precision count people.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy

from ...core.joints import NUM_JOINTS
from ...core.metrics import evaluate
from ...core.skeleton_matching import match_skeletons
from ...core.viz import save_report
from ...message_codec import joints_from_msg
from ...msg import Skeleton3DArray
from ...stamps import stamp_ns
from .player import SequencePlayer

#: A skeleton whose mean joint distance to a person is beyond this is not that person's.
PEOPLE_GATE_M = 0.5


def latency_by_count(latency_ms: list[float], counts: list[int]) -> dict[str, dict[str, float]]:
    """{skeletons per frame: {frames, p50_ms, p95_ms}} of the frames with exactly that many skeletons."""
    lat, counts = np.asarray(latency_ms, float), np.asarray(counts, int)
    return {str(n): {"frames": int((counts == n).sum()), "p50_ms": float(np.percentile(lat[counts == n], 50)),
                     "p95_ms": float(np.percentile(lat[counts == n], 95))} for n in np.unique(counts)}


class LiveScorer(Node):
    """Scores each output whose stamp the player sent against that frame's ground truth."""

    def __init__(self, player: SequencePlayer, topic: str, node_name: str = "refinet_evaluator",
                 **node_kwargs: Any) -> None:
        super().__init__(node_name, **node_kwargs)
        self.player = player
        self.indices: list[int] = []            # sequence index of each received frame
        self.skeletons: list[np.ndarray] = []   # (K, 15, 3) of each received frame
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
        self.skeletons.append(np.asarray(joints, dtype=np.float64).reshape(-1, NUM_JOINTS, 3))

    @property
    def received(self) -> int:
        return len(self.indices)

    def results(self) -> dict[str, Any]:
        """mAP / mDE over the received valid frames and latency percentiles (JSON-ready), also by the
        number of skeletons in the frame (a sequence of people walking through varies it)."""
        lat = np.asarray(self.latency_ms) if self.latency_ms else np.array([np.nan])
        out: dict[str, Any] = {"frames_received": self.received,
                               "p50_ms": float(np.percentile(lat, 50)), "p95_ms": float(np.percentile(lat, 95)),
                               "max_ms": float(lat.max()),
                               "by_skeletons": latency_by_count(self.latency_ms, [len(s) for s in self.skeletons])}
        if self.received:
            out.update(self.accuracy())
        return out

    def accuracy(self) -> dict[str, Any]:
        """mAP / mDE of the received frames: the first skeleton against the sequence's person, or on a
        multi-person sequence (seq.people) every present person against its matched skeleton."""
        keys = ("mAP", "mAP_5cm", "mDE_cm", "upper_mAP", "lower_mAP", "n_frames")
        if self.player.seq.people is None:
            return {k: v for k, v in evaluate(*self._scored()).items() if k in keys}
        pred, truth, found, detected = self.people_pairs()
        return {**{k: v for k, v in evaluate(pred, truth).items() if k in keys}, "n_frames": self.received,
                "people": len(truth), "people_recall": found / max(len(truth), 1),
                "people_precision": found / max(detected, 1)}

    def _scored(self) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """(predicted, true, valid) rows that the metrics pool: frames, or people on a multi-person sequence."""
        seq, idx = self.player.seq, np.asarray(self.indices, dtype=int)
        if seq.people is None:
            first = np.stack([s[0] if len(s) else np.full((NUM_JOINTS, 3), np.nan) for s in self.skeletons])
            return first, seq.joints[idx], seq.is_valid[idx]
        pred, truth, _, _ = self.people_pairs()
        return pred, truth, None

    def people_pairs(self) -> tuple[np.ndarray, np.ndarray, int, int]:
        """(predicted (M, 15, 3) NaN when unmatched, true (M, 15, 3)) over every present person of the
        received frames, the people matched and the skeletons received."""
        people = self.player.seq.people
        pred, truth, found, detected = [], [], 0, 0
        for i, skeletons in zip(self.indices, self.skeletons):
            gt = people.joints[i][people.present[i]]
            row = np.full_like(gt, np.nan)
            for g, k in match_skeletons(gt, skeletons, PEOPLE_GATE_M):
                row[g] = skeletons[k]
                found += 1
            pred.append(row)
            truth.append(gt)
            detected += len(skeletons)
        empty = np.empty((0, NUM_JOINTS, 3))
        return (np.concatenate(pred) if pred else empty, np.concatenate(truth) if truth else empty, found, detected)

    def save_picture(self, path: Path, title: str, n: int = 4) -> Path:
        """A PNG of `n` received frames (spread over those with the most people) with the skeletons
        received (red) and the truth (green) over the depth, and the per-joint error chart. Needs a
        received frame."""
        seq = self.player.seq
        crowd = np.array([1 if seq.people is None else int(seq.people.present[i].sum()) for i in self.indices])
        frames = np.flatnonzero(crowd == crowd.max())
        pick = frames[np.linspace(0, len(frames) - 1, min(n, len(frames))).astype(int)]
        index = [self.indices[k] for k in pick]
        truth = [seq.joints[i] if seq.people is None else seq.people.joints[i][seq.people.present[i]] for i in index]
        return save_report(path, seq.depth_m[index], truth, [self.skeletons[k] for k in pick], seq.camera,
                           [f"frame {i}: {len(self.skeletons[k])} skeletons" for i, k in zip(index, pick)],
                           {"live over DDS": evaluate(*self._scored())}, title)

    def progress_line(self) -> str:
        r = self.results()
        acc = f"mAP@10cm {r['mAP']:.3f} mDE {r['mDE_cm']:.1f} cm  " if "mAP" in r else ""
        return f"received {r['frames_received']:4d}  {acc}latency p50 {r['p50_ms']:.1f} ms p95 {r['p95_ms']:.1f} ms"
