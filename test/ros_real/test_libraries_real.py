"""The built-in seams against the real libraries: upstream message_filters' own test_approxsync.py
scenarios run against both synchronisers (glue of ours, the upstream file untouched and not copied
into the project), and a big-endian 16UC1 image is decoded through the real cv_bridge seam."""
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
UPSTREAM = "src/ros2/message_filters/test/test_approxsync.py"
#: Makes `import message_filters` give the built-in twins, for the second run.
GLUE = ("import sys\nfrom refinet_ros.ros.compat import builtin_sync\n"
        "sys.modules['message_filters'] = builtin_sync\n")


@pytest.fixture(scope="module")
def upstream_test(tmp_path_factory) -> Path:
    sources = Path(os.environ.get("REFINET_ROS_SOURCES",
                                  Path(__file__).parents[3] / "shared/ros2-harness/sources.tar.xz"))
    if not sources.is_file():
        pytest.skip(f"upstream message_filters tests not available ({sources}: the harness's sources.tar.xz)")
    out = tmp_path_factory.mktemp("upstream")
    with tarfile.open(sources) as tar:
        member = tar.getmember(UPSTREAM)
        (out / "test_approxsync.py").write_bytes(tar.extractfile(member).read())
    return out


@pytest.mark.parametrize("implementation", ["message_filters", "built-in"])
def test_upstream_approxsync_scenarios_pass(upstream_test, ros_env, implementation, tmp_path):
    run_dir = tmp_path / implementation
    run_dir.mkdir()
    (run_dir / "test_approxsync.py").write_text((upstream_test / "test_approxsync.py").read_text())
    if implementation == "built-in":
        (run_dir / "conftest.py").write_text(GLUE)
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(run_dir)],
                          cwd=run_dir, env={**ros_env, "PYTHONPATH": os.pathsep.join(sys.path)},
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed" in done.stdout


def test_big_endian_16uc1_through_the_real_cv_bridge_seam(ros_env):
    assert image_seam.HAVE_CV_BRIDGE
    depth = np.array([[1000, 2000, 0], [65535, 3, 1500]], dtype=">u2")
    msg = Image(height=2, width=3, encoding="16UC1", is_bigendian=1, step=6, data=depth.tobytes())
    np.testing.assert_array_equal(image_seam.image_to_array(msg), depth.astype(np.uint16))
