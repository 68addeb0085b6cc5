"""Untrusted 2D pose input (core.pose_input) and the pipeline's own refusal of what stages cannot take."""
import numpy as np
import pytest

from refinet_ros.core.camera import PinholeCamera
from refinet_ros.core.depth import limit_range
from refinet_ros.core.pipeline import Pipeline
from refinet_ros.core.pose_input import clean_keypoints, most_confident, unique_names


def test_confidence_is_cleaned_and_each_repaired_skeleton_counted():
    uv = np.full((3, 4, 2), 50.0)
    conf = np.full((3, 4), 0.5)
    conf[0, 1] = np.nan          # skeleton 0: a NaN confidence
    conf[1, 2], conf[1, 3] = 1e9, -5.0   # skeleton 1: out of range
    uv[2, 0] = (np.nan, np.nan)  # skeleton 2: a declared missing keypoint is not a repair
    uv2, conf2, repaired = clean_keypoints(uv, conf)
    assert repaired == 2
    assert conf2[0, 1] == 0 and conf2[1, 2] == 1 and conf2[1, 3] == 0
    assert conf2[2, 0] == 0 and np.isnan(uv2[2, 0]).all()
    assert np.isfinite(conf2).all() and conf2.min() >= 0 and conf2.max() <= 1
    assert np.isnan(conf[0, 1]), "the input arrays are not modified"


def test_inf_or_half_nan_coordinates_make_a_missing_keypoint():
    uv = np.full((1, 3, 2), 50.0)
    uv[0, 0, 0] = np.inf
    uv[0, 1, 1] = np.nan
    uv2, conf2, repaired = clean_keypoints(uv, np.ones((1, 3)))
    assert repaired == 1 and np.isnan(uv2[0, :2]).all() and (conf2[0, :2] == 0).all() and conf2[0, 2] == 1


def test_no_skeleton_is_no_repair():
    uv, conf, repaired = clean_keypoints(np.empty((0, 15, 2)), np.empty((0, 15)))
    assert uv.shape == (0, 15, 2) and repaired == 0


def test_unique_names_suffix_repeats_and_never_reuse_a_taken_name():
    assert unique_names(["bob", "bob", "bob_2", "", ""]) == (["bob", "bob_3", "bob_2", "", ""], 1)
    assert unique_names(["a", "b"]) == (["a", "b"], 0)


def test_most_confident_keeps_input_order():
    conf = np.array([[0.2] * 3, [0.9] * 3, [0.5] * 3, [0.95] * 3])
    assert most_confident(conf, 2).tolist() == [1, 3]


def test_limit_range_marks_out_of_range_readings_invalid():
    depth = np.array([[0.05, 2.0, 65.535, np.nan, 1e30]], dtype=np.float32)
    out = limit_range(depth, 0.1, 10.0)
    assert np.isnan(out[0, [0, 2, 3, 4]]).all() and out[0, 1] == 2.0


@pytest.mark.parametrize("bad", [np.nan, 1e9, -5.0])
def test_pipeline_refuses_confidence_it_cannot_use(bad):
    camera = PinholeCamera.itop()
    depth = np.full((1, 240, 320), 2.0, dtype=np.float32)
    conf = np.ones((1, 15))
    conf[0, 3] = bad
    with pytest.raises(ValueError, match="confidence"):
        Pipeline().run(depth, np.full((1, 15, 2), 100.0), conf, camera)


def test_pipeline_refuses_infinite_depth():
    depth = np.full((1, 240, 320), 2.0, dtype=np.float32)
    depth[0, 0, 0] = np.inf
    with pytest.raises(ValueError, match="inf"):
        Pipeline().run(depth, np.full((1, 15, 2), 100.0), np.ones((1, 15)), PinholeCamera.itop())
