"""Thin conversions between ROS messages and the core's arrays. No algorithm lives here."""
from __future__ import annotations

import re
from typing import Sequence

import numpy as np
from builtin_interfaces.msg import Time as TimeMsg
from geometry_msgs.msg import Point
from sensor_msgs.msg import CameraInfo
from std_msgs.msg import Header

from ..core.camera import PinholeCamera
from ..core.joints import NUM_JOINTS
from ..core.layouts import KeypointLayout
from ..core.pose import PoseState
from ..msg import Skeleton2D, Skeleton2DArray, Skeleton3D, Skeleton3DArray


class KeypointCountError(ValueError):
    """A Skeleton2D whose arrays do not have the configured layout's length."""


def stamp_ns(stamp: TimeMsg) -> int:
    return stamp.sec * 1_000_000_000 + stamp.nanosec


def stamp_from_ns(ns: int) -> TimeMsg:
    return TimeMsg(sec=ns // 1_000_000_000, nanosec=ns % 1_000_000_000)


def camera_from_info(info: CameraInfo) -> PinholeCamera:
    """Intrinsics from K (never hard-coded); an uncalibrated (zero) K raises ValueError."""
    return PinholeCamera.from_k(info.k, info.width, info.height)


def camera_info_from(camera: PinholeCamera, header: Header) -> CameraInfo:
    """A distortion-free CameraInfo for a pinhole camera (what a rectified depth stream carries)."""
    k = camera.k
    p = np.zeros((3, 4))
    p[:, :3] = k
    return CameraInfo(header=header, width=camera.width, height=camera.height, distortion_model="plumb_bob",
                      d=[0.0] * 5, k=k.ravel().tolist(), r=np.eye(3).ravel().tolist(), p=p.ravel().tolist())


def keypoints_from_msg(msg: Skeleton2DArray, layout: KeypointLayout) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Body ids, (N, 15, 2) pixels and (N, 15) confidence in ITOP order, mapped from `layout`."""
    for sk in msg.skeletons:
        if not len(sk.u) == len(sk.v) == len(sk.confidence) == layout.size:
            raise KeypointCountError(f"skeleton {sk.body_id!r} has {len(sk.u)}/{len(sk.v)}/{len(sk.confidence)} "
                                     f"u/v/confidence values; layout {layout.name} has {layout.size}")
    n = len(msg.skeletons)
    uv = np.empty((n, layout.size, 2))
    conf = np.empty((n, layout.size))
    for i, sk in enumerate(msg.skeletons):
        uv[i, :, 0], uv[i, :, 1], conf[i] = sk.u, sk.v, sk.confidence
    uv, conf = layout.to_itop(uv, conf)
    return [sk.body_id for sk in msg.skeletons], uv, conf


def skeleton2d_array(header: Header, body_ids: Sequence[str], uv: np.ndarray,
                     confidence: np.ndarray) -> Skeleton2DArray:
    """(N, K, 2) pixels and (N, K) confidence -> Skeleton2DArray (missing = NaN pixel, confidence 0)."""
    skeletons = [Skeleton2D(header=header, body_id=bid, u=uv[i, :, 0].astype(np.float32).tolist(),
                            v=uv[i, :, 1].astype(np.float32).tolist(),
                            confidence=confidence[i].astype(np.float32).tolist())
                 for i, bid in enumerate(body_ids)]
    return Skeleton2DArray(header=header, skeletons=skeletons)


def skeleton3d_array(header: Header, body_ids: Sequence[str], state: PoseState) -> Skeleton3DArray:
    """Refined joints -> Skeleton3DArray; a missing joint is NaN, confidence 0, valid false."""
    valid = state.valid
    conf = np.where(valid, np.clip(state.confidence, 0.0, 1.0), 0.0)
    skeletons = []
    for i, bid in enumerate(body_ids):
        joints = [Point(x=float(x), y=float(y), z=float(z)) if ok else Point(x=np.nan, y=np.nan, z=np.nan)
                  for (x, y, z), ok in zip(state.joints[i], valid[i])]
        skeletons.append(Skeleton3D(header=header, body_id=bid, joints=joints,
                                    confidence=conf[i].astype(np.float32).tolist(), valid=valid[i].tolist()))
    return Skeleton3DArray(header=header, skeletons=skeletons)


def joints_from_msg(msg: Skeleton3DArray) -> tuple[list[str], np.ndarray]:
    """Body ids and (N, 15, 3) joints (NaN where not valid) of a Skeleton3DArray."""
    joints = np.full((len(msg.skeletons), NUM_JOINTS, 3), np.nan)
    for i, sk in enumerate(msg.skeletons):
        for j, (p, ok) in enumerate(zip(sk.joints, sk.valid)):
            if ok:
                joints[i, j] = (p.x, p.y, p.z)
    return [sk.body_id for sk in msg.skeletons], joints


def body_label(body_id: str, index: int) -> str:
    """A frame-name-safe label for a body: its id, or its index in the array when untracked."""
    return re.sub(r"[^A-Za-z0-9_]", "_", body_id) if body_id else str(index)
