"""A two-camera rig: 2D poses from a colour camera of another resolution, with an offset extrinsic and
lens distortion, give the 3D joints of the single (depth) camera within 1 cm (core.registration
through the one input path: the keypoints move into the depth camera, the stages run there)."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from refinet_ros.bags.rosbags_codec import CODEC
from refinet_ros.core.camera import PinholeCamera
from refinet_ros.core.distortion import Distortion, distort_points
from refinet_ros.core.pipeline import Pipeline
from refinet_ros.core.registration import register_depth
from refinet_ros.core.synth.generate import generate_split
from refinet_ros.core.transforms import Rigid
from refinet_ros.frame_input import InputLimits, PoseCamera, SkipFrame, prepare_frame
from refinet_ros.pose_messages import pose_reader

LIMITS = InputLimits(0.1, 10.0, 8)
#: A RealSense-like colour camera: 848x480, its own intrinsics and lens, 15 mm beside the depth camera.
COLOUR = PinholeCamera(610.0, 608.0, 428.5, 241.0, 848, 480)
LENS = Distortion("plumb_bob", (0.11, -0.24, 0.0008, -0.0012, 0.1))
COLOUR_FROM_DEPTH = Rigid((-0.015, 0.002, 0.001), tuple(Rotation.from_euler("yx", [1.5, -0.5], degrees=True).as_quat()))


@pytest.fixture(scope="module")
def seq():
    return generate_split("side", "test", 12, seed=21, stride=1)


def _frame(seq, i: int, uv: np.ndarray, pose_camera: PoseCamera | None):
    hdr = CODEC.header(1, "depth")
    return prepare_frame(CODEC.depth_image(hdr, seq.depth_m[i], "32FC1"),
                         CODEC.skeleton2d_array(hdr, ["p"], uv[None], seq.confidence[i][None]),
                         CODEC.camera_info(hdr, seq.camera), pose_reader("skeleton2d"), LIMITS,
                         pose_camera=pose_camera)


def _colour_info():
    info = CODEC.camera_info(CODEC.header(1, "colour"), COLOUR)
    return replace(info, distortion_model=LENS.model, d=np.array(LENS.coeffs))


def _lift(frame) -> np.ndarray:
    return Pipeline().run(frame.depth_m[None], frame.uv, frame.confidence, frame.camera).joints[0]


def _rig_errors(seq, stages, shift_px: float) -> tuple[np.ndarray, np.ndarray]:
    """Per joint, the 3D distance between `stages` run from the colour camera's keypoints and from the
    depth camera's, both the projections of the true joint centres (two exact detectors, one per camera);
    and, as reference, the depth camera against itself with its keypoints moved by `shift_px`."""
    rng = np.random.default_rng(0)
    run = lambda f: stages.run(f.depth_m[None], f.uv, f.confidence, f.camera).joints[0]   # noqa: E731
    errors, reference = [], []
    for i in range(len(seq)):
        aligned_frame = _frame(seq, i, seq.camera.project(seq.joints[i]), None)
        aligned = run(aligned_frame)
        seen = np.isfinite(aligned).all(-1)
        kp = distort_points(COLOUR.project(COLOUR_FROM_DEPTH.apply(seq.joints[i])), COLOUR, LENS)
        frame = _frame(seq, i, np.where(seen[:, None], kp, np.nan), PoseCamera(_colour_info(), COLOUR_FROM_DEPTH))
        assert frame.camera == seq.camera               # the keypoints moved into the depth camera
        errors.append(np.linalg.norm(run(frame) - aligned, axis=-1)[seen])
        step = rng.normal(size=aligned_frame.uv.shape)
        step *= shift_px / np.linalg.norm(step, axis=-1, keepdims=True)
        reference.append(np.linalg.norm(run(replace(aligned_frame, uv=aligned_frame.uv + step)) - aligned,
                                        axis=-1)[seen])
    return np.concatenate(errors), np.concatenate(reference)


def _summary(name: str, errors: np.ndarray) -> str:
    return (f"{name}: median {1e3 * np.median(errors):.2f} mm, mean {1e3 * np.mean(errors):.1f} mm, "
            f"{np.mean(errors < 0.01):.1%} within 1 cm, "
            f"max {1e2 * errors.max():.1f} cm over {errors.size} joints")


def test_colour_keypoints_give_the_depth_cameras_joints_within_a_centimetre(seq):
    """The baseline from the colour camera against the depth camera's own. The keypoints move into the
    depth camera at the surface depth, not the joint centre's: a parallax of about 0.05 px on this rig,
    so the rig is held to a sub-millimetre median and to the depth camera's own result with its keypoints
    moved by 0.05 px (a joint on a silhouette edge changes depth with one pixel of its window)."""
    errors, reference = _rig_errors(seq, Pipeline(), 0.05)
    assert errors.size > 150 and np.isfinite(errors).all()
    print(_summary("baseline rig", errors), "|", _summary("depth camera, keypoints moved 0.05 px", reference))
    assert np.median(errors) < 0.001 and np.mean(errors) < 0.005
    assert np.mean(errors < 0.01) >= min(0.97, np.mean(reference < 0.01) - 0.02)


def test_a_rig_whose_grids_line_up_reproduces_the_depth_camera_exactly(seq):
    """Registration adds no error of its own: a colour camera whose pixel grid is the depth camera's
    moved by whole pixels (another principal point, same lens position) gives the same joints."""
    colour = replace(seq.camera, cx=seq.camera.cx + 7, cy=seq.camera.cy - 3)
    info = CODEC.camera_info(CODEC.header(1, "colour"), colour)
    for i in range(3):
        aligned = _lift(_frame(seq, i, seq.keypoints[i], None))
        frame = _frame(seq, i, seq.keypoints[i] + [7, -3], PoseCamera(info, Rigid()))
        np.testing.assert_allclose(_lift(frame), aligned, atol=1e-6)


def test_registration_keeps_the_nearest_surface_and_fills_upsampled_pixels():
    depth_camera = PinholeCamera(100.0, 100.0, 20.0, 15.0, 40, 30)
    depth = np.full((30, 40), 3.0, np.float32)
    depth[10:20, 15:25] = 1.5                                          # a box in front of a wall
    depth[0, :] = np.nan
    big = depth_camera.scaled(2.0)
    out = register_depth(depth, depth_camera, big, Rigid())
    assert out.shape == (60, 80)
    assert np.isnan(out[:2]).all() and np.isfinite(out[2:]).all()      # 2x2 colour pixels per depth pixel
    np.testing.assert_allclose(out[20:40, 30:50], 1.5)
    shifted = register_depth(depth, depth_camera, depth_camera, Rigid((0.3, 0.0, 0.0)))
    # moved sideways, the near box shifts more than the wall (parallax) and hides what it lands on
    box = np.argwhere(np.isclose(shifted, 1.5))
    assert box[:, 1].min() == 15 + 20 and np.isclose(shifted[15, 36], 1.5)


def test_a_pose_camera_info_that_never_arrives_is_a_counted_skip(seq):
    with pytest.raises(SkipFrame) as skip:
        _frame(seq, 0, seq.keypoints[0], PoseCamera(None, COLOUR_FROM_DEPTH))
    assert skip.value.reason == "pose_camera_info"


def _depth_image_proc_register(depth: np.ndarray, depth_camera: PinholeCamera, colour: PinholeCamera,
                               colour_from_depth: Rigid, fill_upsampling_holes: bool) -> np.ndarray:
    """depth_image_proc's register node as its register.cpp computes it, one depth pixel at a time (the
    C++ node needs rclcpp, which these machines lack): the pixel's centre (or, filling holes, its
    corners u-0.5, v-0.5 and u+0.5, v+0.5) back-projected at its depth, moved into the colour frame,
    projected and truncated after +0.5; the pixel (or every pixel of the inclusive corner box, at the
    corners' mean z) takes the nearest depth; a box with a corner off the image is dropped."""
    out = np.full((colour.height, colour.width), np.nan)
    rows, cols = np.nonzero(np.isfinite(depth) & (depth > 0))
    for v, u in zip(rows, cols):
        z = float(depth[v, u])
        corners = [(u - 0.5, v - 0.5), (u + 0.5, v + 0.5)] if fill_upsampling_holes else [(u, v)]
        p = colour_from_depth.apply(np.array([[(a - depth_camera.cx) * z / depth_camera.fx,
                                               (b - depth_camera.cy) * z / depth_camera.fy, z] for a, b in corners]))
        px = [(int(colour.fx * x / w + colour.cx + 0.5), int(colour.fy * y / w + colour.cy + 0.5)) for x, y, w in p]
        (u1, v1), (u2, v2) = px[0], px[-1]
        if u1 < 0 or v1 < 0 or u2 >= colour.width or v2 >= colour.height:
            continue
        box = out[v1:v2 + 1, u1:u2 + 1]
        np.fmin(box, p[:, 2].mean(), out=box)
    return out


def test_registration_against_depth_image_procs_register_node(seq):
    """Without fill_upsampling_holes, depth_image_proc writes each depth pixel into one colour pixel:
    where both have depth they agree to a millimetre. With it, each depth pixel fills the inclusive box
    of its rounded corners, one pixel wider than its footprint, so every colour pixel takes the nearest
    of up to 2x2 depth pixels: on a noisy sensor that pulls depth nearer (never farther), where
    core.registration gives each colour pixel the one depth pixel whose footprint holds its centre."""
    depth = seq.depth_m[0].astype(np.float64)
    ours = register_depth(depth, seq.camera, COLOUR, COLOUR_FROM_DEPTH)
    single = _depth_image_proc_register(depth, seq.camera, COLOUR, COLOUR_FROM_DEPTH, False)
    both = np.isfinite(ours) & np.isfinite(single)
    assert both.sum() > 0.98 * np.isfinite(single).sum() > 0.1 * ours.size
    agree = np.mean(np.abs(ours - single)[both] < 1e-3)
    assert agree > 0.999
    filled = _depth_image_proc_register(depth, seq.camera, COLOUR, COLOUR_FROM_DEPTH, True)
    both = np.isfinite(ours) & np.isfinite(filled)
    assert both.sum() > 0.97 * np.isfinite(filled).sum()
    diff = (filled - ours)[both]
    print(f"depth_image_proc: single {np.isfinite(single).mean():.0%} of pixels, {agree:.2%} within 1 mm; "
          f"filled {np.mean(diff < -0.01):.0%} > 1 cm nearer, {np.mean(diff < -0.1):.0%} > 10 cm nearer, "
          f"{np.mean(diff > 0.01):.2%} > 1 cm farther")
    assert np.median(np.abs(diff)) < 1e-3 and np.mean(diff < -0.01) > 0.1 and np.mean(diff > 0.01) < 0.005


def test_through_all_stages_the_rig_stays_within_a_centimetre_of_the_depth_camera(seq):
    """A+B+C from the colour camera against A+B+C from the depth camera: the stages run on the depth
    camera's image either way, so only the keypoints' sub-pixel parallax differs (README, On a robot)."""
    from refinet_ros.core.weights import build_pipeline
    errors, reference = _rig_errors(seq, build_pipeline(("A", "B", "C"), "side"), 0.05)
    print(_summary("A+B+C rig", errors), "|", _summary("depth camera, keypoints moved 0.05 px", reference))
    assert np.isfinite(errors).all() and np.median(errors) < 0.002 and np.mean(errors) < 0.005
    assert np.mean(errors < 0.01) >= min(0.95, np.mean(reference < 0.01) - 0.02) and errors.max() < 0.1
