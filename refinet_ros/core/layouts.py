"""2D keypoint layouts of common detectors, mapped onto the ITOP 15 joints by name.

RefiNet consumes ITOP-ordered keypoints, but real detectors emit COCO-17 (HRNet, MediaPipe-style
exports) or OpenPose BODY_25. One name-based rule table serves every layout: each ITOP joint lists
alternatives in order of preference; an alternative is a group of source keypoints whose mean is
used when all of them are detected. Joints the layout cannot provide stay missing (NaN, confidence
0), never (0, 0). Pure numpy: the CLI and the ROS node share it.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .joints import JOINT_NAMES, NUM_JOINTS

COCO17: tuple[str, ...] = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip",
    "left_knee", "right_knee", "left_ankle", "right_ankle",
)
BODY25: tuple[str, ...] = (
    "nose", "neck", "right_shoulder", "right_elbow", "right_wrist", "left_shoulder", "left_elbow",
    "left_wrist", "mid_hip", "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee",
    "left_ankle", "right_eye", "left_eye", "right_ear", "left_ear", "left_big_toe", "left_small_toe",
    "left_heel", "right_big_toe", "right_small_toe", "right_heel",
)
#: ROS4HRI's hri_msgs/Skeleton2D (the OpenPose COCO-18 order), as its constants number them.
HRI18: tuple[str, ...] = (
    "nose", "neck", "right_shoulder", "right_elbow", "right_wrist", "left_shoulder", "left_elbow",
    "left_wrist", "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee", "left_ankle",
    "left_eye", "right_eye", "left_ear", "right_ear",
)

_SHOULDERS = ("left_shoulder", "right_shoulder")
_HIPS = ("left_hip", "right_hip")

#: ITOP joint -> source groups in order of preference, used only when the layout has no keypoint of
#: the joint's own name (a detector's own answer, even "not detected", is never overridden).
#: The ear midpoint is nearest the head centre; eyes and nose are progressively cruder stand-ins.
#: ITOP's torso is midway between neck and mid-hip, i.e. the mean of both shoulders and both hips.
RULES: dict[str, tuple[tuple[str, ...], ...]] = {
    "head": (("left_ear", "right_ear"), ("left_eye", "right_eye"), ("nose",)),
    "neck": (_SHOULDERS,),
    "right_hand": (("right_wrist",),),
    "left_hand": (("left_wrist",),),
    "torso": (("neck", "mid_hip"), _SHOULDERS + _HIPS),
    "right_foot": (("right_ankle",),),
    "left_foot": (("left_ankle",),),
}


@dataclass(frozen=True)
class KeypointLayout:
    """A detector's keypoint order and, per ITOP joint, the index groups that can provide it."""

    name: str
    keypoints: tuple[str, ...]
    sources: tuple[tuple[tuple[int, ...], ...], ...]   # per ITOP joint: alternatives of index groups

    @classmethod
    def from_names(cls, name: str, keypoints: tuple[str, ...]) -> "KeypointLayout":
        index = {k: i for i, k in enumerate(keypoints)}
        sources = []
        for joint in JOINT_NAMES:
            groups = ((joint,),) if joint in index else RULES.get(joint, ())
            sources.append(tuple(tuple(index[k] for k in g) for g in groups if all(k in index for k in g)))
        return cls(name, keypoints, tuple(sources))

    @property
    def size(self) -> int:
        return len(self.keypoints)

    @property
    def missing_joints(self) -> tuple[str, ...]:
        """ITOP joints this layout can never provide."""
        return tuple(j for j, alts in zip(JOINT_NAMES, self.sources) if not alts)

    def to_itop(self, uv: np.ndarray, confidence: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(..., K, 2) pixels and (..., K) confidence -> (..., 15, 2) and (..., 15) in ITOP order.

        A keypoint counts as detected when its pixel is finite (Skeleton2D marks a miss with NaN), so
        a joint of the layout's own passes through unchanged. A derived joint takes the mean pixel of
        its group and the group's lowest confidence (a chain is only as sure as its weakest link)."""
        uv = np.asarray(uv, dtype=np.float64)
        confidence = np.asarray(confidence, dtype=np.float64)
        if uv.shape[-2:] != (self.size, 2) or confidence.shape != uv.shape[:-1]:
            raise ValueError(f"layout {self.name} has {self.size} keypoints; got uv {uv.shape} "
                             f"and confidence {confidence.shape}")
        detected = np.isfinite(uv).all(-1)
        out_uv = np.full(uv.shape[:-2] + (NUM_JOINTS, 2), np.nan)
        out_conf = np.zeros(uv.shape[:-2] + (NUM_JOINTS,))
        for j, alternatives in enumerate(self.sources):
            todo = np.ones(uv.shape[:-2], dtype=bool)
            for group in alternatives:
                g = list(group)
                use = todo & detected[..., g].all(-1)
                out_uv[use, j] = uv[..., g, :][use].mean(-2)
                out_conf[use, j] = confidence[..., g][use].min(-1)
                todo &= ~use
        return out_uv, out_conf


LAYOUTS: dict[str, KeypointLayout] = {
    layout.name: layout for layout in (
        KeypointLayout.from_names("itop15", JOINT_NAMES),
        KeypointLayout.from_names("coco17", COCO17),
        KeypointLayout.from_names("body25", BODY25),
        KeypointLayout.from_names("hri18", HRI18),
    )
}


def get_layout(name: str) -> KeypointLayout:
    """The layout called `name`; an unknown name is a clear error listing the choices."""
    try:
        return LAYOUTS[name]
    except KeyError:
        raise ValueError(f"unknown keypoint layout {name!r}; choose from {', '.join(LAYOUTS)}") from None
