"""refine_node as a lifecycle node, driven over DDS the way `ros2 lifecycle set` and `ros2 param`
drive it: configure / activate / deactivate / cleanup, FAILURE with the reason on a bad config,
parameter descriptions and ranges, and parameters refused while they cannot take effect."""
from __future__ import annotations

import os
import time

import pytest

rclpy = pytest.importorskip("rclpy")

from lifecycle_msgs.msg import State, Transition  # noqa: E402
from lifecycle_msgs.srv import ChangeState, GetState  # noqa: E402
from rcl_interfaces.srv import DescribeParameters, SetParameters  # noqa: E402
from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402

from refinet_ros.config_file import parameter_descriptions  # noqa: E402
from refinet_ros.ros.config import PARAMETER_NAMES  # noqa: E402
from refinet_ros.ros.refine_node import RefineNode  # noqa: E402

DOMAIN_ID = 1 + (os.getpid() + 41) % 100
NAMESPACE = f"refinet_lifecycle_{os.getpid()}"


class Client:
    def __init__(self, context, node: RefineNode) -> None:
        self.node = node
        self.client = rclpy.create_node("lifecycle_client", namespace=NAMESPACE, context=context)
        self.executor = SingleThreadedExecutor(context=context)
        self.executor.add_node(self.client)
        self.executor.add_node(node)
        base = node.get_fully_qualified_name()
        self.services = {name: self.client.create_client(t, f"{base}/{name}") for name, t in
                         (("change_state", ChangeState), ("get_state", GetState),
                          ("describe_parameters", DescribeParameters), ("set_parameters", SetParameters))}

    def call(self, name: str, request):
        client = self.services[name]
        deadline = time.monotonic() + 20
        while not client.service_is_ready() and time.monotonic() < deadline:
            self.executor.spin_once(timeout_sec=0.05)
        future = client.call_async(request)
        while not future.done() and time.monotonic() < deadline:
            self.executor.spin_once(timeout_sec=0.05)
        assert future.done(), f"{name} did not answer"
        return future.result()

    def transition(self, transition_id: int) -> bool:
        return self.call("change_state", ChangeState.Request(transition=Transition(id=transition_id))).success

    def state(self) -> int:
        return self.call("get_state", GetState.Request()).current_state.id

    def close(self) -> None:
        self.executor.shutdown()
        self.client.destroy_node()
        self.node.destroy_node()


@pytest.fixture
def client(context):
    made = []

    def start(**params) -> Client:
        overrides = {"autostart": False, "stages": "none", **params}
        node = RefineNode(namespace=NAMESPACE, context=context,
                          parameter_overrides=[Parameter(k, value=v) for k, v in overrides.items()])
        made.append(Client(context, node))
        return made[-1]

    yield start
    for c in made:
        c.close()


def test_transitions_create_and_drop_what_each_state_holds(client):
    c = client()
    assert c.state() == State.PRIMARY_STATE_UNCONFIGURED and c.node.pipeline is None
    assert c.transition(Transition.TRANSITION_CONFIGURE)
    assert c.state() == State.PRIMARY_STATE_INACTIVE and c.node.pipeline is not None and not c.node._subscriptions_in
    assert c.transition(Transition.TRANSITION_ACTIVATE)
    assert c.state() == State.PRIMARY_STATE_ACTIVE and len(c.node._subscriptions_in) == 3
    assert c.node._worker is not None
    assert c.transition(Transition.TRANSITION_DEACTIVATE)
    assert c.state() == State.PRIMARY_STATE_INACTIVE and not c.node._subscriptions_in and c.node._worker is None
    assert c.transition(Transition.TRANSITION_CLEANUP)
    assert c.state() == State.PRIMARY_STATE_UNCONFIGURED and c.node.pipeline is None
    assert c.transition(Transition.TRANSITION_CONFIGURE) and c.transition(Transition.TRANSITION_ACTIVATE)


def test_a_bad_config_fails_configure_with_the_reason_and_can_be_fixed(client):
    c = client(view="front")
    assert not c.transition(Transition.TRANSITION_CONFIGURE)
    assert c.state() == State.PRIMARY_STATE_UNCONFIGURED and "view='front'" in c.node.config_error
    top = Parameter("view", value="top").to_parameter_msg()
    result = c.call("set_parameters", SetParameters.Request(parameters=[top]))
    assert result.results[0].successful                    # unconfigured: parameters may change
    assert c.transition(Transition.TRANSITION_CONFIGURE) and c.node.config.view == "top"
    side = Parameter("view", value="side").to_parameter_msg()
    result = c.call("set_parameters", SetParameters.Request(parameters=[side]))
    assert not result.results[0].successful and "take effect at configure" in result.results[0].reason


def test_a_wrong_type_override_fails_configure_but_the_node_still_starts(client):
    c = client(sync_slop="fast")
    assert not c.transition(Transition.TRANSITION_CONFIGURE) and "parameter sync_slop" in c.node.config_error


def test_every_parameter_is_described_with_its_range(client):
    c = client()
    docs = parameter_descriptions()
    assert set(PARAMETER_NAMES) <= set(docs) and all(docs[n] for n in PARAMETER_NAMES)
    described = c.call("describe_parameters", DescribeParameters.Request(names=["sync_slop", "depth_window", "view"]))
    slop, window, view = described.descriptors
    assert slop.description.startswith("s: when the inputs do not share stamps") and slop.floating_point_range
    assert window.integer_range[0].step == 2 and window.integer_range[0].from_value == 1
    assert "side | top" in view.description and not view.integer_range
