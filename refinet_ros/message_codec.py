"""Core arrays <-> our ROS messages, once for both message backends.

The bag tools build messages from the rosbags typestore, the node from rclpy's generated classes.
Both must carry the same conventions, so one :class:`MessageCodec` writes them, parameterised by the
backend's classes and by how its array fields take a numpy array; reading needs no classes, so the
readers are plain functions that accept either backend's messages. Conventions: a missing 2D
keypoint is NaN with confidence 0; a missing 3D joint is a NaN point with confidence 0 and valid
false, and reads back as NaN; depth images follow REP-118 (through core.depth) in the host's byte
order. Nothing here imports rclpy or rosbags.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, Callable, Sequence

import numpy as np

from .core.camera import PinholeCamera
from .core.distortion import Distortion
from .core.depth import SUPPORTED_ENCODINGS, decode_depth, encode_depth
from .core.joints import NUM_JOINTS
from .core.layouts import KeypointLayout
from .stamps import stamp_msg, stamp_ns  # refine_node.py still imports stamp_ns from here; its home is stamps

#: Every message type the codec builds, as full ROS names (how both backends look classes up).
TYPE_NAMES = ("builtin_interfaces/msg/Time", "std_msgs/msg/Header", "geometry_msgs/msg/Point",
              "sensor_msgs/msg/Image", "sensor_msgs/msg/CameraInfo", "sensor_msgs/msg/RegionOfInterest",
              "refinet_ros/msg/Skeleton2D", "refinet_ros/msg/Skeleton2DArray", "refinet_ros/msg/Skeleton3D",
              "refinet_ros/msg/Skeleton3DArray")
_PIXEL_DTYPES = {"16UC1": np.dtype(np.uint16), "mono16": np.dtype(np.uint16), "32FC1": np.dtype(np.float32)}


class KeypointCountError(ValueError):
    """A Skeleton2D whose arrays do not have the keypoint layout's length."""


class ImageConversionError(ValueError):
    """The image cannot be turned into an array (unknown encoding, short or inconsistent buffer)."""


def load_types(lookup: Callable[[str], type]) -> SimpleNamespace:
    """A backend's classes of :data:`TYPE_NAMES`, by short name (``types.Header``)."""
    return SimpleNamespace(**{name.rsplit("/", 1)[1]: lookup(name) for name in TYPE_NAMES})


@dataclass(frozen=True)
class MessageCodec:
    """Builds messages from core arrays with one backend's classes.

    `array_field` turns a numpy array (already of the field's dtype) into what the backend's
    primitive array fields accept: rosbags takes numpy arrays, rclpy rejects them for sequences."""

    types: SimpleNamespace
    array_field: Callable[[np.ndarray], Any]

    def header(self, stamp_ns: int, frame_id: str) -> Any:
        return self.types.Header(stamp=stamp_msg(self.types.Time, stamp_ns), frame_id=frame_id)

    def camera_info(self, header: Any, camera: PinholeCamera) -> Any:
        """A distortion-free CameraInfo (what a rectified depth stream carries). Every field is given:
        rosbags classes have no defaults."""
        t, f = self.types, self.array_field
        p = np.hstack([camera.k, np.zeros((3, 1))])
        roi = t.RegionOfInterest(x_offset=0, y_offset=0, height=0, width=0, do_rectify=False)
        return t.CameraInfo(header=header, height=camera.height, width=camera.width, distortion_model="plumb_bob",
                            d=f(np.zeros(5)), k=f(camera.k.ravel()), r=f(np.eye(3).ravel()), p=f(p.ravel()),
                            binning_x=0, binning_y=0, roi=roi)

    def image(self, header: Any, pixels: np.ndarray, encoding: str) -> Any:
        """(H, W) raw depth pixels (millimetres or metres, as `encoding` says) -> Image in host byte order."""
        pixels = np.ascontiguousarray(pixels, dtype=depth_pixel_dtype(encoding))
        h, w = pixels.shape
        return self.types.Image(header=header, height=h, width=w, encoding=encoding,
                                is_bigendian=int(sys.byteorder == "big"), step=w * pixels.itemsize,
                                data=self.array_field(pixels.view(np.uint8).ravel()))

    def depth_image(self, header: Any, depth_m: np.ndarray, encoding: str) -> Any:
        """(H, W) metres with NaN -> a REP-118 Image."""
        return self.image(header, encode_depth(depth_m, encoding), encoding)

    def skeleton2d_array(self, header: Any, body_ids: Sequence[str], uv: np.ndarray, confidence: np.ndarray) -> Any:
        """(P, K, 2) pixels and (P, K) confidence -> Skeleton2DArray; a missing (NaN) keypoint gets
        confidence 0, so no reader can take it for a detection."""
        t, f = self.types, self.array_field
        uv = np.asarray(uv, dtype=np.float32)
        conf = np.where(np.isfinite(uv).all(-1), np.asarray(confidence, dtype=np.float32), np.float32(0))
        return t.Skeleton2DArray(header=header, skeletons=[
            t.Skeleton2D(header=header, body_id=bid, u=f(uv[i, :, 0]), v=f(uv[i, :, 1]), confidence=f(conf[i]))
            for i, bid in enumerate(body_ids)])

    def skeleton3d_array(self, header: Any, body_ids: Sequence[str], joints: np.ndarray,
                         confidence: np.ndarray, stages: str | Sequence[str] = "") -> Any:
        """(P, 15, 3) optical-frame metres (NaN = missing) and (P, 15) confidence -> Skeleton3DArray; a
        joint with any NaN coordinate is missing: all NaN, confidence 0, valid false. `stages`: the
        refinement stages each skeleton got (one label for all, or one per skeleton)."""
        labels = [stages] * len(body_ids) if isinstance(stages, str) else list(stages)
        t, f = self.types, self.array_field
        joints = np.asarray(joints, dtype=np.float64)
        valid = np.isfinite(joints).all(-1)
        joints = np.where(valid[..., None], joints, np.nan)
        conf = np.where(valid, np.clip(confidence, 0.0, 1.0), 0.0).astype(np.float32)
        return t.Skeleton3DArray(header=header, skeletons=[
            t.Skeleton3D(header=header, body_id=bid, confidence=f(conf[i]), valid=f(valid[i]),
                         joints=[t.Point(x=x, y=y, z=z) for x, y, z in joints[i].tolist()], stages=labels[i])
            for i, bid in enumerate(body_ids)])


