"""The message codec for the node: rclpy's generated classes. No algorithm lives here.

Readers (keypoints_from_msg, ...) need no classes: they live in refinet_ros.message_codec.
"""
from __future__ import annotations

import array
import importlib

import numpy as np

from ..message_codec import MessageCodec, load_types


def _rclpy_class(name: str) -> type:
    """The generated class of a full ROS type name ("std_msgs/msg/Header")."""
    package, module, cls = name.split("/")
    return getattr(importlib.import_module(f"{package}.{module}"), cls)


def _rclpy_array_field(values: np.ndarray) -> list | array.array:
    """rclpy's setters reject numpy arrays for unbounded sequences; an array.array of the field's type
    code (numpy's dtype.char is the same letter) skips their per-element checks. bool[] takes a list."""
    return values.tolist() if values.dtype == np.bool_ else array.array(values.dtype.char, values.tobytes())


CODEC = MessageCodec(load_types(_rclpy_class), _rclpy_array_field)
