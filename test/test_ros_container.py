"""The component container over real DDS: load_node / list_nodes / unload_node as `ros2 component`
and launch_ros call them, with RefineNode loaded by its plugin name, its parameters and remaps;
bad requests are refused with a reason and load nothing."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

rclpy = pytest.importorskip("rclpy")
composition = pytest.importorskip("composition_interfaces.srv")

from diagnostic_msgs.msg import DiagnosticArray  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402
from rclpy.qos import QoSProfile, ReliabilityPolicy  # noqa: E402

DOMAIN_ID = 1 + (os.getpid() + 13) % 100
REPO = Path(__file__).resolve().parents[1]
CONTAINER = f"refinet_container_test_{os.getpid()}"


@pytest.fixture(scope="module")
def container():
    env = {**os.environ, "ROS_DOMAIN_ID": str(DOMAIN_ID), "ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST"}
    proc = subprocess.Popen([sys.executable, "-m", "refinet_ros.ros.component_container", "--ros-args",
                             "-r", f"__node:={CONTAINER}"], cwd=REPO, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    yield proc
    proc.send_signal(2)
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0 and "Traceback" not in out, out


def _call(node, srv_type, name: str, request, timeout: float = 60.0):
    client = node.create_client(srv_type, f"/{CONTAINER}/_container/{name}")
    assert client.wait_for_service(timeout_sec=30.0), f"no {name} service"
    future = client.call_async(request)
    executor = rclpy.executors.SingleThreadedExecutor(context=node.context)
    executor.add_node(node)
    deadline = time.monotonic() + timeout
    while not future.done() and time.monotonic() < deadline:
        executor.spin_once(timeout_sec=0.05)
    executor.remove_node(node)
    assert future.done(), f"{name} did not answer"
    return future.result()


def _load_request(**fields):
    req = composition.LoadNode.Request(package_name="refinet_ros", plugin_name="refinet_ros::RefineNode")
    for key, value in fields.items():
        setattr(req, key, value)
    return req


def test_load_list_and_unload_a_refine_node(context, container):
    node = rclpy.create_node("component_client", context=context)
    try:
        got: list[DiagnosticArray] = []
        node.create_subscription(DiagnosticArray, "/diagnostics", got.append,
                                 QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE))
        params = [Parameter("stages", value="none").to_parameter_msg(),
                  Parameter("diagnostics_period", value=0.2).to_parameter_msg()]
        resp = _call(node, composition.LoadNode, "load_node", _load_request(
            node_name="refine_composed", node_namespace="/robot1", parameters=params,
            remap_rules=["pose2d:=my_detector/skeletons"]))
        assert resp.success, resp.error_message
        assert resp.full_node_name == "/robot1/refine_composed"
        listed = _call(node, composition.ListNodes, "list_nodes", composition.ListNodes.Request())
        assert list(listed.full_node_names) == ["/robot1/refine_composed"]
        assert list(listed.unique_ids) == [resp.unique_id]
        executor = rclpy.executors.SingleThreadedExecutor(context=context)
        executor.add_node(node)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not any(
                s.hardware_id == "/robot1/refine_composed" for m in got for s in m.status):
            executor.spin_once(timeout_sec=0.05)
        executor.remove_node(node)
        assert any(s.hardware_id == "/robot1/refine_composed" for m in got for s in m.status), "not active"
        topics = dict(node.get_topic_names_and_types())
        assert "/robot1/my_detector/skeletons" in topics, sorted(topics)
        unload = composition.UnloadNode.Request(unique_id=resp.unique_id)
        gone = _call(node, composition.UnloadNode, "unload_node", unload)
        assert gone.success
        listed = _call(node, composition.ListNodes, "list_nodes", composition.ListNodes.Request())
        assert list(listed.full_node_names) == []
        again = _call(node, composition.UnloadNode, "unload_node", unload)
        assert not again.success and "no node" in again.error_message
    finally:
        node.destroy_node()


@pytest.mark.parametrize("fields, words", [
    ({"plugin_name": "os:system", "package_name": "os"}, "only classes of the packages"),
    ({"plugin_name": "refinet_ros.core.camera:PinholeCamera"}, "not an rclpy Node class"),
    ({"plugin_name": "refinet_ros.nope:Thing"}, "ModuleNotFoundError"),
    ({"parameters": [Parameter("view", value="front").to_parameter_msg()]}, "parameter view='front'"),
])
def test_bad_load_requests_are_refused_with_a_reason(context, container, fields, words):
    node = rclpy.create_node("component_client_bad", context=context)
    try:
        resp = _call(node, composition.LoadNode, "load_node", _load_request(node_name="bad", **fields))
        assert not resp.success and words in resp.error_message, resp.error_message
        listed = _call(node, composition.ListNodes, "list_nodes", composition.ListNodes.Request())
        assert "/bad" not in list(listed.full_node_names)
    finally:
        node.destroy_node()
