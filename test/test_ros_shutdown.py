"""refine_node as its own process: SIGINT while it is refining ends it cleanly, with no traceback
and no publish on a dead context; a second SIGINT during the cleanup (what Ctrl-C under ros2 launch
delivers: the terminal's and launch's own) changes nothing."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

rclpy = pytest.importorskip("rclpy")

from rclpy.qos import QoSProfile, ReliabilityPolicy  # noqa: E402
from sensor_msgs.msg import CameraInfo, Image  # noqa: E402

from refinet_ros.core.depth import encode_depth  # noqa: E402
from refinet_ros.core.synth.generate import generate_split  # noqa: E402
from refinet_ros.msg import Skeleton2DArray, Skeleton3DArray  # noqa: E402
from refinet_ros.ros.compat.image import array_to_image  # noqa: E402
from refinet_ros.ros.rclpy_codec import CODEC  # noqa: E402

DOMAIN_ID = 1 + (os.getpid() + 91) % 100
NAMESPACE = f"refinet_shutdown_{os.getpid()}"
REPO = Path(__file__).resolve().parents[1]
RELIABLE = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)


def _start_node() -> subprocess.Popen:
    env = {**os.environ, "ROS_DOMAIN_ID": str(DOMAIN_ID), "ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST",
           "PYTHONUNBUFFERED": "1", "PYTHONFAULTHANDLER": "1"}
    cmd = [sys.executable, "-m", "refinet_ros.ros.refine_node", "--ros-args", "-r", f"__ns:=/{NAMESPACE}",
           "-p", "stages:=A,B,C", "-p", "publish_measurements:=true", "-p", "measurement_rate:=20.0"]
    return subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


@pytest.mark.parametrize("signals", [1, 2])
def test_sigint_while_refining_ends_cleanly(context, signals):
    seq = generate_split("side", "test", 2, seed=3, stride=1)
    proc = _start_node()
    node = rclpy.create_node("shutdown_driver", namespace=NAMESPACE, context=context)
    try:
        pubs = [node.create_publisher(t, n, RELIABLE) for t, n in
                ((CameraInfo, "camera/depth/camera_info"), (Image, "camera/depth/image_raw"),
                 (Skeleton2DArray, "pose2d"))]
        got = []
        node.create_subscription(Skeleton3DArray, "refinet/skeletons", got.append, RELIABLE)
        executor = rclpy.executors.SingleThreadedExecutor(context=context)
        executor.add_node(node)
        deadline, stamp, sent_after_signal = time.monotonic() + 60, 1, 0
        while time.monotonic() < deadline and proc.poll() is None:
            header = CODEC.header(stamp * 33_000_000, "cam")
            msgs = (CODEC.camera_info(header, seq.camera),
                    array_to_image(encode_depth(seq.depth_m[0], "16UC1"), "16UC1"),
                    CODEC.skeleton2d_array(header, ["a", "b"], seq.keypoints[:2], seq.confidence[:2]))
            for pub, msg in zip(pubs, msgs):
                msg.header = header
                pub.publish(msg)
            stamp += 1
            executor.spin_once(timeout_sec=0.03)
            if len(got) >= 10 and sent_after_signal == 0:
                for _ in range(signals):             # while frames keep arriving and being refined
                    proc.send_signal(signal.SIGINT)
                    time.sleep(0.05)
                sent_after_signal = 1
        executor.shutdown()
        out, _ = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGABRT)
            print(proc.communicate(timeout=10)[0])
        node.destroy_node()
    assert len(got) >= 10, out
    assert proc.returncode == 0, out
    assert "Traceback" not in out and "Failed to publish" not in out and "context is invalid" not in out, out
