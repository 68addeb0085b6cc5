"""Check and convert one synchronised input frame into what :class:`Pipeline.run` takes.

Every way an input can be unusable is a :class:`SkipFrame` with a reason from
:data:`~refinet_ros.ros.diagnostics.SKIP_REASONS`; the node counts it and warns, and never crashes.
Missing joints are not a reason to skip: they are NaN and the pipeline handles them.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sensor_msgs.msg import CameraInfo, Image

from ..core.camera import PinholeCamera
from ..core.depth import DepthEncodingError, decode_depth
from ..core.layouts import KeypointLayout
from ..message_codec import KeypointCountError, camera_from_info, keypoints_from_msg
from ..msg import Skeleton2DArray
from .compat.image import ImageConversionError, image_to_array


class SkipFrame(Exception):
    """The frame cannot be refined; `reason` is a key of SKIP_REASONS."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


@dataclass(frozen=True)
class Frame:
    camera: PinholeCamera
    depth_m: np.ndarray        # (H, W) metres, NaN = no reading
    body_ids: list[str]
    uv: np.ndarray             # (N, 15, 2) ITOP order
    confidence: np.ndarray     # (N, 15)


def prepare_frame(depth: Image, pose: Skeleton2DArray, info: CameraInfo | None, layout: KeypointLayout) -> Frame:
    """Decode and check depth, intrinsics and keypoints; raise SkipFrame on the first problem."""
    camera = _camera(info)
    try:
        depth_m = decode_depth(image_to_array(depth), depth.encoding)
    except (ImageConversionError, DepthEncodingError) as exc:
        raise SkipFrame("encoding", str(exc)) from None
    if depth_m.shape != (camera.height, camera.width):
        raise SkipFrame("size_mismatch", f"depth is {depth_m.shape[1]}x{depth_m.shape[0]}, "
                                         f"camera_info is {camera.width}x{camera.height}")
    if not np.isfinite(depth_m).any():
        raise SkipFrame("invalid_depth", f"all {depth_m.size} pixels are 0/NaN ({depth.encoding})")
    try:
        body_ids, uv, conf = keypoints_from_msg(pose, layout)
    except KeypointCountError as exc:
        raise SkipFrame("keypoint_count", str(exc)) from None
    uv, conf = layout.to_itop(uv, conf)
    if body_ids and not camera.in_image(uv).any():
        raise SkipFrame("bad_keypoints", f"none of {len(body_ids)} skeleton(s) has a keypoint inside the "
                                         f"{camera.width}x{camera.height} image")
    return Frame(camera, depth_m, body_ids, uv, conf)


def _camera(info: CameraInfo | None) -> PinholeCamera:
    if info is None:
        raise SkipFrame("camera_info", "nothing received on the camera_info topic")
    try:
        return camera_from_info(info)
    except ValueError as exc:
        raise SkipFrame("camera_info", f"unusable camera_info: {exc}") from None
