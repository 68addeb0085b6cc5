"""Body measurements: exact lengths on hand-built skeletons, NaN handling, the temporal
estimator, and a small end-to-end regression smoke test."""
from __future__ import annotations

import numpy as np
import pytest

from refinet_ros.core.anthropometry import (
    MEASUREMENTS, SlidingWindowEstimator, as_dict, measure, rolling_estimate, side_mean, summarise,
)
from refinet_ros.core.anthropometry_regression import (
    FEATURES, JointSet, StatureModel, features, fit, format_table, generate_joints, score,
)
from refinet_ros.core.joints import (
    HEAD, L_ELBOW, L_FOOT, L_HAND, L_HIP, L_KNEE, L_SHOULDER, NECK, NUM_JOINTS, R_ELBOW, R_FOOT,
    R_HAND, R_HIP, R_KNEE, R_SHOULDER, TORSO,
)
from refinet_ros.core.pipeline import Pipeline


def t_pose() -> np.ndarray:
    """Upright skeleton, z up, with round lengths: arms straight out sideways, legs straight down."""
    j = np.zeros((NUM_JOINTS, 3))
    j[HEAD] = (0, 0, 1.70)
    j[NECK] = (0, 0, 1.50)            # head -> neck 0.20
    j[TORSO] = (0, 0, 1.20)           # neck -> torso 0.30
    j[R_HIP], j[L_HIP] = (-0.10, 0, 0.90), (0.10, 0, 0.90)   # torso -> mid-hip 0.30
    j[R_SHOULDER], j[L_SHOULDER] = (-0.20, 0, 1.45), (0.20, 0, 1.45)          # width 0.40
    j[R_ELBOW], j[L_ELBOW] = (-0.50, 0, 1.45), (0.50, 0, 1.45)                # upper arm 0.30
    j[R_HAND], j[L_HAND] = (-0.75, 0, 1.45), (0.75, 0, 1.45)                  # forearm 0.25
    j[R_KNEE], j[L_KNEE] = (-0.10, 0, 0.48), (0.10, 0, 0.48)                  # thigh 0.42
    j[R_FOOT], j[L_FOOT] = (-0.10, 0, 0.08), (0.10, 0, 0.08)                  # shin 0.40
    return j


EXPECTED = {"stature": 0.20 + 0.60 + 0.82, "shoulder_width": 0.40, "upper_arm": 0.30, "forearm": 0.25,
            "thigh": 0.42, "shin": 0.40, "torso": 0.60}


def test_exact_lengths_on_a_hand_built_skeleton():
    assert as_dict(measure(t_pose())) == pytest.approx(EXPECTED, abs=1e-12)


def test_lengths_do_not_depend_on_pose_or_frame():
    """Bending a knee and an elbow, then rotating and moving the body, keeps every length."""
    j = t_pose()
    j[R_FOOT] = j[R_KNEE] + (0, 0.40 * np.sin(0.8), -0.40 * np.cos(0.8))      # bent knee
    j[L_HAND] = j[L_ELBOW] + (0, 0.25, 0)                                       # bent elbow
    c, s = np.cos(0.7), np.sin(0.7)
    rot = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]]) @ np.array([[1, 0, 0], [0, 0, -1], [0, 1, 0]])
    moved = j @ rot.T + (0.3, -0.2, 2.5)
    assert as_dict(measure(moved)) == pytest.approx(EXPECTED, abs=1e-12)


def test_left_and_right_are_averaged():
    j = t_pose()
    j[R_HAND] = (-0.80, 0, 1.45)                                                # right forearm 0.30
    assert as_dict(measure(j))["forearm"] == pytest.approx(0.275)


def test_one_missing_side_uses_the_other_and_both_missing_is_nan():
    j = t_pose()
    j[R_ELBOW] = np.nan
    m = as_dict(measure(j))
    assert m["upper_arm"] == pytest.approx(0.30) and m["forearm"] == pytest.approx(0.25)
    j[L_ELBOW] = np.nan
    m = as_dict(measure(j))
    assert np.isnan(m["upper_arm"]) and np.isnan(m["forearm"])
    assert m["thigh"] == pytest.approx(0.42)       # unrelated measurements are untouched


@pytest.mark.parametrize("missing, nan_names", [
    (HEAD, {"stature"}),
    (TORSO, {"stature", "torso"}),
    (R_HIP, {"stature", "torso"}),                  # the mid-hip needs both hips
    (R_SHOULDER, {"shoulder_width"}),
])
def test_missing_joints_give_nan_never_a_number(missing, nan_names):
    j = t_pose()
    j[missing] = np.nan
    m = as_dict(measure(j))
    assert {k for k, v in m.items() if np.isnan(v)} == nan_names
    assert all(v == pytest.approx(EXPECTED[k]) for k, v in m.items() if k not in nan_names)


