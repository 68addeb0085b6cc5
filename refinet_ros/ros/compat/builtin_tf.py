"""Built-in twins of tf2_ros.Buffer and tf2_ros.TransformListener (used where tf2_ros is missing).

Same constructor and method signatures as tf2_ros's Python API for what refinet_ros and upstream's
test_buffer.py use: ``Buffer(cache_time=None, node=None)``, ``set_transform``,
``set_transform_static``, ``can_transform``, ``lookup_transform`` (with a bounded wait),
``lookup_transform_full``, their async forms, and ``TransformListener(buffer, node)``. Lookups are
core.transforms.FrameTree's; this module converts messages and waits.
"""
from __future__ import annotations

import threading
import time
from typing import Any

from builtin_interfaces.msg import Time as TimeMsg
from geometry_msgs.msg import TransformStamped
from rclpy.duration import Duration
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from rclpy.time import Time
from tf2_msgs.msg import TFMessage

from ...core.transforms import FrameTree, Rigid, TransformLookupError

DYNAMIC_QOS = QoSProfile(depth=100, history=HistoryPolicy.KEEP_LAST, reliability=ReliabilityPolicy.RELIABLE,
                         durability=DurabilityPolicy.VOLATILE)
STATIC_QOS = QoSProfile(depth=100, history=HistoryPolicy.KEEP_LAST, reliability=ReliabilityPolicy.RELIABLE,
                        durability=DurabilityPolicy.TRANSIENT_LOCAL)


class TransformException(Exception):
    """tf2's TransformException: no transform for the frames and time asked."""


def _ns(when: Any) -> int:
    if isinstance(when, TimeMsg):
        return when.sec * 1_000_000_000 + when.nanosec
    return int(when.nanoseconds)


def _seconds(timeout: Any) -> float:
    return 0.0 if timeout is None else timeout.nanoseconds / 1e9


def _rigid(msg: TransformStamped) -> Rigid:
    t, q = msg.transform.translation, msg.transform.rotation
    return Rigid((t.x, t.y, t.z), (q.x, q.y, q.z, q.w))


def _message(value: Rigid, target: str, source: str, stamp_ns: int) -> TransformStamped:
    out = TransformStamped()
    out.header.frame_id, out.child_frame_id = target, source
    out.header.stamp = Time(nanoseconds=stamp_ns).to_msg()
    t, q = out.transform.translation, out.transform.rotation
    t.x, t.y, t.z = value.translation
    q.x, q.y, q.z, q.w = value.rotation
    return out


class _Until:
    """An awaitable that yields to the caller until `ready()` holds (what tf2_ros's futures do)."""

    def __init__(self, ready) -> None:
        self.ready = ready

    def __await__(self):
        while not self.ready():
            yield


class Buffer:
    """tf2_ros.Buffer twin (see the module docstring)."""

    def __init__(self, cache_time: Duration | None = None, node: Node | None = None) -> None:
        self._tree = FrameTree(_seconds(cache_time) or 10.0)
        self._changed = threading.Condition()

    def set_transform(self, transform: TransformStamped, authority: str) -> None:
        self._set(transform, static=False)

    def set_transform_static(self, transform: TransformStamped, authority: str) -> None:
        self._set(transform, static=True)

    def _set(self, transform: TransformStamped, static: bool) -> None:
        with self._changed:
            self._tree.set_transform(transform.header.frame_id.lstrip("/"), transform.child_frame_id.lstrip("/"),
                                     _ns(transform.header.stamp), _rigid(transform), static)
            self._changed.notify_all()

    def _wait(self, ready, timeout: Duration | None) -> bool:
        deadline = time.monotonic() + _seconds(timeout)
        with self._changed:
            while not ready():
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._changed.wait(left)
        return True

    def can_transform(self, target_frame: str, source_frame: str, time: Any, timeout: Duration | None = None,
                      return_debug_tuple: bool = False) -> bool:
        ok = self._wait(lambda: self._tree.can_transform(target_frame, source_frame, _ns(time)), timeout)
        return (ok, "") if return_debug_tuple else ok

    def lookup_transform(self, target_frame: str, source_frame: str, time: Any,
                         timeout: Duration | None = None) -> TransformStamped:
        self.can_transform(target_frame, source_frame, time, timeout)
        try:
            value, when = self._tree.lookup(target_frame, source_frame, _ns(time))
        except TransformLookupError as exc:
            raise TransformException(str(exc)) from None
        return _message(value, target_frame, source_frame, when)

    def lookup_transform_full(self, target_frame: str, target_time: Any, source_frame: str, source_time: Any,
                              fixed_frame: str, timeout: Duration | None = None) -> TransformStamped:
        """Source at source_time into fixed_frame, then fixed_frame into target at target_time."""
        to_fixed = self.lookup_transform(fixed_frame, source_frame, source_time, timeout)
        to_target = self.lookup_transform(target_frame, fixed_frame, target_time, timeout)
        value = _rigid(to_target) * _rigid(to_fixed)
        return _message(value, target_frame, source_frame, _ns(to_target.header.stamp))

    async def lookup_transform_async(self, target_frame: str, source_frame: str, time: Any) -> TransformStamped:
        await _Until(lambda: self._tree.can_transform(target_frame, source_frame, _ns(time)))
        return self.lookup_transform(target_frame, source_frame, time)

    async def lookup_transform_full_async(self, target_frame: str, target_time: Any, source_frame: str,
                                          source_time: Any, fixed_frame: str) -> TransformStamped:
        await _Until(lambda: self._tree.can_transform(fixed_frame, source_frame, _ns(source_time))
                     and self._tree.can_transform(target_frame, fixed_frame, _ns(target_time)))
        return self.lookup_transform_full(target_frame, target_time, source_frame, source_time, fixed_frame)


class TransformListener:
    """tf2_ros.TransformListener twin: fills `buffer` from /tf and /tf_static through `node`."""

    def __init__(self, buffer: Buffer, node: Node, *, spin_thread: bool = False, qos: QoSProfile | None = None,
                 static_qos: QoSProfile | None = None) -> None:
        self.buffer, self.node = buffer, node
        self.tf_sub = node.create_subscription(TFMessage, "/tf", self._dynamic, qos or DYNAMIC_QOS)
        self.tf_static_sub = node.create_subscription(TFMessage, "/tf_static", self._static,
                                                      static_qos or STATIC_QOS)

    def _dynamic(self, msg: TFMessage) -> None:
        for t in msg.transforms:
            self.buffer.set_transform(t, "default_authority")

    def _static(self, msg: TFMessage) -> None:
        for t in msg.transforms:
            self.buffer.set_transform_static(t, "default_authority")

    def unregister(self) -> None:
        self.node.destroy_subscription(self.tf_sub)
        self.node.destroy_subscription(self.tf_static_sub)


__all__ = ["Buffer", "TransformException", "TransformListener"]
