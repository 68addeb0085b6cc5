"""Detector keypoint layouts -> ITOP joints: direct joints by name, derived joints, missing joints."""
from __future__ import annotations

import numpy as np
import pytest

from refinet_ros.core.joints import JOINT_INDEX, JOINT_NAMES, NUM_JOINTS
from refinet_ros.core.layouts import BODY25, COCO17, LAYOUTS, get_layout


def _points(names, rng):
    """Distinct random pixels and confidences for the keypoints `names`."""
    return {n: (rng.uniform(0, 320, 2), rng.uniform(0.3, 1.0)) for n in names}


def _arrays(layout, pts):
    uv = np.array([pts[k][0] for k in layout.keypoints])
    conf = np.array([pts[k][1] for k in layout.keypoints])
    return uv, conf


def test_itop15_is_a_pass_through():
    rng = np.random.default_rng(0)
    uv = rng.uniform(0, 300, (4, NUM_JOINTS, 2))
    conf = rng.uniform(0, 1, (4, NUM_JOINTS))
    conf[2, 5] = 0.0   # a finite pixel with zero confidence is still a keypoint
    out_uv, out_conf = get_layout("itop15").to_itop(uv, conf)
    np.testing.assert_array_equal(out_uv, uv)
    np.testing.assert_array_equal(out_conf, conf)
    uv[1, 3] = np.nan  # not detected: Skeleton2D's contract says confidence 0, whatever was sent
    out_uv, out_conf = get_layout("itop15").to_itop(uv, conf)
    assert np.isnan(out_uv[1, 3]).all() and out_conf[1, 3] == 0.0


@pytest.mark.parametrize("name,names", [("coco17", COCO17), ("body25", BODY25)])
def test_direct_joints_map_by_name(name, names):
    layout = get_layout(name)
    pts = _points(names, np.random.default_rng(1))
    uv, conf = layout.to_itop(*_arrays(layout, pts))
    for itop, src in [("right_shoulder", "right_shoulder"), ("left_elbow", "left_elbow"),
                      ("right_hand", "right_wrist"), ("left_hand", "left_wrist"), ("left_hip", "left_hip"),
                      ("right_knee", "right_knee"), ("right_foot", "right_ankle"), ("left_foot", "left_ankle")]:
        j = JOINT_INDEX[itop]
        np.testing.assert_allclose(uv[j], pts[src][0])
        assert conf[j] == pytest.approx(pts[src][1])


def test_coco17_derives_neck_torso_and_head():
    layout = get_layout("coco17")
    pts = _points(COCO17, np.random.default_rng(2))
    uv, conf = layout.to_itop(*_arrays(layout, pts))
    p = {k: v[0] for k, v in pts.items()}
    c = {k: v[1] for k, v in pts.items()}
    neck = (p["left_shoulder"] + p["right_shoulder"]) / 2
    mid_hip = (p["left_hip"] + p["right_hip"]) / 2
    np.testing.assert_allclose(uv[JOINT_INDEX["neck"]], neck)
    np.testing.assert_allclose(uv[JOINT_INDEX["torso"]], (neck + mid_hip) / 2)
    np.testing.assert_allclose(uv[JOINT_INDEX["head"]], (p["left_ear"] + p["right_ear"]) / 2)
    assert conf[JOINT_INDEX["neck"]] == pytest.approx(min(c["left_shoulder"], c["right_shoulder"]))


def test_head_falls_back_from_ears_to_eyes_to_nose_then_missing():
    layout = get_layout("coco17")
    pts = _points(COCO17, np.random.default_rng(3))
    uv, conf = _arrays(layout, pts)
    idx = {k: i for i, k in enumerate(COCO17)}
    head = JOINT_INDEX["head"]
    uv[idx["left_ear"]] = np.nan
    out, _ = layout.to_itop(uv, conf)
    np.testing.assert_allclose(out[head], (pts["left_eye"][0] + pts["right_eye"][0]) / 2)
    uv[idx["right_eye"]] = np.nan
    out, _ = layout.to_itop(uv, conf)
    np.testing.assert_allclose(out[head], pts["nose"][0])
    uv[idx["nose"]] = np.nan
    out, out_conf = layout.to_itop(uv, conf)
    assert np.isnan(out[head]).all() and out_conf[head] == 0.0


def test_body25_uses_its_own_neck_and_mid_hip():
    layout = get_layout("body25")
    pts = _points(BODY25, np.random.default_rng(4))
    uv, _ = layout.to_itop(*_arrays(layout, pts))
    np.testing.assert_allclose(uv[JOINT_INDEX["neck"]], pts["neck"][0])
    np.testing.assert_allclose(uv[JOINT_INDEX["torso"]], (pts["neck"][0] + pts["mid_hip"][0]) / 2)


def test_body25_torso_falls_back_to_shoulders_and_hips_without_mid_hip():
    layout = get_layout("body25")
    pts = _points(BODY25, np.random.default_rng(5))
    uv, conf = _arrays(layout, pts)
    uv[BODY25.index("mid_hip")] = np.nan
    out, _ = layout.to_itop(uv, conf)
    want = np.mean([pts[k][0] for k in ("left_shoulder", "right_shoulder", "left_hip", "right_hip")], axis=0)
    np.testing.assert_allclose(out[JOINT_INDEX["torso"]], want)


def test_a_missing_source_leaves_the_joint_missing_never_zero():
    layout = get_layout("coco17")
    uv, conf = _arrays(layout, _points(COCO17, np.random.default_rng(6)))
    uv[COCO17.index("left_wrist")] = np.nan
    uv[COCO17.index("right_shoulder")] = np.nan
    out, out_conf = layout.to_itop(uv[None], conf[None])     # batched input works too
    for name in ("left_hand", "neck", "right_shoulder"):
        j = JOINT_INDEX[name]
        assert np.isnan(out[0, j]).all() and out_conf[0, j] == 0.0
    assert np.isfinite(out[0, JOINT_INDEX["right_hand"]]).all()


def test_every_layout_can_provide_every_itop_joint():
    for layout in LAYOUTS.values():
        assert layout.missing_joints == (), layout.name
    assert set(LAYOUTS) == {"itop15", "coco17", "body25", "hri18"}
    assert get_layout("itop15").keypoints == JOINT_NAMES


def test_wrong_keypoint_count_and_unknown_layout_are_errors():
    with pytest.raises(ValueError, match="coco17 has 17"):
        get_layout("coco17").to_itop(np.zeros((15, 2)), np.zeros(15))
    with pytest.raises(ValueError, match="choose from itop15, coco17, body25"):
        get_layout("halpe26")
