"""Message time as integer nanoseconds: the one conversion to and from builtin_interfaces Time and Duration.

Stamps pair, order and key messages (exact-stamp matching, scoring by stamp), so they stay integers:
float seconds since the epoch resolve only about 0.2 us. The functions take and build the classes
of either message backend (rclpy's or rosbags') and import neither.
"""
from __future__ import annotations

from typing import Any, TypeVar

NS_PER_S = 1_000_000_000
_Msg = TypeVar("_Msg")


def stamp_ns(stamp: Any) -> int:
    """A Time or Duration (``sec``, ``nanosec``) as integer nanoseconds."""
    return int(stamp.sec) * NS_PER_S + int(stamp.nanosec)


def stamp_parts(ns: int) -> tuple[int, int]:
    """Integer nanoseconds -> (sec, nanosec) with 0 <= nanosec < 1e9, as the messages require."""
    sec, nanosec = divmod(int(ns), NS_PER_S)
    return sec, nanosec


def stamp_msg(cls: type[_Msg], ns: int) -> _Msg:
    """A Time or Duration of the backend class `cls` for integer nanoseconds."""
    sec, nanosec = stamp_parts(ns)
    return cls(sec=sec, nanosec=nanosec)


def seconds_ns(seconds: float) -> int:
    """Seconds (a lifetime, a timeout) -> the nearest integer nanoseconds."""
    return round(seconds * NS_PER_S)
