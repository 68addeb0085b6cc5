"""The built-in seams against the real libraries: upstream message_filters' own test_approxsync.py
and tf2_ros_py's test_buffer.py scenarios run against the real library and the built-in twin (glue
of ours, the upstream files untouched and not copied into the project), and a big-endian 16UC1
image is decoded through the real cv_bridge seam."""
from __future__ import annotations

import os
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest
from sensor_msgs.msg import Image

from refinet_ros.ros.compat import image as image_seam

DOMAIN_ID = 1 + (os.getpid() + 29) % 100
GLUE = Path(__file__).resolve().parents[1] / "data" / "glue"
#: Upstream test file -> the conftest that makes its imports give the built-in twins, for the second run.
UPSTREAM = {
    "src/ros2/message_filters/test/test_approxsync.py": GLUE / "message_filters.py",
    "src/ros2/geometry2/tf2_ros_py/test/test_buffer.py": GLUE / "tf2_ros.py",
}


@pytest.fixture(scope="module")
def upstream_tests(tmp_path_factory) -> Path:
    sources = Path(os.environ.get("REFINET_ROS_SOURCES",
                                  Path(__file__).parents[3] / "shared/ros2-harness/sources.tar.xz"))
    if not sources.is_file():
        pytest.skip(f"upstream tests not available ({sources}: the harness's sources.tar.xz)")
    out = tmp_path_factory.mktemp("upstream")
    with tarfile.open(sources) as tar:
        for member in UPSTREAM:
            (out / Path(member).name).write_bytes(tar.extractfile(tar.getmember(member)).read())
    return out


@pytest.mark.parametrize("upstream", list(UPSTREAM), ids=lambda m: Path(m).stem)
@pytest.mark.parametrize("implementation", ["real", "built-in"])
def test_upstream_scenarios_pass(upstream_tests, ros_env, upstream, implementation, tmp_path):
    name = Path(upstream).name
    run_dir = tmp_path / implementation
    run_dir.mkdir()
    (run_dir / name).write_text((upstream_tests / name).read_text())
    if implementation == "built-in":
        (run_dir / "conftest.py").write_text(UPSTREAM[upstream].read_text())
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(run_dir)],
                          cwd=run_dir, env={**ros_env, "PYTHONPATH": os.pathsep.join(sys.path)},
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert " passed" in done.stdout and "failed" not in done.stdout


def test_big_endian_16uc1_through_the_real_cv_bridge_seam(ros_env):
    assert image_seam.HAVE_CV_BRIDGE
    depth = np.array([[1000, 2000, 0], [65535, 3, 1500]], dtype=">u2")
    msg = Image(height=2, width=3, encoding="16UC1", is_bigendian=1, step=6, data=depth.tobytes())
    np.testing.assert_array_equal(image_seam.image_to_array(msg), depth.astype(np.uint16))
