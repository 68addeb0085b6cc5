"""The one input path: depth + camera_info + 2D pose messages -> a checked frame, or a reason to skip.

The node (ros/refine_node.py) and `refinet bag refine` (bags/refine.py) both call
:func:`prepare_frame`, so a frame one skips the other skips too, for the same reason. Every way an
input can be unusable is a :class:`SkipFrame` with a reason key (the node's SKIP_REASONS); every way
it can be repaired and used is counted in :attr:`Frame.repairs` (the node's REPAIRS). Missing joints
are not a reason to skip: they are NaN and the pipeline handles them. Works on either message
backend (rclpy or rosbags): nothing here imports ROS; the node passes cv_bridge's conversion in.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

from .core.camera import PinholeCamera
from .core.depth import DepthEncodingError, decode_depth, limit_range
from .core.pose_input import clean_keypoints, most_confident, unique_names
from .core.distortion import Distortion, DistortionError, rectify_depth, undistort_points
from .core.registration import register_depth, transfer_keypoints
from .core.transforms import Rigid
from .core.work_resolution import to_working_pixels, working_camera
from .message_codec import (ImageConversionError, KeypointCountError, camera_from_info, distortion_from_info,
                            image_pixels)
from .pose_messages import KeypointUnitsError, PoseReader
from .pose_messages import to_pixels as keypoint_pixels


#: A depth-image 2D detector: (H, W) metres -> ((P, 15, 2) ITOP keypoints, (P, 15) confidences).
Detect = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]


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


@dataclass(frozen=True)
class PoseCamera:
    """The camera the 2D poses were detected in, when it is not the depth camera (a colour camera)."""

    info: Any | None           # its CameraInfo (None: none received yet)
    from_depth: Rigid          # depth optical frame -> its optical frame, at the image stamp


def prepare_frame(depth: Any, pose: Any, info: Any | None, reader: PoseReader, limits: InputLimits,
                  to_pixels: Callable[[Any], np.ndarray] = image_pixels,
                  pose_camera: PoseCamera | None = None) -> Frame:
    """Decode and check depth (sensor_msgs/Image, raw pixels from `to_pixels`), intrinsics (CameraInfo)
    and keypoints (the pose message `reader` reads: see pose_messages); raise SkipFrame on the first
    problem. With `pose_camera` the keypoints are pixels of that camera: they are moved into the depth
    camera through the depth registered into it (core.registration, at the stages' working resolution:
    core.work_resolution), so the frame stays the depth camera's and the 3D result is in its optical
    frame (`pose_camera.from_depth` takes it into the pose camera's)."""
    camera, distortion = _camera(info)
    depth_m = _depth(depth, camera, distortion, limits, to_pixels)
    kp_camera, kp_distortion = camera, distortion
    if pose_camera is not None:
        if pose_camera.info is None:
            raise SkipFrame("pose_camera_info", "nothing received on the pose camera's camera_info topic")
        kp_camera, kp_distortion = _camera(pose_camera.info, "pose_camera_info")
    try:
        body_ids, uv, conf = reader.read(pose)
        uv = undistort_points(keypoint_pixels(uv, reader, kp_camera), kp_camera, kp_distortion)
    except KeypointCountError as exc:
        raise SkipFrame("keypoint_count", str(exc)) from None
    except KeypointUnitsError as exc:
        raise SkipFrame("keypoint_units", str(exc)) from None
    if pose_camera is not None:
        uv = _into_depth_camera(uv, depth_m, camera, kp_camera, pose_camera.from_depth)
    uv, conf, cleaned = clean_keypoints(uv, conf)
    uv, conf = reader.layout.to_itop(uv, conf)
    return _bodies(camera, depth_m, body_ids, uv, conf, limits, {"confidence": cleaned})


def prepare_detected_frame(depth: Any, info: Any | None, limits: InputLimits, detect: Detect,
                           to_pixels: Callable[[Any], np.ndarray] = image_pixels) -> Frame:
    """Like :func:`prepare_frame`, with the 2D poses detected on the depth image itself by `detect`
    ((H, W) metres -> (P, 15, 2) ITOP keypoints and (P, 15) confidences). The bodies are untracked:
    empty ids, labelled by their index."""
    camera, distortion = _camera(info)
    depth_m = _depth(depth, camera, distortion, limits, to_pixels)
    try:
        uv, conf = detect(depth_m)
    except ValueError as exc:                          # the detector's size rules (at least 16x16)
        raise SkipFrame("detector_size", str(exc)) from None
    uv, conf, cleaned = clean_keypoints(uv, conf)
    return _bodies(camera, depth_m, [""] * len(uv), uv, conf, limits, {"confidence": cleaned})


def _bodies(camera: PinholeCamera, depth_m: np.ndarray, body_ids: list[str], uv: np.ndarray, conf: np.ndarray,
            limits: InputLimits, repairs: dict[str, int]) -> Frame:
    """The checked frame: at most max_bodies (the most confident), unique ids and labels."""
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


def _into_depth_camera(uv: np.ndarray, depth_m: np.ndarray, camera: PinholeCamera, pose_camera: PinholeCamera,
                       pose_from_depth: Rigid) -> np.ndarray:
    """Pose-camera pixels -> depth-camera pixels, through the depth registered into the pose camera at
    its working resolution (no full-resolution colour image is ever built)."""
    work = working_camera(pose_camera)
    registered = register_depth(depth_m, camera, work, pose_from_depth)
    return transfer_keypoints(to_working_pixels(uv, pose_camera, work), registered, work, camera,
                              pose_from_depth.inverse())


def _depth(msg: Any, camera: PinholeCamera, distortion: Distortion, limits: InputLimits,
           to_pixels: Callable[[Any], np.ndarray]) -> np.ndarray:
    """The depth image in metres, rectified (see core.distortion), range-limited; SkipFrame if unusable."""
    try:
        depth_m = decode_depth(to_pixels(msg), msg.encoding)
    except (ImageConversionError, DepthEncodingError) as exc:
        raise SkipFrame("encoding", str(exc)) from None
    if depth_m.shape != (camera.height, camera.width):
        raise SkipFrame("size_mismatch", f"depth is {depth_m.shape[1]}x{depth_m.shape[0]}, "
                                         f"camera_info is {camera.width}x{camera.height}")
    depth_m = rectify_depth(depth_m, camera, distortion)
    limit_range(depth_m, limits.min_range_m, limits.max_range_m)
    if not np.isfinite(depth_m).any():
        raise SkipFrame("invalid_depth", f"all {depth_m.size} pixels are 0/NaN or outside "
                                         f"[{limits.min_range_m:g}, {limits.max_range_m:g}] m ({msg.encoding})")
    return depth_m


def _camera(info: Any | None, reason: str = "camera_info") -> tuple[PinholeCamera, Distortion]:
    if info is None:
        raise SkipFrame(reason, "nothing received on the camera_info topic")
    try:
        camera = camera_from_info(info)
    except ValueError as exc:
        raise SkipFrame(reason, f"unusable camera_info: {exc}") from None
    try:
        return camera, distortion_from_info(info).checked()
    except DistortionError as exc:
        raise SkipFrame("distortion", str(exc)) from None
