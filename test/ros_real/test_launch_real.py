"""`ros2 launch refinet_ros refine.launch.py` on the real libraries: refined skeletons come out,
a tf2_ros listener resolves the body frames, `ros2 param describe` explains a parameter,
`ros2 lifecycle set` deactivates and reactivates the node, and Ctrl-C ends it without a traceback."""
from __future__ import annotations

import os
import time

import numpy as np
import pytest
import rclpy
from rclpy.executors import SingleThreadedExecutor
from rclpy.qos import QoSProfile, ReliabilityPolicy
from rclpy.time import Time
from sensor_msgs.msg import CameraInfo, Image

from conftest import Process, ros2, wait_for
from refinet_ros.core.synth.generate import generate_split
from refinet_ros.msg import Skeleton2DArray, Skeleton3DArray
from refinet_ros.ros.compat.image import array_to_image
from refinet_ros.ros.rclpy_codec import CODEC
from refinet_ros.core.depth import encode_depth

DOMAIN_ID = 1 + (os.getpid() + 17) % 100
RELIABLE = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
FRAME = "test_depth_optical_frame"


class Camera:
    """A depth camera + detector stand-in publishing into `namespace`, and a listener of the outputs."""

    def __init__(self, context, namespace: str) -> None:
        import tf2_ros
        self.node = rclpy.create_node("real_ros_driver", namespace=namespace, context=context)
        self.pubs = [self.node.create_publisher(t, n, RELIABLE) for t, n in
                     ((CameraInfo, "camera/depth/camera_info"), (Image, "camera/depth/image_raw"),
                      (Skeleton2DArray, "pose2d"))]
        self.got: dict[int, Skeleton3DArray] = {}
        self.node.create_subscription(
            Skeleton3DArray, "refinet/skeletons",
            lambda m: self.got.setdefault(m.header.stamp.sec * 10**9 + m.header.stamp.nanosec, m), RELIABLE)
        self.buffer = tf2_ros.Buffer()
        self.listener = tf2_ros.TransformListener(self.buffer, self.node)
        self.executor = SingleThreadedExecutor(context=context)
        self.executor.add_node(self.node)
        self.seq = generate_split("side", "test", 2, seed=3, stride=1)
        self.stamp = 100_000_000_000

    def send(self) -> int:
        self.stamp += 33_000_000
        header = CODEC.header(self.stamp, FRAME)
        msgs = (CODEC.camera_info(header, self.seq.camera),
                array_to_image(encode_depth(self.seq.depth_m[1], "16UC1"), "16UC1"),
                CODEC.skeleton2d_array(header, ["alice"], self.seq.keypoints[1:2], self.seq.confidence[1:2]))
        for pub, msg in zip(self.pubs, msgs):
            msg.header = header
            pub.publish(msg)
        return self.stamp

    def run_until(self, done, timeout: float = 90.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not done():
            self.send()
            self.executor.spin_once(timeout_sec=0.05)
        return done()

    def close(self) -> None:
        self.executor.shutdown()
        self.node.destroy_node()


@pytest.fixture(scope="module")
def context(ros_env):
    ctx = rclpy.Context()
    rclpy.init(context=ctx, domain_id=DOMAIN_ID)
    yield ctx
    rclpy.shutdown(context=ctx)


@pytest.mark.parametrize("composable", ["false", "true"])
def test_launch_refines_publishes_tf_and_answers_the_ros2_cli(context, ros_env, composable):
    ns = f"real{os.getpid()}{composable[0]}"
    launch = Process(["ros2", "launch", "refinet_ros", "refine.launch.py", f"namespace:={ns}",
                      f"composable:={composable}"], ros_env)
    cam = Camera(context, ns)
    try:
        assert cam.run_until(lambda: len(cam.got) >= 3), "no refined skeletons"
        msg = next(iter(cam.got.values()))
        assert msg.header.frame_id == FRAME and msg.skeletons[0].body_id == "alice"
        stamp = max(cam.got)
        assert cam.run_until(lambda: cam.buffer.can_transform(FRAME, "body_alice", Time(nanoseconds=stamp)), 30)
        t = cam.buffer.lookup_transform(FRAME, "head_alice", Time(nanoseconds=stamp))
        head = cam.got[stamp].skeletons[0].joints[0]
        assert np.allclose([t.transform.translation.x, t.transform.translation.y, t.transform.translation.z],
                           [head.x, head.y, head.z], atol=1e-6)
        node = f"/{ns}/refine_node"
        assert "when the inputs do not share stamps" in ros2(ros_env, "param", "describe", node, "sync_slop")
        assert "active" in ros2(ros_env, "lifecycle", "get", node)
        assert "successful" in ros2(ros_env, "lifecycle", "set", node, "deactivate").lower()
        assert ros2(ros_env, "lifecycle", "get", node).startswith("inactive")
        cam.run_until(lambda: False, 1.0)            # outputs already on the wire before deactivating
        before = len(cam.got)
        cam.run_until(lambda: False, 2.0)
        assert len(cam.got) == before, "an inactive node published"
        assert "successful" in ros2(ros_env, "lifecycle", "set", node, "activate").lower()
        assert cam.run_until(lambda: len(cam.got) > before + 2)
        if composable == "true":
            listing = ros2(ros_env, "component", "list")
            assert f"/{ns}/refinet_container" in listing and node in listing
    finally:
        cam.close()
        code, out = launch.stop()
    assert "message_filters: real, tf2_ros: real, cv_bridge: real" in out, out
    assert "Traceback" not in out and "Failed to publish" not in out, out


def test_ros2_component_load_into_the_shipped_container(context, ros_env):
    ns = f"comp{os.getpid()}"
    container = Process(["ros2", "run", "refinet_ros", "component_container", "--ros-args", "-r", f"__ns:=/{ns}"],
                        ros_env)
    try:
        target = f"/{ns}/refinet_container"
        assert wait_for(lambda: target in ros2(ros_env, "node", "list"), 60)
        out = ros2(ros_env, "component", "load", target, "refinet_ros", "refinet_ros::RefineNode",
                   "-n", "loaded_refine", "--node-namespace", f"/{ns}", "-p", "stages:=none", timeout=120)
        assert "Loaded component" in out and f"/{ns}/loaded_refine" in out, out
        assert f"/{ns}/loaded_refine" in ros2(ros_env, "component", "list", target)
        assert "active" in ros2(ros_env, "lifecycle", "get", f"/{ns}/loaded_refine")
        uid = out.split("Loaded component ")[1].split()[0]
        assert "Unloaded component" in ros2(ros_env, "component", "unload", target, uid)
    finally:
        code, out = container.stop()
    assert code == 0 and "Traceback" not in out, out
