"""Check and convert one synchronised input frame into what :class:`Pipeline.run` takes.

Every way an input can be unusable is a :class:`SkipFrame` with a reason from
:data:`~refinet_ros.ros.diagnostics.SKIP_REASONS`; every way it can be repaired and used is counted
in :attr:`Frame.repairs` under a kind of :data:`~refinet_ros.ros.diagnostics.REPAIRS`. The node counts
both and warns, and never crashes. Missing joints are not a reason to skip: they are NaN and the
pipeline handles them.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
from sensor_msgs.msg import CameraInfo, Image

from ..core.camera import PinholeCamera
from ..core.depth import DepthEncodingError, decode_depth, limit_range
from ..core.layouts import KeypointLayout
from ..core.pose_input import clean_keypoints, most_confident, unique_names
from ..message_codec import KeypointCountError, camera_from_info, keypoints_from_msg
from ..msg import Skeleton2DArray
from .compat.image import ImageConversionError, image_to_array


class SkipFrame(Exception):
    """The frame cannot be refined; `reason` is a key of SKIP_REASONS."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


@dataclass(frozen=True)
class InputLimits:
    """The configured bounds on what a frame may hold."""

    min_range_m: float
    max_range_m: float
    max_bodies: int


@dataclass(frozen=True)
class Frame:
    camera: PinholeCamera
    depth_m: np.ndarray        # (H, W) metres, NaN = no reading or out of range
    body_ids: list[str]        # unique (repeats renamed), as published in Skeleton3D.body_id
    labels: list[str]          # unique frame-name-safe labels (TF, markers, measurements)
    uv: np.ndarray             # (N, 15, 2) ITOP order
    confidence: np.ndarray     # (N, 15) in [0, 1]
    repairs: dict[str, int] = field(default_factory=dict)   # REPAIRS kind -> bodies affected


def body_labels(body_ids: Sequence[str]) -> tuple[list[str], int]:
    """Unique frame-name-safe labels for the bodies of one message, and how many had to be renamed.

    A label is the body's id with every character outside [A-Za-z0-9_] replaced by '_', or its index
    in the array when untracked. Ids that collide once made safe ("a/b" and "a b") or repeat would
    put two people on one TF frame and one marker: later ones get a ``_2``, ``_3``... suffix."""
    return unique_names([re.sub(r"[^A-Za-z0-9_]", "_", b) if b else str(i) for i, b in enumerate(body_ids)])


def prepare_frame(depth: Image, pose: Skeleton2DArray, info: CameraInfo | None, layout: KeypointLayout,
                  limits: InputLimits) -> Frame:
    """Decode and check depth, intrinsics and keypoints; raise SkipFrame on the first problem."""
    camera = _camera(info)
    depth_m = _depth(depth, camera, limits)
    try:
        body_ids, uv, conf = keypoints_from_msg(pose, layout)
    except KeypointCountError as exc:
        raise SkipFrame("keypoint_count", str(exc)) from None
    uv, conf, cleaned = clean_keypoints(uv, conf)
    uv, conf = layout.to_itop(uv, conf)
    repairs = {"confidence": cleaned}
    if len(body_ids) > limits.max_bodies:
        keep = most_confident(conf, limits.max_bodies)
        repairs["max_bodies"] = len(body_ids) - len(keep)
        body_ids, uv, conf = [body_ids[i] for i in keep], uv[keep], conf[keep]
    body_ids, renamed = unique_names(body_ids)
    labels, relabelled = body_labels(body_ids)
    repairs["duplicate_id"] = max(renamed, relabelled)
    if body_ids and not camera.in_image(uv).any():
        raise SkipFrame("bad_keypoints", f"none of {len(body_ids)} skeleton(s) has a keypoint inside the "
                                         f"{camera.width}x{camera.height} image")
    return Frame(camera, depth_m, body_ids, labels, uv, conf, {k: n for k, n in repairs.items() if n})


def _depth(msg: Image, camera: PinholeCamera, limits: InputLimits) -> np.ndarray:
    try:
        depth_m = decode_depth(image_to_array(msg), msg.encoding)
    except (ImageConversionError, DepthEncodingError) as exc:
        raise SkipFrame("encoding", str(exc)) from None
    if depth_m.shape != (camera.height, camera.width):
        raise SkipFrame("size_mismatch", f"depth is {depth_m.shape[1]}x{depth_m.shape[0]}, "
                                         f"camera_info is {camera.width}x{camera.height}")
    limit_range(depth_m, limits.min_range_m, limits.max_range_m)
    if not np.isfinite(depth_m).any():
        raise SkipFrame("invalid_depth", f"all {depth_m.size} pixels are 0/NaN or outside "
                                         f"[{limits.min_range_m:g}, {limits.max_range_m:g}] m ({msg.encoding})")
    return depth_m


def _camera(info: CameraInfo | None) -> PinholeCamera:
    if info is None:
        raise SkipFrame("camera_info", "nothing received on the camera_info topic")
    try:
        return camera_from_info(info)
    except ValueError as exc:
        raise SkipFrame("camera_info", f"unusable camera_info: {exc}") from None
