"""``bag play``: publish a bag into a live ROS graph with rclpy, for pip-only installs without ``ros2 bag``.

The bag is read with the rclpy-free tools of refinet_ros.bags; only the publishing needs ROS, so this
module lives on the ROS side.

Messages go out as the recorded CDR bytes (rclpy's raw publish), so nothing is decoded or re-encoded,
at their recorded spacing divided by --rate. Publishers are reliable (compatible with both reliable
and best-effort subscribers, such as the node's sensor-data inputs).
"""
from __future__ import annotations

import importlib
import time
from pathlib import Path
from typing import Any, Iterator, Sequence

import rclpy
from builtin_interfaces.msg import Time
from rclpy.qos import QoSProfile, ReliabilityPolicy
from rosgraph_msgs.msg import Clock

from ..bags.bagio import BagError, open_bag, read_messages
from ..stamps import NS_PER_S, stamp_msg

QUEUE_DEPTH = 100


def _message_class(msgtype: str) -> type:
    pkg, _, name = msgtype.split("/")
    try:
        return getattr(importlib.import_module(f"{pkg}.msg"), name)
    except (ImportError, AttributeError) as exc:
        raise BagError(f"cannot publish {msgtype}: its Python message package is not installed ({exc})") from exc


def _wait_for_subscribers(publishers: Sequence[Any], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and any(p.get_subscription_count() == 0 for p in publishers):
        time.sleep(0.05)


def _play_once(reader: Any, conns: list, publishers: dict, clock: Any, rate: float) -> Iterator[None]:
    """One pass over the bag at the recorded spacing / rate; /clock (if given) leads each message.
    Yields once per message published, so the caller's count is right when Ctrl-C ends a pass."""
    wall0, bag0 = time.monotonic(), None
    for conn, log_ns, _, raw in read_messages(reader, conns, ()):
        bag0 = log_ns if bag0 is None else bag0
        delay = wall0 + (log_ns - bag0) / NS_PER_S / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        if clock is not None:
            clock.publish(Clock(clock=stamp_msg(Time, log_ns)))
        publishers[conn.id].publish(bytes(raw))
        yield


def play_bag(path: Path, rate: float = 1.0, loop: bool = False, clock: bool = False,
             topics: Sequence[str] | None = None, wait_for_subscribers: float = 0.0,
             context: Any = None) -> int:
    """Publish the bag (once, or until interrupted with `loop`); returns the number of messages sent,
    also when Ctrl-C stops it.

    `context` is an initialised rclpy Context to publish in; by default a new one is made and shut down."""
    own = context is None
    if own:
        context = rclpy.Context()
        rclpy.init(context=context)
    node = rclpy.create_node("refinet_bag_player", context=context)
    qos = QoSProfile(depth=QUEUE_DEPTH, reliability=ReliabilityPolicy.RELIABLE)
    sent = 0
    try:
        with open_bag(path) as reader:
            conns = [c for c in reader.connections if not topics or c.topic in topics]
            unknown = set(topics or ()) - {c.topic for c in conns}
            if unknown:
                raise BagError(f"{path}: no topic(s) {', '.join(sorted(unknown))} in the bag")
            pubs = {c.id: node.create_publisher(_message_class(c.msgtype), c.topic, qos) for c in conns}
            clock_pub = node.create_publisher(Clock, "/clock", qos) if clock else None
            _wait_for_subscribers(list(pubs.values()), wait_for_subscribers)
            while True:
                for _ in _play_once(reader, conns, pubs, clock_pub, rate):
                    sent += 1
                if not loop:
                    break
    except KeyboardInterrupt:
        pass
    finally:
        node.destroy_node()
        if own:
            rclpy.shutdown(context=context)
    return sent
