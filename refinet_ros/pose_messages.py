"""The 2D pose inputs the node and the bag tools read, as keypoint arrays in the input's own layout.

* ``skeleton2d``: our ``refinet_ros/Skeleton2DArray``, depth-image pixels, in ``keypoint_layout``.
* ``yolo``: yolo_ros's ``yolo_msgs/DetectionArray``: per detection, COCO-17 ``KeyPoint2D`` with a
  1-based ``id`` (only the keypoints above yolo_ros's threshold are sent; the others are missing),
  pixels of the image the detector ran on. ``Detection.id`` is the tracking id; yolo_ros sends "0"
  until its tracking node assigns one, so "0" and "" are untracked.
* ``hri``: ROS4HRI's ``hri_msgs/Skeleton2D``, one topic per body (``/humans/bodies/<id>/skeleton2d``),
  18 keypoints in *normalised* image coordinates with a confidence ``c`` (0 = not detected). The node
  gathers the bodies of one image stamp into an :class:`HriBodies`.

Each reader returns (body ids, (P, K, 2) keypoints, (P, K) confidence); :func:`to_pixels` then checks
the units against the image (normalised coordinates where pixels are expected, or the reverse, are a
:class:`KeypointUnitsError`, never silently lifted to the image corner). Works on either message
backend (rclpy or rosbags): nothing here imports ROS.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from .core.camera import PinholeCamera
from .core.layouts import KeypointLayout, get_layout
from .message_codec import KeypointCountError, keypoints_from_msg
from .stamps import stamp_ns

#: Values of the pose_input parameter.
POSE_INPUTS = ("skeleton2d", "yolo", "hri")
#: Keypoints a yolo_ros pose model sends per person (COCO-17, ids 1..17).
YOLO_KEYPOINTS = 17
#: yolo_ros's Detection.id before its tracking node assigns one.
YOLO_UNTRACKED = ("", "0")
#: Normalised coordinates lie in [0, 1]; a little beyond is a keypoint just off the image.
NORMALISED_RANGE = (-0.5, 1.5)
#: Stamps a BodyGatherer holds at most (a body that stops reporting cannot hold memory).
MAX_PENDING_STAMPS = 8


class KeypointUnitsError(ValueError):
    """Keypoints in normalised coordinates where pixels are expected, or the reverse."""


@dataclass(frozen=True)
class HriBodies:
    """The ROS4HRI Skeleton2D messages of one image stamp, with the body ids of their topics."""

    header: Any
    bodies: tuple[tuple[str, Any], ...]     # (body id, hri_msgs/Skeleton2D)


class BodyGatherer:
    """Skeletons of per-body streams (ROS4HRI's one topic per body) gathered into one HriBodies per stamp.

    A stamp is handed on when :meth:`complete` finds every expected body in it, or when a skeleton
    with a newer stamp shows that the missing ones will not come; stamps go out in order."""

    def __init__(self) -> None:
        self._pending: dict[int, dict[str, Any]] = {}
        self._headers: dict[int, Any] = {}

    def add(self, body: str, msg: Any) -> list[HriBodies]:
        """File `msg` (a Skeleton2D of `body`); returns the older stamps it completes."""
        stamp = stamp_ns(msg.header.stamp)
        out = [self._hand_on(s) for s in sorted(self._pending) if s < stamp]
        self._pending.setdefault(stamp, {})[body] = msg
        self._headers.setdefault(stamp, msg.header)
        while len(self._pending) > MAX_PENDING_STAMPS:
            out.append(self._hand_on(min(self._pending)))
        return out

    def complete(self, expected: set[str]) -> list[HriBodies]:
        """The pending stamps, oldest first, up to the last one that holds every `expected` body."""
        done = [s for s in sorted(self._pending) if expected <= set(self._pending[s])]
        return [self._hand_on(s) for s in sorted(self._pending) if done and s <= done[-1]]

    def flush(self) -> list[HriBodies]:
        return [self._hand_on(s) for s in sorted(self._pending)]

    def _hand_on(self, stamp: int) -> HriBodies:
        bodies = self._pending.pop(stamp)
        return HriBodies(self._headers.pop(stamp), tuple(sorted(bodies.items())))


@dataclass(frozen=True)
class PoseReader:
    """How one pose input's messages become keypoints: its layout, units and reader."""

    name: str
    layout: KeypointLayout
    normalised: bool
    read: Callable[[Any], tuple[list[str], np.ndarray, np.ndarray]]


def pose_reader(pose_input: str, keypoint_layout: str = "itop15") -> PoseReader:
    """The reader of `pose_input` (skeleton2d takes `keypoint_layout`; yolo is COCO-17, hri HRI-18)."""
    if pose_input == "skeleton2d":
        layout = get_layout(keypoint_layout)
        return PoseReader(pose_input, layout, False, lambda msg: keypoints_from_msg(msg, layout))
    if pose_input == "yolo":
        return PoseReader(pose_input, get_layout("coco17"), False, yolo_keypoints)
    if pose_input == "hri":
        return PoseReader(pose_input, get_layout("hri18"), True, hri_keypoints)
    raise ValueError(f"unknown pose_input {pose_input!r}; choose from {', '.join(POSE_INPUTS)}")


def yolo_keypoints(msg: Any) -> tuple[list[str], np.ndarray, np.ndarray]:
    """The people of a yolo_msgs/DetectionArray: detections with keypoints (others are not poses).
    A keypoint id outside 1..17 (not a COCO-17 pose model) is a KeypointCountError, and so are
    detections none of which has a keypoint (a detection-only model)."""
    people = [d for d in msg.detections if len(d.keypoints.data)]
    if msg.detections and not people:
        raise KeypointCountError(f"{len(msg.detections)} yolo detection(s) without keypoints: run a pose model "
                                 "(yolo_ros model:=yolov8m-pose.pt or similar)")
    uv = np.full((len(people), YOLO_KEYPOINTS, 2), np.nan)
    conf = np.zeros((len(people), YOLO_KEYPOINTS))
    for p, det in enumerate(people):
        for kp in det.keypoints.data:
            if not 1 <= kp.id <= YOLO_KEYPOINTS:
                raise KeypointCountError(f"yolo detection {det.id!r} has keypoint id {kp.id}; a COCO-17 pose "
                                         f"model numbers them 1..{YOLO_KEYPOINTS}")
            uv[p, kp.id - 1] = (kp.point.x, kp.point.y)
            conf[p, kp.id - 1] = kp.score
    ids = ["" if d.id in YOLO_UNTRACKED else d.id for d in people]
    return ids, uv, conf


def hri_keypoints(msg: HriBodies) -> tuple[list[str], np.ndarray, np.ndarray]:
    """The bodies of one stamp, normalised coordinates; a keypoint with confidence 0 is missing."""
    size = get_layout("hri18").size
    uv = np.full((len(msg.bodies), size, 2), np.nan)
    conf = np.zeros((len(msg.bodies), size))
    for p, (_, skeleton) in enumerate(msg.bodies):
        if len(skeleton.skeleton) != size:
            raise KeypointCountError(f"hri body {msg.bodies[p][0]!r} has {len(skeleton.skeleton)} keypoints; "
                                     f"hri_msgs/Skeleton2D has {size}")
        points = np.array([(k.x, k.y, k.c) for k in skeleton.skeleton], dtype=np.float64)
        seen = points[:, 2] > 0
        uv[p, seen] = points[seen, :2]
        conf[p] = np.where(seen, points[:, 2], 0.0)
    return [body for body, _ in msg.bodies], uv, conf


def to_pixels(uv: np.ndarray, reader: PoseReader, camera: PinholeCamera) -> np.ndarray:
    """`uv` in pixels of `camera`'s image: normalised input scaled by the image size, pixel input as is.
    Units that contradict the input's raise KeypointUnitsError."""
    finite = uv[np.isfinite(uv).all(-1)]
    in_unit_box = finite.size and NORMALISED_RANGE[0] <= finite.min() and finite.max() <= NORMALISED_RANGE[1]
    if reader.normalised:
        if finite.size and not in_unit_box:
            raise KeypointUnitsError(f"{reader.name} keypoints reach {finite.max():.1f}: pixels where normalised "
                                     "coordinates in [0, 1] are expected")
        return uv * [camera.width, camera.height]
    if len(finite) >= 2 and in_unit_box and min(camera.width, camera.height) > 4 * NORMALISED_RANGE[1]:
        raise KeypointUnitsError(f"all {len(finite)} {reader.name} keypoints lie within "
                                 f"[{NORMALISED_RANGE[0]}, {NORMALISED_RANGE[1]}]: normalised coordinates where "
                                 f"pixels of the {camera.width}x{camera.height} image are expected")
    return uv


__all__ = ["POSE_INPUTS", "BodyGatherer", "HriBodies", "KeypointUnitsError", "PoseReader", "hri_keypoints",
           "pose_reader", "to_pixels", "yolo_keypoints"]
