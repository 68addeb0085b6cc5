"""The built-in tf2_ros twins (ros/compat/builtin_tf.py) pass upstream tf2_ros_py's own test_buffer.py.

The upstream file comes from the harness's pinned sources (../shared/ros2-harness/sources.tar.xz), is
run untouched in a subprocess, and a conftest of ours makes its `from tf2_ros.buffer import Buffer`
give the twin. test/ros_real runs the same file against the real tf2_ros as well."""
from __future__ import annotations

import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

pytest.importorskip("rclpy")

UPSTREAM = "src/ros2/geometry2/tf2_ros_py/test/test_buffer.py"
SOURCES = Path(os.environ.get("REFINET_ROS_SOURCES",
                              Path(__file__).resolve().parents[2] / "shared/ros2-harness/sources.tar.xz"))
GLUE = Path(__file__).resolve().parent / "data" / "glue" / "tf2_ros.py"


def test_upstream_buffer_scenarios_pass_on_the_built_in_buffer(tmp_path):
    if not SOURCES.is_file():
        pytest.skip(f"upstream tf2_ros tests not available ({SOURCES})")
    with tarfile.open(SOURCES) as tar:
        (tmp_path / "test_buffer.py").write_bytes(tar.extractfile(tar.getmember(UPSTREAM)).read())
    (tmp_path / "conftest.py").write_text(GLUE.read_text())
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
                          cwd=tmp_path, env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "6 passed" in done.stdout
