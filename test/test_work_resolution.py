"""Cameras of other resolutions: high-resolution frames run at the stages' working resolution, and the
same people seen by a 640x480 camera give the joints of the 320x240 one; `bench cameras` runs."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np

from refinet_ros.core.camera import PinholeCamera
from refinet_ros.core.pipeline import Pipeline
from refinet_ros.core.synth.generate import generate_split
from refinet_ros.core.work_resolution import resample_depth, to_working_pixels, working_camera


def test_only_cameras_with_a_longer_focal_length_are_scaled_down():
    itop = PinholeCamera.itop()
    assert working_camera(itop) is itop and working_camera(itop.scaled(0.5)) == itop.scaled(0.5)
    work = working_camera(itop.scaled(2.0))
    assert (work.width, work.height) == (320, 240) and abs(work.fx - itop.fx) < 1e-9
    hd = PinholeCamera(640.0, 640.0, 639.5, 359.5, 1280, 720)
    assert abs(working_camera(hd).fx - itop.fx) < 1e-9 and working_camera(hd).width == 571
    uv = np.array([[0.0, 0.0], [639.0, 359.5]])
    back = to_working_pixels(to_working_pixels(uv, hd, working_camera(hd)), working_camera(hd), hd)
    np.testing.assert_allclose(back, uv, atol=1e-9)
    depth = np.arange(720 * 1280, dtype=np.float32).reshape(720, 1280)
    small = resample_depth(depth[None], hd, working_camera(hd))
    assert small.shape == (1, 321, 571) and set(np.unique(small)) <= set(np.unique(depth))   # nearest neighbour


def test_a_640x480_camera_gives_the_joints_of_the_320x240_one():
    itop = PinholeCamera.itop()
    errors = []
    for camera in (itop, itop.scaled(2.0)):
        s = generate_split("side", "test", 8, seed=6, camera=camera, detector_profile="clean")
        state = Pipeline().run(s.depth_m, s.uv, np.ones(s.uv.shape[:2]), camera)
        assert np.allclose(state.uv, s.uv, equal_nan=True)                    # keypoints back in its own pixels
        errors.append(state.joints)
    diff = np.linalg.norm(errors[0] - errors[1], axis=-1)
    assert np.nanmedian(diff) < 0.015


def test_bench_cameras_writes_its_table(tmp_path):
    out = tmp_path / "cameras.json"
    done = subprocess.run([sys.executable, "-m", "refinet_ros.cli", "bench", "cameras", "--frames", "6",
                           "--data", str(tmp_path / "data"), "--json", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    payload = json.loads(out.read_text())
    assert set(payload["cameras"]) == {"itop_320x240", "realsense_848x480", "vga_640x480", "hd_1280x720"}
    assert all(0 < row["mAP"] <= 1 and row["p50_ms"] > 0 for row in payload["cameras"].values())
    assert "| hd_1280x720 |" in out.with_suffix(".md").read_text()
