"""The paper's metric definitions on hand-computed cases."""
import numpy as np
import pytest

from refinet_ros.core.metrics import evaluate, format_table, joint_errors


def _gt(n=2):
    return np.zeros((n, 15, 3))


def test_map_and_mde_hand_computed():
    gt = _gt(2)
    pred = gt.copy()
    # frame 0: joint 0 off by 4 cm (hit at 5 and 10), joint 1 off by 8 cm (hit at 10 only), joint 9 off by 30 cm
    pred[0, 0, 0] = 0.04
    pred[0, 1, 1] = 0.08
    pred[0, 9, 2] = 0.30
    r = evaluate(pred, gt)
    assert r["n_frames"] == 2
    assert r["mAP"] == pytest.approx(29 / 30)
    assert r["mAP_5cm"] == pytest.approx(28 / 30)
    assert r["mDE_cm"] == pytest.approx((4 + 8 + 30) / 30)
    assert r["upper_mAP"] == pytest.approx(1.0)
    assert r["lower_mAP"] == pytest.approx(13 / 14)
    assert r["per_joint"]["Hips"]["mAP"] == pytest.approx(3 / 4)
    assert r["per_joint"]["Head"]["mDE_cm"] == pytest.approx(2.0)
    assert r["per_joint_15"]["right_hip"]["mDE_cm"] == pytest.approx(15.0)
    assert set(r["per_joint"]) == {"Head", "Neck", "Shoulders", "Elbows", "Hands", "Torso", "Hips", "Knees", "Feet"}


def test_threshold_is_strict():
    gt = _gt(1)
    pred = gt.copy()
    pred[0, :, 0] = 0.1000001
    assert evaluate(pred, gt)["mAP"] == 0.0


def test_missing_prediction_is_a_miss_not_a_zero():
    gt = _gt(1) + 2.0
    pred = gt.copy()
    pred[0, 3] = np.nan
    r = evaluate(pred, gt)
    assert r["mAP"] == pytest.approx(14 / 15)
    assert r["mDE_cm"] == pytest.approx(0.0)
    assert r["missing_rate"] == pytest.approx(1 / 15)
    assert np.isinf(joint_errors(pred, gt)[0, 3])


def test_only_valid_frames_count():
    gt = _gt(3)
    pred = gt.copy()
    pred[1] += 1.0  # a terrible frame, but not valid
    r = evaluate(pred, gt, valid=np.array([True, False, True]))
    assert r["mAP"] == 1.0 and r["n_frames"] == 2


def test_table_lists_every_row():
    r = evaluate(_gt(1), _gt(1))
    table = format_table(r, "t")
    for row in ("Head", "Shoulders", "Feet", "mAP@10cm", "lower body"):
        assert row in table


def test_match_skeletons_is_one_to_one_and_gated():
    """Two people, the skeletons in the other order plus a ghost 3 m away: both matched to their own
    person, the ghost to nobody; a skeleton with missing joints matches on the joints it has."""
    from refinet_ros.core.skeleton_matching import match_skeletons, skeleton_distances
    rng = np.random.default_rng(0)
    a = rng.normal(0, 0.3, (2, 15, 3)) + [[[0, 0, 3]], [[0.6, 0, 3]]]
    ghost = a[0] + [3.0, 0, 0]
    partial = a[0].copy()
    partial[5:] = np.nan
    b = np.stack([a[1] + 0.02, partial, ghost])
    assert sorted(match_skeletons(a, b, 0.5)) == [(0, 1), (1, 0)]
    assert skeleton_distances(a[:1], np.full((1, 15, 3), np.nan))[0, 0] == np.inf
    assert match_skeletons(a, b[2:], 0.5) == [] and match_skeletons(a[:0], b, 0.5) == []


def test_match_skeletons_does_not_force_pairs_to_match_more():
    """One person (track 0) leaves as a newcomer appears 0.4 m beyond the other (track 1): pairing
    every skeleton within the gate would give the one who stayed track 0 and the newcomer track 1 (the
    bench tracking identity switches); the best pairs keep the stayer on track 1, the newcomer on none."""
    from refinet_ros.core.skeleton_matching import match_skeletons
    body = np.random.default_rng(1).normal(0, 0.2, (15, 3)) + [0, 0, 3]
    tracks = np.stack([body, body + [0.4, 0, 0]])
    frame = np.stack([body + [0.41, 0, 0], body + [0.8, 0, 0]])
    assert match_skeletons(frame, tracks, 0.5) == [(0, 1)]
    assert match_skeletons(frame, tracks, np.array([0.5, 0.3])) == [(0, 1)]
