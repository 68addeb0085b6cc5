"""The 2D pose inputs (pose_messages) and the ROS4HRI gatherer (ros/hri_bodies), without DDS."""
from __future__ import annotations

from types import SimpleNamespace as NS

import numpy as np
import pytest

from refinet_ros.core.camera import PinholeCamera
from refinet_ros.message_codec import KeypointCountError
from refinet_ros.pose_messages import HriBodies, KeypointUnitsError, pose_reader, to_pixels, yolo_keypoints

CAMERA = PinholeCamera.itop()


def _stamp(sec: int):
    return NS(stamp=NS(sec=sec, nanosec=0), frame_id="cam")


def _detection(body: str, keypoints: list[tuple[int, float, float, float]]):
    data = [NS(id=k, point=NS(x=x, y=y), score=c) for k, x, y, c in keypoints]
    return NS(id=body, keypoints=NS(data=data))


def test_yolo_keypoints_are_placed_by_their_one_based_id():
    msg = NS(header=_stamp(1), detections=[_detection("4", [(1, 10.0, 20.0, 0.9), (17, 30.0, 40.0, 0.6)]),
                                           _detection("0", [(6, 5.0, 6.0, 0.7)]), _detection("9", [])])
    ids, uv, conf = yolo_keypoints(msg)
    assert ids == ["4", ""]                                   # "0" is untracked; no keypoints: not a person
    assert uv.shape == (2, 17, 2) and np.array_equal(uv[0, 0], [10, 20]) and np.array_equal(uv[0, 16], [30, 40])
    assert np.isnan(uv[0, 1:16]).all() and conf[0, 1:16].sum() == 0 and conf[1, 5] == 0.7


@pytest.mark.parametrize("bad_id", [0, 18])
def test_yolo_keypoint_ids_outside_coco17_are_refused(bad_id):
    with pytest.raises(KeypointCountError, match=f"keypoint id {bad_id}"):
        yolo_keypoints(NS(header=_stamp(1), detections=[_detection("1", [(bad_id, 1.0, 1.0, 1.0)])]))


def test_a_detection_only_model_is_refused_and_no_detection_is_nobody():
    with pytest.raises(KeypointCountError, match="pose model"):
        yolo_keypoints(NS(header=_stamp(1), detections=[_detection("1", [])]))
    ids, uv, _ = yolo_keypoints(NS(header=_stamp(1), detections=[]))
    assert ids == [] and uv.shape == (0, 17, 2)


def test_units_are_checked_against_the_input():
    pixels = pose_reader("skeleton2d")
    normalised = pose_reader("hri")
    uv = np.array([[[0.2, 0.3], [0.6, 0.9], [np.nan, np.nan]]])
    with pytest.raises(KeypointUnitsError, match="normalised coordinates where pixels"):
        to_pixels(uv, pixels, CAMERA)
    assert np.allclose(to_pixels(uv, normalised, CAMERA)[0, :2], [[64, 72], [192, 216]])
    with pytest.raises(KeypointUnitsError, match="pixels where normalised"):
        to_pixels(uv * 300, normalised, CAMERA)
    near_corner = np.array([[[0.4, 0.8], [np.nan, np.nan]]])       # one keypoint near (0, 0) is a pixel
    assert np.array_equal(to_pixels(near_corner, pixels, CAMERA), near_corner, equal_nan=True)


def test_hri_bodies_are_gathered_per_stamp_and_follow_the_tracked_list():
    pytest.importorskip("hri_msgs.msg")
    from refinet_ros.ros.hri_bodies import HriBodiesInput
    subs, emitted = {}, []
    gatherer = HriBodiesInput("/humans/bodies/", lambda t, topic, cb: subs.setdefault(topic, cb),
                              lambda sub: subs.pop(next(k for k, v in subs.items() if v is sub)), emitted.append,
                              lambda *a: None)
    tracked = subs["/humans/bodies/tracked"]
    skel = lambda sec: NS(header=_stamp(sec), skeleton=[])          # noqa: E731
    tracked(NS(header=_stamp(1), ids=["a", "b", "bad/id"]))
    assert set(subs) == {"/humans/bodies/tracked", "/humans/bodies/a/skeleton2d", "/humans/bodies/b/skeleton2d"}
    subs["/humans/bodies/a/skeleton2d"](skel(1))
    assert emitted == []                                             # b has not reported for stamp 1 yet
    subs["/humans/bodies/b/skeleton2d"](skel(1))
    assert [b for b, _ in emitted[-1].bodies] == ["a", "b"] and emitted[-1].header.stamp.sec == 1
    subs["/humans/bodies/a/skeleton2d"](skel(2))
    subs["/humans/bodies/a/skeleton2d"](skel(3))                     # b missed stamp 2: it goes on without b
    assert [b for b, _ in emitted[-1].bodies] == ["a"] and emitted[-1].header.stamp.sec == 2
    b_sub = subs["/humans/bodies/b/skeleton2d"]
    tracked(NS(header=_stamp(3), ids=["a"]))                         # b left: unsubscribed, stamp 3 complete
    assert "/humans/bodies/b/skeleton2d" not in subs and b_sub is not None
    assert emitted[-1].header.stamp.sec == 3 and [b for b, _ in emitted[-1].bodies] == ["a"]
    tracked(NS(header=_stamp(4), ids=[]))                            # nobody: an empty frame for stamp 4
    assert emitted[-1] == HriBodies(emitted[-1].header, ()) and emitted[-1].header.stamp.sec == 4
    gatherer.close()
    assert subs == {}
