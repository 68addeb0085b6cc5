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