def test_stature_survives_one_missing_leg_but_not_two():
    j = t_pose()
    j[R_KNEE] = np.nan
    assert as_dict(measure(j))["stature"] == pytest.approx(EXPECTED["stature"])
    j[L_FOOT] = np.nan
    assert np.isnan(as_dict(measure(j))["stature"])


def test_measure_is_batched_and_all_nan_is_quiet():
    batch = np.stack([t_pose(), np.full((NUM_JOINTS, 3), np.nan)])
    with np.errstate(all="raise"):
        out = measure(batch[None])
    assert out.shape == (1, 2, len(MEASUREMENTS))
    assert np.isnan(out[0, 1]).all() and np.isfinite(out[0, 0]).all()


def test_side_mean():
    right, left = np.array([1.0, np.nan, 2.0, np.nan]), np.array([3.0, 4.0, np.nan, np.nan])
    np.testing.assert_array_equal(side_mean(right, left), [2.0, 4.0, 2.0, np.nan])


# --------------------------------------------------------------------------- temporal estimator
def test_estimator_median_ignores_outliers_and_nan():
    est = SlidingWindowEstimator(window=5, min_frames=3, width=2)
    for v in (1.70, 1.72, np.nan, 2.50, 1.71):
        est.update(np.array([v, 0.4]))
    e = est.estimate()
    assert e.value == pytest.approx([1.715, 0.4])
    assert e.count.tolist() == [4, 5]
    assert e.spread[1] == 0.0 and 0 < e.spread[0] < 0.05


def test_estimator_window_forgets_old_frames():
    est = SlidingWindowEstimator(window=3, min_frames=1, width=1)
    for v in (1.0, 1.0, 1.0, 2.0, 2.0):
        est.update(np.array([v]))
    assert len(est) == 3 and est.estimate().value[0] == 2.0
    assert est.frames()[:, 0].tolist() == [1.0, 2.0, 2.0]
    with pytest.raises(ValueError):
        est.update(np.array([1.0, 2.0]))


def test_estimator_needs_min_frames():
    est = SlidingWindowEstimator(window=10, min_frames=3)
    assert np.isnan(est.estimate().value).all()            # nothing yet
    est.update_joints(t_pose())
    est.update_joints(t_pose())
    assert np.isnan(est.estimate().value).all()
    est.update_joints(t_pose())
    assert as_dict(est.estimate().value) == pytest.approx(EXPECTED)
    with pytest.raises(ValueError):
        SlidingWindowEstimator(window=0)


def test_spread_is_mad_scaled_to_std_for_gaussian_noise():
    x = np.random.default_rng(0).normal(1.75, 0.02, size=(20000, 1))
    assert summarise(x).spread[0] == pytest.approx(0.02, rel=0.03)


def test_rolling_estimate_matches_the_online_estimator():
    series = np.random.default_rng(1).normal(size=(25, 2))
    series[[3, 4, 10], 0] = np.nan
    rolled = rolling_estimate(series, window=6, min_frames=4)
    est = SlidingWindowEstimator(window=6, min_frames=4, width=2)
    for t, row in enumerate(series):
        est.update(row)
        e = est.estimate()
        np.testing.assert_allclose(rolled.value[t], e.value, equal_nan=True)
        np.testing.assert_allclose(rolled.spread[t], e.spread, equal_nan=True)


# --------------------------------------------------------------------------- regression
def test_features_and_score_on_exact_data():
    f = features(t_pose()[None])
    assert f.shape == (1, len(FEATURES))
    assert dict(zip(FEATURES, f[0]))["hip_width"] == pytest.approx(0.20)
    data = JointSet({"gt": np.stack([t_pose()] * 6)}, np.array(["a"] * 3 + ["b"] * 3), np.array([1.8] * 6))
    pred = np.array([1.8, 1.8, 1.8, 1.7, np.nan, 1.9])
    s = score(pred, data, window=2, min_frames=1)
    assert s["person_mae_cm"] == pytest.approx(0.0)       # b's median of 1.7 and 1.9 is exact
    assert s["frames_used"] == pytest.approx(5 / 6)


def test_regression_smoke(tmp_path):
    """Generate a few synthetic clips, fit all four regressors on GT and baseline joints, save, load."""
    train = generate_joints("side", "train", 7, 60, 6, {"baseline": Pipeline()})
    test = generate_joints("side", "test", 8, 24, 6, {"baseline": Pipeline()})
    assert set(train.joints) == {"gt", "baseline"} and len(train) == 60
    model = fit(train, "gt", "side")
    assert set(model.regressors) == {"LR", "AdaBoost", "RF", "kNN"}
    loaded = StatureModel.load(model.save(tmp_path / "m.npz"))
    pred = loaded.predict(test.joints["gt"], "LR")
    assert np.nanmean(np.abs(pred - test.stature)) < 0.05   # GT joints: stature is nearly linear in bones
    results = {"baseline": {name: score(fit(train, "baseline", "side").predict(test.joints["baseline"], name), test)
                            for name in model.regressors}}
    assert "kNN" in format_table(results)
