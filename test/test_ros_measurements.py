"""BodyMeasurements and the stature label: message building, and the publisher over real DDS."""
from __future__ import annotations

import os
import time

import numpy as np
import pytest

rclpy = pytest.importorskip("rclpy")

from builtin_interfaces.msg import Time as TimeMsg  # noqa: E402
from rclpy.qos import QoSProfile, ReliabilityPolicy  # noqa: E402
from std_msgs.msg import Header  # noqa: E402
from visualization_msgs.msg import Marker, MarkerArray  # noqa: E402

from refinet_ros.core.anthropometry import MEASUREMENTS, summarise  # noqa: E402
from refinet_ros.msg import BodyMeasurements  # noqa: E402
from refinet_ros.ros.measurements import (  # noqa: E402
    MeasurementPublisher, measurements_msg, stature_marker, window_estimate,
)

from test_anthropometry import EXPECTED, t_pose  # noqa: E402

DOMAIN_ID = 1 + (os.getpid() + 73) % 100
NAMESPACE = f"refinet_meas_test_{os.getpid()}"


def test_message_carries_values_spread_and_nan():
    values = np.array([[1.7, 0.4, np.nan, 0.25, 0.42, 0.40, 0.6]] * 4)
    values[0, 0] = 1.8
    msg = measurements_msg(Header(frame_id="cam"), "b1", summarise(values))
    assert msg.body_id == "b1" and msg.header.frame_id == "cam" and msg.n_frames == 4
    assert msg.stature == pytest.approx(1.7) and msg.stature_spread == pytest.approx(0.0)
    assert np.isnan(msg.upper_arm) and np.isnan(msg.upper_arm_spread)
    assert msg.torso == pytest.approx(0.6)


def test_stature_marker_sits_above_the_head():
    m = stature_marker(Header(frame_id="cam"), "b1", np.array([0.1, -0.5, 3.0]), 1.784, 0.021, 2.0, learned=True)
    assert m.type == Marker.TEXT_VIEW_FACING and m.text == "height 1.78 m ±2 cm"
    assert m.pose.position.y == pytest.approx(-0.75) and m.lifetime.sec == 2


def _spin_until(context, nodes, done, timeout=10.0):
    executor = rclpy.executors.SingleThreadedExecutor(context=context)
    for n in nodes:
        executor.add_node(n)
    deadline = time.monotonic() + timeout
    while not done() and time.monotonic() < deadline:
        executor.spin_once(timeout_sec=0.05)
    executor.shutdown()


def test_publisher_sends_measurements_and_marker_over_dds():
    """Only the listener is spun: the publisher works on a thread of its own, never on the executor."""
    os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
    context = rclpy.Context()
    rclpy.init(context=context, domain_id=DOMAIN_ID)
    try:
        node = rclpy.create_node("refine_node", namespace=NAMESPACE, context=context)
        listener = rclpy.create_node("listener", namespace=NAMESPACE, context=context)
        qos = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
        got: list[BodyMeasurements] = []
        marks: list[MarkerArray] = []
        listener.create_subscription(BodyMeasurements, "refinet/body_measurements", got.append, qos)
        listener.create_subscription(MarkerArray, "refinet/markers", marks.append, qos)
        pub = MeasurementPublisher(node, rate_hz=20.0, window=5, min_frames=3)
        assert not list(node.timers)
        for i in range(6):
            pub.update("alice", t_pose(), TimeMsg(sec=i), "cam")
        _spin_until(context, [listener], lambda: got and marks)
        assert got, "no BodyMeasurements received"
        msg = got[-1]
        assert msg.body_id == "alice" and msg.n_frames == 5 and msg.header.stamp.sec == 5
        assert {n: getattr(msg, n) for n in MEASUREMENTS} == pytest.approx(EXPECTED, abs=1e-6)
        assert marks and marks[-1].markers[0].text.startswith("chain height 1.62 m")
        pub.update("bob", t_pose(), TimeMsg(sec=20), "cam")   # alice unseen for 15 s: forgotten
        got.clear()
        _spin_until(context, [listener], lambda: len(got) >= 2)
        assert {m.body_id for m in got} == {"bob"}
        pub.close()
        assert not pub._thread.is_alive()
    finally:
        rclpy.shutdown(context=context)


def test_churning_ids_keep_the_table_and_a_publish_bounded():
    """6,000 ids within the forget time: the table is capped (longest unseen dropped first)."""
    context = rclpy.Context()
    rclpy.init(context=context, domain_id=DOMAIN_ID)
    try:
        node = rclpy.create_node("refine_node_churn", namespace=NAMESPACE, context=context)
        pub = MeasurementPublisher(node, rate_hz=0.01, max_bodies=64)
        for i in range(6000):
            pub.update(f"id{i}", t_pose(), TimeMsg(sec=1, nanosec=i), "cam")
        assert pub.tracked == 64
        started = time.perf_counter()
        pub.publish()
        assert time.perf_counter() - started < 2.0
        pub.update("id5990", t_pose(), TimeMsg(sec=2), "cam")    # seen again: kept; the oldest goes
        pub.update("new", t_pose(), TimeMsg(sec=2), "cam")
        assert pub.tracked == 64 and "id5936" not in pub._bodies and "id5990" in pub._bodies
        pub.close()
    finally:
        rclpy.shutdown(context=context)


def test_stature_comes_from_the_model_over_the_window():
    """With a model, stature is the median of its per-frame predictions; other values stay lengths."""
    from sklearn.linear_model import LinearRegression

    from refinet_ros.core.anthropometry_regression import FEATURES, StatureModel, features

    x = features(np.stack([t_pose() * s for s in (0.9, 1.0, 1.1)]))
    lr = LinearRegression().fit(x, 1.1 * x[:, 0])            # "standing height" = 1.1 x chain height
    model = StatureModel("baseline", "side", {"LR": lr}, 3, 3)
    rows = np.repeat(features(t_pose()[None]), 4, axis=0)
    rows[0, len(FEATURES) - 1] = np.nan                       # a frame with a missing feature is skipped
    est = window_estimate(rows, 2, model, "LR")
    assert est.value[0] == pytest.approx(1.1 * EXPECTED["stature"]) and est.count[0] == 3
    assert est.value[1] == pytest.approx(EXPECTED["shoulder_width"]) and est.count[1] == 4

