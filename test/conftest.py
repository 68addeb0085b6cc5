"""Shared fixtures. ROS tests talk over real DDS on loopback, one ROS domain per test module."""
import os

import pytest


@pytest.fixture(scope="module")
def context(request):
    """An rclpy context on the module's own ``DOMAIN_ID``, so modules and concurrent runs never cross-talk."""
    import rclpy

    os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
    ctx = rclpy.Context()
    rclpy.init(context=ctx, domain_id=request.module.DOMAIN_ID)
    yield ctx
    rclpy.shutdown(context=ctx)


@pytest.fixture(scope="module")
def two_torch_threads():
    """The target CPU's 2 torch threads for one test module (`pytestmark = usefixtures(...)`): torch's
    setting is process-wide, so it is restored after the module."""
    import torch
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)
