"""`bag play` over real DDS (rclpy + Fast DDS on loopback): every message arrives, with its recorded
stamp and type and at the recorded pace, and the bag drives the live refine_node to the same skeletons
as `bag refine` computes offline."""
from __future__ import annotations

import os
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Callable

import numpy as np
import pytest

rclpy = pytest.importorskip("rclpy")

from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402
from rclpy.qos import QoSProfile, ReliabilityPolicy  # noqa: E402
from rosgraph_msgs.msg import Clock  # noqa: E402
from sensor_msgs.msg import CameraInfo, Image  # noqa: E402

from refinet_ros.bags import layout as L  # noqa: E402
from refinet_ros.bags.bagio import open_bag, read_messages  # noqa: E402
from refinet_ros.bags.convert import synth_to_bag  # noqa: E402
from refinet_ros.ros.bag_play import play_bag  # noqa: E402
from refinet_ros.bags.refine import refine_bag  # noqa: E402
from refinet_ros.core.pipeline import Pipeline  # noqa: E402
from refinet_ros.message_codec import joints_from_msg  # noqa: E402
from refinet_ros.stamps import stamp_ns  # noqa: E402
from refinet_ros.msg import Skeleton2DArray, Skeleton3DArray  # noqa: E402

DOMAIN_ID = 1 + (os.getpid() + 31) % 100
TIMEOUT_S = 30.0
N_FRAMES = 30
RELIABLE = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE)
TYPES = {L.DEPTH_TOPIC: Image, L.CAMERA_INFO_TOPIC: CameraInfo, L.POSE2D_TOPIC: Skeleton2DArray,
         L.GT_TOPIC: Skeleton3DArray}


@pytest.fixture(scope="module")
def recording(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("bags") / "rec"
    synth_to_bag(out, "side", N_FRAMES, seed=6, progress=False)
    return out


def recorded_stamps(bag: Path) -> dict[str, list[int]]:
    stamps: dict[str, list[int]] = {}
    with open_bag(bag) as reader:
        for conn, _, msg, _ in read_messages(reader, reader.connections, set(TYPES) | {L.REFINED_TOPIC}):
            stamps.setdefault(conn.topic, []).append(stamp_ns(msg.header.stamp))
    return stamps


def spin_while_playing(context, nodes, done: Callable[[], bool], **play_args) -> tuple[Future, float]:
    """Run play_bag in a thread while `nodes` spin here; returns the finished future and its wall time."""
    executor = SingleThreadedExecutor(context=context)
    for node in nodes:
        executor.add_node(node)
    started = time.monotonic()
    with ThreadPoolExecutor(1) as pool:
        future = pool.submit(play_bag, context=context, wait_for_subscribers=TIMEOUT_S, **play_args)
        deadline = time.monotonic() + TIMEOUT_S
        while not (future.done() and done()) and time.monotonic() < deadline:
            executor.spin_once(timeout_sec=0.02)
        elapsed = time.monotonic() - started
        executor.shutdown()
        future.result()
    return future, elapsed


def test_play_delivers_every_message_with_stamps_types_and_pace(context, recording):
    listener = rclpy.create_node("bag_play_listener", context=context)
    got: dict[str, list] = {topic: [] for topic in TYPES}
    for topic, msg_type in TYPES.items():
        listener.create_subscription(msg_type, topic, got[topic].append, RELIABLE)
    clock: list[Clock] = []
    listener.create_subscription(Clock, "/clock", clock.append, RELIABLE)
    want = recorded_stamps(recording)
    total = sum(len(v) for v in want.values())
    try:
        future, elapsed = spin_while_playing(
            context, [listener], lambda: sum(len(v) for v in got.values()) == total and len(clock) == total,
            path=recording, rate=2.0, clock=True)
    finally:
        listener.destroy_node()
    assert future.result() == total
    for topic, msg_type in TYPES.items():
        assert all(isinstance(m, msg_type) for m in got[topic])
        assert [stamp_ns(m.header.stamp) for m in got[topic]] == want[topic], topic
    assert stamp_ns(clock[-1].clock) == want[L.DEPTH_TOPIC][-1]
    assert elapsed >= (N_FRAMES - 1) / 30 / 2.0          # recorded spacing at --rate 2
    ids, joints = joints_from_msg(next(m for m in got[L.GT_TOPIC] if m.skeletons))
    assert len(ids) == 1 and np.isfinite(joints).all()


def test_play_feeds_the_live_refine_node(context, recording, tmp_path):
    from refinet_ros.ros.refine_node import RefineNode
    params = {"stages": "none", "depth_topic": L.DEPTH_TOPIC, "camera_info_topic": L.CAMERA_INFO_TOPIC,
              "pose_topic": L.POSE2D_TOPIC, "output_topic": L.REFINED_TOPIC, "qos_reliability": "reliable",
              "publish_tf": False, "smoothing": False}   # per frame: the node may skip a frame the offline run has
    node = RefineNode(context=context, parameter_overrides=[Parameter(k, value=v) for k, v in params.items()])
    listener = rclpy.create_node("bag_play_node_listener", context=context)
    live: dict[int, Skeleton3DArray] = {}
    listener.create_subscription(Skeleton3DArray, L.REFINED_TOPIC,
                                 lambda m: live.setdefault(stamp_ns(m.header.stamp), m), RELIABLE)
    try:
        spin_while_playing(context, [node, listener], lambda: len(live) >= N_FRAMES // 2, path=recording,
                           topics=list(L.REFINE_INPUTS))
    finally:
        node.destroy_node()
        listener.destroy_node()
    refine_bag(recording, tmp_path / "offline", Pipeline(), progress=False)
    offline = {}
    with open_bag(tmp_path / "offline") as reader:
        for _, _, msg, _ in read_messages(reader, [c for c in reader.connections if c.topic == L.REFINED_TOPIC],
                                     {L.REFINED_TOPIC}):
            offline[stamp_ns(msg.header.stamp)] = joints_from_msg(msg)[1]
    assert len(live) >= N_FRAMES // 2          # the node may skip a frame while busy, never invent one
    assert set(live) <= set(offline)
    for stamp, msg in live.items():
        np.testing.assert_allclose(joints_from_msg(msg)[1], offline[stamp], rtol=0, atol=1e-6)


def test_the_count_is_right_when_ctrl_c_stops_play(context, recording, monkeypatch):
    """Ctrl-C during the second pass of --loop: the report counts every message published so far
    (the interrupted pass's count used to be lost: 'published 0 messages' for a single pass)."""
    import refinet_ros.ros.bag_play as play
    total = sum(len(v) for v in recorded_stamps(recording).values())
    read = play.read_messages
    served = 0

    def interrupted(*args, **kwargs):
        nonlocal served
        for item in read(*args, **kwargs):
            if served == total + 5:
                raise KeyboardInterrupt
            served += 1
            yield item

    monkeypatch.setattr(play, "read_messages", interrupted)
    assert play_bag(recording, rate=1000.0, loop=True, context=context) == total + 5
