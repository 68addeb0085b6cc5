"""Tests of the real-ROS route: `make ros-check` runs them in the harness (or a sourced distro),
with refinet_ros built by colcon and sourced. Without launch/ros2cli they are skipped, with the reason."""
from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import subprocess
import time

import pytest

MISSING = [m for m in ("launch", "launch_ros", "ros2cli", "message_filters", "tf2_ros", "cv_bridge")
           if importlib.util.find_spec(m) is None] + ([] if shutil.which("ros2") else ["the ros2 command"])


def pytest_collection_modifyitems(config, items):
    """Without the real libraries every test here is skipped, with what is missing as the reason."""
    if MISSING:
        skip = pytest.mark.skip(reason="real-ROS tests need a ROS 2 install or the harness (`make ros-check`); "
                                       f"missing: {', '.join(MISSING)}")
        for item in items:
            if "ros_real" in str(item.fspath):
                item.add_marker(skip)


@pytest.fixture(scope="module")
def ros_env(request):
    """Environment of the processes a test starts: its own ROS domain, loopback only."""
    domain = str(request.module.DOMAIN_ID)
    os.environ["ROS_DOMAIN_ID"] = domain
    return {**os.environ, "ROS_DOMAIN_ID": domain, "ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST",
            "PYTHONUNBUFFERED": "1"}


class Process:
    """A started command whose output is kept; stop() sends SIGINT (as Ctrl-C does) and waits."""

    def __init__(self, cmd: list[str], env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                     start_new_session=True)

    def stop(self, timeout: float = 30.0) -> tuple[int, str]:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGINT)
        try:
            out, _ = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            out, _ = self.proc.communicate()
        return self.proc.returncode, out


def ros2(env: dict[str, str], *args: str, timeout: float = 60.0, retries: int = 10) -> str:
    """Run a `ros2` CLI command; its output (a failure is an assertion with the output). A node the
    CLI has not discovered yet ("Node not found") is asked again, as a user would."""
    for _ in range(retries):
        done = subprocess.run(["ros2", *args], env=env, capture_output=True, text=True, timeout=timeout)
        if "not found" not in done.stderr.lower() + done.stdout.lower():
            break
        time.sleep(1.0)
    assert done.returncode == 0, f"ros2 {' '.join(args)} -> {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done.stdout


def wait_for(condition, timeout: float = 60.0, every: float = 0.5) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(every)
    return False
