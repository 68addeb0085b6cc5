"""``bag eval``: score a skeleton topic of a bag against /gt/skeletons with the paper's metrics.

Frames are matched by header stamp and people by body_id (a frame with one person on each side is
matched as is). A ground-truth person without a prediction counts as all joints missing, exactly as
`refinet eval` counts a joint the pipeline could not place.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..core.joints import NUM_JOINTS
from ..core.metrics import evaluate
from ..message_codec import joints_from_msg
from ..stamps import stamp_ns
from . import layout as L
from .bagio import BagError, open_bag, read_messages, require_topics

_MISSING = np.full((NUM_JOINTS, 3), np.nan)


@dataclass
class BagEval:
    result: dict                #: metrics.evaluate's dict
    unpredicted: int            #: ground-truth people with no prediction at their stamp


def _match(gt_ids: list[str], pred: dict[str, np.ndarray]) -> list[np.ndarray | None]:
    if len(gt_ids) == 1 and len(pred) == 1 and gt_ids[0] not in pred:
        return list(pred.values())
    return [pred.get(body) for body in gt_ids]


def evaluate_bag(path: Path, topic: str = L.REFINED_TOPIC, gt_topic: str = L.GT_TOPIC) -> BagEval:
    """Metrics of `topic` against `gt_topic` over every frame with ground truth."""
    if topic == gt_topic:
        raise BagError(f"the evaluated topic and the ground truth are both {topic}")
    gt: list[tuple[int, list[str], np.ndarray]] = []
    pred: dict[int, dict[str, np.ndarray]] = {}
    with open_bag(path) as reader:
        conns = require_topics(reader, {gt_topic: L.SKELETON3D_ARRAY, topic: L.SKELETON3D_ARRAY})
        for conn, _, msg, _ in read_messages(reader, conns.values(), set(conns)):
            ids, joints = joints_from_msg(msg)
            if conn.topic == gt_topic:
                gt.append((stamp_ns(msg.header.stamp), ids, joints))
            else:
                pred[stamp_ns(msg.header.stamp)] = dict(zip(ids, joints))
    gt_rows, pred_rows = [], []
    for stamp, ids, joints in gt:
        gt_rows.extend(joints)
        pred_rows.extend(_match(ids, pred.get(stamp, {})))
    if not gt_rows:
        raise BagError(f"{path}: no ground-truth skeletons on {gt_topic} to evaluate against")
    unpredicted = sum(p is None for p in pred_rows)
    result = evaluate(np.array([_MISSING if p is None else p for p in pred_rows]), np.array(gt_rows))
    return BagEval(result, unpredicted)
