"""Camera model, frame conventions and REP-118 depth decoding."""
import numpy as np
import pytest

from refinet_ros.core.camera import ITOP_FOCAL, PinholeCamera, itop_to_optical, optical_to_itop
from refinet_ros.core.depth import DepthEncodingError, decode_depth, depth_at, encode_depth, from_itop_depth
from refinet_ros.core.lifting import lift_baseline


def test_itop_camera_matches_dataset_formula():
    cam = PinholeCamera.itop()
    # ITOP: X = (u - 160) * 0.0035 * Z, Y_up = -(v - 120) * 0.0035 * Z
    u, v, z = 250.0, 30.0, 2.9
    p = cam.backproject(np.array([u, v]), np.array(z))
    assert p == pytest.approx([(u - 160) * 0.0035 * z, (v - 120) * 0.0035 * z, z])
    y_up = optical_to_itop(p)[1]
    assert y_up == pytest.approx(-(v - 120) * 0.0035 * z)
    assert cam.fx == pytest.approx(ITOP_FOCAL) and (cam.width, cam.height) == (320, 240)


def test_from_camera_info_k_row_major():
    k = [500.0, 0.0, 319.5, 0.0, 510.0, 239.5, 0.0, 0.0, 1.0]
    cam = PinholeCamera.from_k(k, 640, 480)
    assert (cam.fx, cam.fy, cam.cx, cam.cy) == (500.0, 510.0, 319.5, 239.5)
    np.testing.assert_allclose(cam.k.ravel(), k)


def test_invalid_intrinsics_rejected():
    with pytest.raises(ValueError):
        PinholeCamera.from_k(np.zeros(9), 320, 240)


def test_camera_for_an_image_size_is_the_scaled_itop_camera_or_the_given_intrinsics():
    assert PinholeCamera.for_image((240, 320)) == PinholeCamera.itop()
    assert PinholeCamera.for_image((480, 640)) == PinholeCamera.itop().scaled(2.0)
    assert PinholeCamera.for_image((480, 640), (500.0, 510.0, 319.5, 239.5)) == PinholeCamera(
        500.0, 510.0, 319.5, 239.5, 640, 480)
    with pytest.raises(ValueError, match="not ITOP's 4:3"):
        PinholeCamera.for_image((480, 848))


def test_project_backproject_round_trip():
    rng = np.random.default_rng(0)
    cam = PinholeCamera(525.0, 520.0, 310.0, 245.0, 640, 480)
    pts = rng.uniform([-1, -1, 0.5], [1, 1, 5], size=(100, 15, 3))
    uv = cam.project(pts)
    np.testing.assert_allclose(cam.backproject(uv, pts[..., 2]), pts, atol=1e-9)


def test_points_behind_camera_project_to_nan():
    uv = PinholeCamera.itop().project(np.array([[0.1, 0.2, -1.0], [0.0, 0.0, 0.0]]))
    assert np.isnan(uv).all()


def test_itop_optical_conversion_is_involution():
    p = np.array([[0.3, 1.2, 2.9]])
    np.testing.assert_allclose(itop_to_optical(p), [[0.3, -1.2, 2.9]])
    np.testing.assert_allclose(optical_to_itop(itop_to_optical(p)), p)


def test_scaled_camera_keeps_rays():
    cam = PinholeCamera.itop()
    half = cam.scaled(0.5)
    p = np.array([0.4, -0.3, 2.0])
    np.testing.assert_allclose((half.project(p) + 0.5) * 2 - 0.5, cam.project(p), atol=1e-9)


def test_rep118_16uc1_is_millimetres_with_zero_invalid():
    raw = np.array([[0, 1000], [2900, 65535]], dtype=np.uint16)
    d = decode_depth(raw, "16UC1")
    assert d.dtype == np.float32
    assert np.isnan(d[0, 0])
    np.testing.assert_allclose(d[0, 1:], [1.0])
    np.testing.assert_allclose(d[1], [2.9, 65.535], rtol=1e-6)


def test_rep118_32fc1_is_metres_with_nan_invalid():
    raw = np.array([[np.nan, 1.5], [np.inf, 0.0]], dtype=np.float32)
    d = decode_depth(raw, "32FC1")
    assert np.isnan(d[0, 0]) and np.isnan(d[1, 0]) and np.isnan(d[1, 1])
    assert d[0, 1] == pytest.approx(1.5)


@pytest.mark.parametrize("encoding", ["16UC1", "32FC1"])
def test_encode_decode_round_trip(encoding):
    d = np.array([[np.nan, 1.234], [2.9, 0.5]], dtype=np.float32)
    back = decode_depth(encode_depth(d, encoding), encoding)
    np.testing.assert_allclose(back, d, atol=5e-4)
    assert np.isnan(back[0, 0])


def test_wrong_encoding_or_dtype_is_a_clear_error():
    with pytest.raises(DepthEncodingError, match="unsupported depth encoding 'rgb8'"):
        decode_depth(np.zeros((2, 2), np.uint8), "rgb8")
    with pytest.raises(DepthEncodingError, match="must be uint16"):
        decode_depth(np.zeros((2, 2), np.float32), "16UC1")


def test_itop_depth_zero_is_missing_not_zero_metres():
    d = from_itop_depth(np.array([[0.0, 2.5]], dtype=np.float16))
    assert np.isnan(d[0, 0]) and d[0, 1] == pytest.approx(2.5)


def test_depth_at_median_ignores_invalid_and_stays_invalid():
    depth = np.full((20, 20), np.nan, dtype=np.float32)
    depth[8:13, 8:13] = 2.0
    depth[10, 10] = 9.0  # one outlier in the window
    uv = np.array([[10.0, 10.0], [2.0, 2.0], [np.nan, 5.0], [-50.0, 3.0], [19.4, 19.4]])
    z = depth_at(depth, uv, window=5)
    assert z[0] == pytest.approx(2.0)
    assert np.isnan(z[1:]).all()  # empty window, NaN keypoint, off-image, window of NaNs


def test_depth_at_window_clipped_at_border():
    depth = np.arange(25, dtype=np.float32).reshape(5, 5) + 1
    z = depth_at(depth, np.array([[0.0, 0.0]]), window=3)
    assert z[0] == pytest.approx(np.median([1, 2, 6, 7]))


def test_depth_at_batched_matches_per_frame():
    rng = np.random.default_rng(1)
    depth = rng.uniform(1, 4, size=(3, 24, 32)).astype(np.float32)
    depth[rng.random(depth.shape) < 0.3] = np.nan
    uv = rng.uniform(-2, 33, size=(3, 15, 2))
    batched = depth_at(depth, uv, 5)
    for b in range(3):
        np.testing.assert_array_equal(batched[b], depth_at(depth[b], uv[b], 5))


def test_lift_baseline_back_projects_and_keeps_missing():
    cam = PinholeCamera.itop()
    depth = np.full((1, 240, 320), 3.0, dtype=np.float32)
    depth[0, :, :20] = np.nan
    uv = np.array([[[200.0, 100.0], [5.0, 100.0]]])
    joints = lift_baseline(depth, uv, cam)
    np.testing.assert_allclose(joints[0, 0], [(200 - 160) * 0.0035 * 3, (100 - 120) * 0.0035 * 3, 3.0], rtol=1e-6)
    assert np.isnan(joints[0, 1]).all()
