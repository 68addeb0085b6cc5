"""Core arrays <-> the rosbags message objects of our bags (no rclpy: see ros/conversions.py for that).

Conventions are the messages': a missing 2D keypoint is NaN with confidence 0, a missing 3D joint is
NaN with confidence 0 and valid false; depth follows REP-118 through core.depth.
"""
from __future__ import annotations

import sys
from typing import Any, Sequence

import numpy as np

from ..core.camera import PinholeCamera
from ..core.depth import decode_depth, encode_depth
from ..core.joints import NUM_JOINTS
from .typestore import typestore

_DTYPES = {"16UC1": np.uint16, "mono16": np.uint16, "32FC1": np.float32}
_T = typestore().types
Header = _T["std_msgs/msg/Header"]
Time = _T["builtin_interfaces/msg/Time"]
Point = _T["geometry_msgs/msg/Point"]
Image = _T["sensor_msgs/msg/Image"]
CameraInfo = _T["sensor_msgs/msg/CameraInfo"]
RegionOfInterest = _T["sensor_msgs/msg/RegionOfInterest"]
Skeleton2D = _T["refinet_ros/msg/Skeleton2D"]
Skeleton2DArray = _T["refinet_ros/msg/Skeleton2DArray"]
Skeleton3D = _T["refinet_ros/msg/Skeleton3D"]
Skeleton3DArray = _T["refinet_ros/msg/Skeleton3DArray"]
_NAN_POINT = Point(x=np.nan, y=np.nan, z=np.nan)


def header(stamp_ns: int, frame_id: str) -> Any:
    return Header(stamp=Time(sec=stamp_ns // 1_000_000_000, nanosec=stamp_ns % 1_000_000_000), frame_id=frame_id)


def stamp_ns(hdr: Any) -> int:
    return int(hdr.stamp.sec) * 1_000_000_000 + int(hdr.stamp.nanosec)


def depth_image(hdr: Any, depth_m: np.ndarray, encoding: str) -> Any:
    """(H, W) metres with NaN -> a REP-118 Image in the host's byte order."""
    raw = np.ascontiguousarray(encode_depth(depth_m, encoding))
    h, w = raw.shape
    return Image(header=hdr, height=h, width=w, encoding=encoding, is_bigendian=int(sys.byteorder == "big"),
                 step=w * raw.itemsize, data=raw.view(np.uint8).ravel())


def depth_from_image(msg: Any) -> np.ndarray:
    """An Image -> (H, W) float32 metres with NaN; honours step padding and byte order."""
    if msg.encoding not in _DTYPES:
        raise ValueError(f"depth image encoding {msg.encoding!r} is not one of {', '.join(_DTYPES)}")
    dtype = np.dtype(_DTYPES[msg.encoding]).newbyteorder(">" if msg.is_bigendian else "<")
    row = msg.width * dtype.itemsize
    if msg.step < row or len(msg.data) < msg.step * msg.height:
        raise ValueError(f"depth image {msg.width}x{msg.height} {msg.encoding}: step {msg.step} and "
                         f"{len(msg.data)} data bytes are too small")
    rows = np.asarray(msg.data[:msg.step * msg.height]).reshape(msg.height, msg.step)[:, :row]
    raw = np.ascontiguousarray(rows).view(dtype).astype(dtype.newbyteorder("="))
    return decode_depth(raw, msg.encoding)


def camera_info(hdr: Any, camera: PinholeCamera) -> Any:
    """A distortion-free CameraInfo (what a rectified depth stream carries)."""
    p = np.zeros((3, 4))
    p[:, :3] = camera.k
    return CameraInfo(header=hdr, height=camera.height, width=camera.width, distortion_model="plumb_bob",
                      d=np.zeros(5), k=camera.k.ravel(), r=np.eye(3).ravel(), p=p.ravel(), binning_x=0,
                      binning_y=0, roi=RegionOfInterest(x_offset=0, y_offset=0, height=0, width=0,
                                                        do_rectify=False))


def camera_from_info(msg: Any) -> PinholeCamera:
    return PinholeCamera.from_k(msg.k, msg.width, msg.height)


def skeleton2d_array(hdr: Any, body_ids: Sequence[str], uv: np.ndarray, confidence: np.ndarray) -> Any:
    """(P, K, 2) pixels and (P, K) confidence -> Skeleton2DArray; a missing keypoint gets confidence 0."""
    uv = np.asarray(uv, dtype=np.float32)
    conf = np.where(np.isfinite(uv).all(-1), np.asarray(confidence, dtype=np.float32), np.float32(0))
    return Skeleton2DArray(header=hdr, skeletons=[
        Skeleton2D(header=hdr, body_id=bid, u=uv[i, :, 0].copy(), v=uv[i, :, 1].copy(), confidence=conf[i])
        for i, bid in enumerate(body_ids)])


def keypoints_from_array(msg: Any) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Body ids, (P, K, 2) pixels and (P, K) confidence; every skeleton must have the same K."""
    sizes = {n for sk in msg.skeletons for n in (len(sk.u), len(sk.v), len(sk.confidence))}
    if len(sizes) > 1:
        raise ValueError(f"Skeleton2DArray at {stamp_ns(msg.header)} ns mixes keypoint counts {sorted(sizes)}")
    k = sizes.pop() if sizes else NUM_JOINTS
    uv = np.array([np.stack([sk.u, sk.v], -1) for sk in msg.skeletons], dtype=np.float64).reshape(-1, k, 2)
    conf = np.array([sk.confidence for sk in msg.skeletons], dtype=np.float64).reshape(-1, k)
    return [sk.body_id for sk in msg.skeletons], uv, conf


def skeleton3d_array(hdr: Any, body_ids: Sequence[str], joints: np.ndarray, confidence: np.ndarray) -> Any:
    """(P, 15, 3) optical-frame metres (NaN = missing) and (P, 15) confidence -> Skeleton3DArray."""
    joints = np.asarray(joints, dtype=np.float64)
    valid = np.isfinite(joints).all(-1)
    conf = np.where(valid, np.clip(confidence, 0.0, 1.0), 0.0).astype(np.float32)
    return Skeleton3DArray(header=hdr, skeletons=[
        Skeleton3D(header=hdr, body_id=bid, confidence=conf[i], valid=valid[i].copy(),
                   joints=[Point(x=x, y=y, z=z) if ok else _NAN_POINT
                           for (x, y, z), ok in zip(joints[i].tolist(), valid[i])])
        for i, bid in enumerate(body_ids)])


def joints_from_array(msg: Any) -> tuple[list[str], np.ndarray]:
    """Body ids and (P, 15, 3) joints, NaN where not valid."""
    joints = np.array([[(p.x, p.y, p.z) for p in sk.joints] for sk in msg.skeletons],
                      dtype=np.float64).reshape(-1, NUM_JOINTS, 3)
    valid = np.array([sk.valid for sk in msg.skeletons], dtype=bool).reshape(-1, NUM_JOINTS)
    joints[~valid] = np.nan
    return [sk.body_id for sk in msg.skeletons], joints
