"""Lens distortion in the input path: a distorted depth image and keypoints detected on it give the
3D joints of the undistorted (pinhole) camera; a model that cannot be undone is a counted skip."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from refinet_ros.bags.rosbags_codec import CODEC
from refinet_ros.core.distortion import Distortion, DistortionError, distort_points, rectify_depth, undistort_points
from refinet_ros.core.pipeline import Pipeline
from refinet_ros.core.synth.generate import generate_split
from refinet_ros.frame_input import InputLimits, SkipFrame, prepare_frame
from refinet_ros.pose_messages import pose_reader

LIMITS = InputLimits(0.1, 10.0, 8)
#: Lenses of the common RGB-D drivers' camera_info: a RealSense-like plumb_bob, an Azure Kinect-like
#: rational_polynomial, a fisheye.
LENSES = {
    "plumb_bob": Distortion("plumb_bob", (0.12, -0.25, 0.001, -0.0015, 0.09)),
    "rational_polynomial": Distortion("rational_polynomial", (0.5, -2.6, 0.0005, -0.0003, 1.5, 0.4, -2.4, 1.4)),
    "equidistant": Distortion("equidistant", (0.05, -0.02, 0.004, -0.001)),
}


@pytest.fixture(scope="module")
def seq():
    return generate_split("side", "test", 6, seed=11, stride=1)


def _distorted_image(depth: np.ndarray, camera, lens: Distortion) -> np.ndarray:
    """What a camera with this lens sees: each distorted pixel shows the pinhole pixel it undistorts to."""
    v, u = np.mgrid[0:camera.height, 0:camera.width]
    src = undistort_points(np.stack([u, v], -1).astype(np.float64), camera, lens)
    col, row = np.round(src[..., 0]).astype(int), np.round(src[..., 1]).astype(int)
    inside = (col >= 0) & (col < camera.width) & (row >= 0) & (row < camera.height)
    out = np.full(depth.shape, np.nan, np.float32)
    out[inside] = depth[row[inside], col[inside]]
    return out


def _info(camera, lens: Distortion):
    info = CODEC.camera_info(CODEC.header(1, "cam"), camera)
    return replace(info, distortion_model=lens.model, d=np.array(lens.coeffs))


def _lift(seq, i: int, depth: np.ndarray, uv: np.ndarray, lens: Distortion) -> np.ndarray:
    hdr = CODEC.header(1, "cam")
    frame = prepare_frame(CODEC.depth_image(hdr, depth, "32FC1"),
                          CODEC.skeleton2d_array(hdr, ["p"], uv[None], seq.confidence[i][None]),
                          _info(seq.camera, lens), pose_reader("skeleton2d"), LIMITS)
    return Pipeline().run(frame.depth_m[None], frame.uv, frame.confidence, frame.camera).joints[0]


@pytest.mark.parametrize("model", list(LENSES))
def test_a_distorted_camera_gives_the_pinhole_joints_within_a_centimetre(seq, model):
    lens, zero = LENSES[model], Distortion("plumb_bob", (0.0,) * 5)
    errors, ignored = [], []
    for i in range(len(seq)):
        pinhole = _lift(seq, i, seq.depth_m[i], seq.keypoints[i], zero)
        kp = distort_points(seq.keypoints[i], seq.camera, lens)
        image = _distorted_image(seq.depth_m[i], seq.camera, lens)
        errors.append(np.linalg.norm(_lift(seq, i, image, kp, lens) - pinhole, axis=-1))
        ignored.append(np.linalg.norm(_lift(seq, i, image, kp, zero) - pinhole, axis=-1))   # lens not undone
    errors, ignored = np.concatenate(errors), np.concatenate(ignored)
    ok = np.isfinite(errors) & np.isfinite(ignored)
    assert ok.sum() > 60 and np.mean(errors[ok] < 0.01) >= 0.95 and np.median(errors[ok]) < 0.003
    assert np.median(ignored[ok]) > 3 * np.median(errors[ok])          # the test sees the lens


def test_points_round_trip_and_the_depth_map_is_rectified_without_mixing(seq):
    lens, camera = LENSES["plumb_bob"], seq.camera
    uv = np.array([[10.0, 12.0], [160.0, 120.0], [300.0, 220.0], [np.nan, np.nan]])
    back = undistort_points(distort_points(uv, camera, lens), camera, lens)
    np.testing.assert_allclose(back[:3], uv[:3], atol=1e-3)
    assert np.isnan(back[3]).all()
    depth = _distorted_image(seq.depth_m[0], camera, lens)
    rectified = rectify_depth(depth, camera, lens)
    values = set(np.unique(depth[np.isfinite(depth)]).tolist())
    assert set(np.unique(rectified[np.isfinite(rectified)]).tolist()) <= values   # nearest: no invented depth


@pytest.mark.parametrize("lens", [Distortion("fisheye624", (0.1,) * 12), Distortion("plumb_bob", (0.1, 0.0)),
                                  Distortion("equidistant", (np.nan, 0, 0, 0))])
def test_a_lens_that_cannot_be_undone_is_a_counted_skip(seq, lens):
    with pytest.raises(DistortionError):
        lens.checked()
    hdr = CODEC.header(1, "cam")
    with pytest.raises(SkipFrame) as skip:
        prepare_frame(CODEC.depth_image(hdr, seq.depth_m[0], "32FC1"),
                      CODEC.skeleton2d_array(hdr, ["p"], seq.keypoints[0][None], seq.confidence[0][None]),
                      _info(seq.camera, lens), pose_reader("skeleton2d"), LIMITS)
    assert skip.value.reason == "distortion"
    assert Distortion("fisheye624", (0.0,) * 12).checked().is_zero        # no distortion at all: any model name
