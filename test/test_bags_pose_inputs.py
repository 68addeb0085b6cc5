"""bag refine --pose-input yolo | hri: the other packages' pose messages give what the same keypoints
give as our Skeleton2DArray (the adapters are converters, nothing more)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from refinet_ros.bags import layout as L
from refinet_ros.bags.bagio import BagError, open_bag, read_messages
from refinet_ros.bags.refine import refine_bag
from refinet_ros.bags.rosbags_codec import CODEC
from refinet_ros.bags.typestore import typestore
from refinet_ros.core.camera import PinholeCamera
from refinet_ros.core.pipeline import Pipeline
from refinet_ros.core.synth.generate import generate_split
from refinet_ros.message_codec import joints_from_msg
from refinet_ros.pose_messages import pose_reader
from test_bags_errors import make_bag

CAMERA = PinholeCamera.itop()
N = 6


@pytest.fixture(scope="module")
def seq():
    return generate_split("side", "test", N, seed=4, stride=1)


def _types():
    return typestore().types


def _camera_items(seq, k: int, hdr) -> list:
    return [(L.CAMERA_INFO_TOPIC, L.CAMERA_INFO, CODEC.camera_info(hdr, CAMERA)),
            (L.DEPTH_TOPIC, L.IMAGE, CODEC.depth_image(hdr, seq.depth_m[k], "16UC1"))]


def _yolo(hdr, kp: np.ndarray, conf: np.ndarray, body: str):
    t = _types()
    pt = lambda x, y: t["yolo_msgs/msg/Point2D"](x=float(x), y=float(y))            # noqa: E731
    g = "geometry_msgs/msg/"
    box3d = t["yolo_msgs/msg/BoundingBox3D"](
        center=t[g + "Pose"](position=t[g + "Point"](x=0.0, y=0.0, z=0.0),
                             orientation=t[g + "Quaternion"](x=0.0, y=0.0, z=0.0, w=1.0)),
        size=t[g + "Vector3"](x=0.0, y=0.0, z=0.0), frame_id="")
    kps = [t["yolo_msgs/msg/KeyPoint2D"](id=i + 1, point=pt(*kp[i]), score=float(conf[i]))
           for i in range(17) if conf[i] > 0]
    det = t["yolo_msgs/msg/Detection"](
        class_id=0, class_name="person", score=0.9, id=body,
        bbox=t["yolo_msgs/msg/BoundingBox2D"](center=t["yolo_msgs/msg/Pose2D"](position=pt(0, 0), theta=0.0),
                                              size=t["yolo_msgs/msg/Vector2"](x=1.0, y=1.0)),
        bbox3d=box3d, mask=t["yolo_msgs/msg/Mask"](height=0, width=0, data=[]),
        keypoints=t["yolo_msgs/msg/KeyPoint2DArray"](data=kps),
        keypoints3d=t["yolo_msgs/msg/KeyPoint3DArray"](data=[], frame_id=""))
    return t["yolo_msgs/msg/DetectionArray"](header=hdr, detections=[det])


def _hri(hdr, norm: np.ndarray, conf: np.ndarray):
    t = _types()
    points = [t["hri_msgs/msg/NormalizedPointOfInterest2D"](x=float(x), y=float(y), c=float(c))
              for (x, y), c in zip(norm, conf)]
    return t["hri_msgs/msg/Skeleton2D"](header=hdr, skeleton=points)


def _refined(path: Path) -> list[np.ndarray]:
    with open_bag(path) as bag:
        conns = [c for c in bag.connections if c.topic == L.REFINED_TOPIC]
        return [joints_from_msg(m)[1] for _, _, m, _ in read_messages(bag, conns, {L.REFINED_TOPIC})]


def _keypoints(k: int, n_kp: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(k)
    conf = rng.uniform(0.3, 1.0, n_kp)
    conf[rng.integers(n_kp)] = 0.0                                   # one keypoint not detected
    return rng.uniform([110, 50], [210, 200], (n_kp, 2)), conf


def test_yolo_detections_in_a_bag_refine_like_the_same_keypoints_as_skeleton2d(seq, tmp_path):
    yolo, ours = [], []
    for k in range(N):
        hdr = CODEC.header(L.EPOCH_NS + k * 33_333_333, L.OPTICAL_FRAME)
        kp, conf = _keypoints(k, 17)
        yolo.append([*_camera_items(seq, k, hdr), ("/yolo/detections", L.YOLO_DETECTIONS, _yolo(hdr, kp, conf, "5"))])
        missing = np.where((conf > 0)[:, None], kp, np.nan)
        ours.append([*_camera_items(seq, k, hdr), (L.POSE2D_TOPIC, L.SKELETON2D_ARRAY, CODEC.skeleton2d_array(
            hdr, ["5"], missing[None], conf[None]))])
    got = refine_bag(make_bag(tmp_path / "yolo", yolo), tmp_path / "yolo_out", Pipeline(), pose_reader("yolo"),
                     progress=False, pose_topic="/yolo/detections")
    want = refine_bag(make_bag(tmp_path / "ours", ours), tmp_path / "ours_out", Pipeline(),
                      pose_reader("skeleton2d", "coco17"), progress=False)
    assert got.frames == want.frames == N and not got.skipped
    for a, b in zip(_refined(tmp_path / "yolo_out"), _refined(tmp_path / "ours_out")):
        np.testing.assert_allclose(a, b, atol=1e-6)
        assert np.isfinite(a).any()
    with pytest.raises(BagError, match="missing topic /pose2d"):                   # yolo on the default topic
        refine_bag(tmp_path / "yolo", tmp_path / "x", Pipeline(), pose_reader("yolo"), progress=False)


def test_hri_body_topics_in_a_bag_are_gathered_per_stamp(seq, tmp_path):
    """Two ROS4HRI bodies on their own topics, the second one missing in frame 2: every frame is refined
    with the bodies of its stamp, equal to the same pixels as hri18 Skeleton2DArray."""
    hri, ours = [], []
    for k in range(N):
        hdr = CODEC.header(L.EPOCH_NS + k * 33_333_333, L.OPTICAL_FRAME)
        bodies = ["anna", "bert"] if k != 2 else ["anna"]
        items, uvs, confs = list(_camera_items(seq, k, hdr)), [], []
        for j, body in enumerate(bodies):
            kp, conf = _keypoints(10 * k + j, 18)
            items.append((f"/humans/bodies/{body}/skeleton2d", L.HRI_SKELETON2D,
                          _hri(hdr, kp / [CAMERA.width, CAMERA.height], conf)))
            uvs.append(np.where((conf > 0)[:, None], kp, np.nan))
            confs.append(conf)
        hri.append(items)
        ours.append([*_camera_items(seq, k, hdr), (L.POSE2D_TOPIC, L.SKELETON2D_ARRAY, CODEC.skeleton2d_array(
            hdr, bodies, np.stack(uvs), np.stack(confs)))])
    got = refine_bag(make_bag(tmp_path / "hri", hri), tmp_path / "hri_out", Pipeline(), pose_reader("hri"),
                     progress=False)
    want = refine_bag(make_bag(tmp_path / "ours", ours), tmp_path / "ours_out", Pipeline(),
                      pose_reader("skeleton2d", "hri18"), progress=False)
    assert got.frames == want.frames == N and got.skeletons == want.skeletons == 2 * N - 1
    for a, b in zip(_refined(tmp_path / "hri_out"), _refined(tmp_path / "ours_out")):
        np.testing.assert_allclose(a, b, atol=1e-4)
    with pytest.raises(BagError, match="no hri_msgs/msg/Skeleton2D topics"):
        refine_bag(tmp_path / "ours", tmp_path / "x", Pipeline(), pose_reader("hri"), progress=False)
