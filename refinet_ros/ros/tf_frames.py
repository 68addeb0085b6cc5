"""TF frames of refined skeletons, named in the style of ROS4HRI (REP-155).

Per body: ``body_<id>`` under the camera optical frame, at the torso (or the centroid of the
joints found when the torso is missing), and one ``<joint>_<id>`` child per joint found. Only
positions are estimated, so every rotation is the identity (axes parallel to the optical frame).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
from geometry_msgs.msg import TransformStamped
from std_msgs.msg import Header

from ..core.joints import JOINT_NAMES, TORSO


def _transform(header: Header, parent: str, child: str, xyz: np.ndarray) -> TransformStamped:
    t = TransformStamped()
    t.header.stamp = header.stamp
    t.header.frame_id = parent
    t.child_frame_id = child
    t.transform.translation.x, t.transform.translation.y, t.transform.translation.z = (float(v) for v in xyz)
    t.transform.rotation.w = 1.0
    return t


def skeleton_transforms(header: Header, labels: Sequence[str], joints: np.ndarray) -> list[TransformStamped]:
    """(N, 15, 3) joints in header.frame_id -> body root and joint transforms; empty bodies give none."""
    out = []
    for label, body in zip(labels, joints):
        valid = np.isfinite(body).all(-1)
        if not valid.any():
            continue
        root = body[TORSO] if valid[TORSO] else body[valid].mean(0)
        body_frame = f"body_{label}"
        out.append(_transform(header, header.frame_id, body_frame, root))
        out += [_transform(header, body_frame, f"{JOINT_NAMES[j]}_{label}", body[j] - root)
                for j in np.flatnonzero(valid)]
    return out
