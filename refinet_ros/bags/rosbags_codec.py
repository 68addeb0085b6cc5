"""The message codec for our bags: rosbags typestore classes, whose array fields take numpy arrays.

Readers (joints_from_msg, ...) need no classes: they live in refinet_ros.message_codec.
"""
from __future__ import annotations

import numpy as np

from ..message_codec import MessageCodec, load_types
from .typestore import typestore

# ascontiguousarray: a column of (P, K, 2) pixels is a strided view, which rosbags would not serialise.
CODEC = MessageCodec(load_types(typestore().types.__getitem__), np.ascontiguousarray)
