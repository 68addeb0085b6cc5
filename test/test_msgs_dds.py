"""The generated refinet_ros messages go over real DDS (rclpy + Fast DDS).

Two nodes in one process publish / subscribe refinet_ros/msg/Skeleton3DArray
(and tf2_msgs/msg/TFMessage) through the rmw layer, discovery restricted to
this machine. Needs the messages built (`make venv`); skipped only where rclpy
itself is not installed.
"""
from __future__ import annotations

import math
import os
import time

import pytest

rclpy = pytest.importorskip("rclpy")

# Fast DDS profile: UDP on the loopback interface only (no builtin transports,
# so no multicast on any other interface), discovery peer 127.0.0.1.
_LOOPBACK_PROFILE = """<?xml version="1.0" encoding="UTF-8" ?>
<dds xmlns="http://www.eprosima.com">
  <profiles>
    <transport_descriptors>
      <transport_descriptor>
        <transport_id>loopback_udp</transport_id>
        <type>UDPv4</type>
        <interfaceWhiteList><address>127.0.0.1</address></interfaceWhiteList>
      </transport_descriptor>
    </transport_descriptors>
    <participant profile_name="refinet_test_loopback" is_default_profile="true">
      <rtps>
        <useBuiltinTransports>false</useBuiltinTransports>
        <userTransports><transport_id>loopback_udp</transport_id></userTransports>
        <builtin>
          <initialPeersList>
            <locator><udpv4><address>127.0.0.1</address></udpv4></locator>
          </initialPeersList>
        </builtin>
      </rtps>
    </participant>
  </profiles>
</dds>
"""


@pytest.fixture
def ros_context(tmp_path, monkeypatch):
    profile = tmp_path / "fastdds_loopback.xml"
    profile.write_text(_LOOPBACK_PROFILE)
    monkeypatch.setenv("FASTDDS_DEFAULT_PROFILES_FILE", str(profile))
    monkeypatch.setenv("RMW_FASTRTPS_USE_QOS_FROM_XML", "0")
    monkeypatch.setenv("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    monkeypatch.setenv("ROS_LOCALHOST_ONLY", "1")
    # A domain of its own per process (1..100, below the ephemeral port range),
    # so parallel runs do not see each other.
    monkeypatch.setenv("ROS_DOMAIN_ID", str(1 + os.getpid() % 100))
    context = rclpy.Context()
    rclpy.init(context=context)
    try:
        yield context
    finally:
        rclpy.shutdown(context=context)


def _exchange(context, msg_type, topic, msg, timeout_s=10.0):
    """Publish ``msg`` from one node until the other node's subscription gets it."""
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.qos import QoSProfile, ReliabilityPolicy

    qos = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
    talker = rclpy.create_node("refinet_test_talker", context=context)
    listener = rclpy.create_node("refinet_test_listener", context=context)
    received = []
    listener.create_subscription(msg_type, topic, received.append, qos)
    pub = talker.create_publisher(msg_type, topic, qos)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(talker)
    executor.add_node(listener)
    try:
        deadline = time.monotonic() + timeout_s
        next_pub = 0.0
        while not received and time.monotonic() < deadline:
            if pub.get_subscription_count() > 0 and time.monotonic() >= next_pub:
                pub.publish(msg)
                next_pub = time.monotonic() + 0.2
            executor.spin_once(timeout_sec=0.05)
    finally:
        executor.shutdown()
        talker.destroy_node()
        listener.destroy_node()
    assert received, f"no message on {topic} within {timeout_s} s"
    return received[0]


def _skeleton(body_id, offset):
    from geometry_msgs.msg import Point
    from refinet_ros.msg import Skeleton3D

    sk = Skeleton3D()
    sk.header.frame_id = "camera_depth_optical_frame"
    sk.header.stamp.sec = 1700000000
    sk.header.stamp.nanosec = 123456789
    sk.body_id = body_id
    sk.joints = [Point(x=offset + 0.01 * j, y=-0.02 * j, z=2.0 + 0.001 * j) for j in range(Skeleton3D.NUM_JOINTS)]
    conf = [0.5 + 0.03 * j for j in range(Skeleton3D.NUM_JOINTS)]
    valid = [True] * Skeleton3D.NUM_JOINTS
    # A missing joint: NaN coordinates, confidence 0, not valid.
    sk.joints[Skeleton3D.LEFT_FOOT] = Point(x=math.nan, y=math.nan, z=math.nan)
    conf[Skeleton3D.LEFT_FOOT] = 0.0
    valid[Skeleton3D.LEFT_FOOT] = False
    sk.confidence = conf
    sk.valid = valid
    return sk


def test_skeleton3d_array_over_dds(ros_context):
    from refinet_ros.msg import Skeleton3D, Skeleton3DArray

    assert Skeleton3D.NUM_JOINTS == 15
    assert (Skeleton3D.HEAD, Skeleton3D.TORSO, Skeleton3D.LEFT_FOOT) == (0, 8, 14)

    sent = Skeleton3DArray()
    sent.header.frame_id = "camera_depth_optical_frame"
    sent.header.stamp.sec = 1700000000
    sent.skeletons = [_skeleton("a1b2c", 0.0), _skeleton("d3e4f", 1.0)]

    got = _exchange(ros_context, Skeleton3DArray, "/refinet_test/skeletons", sent)

    assert got.header.frame_id == sent.header.frame_id
    assert got.header.stamp.sec == sent.header.stamp.sec
    assert [s.body_id for s in got.skeletons] == ["a1b2c", "d3e4f"]
    for g, s in zip(got.skeletons, sent.skeletons):
        assert g.header.stamp.nanosec == s.header.stamp.nanosec
        assert list(g.valid) == list(s.valid)
        assert list(g.confidence) == pytest.approx(list(s.confidence), abs=1e-6)
        for gj, sj in zip(g.joints, s.joints):
            for a in ("x", "y", "z"):
                gv, sv = getattr(gj, a), getattr(sj, a)
                assert (math.isnan(gv) and math.isnan(sv)) or gv == sv


def test_body_measurements_and_2d_over_dds(ros_context):
    from refinet_ros.msg import BodyMeasurements, Skeleton2D, Skeleton2DArray

    m = BodyMeasurements(body_id="a1b2c", stature=1.78, thigh=math.nan, n_frames=42)
    got = _exchange(ros_context, BodyMeasurements, "/refinet_test/body", m)
    assert got.body_id == "a1b2c" and got.n_frames == 42
    assert got.stature == pytest.approx(1.78, abs=1e-6) and math.isnan(got.thigh)

    arr = Skeleton2DArray(skeletons=[Skeleton2D(body_id="x", u=[1.5, math.nan], v=[2.5, math.nan],
                                                confidence=[0.9, 0.0])])
    got2 = _exchange(ros_context, Skeleton2DArray, "/refinet_test/skeletons2d", arr)
    assert list(got2.skeletons[0].u)[0] == 1.5 and math.isnan(got2.skeletons[0].v[1])


def test_tf2_msgs_wire_type(ros_context):
    """tf2_msgs/msg/TFMessage (the real one or third_party's stand-in) works on the wire."""
    from geometry_msgs.msg import TransformStamped
    from tf2_msgs.msg import TFMessage

    t = TransformStamped()
    t.header.frame_id = "world"
    t.child_frame_id = "camera_link"
    t.transform.translation.x = 1.25
    t.transform.rotation.w = 1.0
    got = _exchange(ros_context, TFMessage, "/refinet_test/tf", TFMessage(transforms=[t]))
    assert got.transforms[0].child_frame_id == "camera_link"
    assert got.transforms[0].transform.translation.x == 1.25