def camera_from_info(msg: Any) -> PinholeCamera:
    """Intrinsics from K (never hard-coded); an uncalibrated (zero) K raises ValueError."""
    return PinholeCamera.from_k(msg.k, msg.width, msg.height)


def distortion_from_info(msg: Any) -> Distortion:
    """The camera_info's distortion model and D (not checked: see Distortion.checked)."""
    return Distortion(str(msg.distortion_model), tuple(float(v) for v in msg.d))


def depth_pixel_dtype(encoding: str) -> np.dtype:
    """The pixel dtype of a REP-118 depth encoding; any other encoding is an ImageConversionError."""
    if encoding not in _PIXEL_DTYPES:
        raise ImageConversionError(f"unsupported depth encoding {encoding!r}; expected one of {SUPPORTED_ENCODINGS}")
    return _PIXEL_DTYPES[encoding]


def image_pixels(msg: Any) -> np.ndarray:
    """A depth Image's (H, W) uint16 or float32 pixels in host byte order, in the message's own units;
    honours ``step`` (row padding) and ``is_bigendian``."""
    dtype = depth_pixel_dtype(msg.encoding).newbyteorder(">" if msg.is_bigendian else "<")
    row = msg.width * dtype.itemsize
    if msg.step < row or len(msg.data) < msg.step * msg.height:
        raise ImageConversionError(f"{msg.width}x{msg.height} {msg.encoding} image needs step >= {row} and "
                                   f"{msg.step * msg.height} bytes; got step {msg.step}, {len(msg.data)} bytes")
    rows = np.frombuffer(msg.data, np.uint8, msg.step * msg.height).reshape(msg.height, msg.step)
    return np.ascontiguousarray(rows[:, :row]).view(dtype).astype(dtype.newbyteorder("="))


def depth_from_image(msg: Any) -> np.ndarray:
    """A REP-118 depth Image -> (H, W) float32 metres with NaN."""
    return decode_depth(image_pixels(msg), msg.encoding)


def keypoints_from_msg(msg: Any, layout: KeypointLayout) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Body ids, (P, K, 2) pixels and (P, K) confidence of a Skeleton2DArray in `layout`'s own order.

    Mapping to ITOP order is left to the caller, which may do it per batch (cheaper than per message).
    A skeleton with other than ``layout.size`` u/v/confidence values is a KeypointCountError."""
    for sk in msg.skeletons:
        counts = (len(sk.u), len(sk.v), len(sk.confidence))
        if set(counts) != {layout.size}:
            got = "/".join(map(str, counts)) + " u/v/confidence" if len(set(counts)) > 1 else str(counts[0])
            raise KeypointCountError(f"skeleton {sk.body_id!r} at {stamp_ns(msg.header.stamp)} ns has {got} "
                                     f"keypoints per person; layout {layout.name} has {layout.size}")
    uv = np.array([np.stack([sk.u, sk.v], -1) for sk in msg.skeletons], dtype=np.float64)
    conf = np.array([sk.confidence for sk in msg.skeletons], dtype=np.float64)
    return [sk.body_id for sk in msg.skeletons], uv.reshape(-1, layout.size, 2), conf.reshape(-1, layout.size)


def joints_from_msg(msg: Any) -> tuple[list[str], np.ndarray]:
    """Body ids and (P, 15, 3) joints of a Skeleton3DArray, NaN where not valid."""
    joints = np.array([[(p.x, p.y, p.z) for p in sk.joints] for sk in msg.skeletons],
                      dtype=np.float64).reshape(-1, NUM_JOINTS, 3)
    valid = np.array([sk.valid for sk in msg.skeletons], dtype=bool).reshape(-1, NUM_JOINTS)
    joints[~valid] = np.nan
    return [sk.body_id for sk in msg.skeletons], joints
