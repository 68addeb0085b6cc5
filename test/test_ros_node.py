"""refine_node over real DDS on loopback: a driver node publishes synthetic depth, camera_info and
2D pose like a camera and a detector would, and checks what comes back (skeletons, TF, markers,
diagnostics, /rosout warnings) against the offline Pipeline on the same input.

Each test gets a fresh RefineNode; the module uses a domain and a namespace of its own.
"""
from __future__ import annotations

import itertools
import os
import time
from typing import Callable

import numpy as np
import pytest

rclpy = pytest.importorskip("rclpy")

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus  # noqa: E402
from rcl_interfaces.msg import Log  # noqa: E402
from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402
from rclpy.qos import QoSProfile, ReliabilityPolicy  # noqa: E402
from sensor_msgs.msg import CameraInfo, Image  # noqa: E402
from std_msgs.msg import Header  # noqa: E402
from tf2_msgs.msg import TFMessage  # noqa: E402
from visualization_msgs.msg import MarkerArray  # noqa: E402

from refinet_ros.core.camera import PinholeCamera  # noqa: E402
from refinet_ros.core.depth import decode_depth, encode_depth  # noqa: E402
from refinet_ros.core.joints import JOINT_NAMES  # noqa: E402
from refinet_ros.core.pipeline import Pipeline  # noqa: E402
from refinet_ros.core.synth.generate import generate_split  # noqa: E402
from refinet_ros.message_codec import joints_from_msg  # noqa: E402
from refinet_ros.stamps import stamp_ns  # noqa: E402
from refinet_ros.msg import BodyMeasurements, Skeleton2DArray, Skeleton3DArray  # noqa: E402
from refinet_ros.ros import refine_node as refine_module  # noqa: E402
from refinet_ros.ros.compat.image import array_to_image  # noqa: E402
from refinet_ros.ros.rclpy_codec import CODEC  # noqa: E402
from refinet_ros.ros.diagnostics import SKIP_REASONS  # noqa: E402
from refinet_ros.ros.refine_node import RefineNode  # noqa: E402

DOMAIN_ID = 1 + (os.getpid() + 57) % 100
NAMESPACE = f"refinet_test_{os.getpid()}"
FRAME_ID = "test_depth_optical_frame"
TIMEOUT_S = 20.0
RELIABLE = QoSProfile(depth=50, reliability=ReliabilityPolicy.RELIABLE)


@pytest.fixture(scope="module")
def seq():
    return generate_split("side", "test", 4, seed=3, stride=1)


class Driver:
    """Publishes camera + detector inputs into the node's namespace and records every output."""

    def __init__(self, context, node: RefineNode, markers: bool = True) -> None:
        self.node = node
        self.driver = rclpy.create_node("refinet_test_driver", namespace=NAMESPACE, context=context)
        c = node.config
        self.pub_depth = self.driver.create_publisher(Image, c.depth_topic, RELIABLE)
        self.pub_info = self.driver.create_publisher(CameraInfo, c.camera_info_topic, RELIABLE)
        pose_type = {"skeleton2d": Skeleton2DArray, "hri": None}.get(c.pose_input) or refine_module.pose_message_type(c)
        self.pub_pose = (self.driver.create_publisher(pose_type, c.pose_topic, RELIABLE) if pose_type is not None
                         else None)
        self.skeletons: dict[int, Skeleton3DArray] = {}
        self.markers: list[MarkerArray] = []
        self.tf: list[TFMessage] = []
        self.diagnostics: list[DiagnosticArray] = []
        self.warnings: list[str] = []
        sub = self.driver.create_subscription
        sub(Skeleton3DArray, c.output_topic, lambda m: self.skeletons.setdefault(stamp_ns(m.header.stamp), m), RELIABLE)
        if markers:
            sub(MarkerArray, c.markers_topic, self.markers.append, RELIABLE)
        sub(TFMessage, "/tf", self.tf.append, RELIABLE)
        sub(DiagnosticArray, "/diagnostics", self.diagnostics.append, RELIABLE)
        sub(Log, "/rosout", self._on_log, QoSProfile(depth=100))
        self.executor = SingleThreadedExecutor(context=context)
        self.executor.add_node(self.driver)
        self.executor.add_node(node)
        self._stamps = itertools.count(10_000)     # 1000 s, +0.1 s per frame
        inputs = (self.pub_depth, self.pub_info) + ((self.pub_pose,) if c.detector == "topic" and self.pub_pose
                                                    else ())
        assert self.spin_until(lambda: min(p.get_subscription_count() for p in inputs) > 0)

    def _on_log(self, msg: Log) -> None:
        if msg.name.endswith("refine_node") and msg.level == Log.WARN:
            self.warnings.append(msg.msg)

    def close(self) -> None:
        self.executor.shutdown()
        self.driver.destroy_node()
        self.node.destroy_node()

    def spin_until(self, done: Callable[[], bool], timeout_s: float = TIMEOUT_S) -> bool:
        deadline = time.monotonic() + timeout_s
        while not done():
            if time.monotonic() > deadline:
                return False
            self.executor.spin_once(timeout_sec=0.02)
        return True

    def next_stamp(self) -> int:
        return next(self._stamps) * 100_000_000

    def send(self, depth: Image | None, info: CameraInfo | None, pose: Skeleton2DArray, stamp: int) -> None:
        header = CODEC.header(stamp, FRAME_ID)
        for msg, pub in ((info, self.pub_info), (depth, self.pub_depth), (pose, self.pub_pose)):
            if msg is not None:
                msg.header = header
                pub.publish(msg)

    def send_until(self, frame: Callable[[], tuple], done: Callable[[], bool], stamp: Callable[[], int] | None = None,
                   timeout_s: float = TIMEOUT_S) -> list[int]:
        """Publish `frame()` with fresh stamps every 0.1 s until `done()`; returns the stamps sent
        (also in ``self.sent`` while sending, for `done` to look at)."""
        self.sent = []
        deadline = time.monotonic() + timeout_s
        while not done() and time.monotonic() < deadline:
            self.sent.append((stamp or self.next_stamp)())
            self.send(*frame(), self.sent[-1])
            self.spin_until(done, 0.1)
        assert done(), f"condition not reached within {timeout_s} s"
        return self.sent

    def answered(self) -> Skeleton3DArray | None:
        """The output for one of the stamps of the current send_until, if any arrived."""
        return next((self.skeletons[s] for s in self.sent if s in self.skeletons), None)


def make_node(context, **params) -> RefineNode:
    """Per-frame outputs are compared with the offline pipeline: smoothing is off unless a test asks for it."""
    overrides = {"stages": "none", "diagnostics_period": 0.2, "warn_period": 60.0, "smoothing": False, **params}
    return RefineNode(namespace=NAMESPACE, context=context,
                      parameter_overrides=[Parameter(k, value=v) for k, v in overrides.items()])


@pytest.fixture
def driver(context):
    made = []

    def start(markers: bool = True, **params) -> Driver:
        made.append(Driver(context, make_node(context, **params), markers))
        return made[-1]

    yield start
    for d in made:
        d.close()


# --- synthetic inputs ------------------------------------------------------------------------------------
def depth_msg(seq, i: int, encoding: str = "16UC1") -> Image:
    return array_to_image(encode_depth(seq.depth_m[i], encoding), encoding)


def info_msg(seq) -> CameraInfo:
    return CODEC.camera_info(Header(), seq.camera)


def pose_msg(seq, i: int, ids=("alice",), shift_px: float = 0.0) -> Skeleton2DArray:
    kp = np.stack([seq.keypoints[i] + k * shift_px for k in range(len(ids))])
    conf = np.repeat(seq.confidence[i][None], len(ids), 0)
    return CODEC.skeleton2d_array(Header(), list(ids), kp, conf)


def good_frame(seq, i: int = 0) -> Callable[[], tuple]:
    return lambda: (depth_msg(seq, i), info_msg(seq), pose_msg(seq, i))


def offline(seq, i: int, pipeline: Pipeline, ids=("alice",), shift_px: float = 0.0) -> np.ndarray:
    """What the offline Pipeline makes of exactly the bytes that went over the wire."""
    depth = decode_depth(encode_depth(seq.depth_m[i], "16UC1"), "16UC1")
    kp = np.stack([seq.keypoints[i] + k * shift_px for k in range(len(ids))]).astype(np.float32)
    conf = np.repeat(seq.confidence[i][None], len(ids), 0).astype(np.float32)
    return pipeline.run(np.repeat(depth[None], len(ids), 0), kp, conf, seq.camera).joints


# --- output equals the offline pipeline -----------------------------------------------------------------
def _check_same_as_offline(d: Driver, seq, pipeline: Pipeline) -> None:
    for i in range(len(seq)):
        d.send_until(good_frame(seq, i), lambda: d.answered() is not None)
        got = d.answered()
        assert got.header.frame_id == FRAME_ID
        assert [sk.body_id for sk in got.skeletons] == ["alice"]
        assert got.skeletons[0].header.stamp == got.header.stamp
        ids, joints = joints_from_msg(got)
        want = offline(seq, i, pipeline)
        np.testing.assert_array_equal(np.isnan(joints), np.isnan(want))
        np.testing.assert_allclose(joints, want, rtol=0, atol=1e-6)
        assert np.isfinite(joints).any()


def test_skeletons_carry_the_input_stamp_frame_and_offline_numbers(driver, seq):
    d = driver()
    stamps = d.send_until(good_frame(seq, 0), lambda: bool(d.skeletons))
    assert set(d.skeletons) <= set(stamps)
    _check_same_as_offline(d, seq, Pipeline())


def test_refinement_stages_from_config_match_the_offline_pipeline(driver, seq, tmp_path):
    from refinet_ros.core.models import MODELS
    from refinet_ros.core.models.common import save_weights
    from refinet_ros.core.weights import build_stages
    for name, model in MODELS.items():               # untrained weights: the numbers, not their quality
        save_weights(tmp_path / f"side_{name}.pt", name, model(), preset=0)
    d = driver(stages="A,B,C", weights_dir=str(tmp_path))
    assert d.node.pipeline.names == ("A", "B", "C")
    _check_same_as_offline(d, seq, Pipeline(build_stages("A,B,C", "side", tmp_path)))


def test_tf_frames_and_markers_for_several_people(driver, seq):
    d = driver()
    ids = ("alice", "bob")
    d.send_until(lambda: (depth_msg(seq, 1), info_msg(seq), pose_msg(seq, 1, ids, shift_px=30.0)),
                 lambda: bool(d.skeletons) and bool(d.markers) and bool(d.tf))
    got = next(iter(d.skeletons.values()))
    assert [sk.body_id for sk in got.skeletons] == list(ids)
    np.testing.assert_allclose(joints_from_msg(got)[1], offline(seq, 1, Pipeline(), ids, 30.0), atol=1e-6)

    frames = {t.child_frame_id: t for msg in d.tf for t in msg.transforms}
    for body in ids:
        assert frames[f"body_{body}"].header.frame_id == FRAME_ID
        assert frames[f"head_{body}"].header.frame_id == f"body_{body}"
    assert set(frames) <= {f"body_{b}" for b in ids} | {f"{j}_{b}" for j in JOINT_NAMES for b in ids}

    markers = d.markers[0].markers
    assert {m.ns for m in markers} == {"refinet/joints", "refinet/limbs"} and len(markers) == 4
    assert all(m.header.frame_id == FRAME_ID and m.lifetime.nanosec > 0 for m in markers)
    assert markers[0].color != markers[2].color


def test_body_measurements_when_enabled(driver, seq):
    d = driver(publish_measurements=True, measurement_rate=5.0)
    got: list[BodyMeasurements] = []
    d.driver.create_subscription(BodyMeasurements, d.node.config.measurements_topic, got.append, RELIABLE)
    d.send_until(good_frame(seq, 1), lambda: any(m.n_frames >= 5 for m in got))  # frame 1: all joints lift
    last = next(m for m in got if m.n_frames >= 5)
    assert last.body_id == "alice" and last.header.frame_id == FRAME_ID
    assert 1.0 < last.stature < 2.2 and np.isfinite(last.stature_spread)


def test_markers_are_not_built_without_a_subscriber(driver, seq, monkeypatch):
    calls = []
    monkeypatch.setattr(refine_module, "skeleton_markers", lambda *a: calls.append(a))
    d = driver(markers=False)
    d.send_until(good_frame(seq), lambda: len(d.skeletons) >= 2)
    assert calls == []


def test_empty_pose_array_gives_an_empty_result(driver, seq):
    d = driver()
    d.send_until(lambda: (depth_msg(seq, 0), info_msg(seq), Skeleton2DArray()), lambda: bool(d.skeletons))
    assert next(iter(d.skeletons.values())).skeletons == []


def test_coco17_layout_is_mapped_before_lifting(driver, seq):
    from refinet_ros.core.layouts import COCO17, get_layout
    d = driver(keypoint_layout="coco17")
    rng = np.random.default_rng(0)
    kp = rng.uniform([100, 60], [220, 200], (len(COCO17), 2)).astype(np.float32)
    conf = rng.uniform(0.5, 1, len(COCO17)).astype(np.float32)
    pose = lambda: CODEC.skeleton2d_array(Header(), ["carol"], kp[None], conf[None])  # noqa: E731
    d.send_until(lambda: (depth_msg(seq, 2), info_msg(seq), pose()), lambda: bool(d.skeletons))
    uv, c = get_layout("coco17").to_itop(kp, conf)
    depth = decode_depth(encode_depth(seq.depth_m[2], "16UC1"), "16UC1")
    want = Pipeline().run(depth[None], uv[None], c[None], seq.camera).joints
    np.testing.assert_allclose(joints_from_msg(next(iter(d.skeletons.values())))[1], want, atol=1e-6)


def _yolo_detections(kp: np.ndarray, conf: np.ndarray, ids: list[str], threshold: float = 0.5):
    """yolo_ros's DetectionArray: a person per row of `kp` (COCO-17 pixels), keypoints above the
    threshold only, 1-based ids; plus a chair (a detection without keypoints)."""
    from yolo_msgs.msg import Detection, DetectionArray, KeyPoint2D
    msg = DetectionArray()
    for person, scores, body in zip(kp, conf, ids):
        det = Detection(class_id=0, class_name="person", score=0.9, id=body)
        for k, ((x, y), c) in enumerate(zip(person, scores)):
            if c >= threshold:
                det.keypoints.data.append(KeyPoint2D(id=k + 1, score=float(c)))
                det.keypoints.data[-1].point.x, det.keypoints.data[-1].point.y = float(x), float(y)
        msg.detections.append(det)
    msg.detections.append(Detection(class_id=56, class_name="chair", score=0.8, id="3"))
    return msg


def test_yolo_detections_drive_the_node(driver, seq):
    """pose_input: yolo: yolo_ros's DetectionArray on the pose topic, as yolo_ros publishes it. The
    tracked id is the body id ("0", yolo_ros's untracked id, is none); keypoints under yolo_ros's
    threshold are missing; the chair is not a person; the joints are the offline pipeline's."""
    from refinet_ros.core.layouts import get_layout
    pytest.importorskip("yolo_msgs.msg")
    d = driver(pose_input="yolo")
    rng = np.random.default_rng(1)
    kp = rng.uniform([100, 60], [220, 200], (2, 17, 2))
    conf = rng.uniform(0.2, 1, (2, 17))
    d.send_until(lambda: (depth_msg(seq, 1), info_msg(seq), _yolo_detections(kp, conf, ["7", "0"])),
                 lambda: d.answered() is not None)
    got = d.answered()
    tracked, untracked = (sk.body_id for sk in got.skeletons)
    assert tracked == "7" and len(untracked) == 5 and untracked.isalpha()        # the tracker names the other
    uv, c = get_layout("coco17").to_itop(np.where((conf >= 0.5)[..., None], kp, np.nan), np.where(conf >= 0.5, conf, 0))
    depth = decode_depth(encode_depth(seq.depth_m[1], "16UC1"), "16UC1")
    want = Pipeline().run(np.repeat(depth[None], 2, 0), uv, c, seq.camera).joints
    np.testing.assert_allclose(joints_from_msg(got)[1], want, atol=1e-6)
    assert np.isfinite(want).any()


def test_hri_bodies_drive_the_node(driver, seq):
    """pose_input: hri: the bodies listed on /humans/bodies/tracked, each skeleton on its own topic in
    normalised coordinates; one output per image stamp holds them all, with their ROS4HRI ids."""
    from hri_msgs.msg import IdsList, NormalizedPointOfInterest2D, Skeleton2D
    from refinet_ros.core.layouts import get_layout
    d = driver(pose_input="hri")
    rng = np.random.default_rng(2)
    bodies = ["abcde", "fghij"]
    norm = rng.uniform([0.3, 0.25], [0.7, 0.85], (2, 18, 2))
    conf = rng.uniform(0.3, 1.0, (2, 18))
    conf[:, 3] = 0.0                                   # not detected: the keypoint is missing
    tracked = d.driver.create_publisher(IdsList, "/humans/bodies/tracked", RELIABLE)
    skel_pubs = {b: d.driver.create_publisher(Skeleton2D, f"/humans/bodies/{b}/skeleton2d", RELIABLE) for b in bodies}

    def frame():
        stamp = d.next_stamp()
        header = CODEC.header(stamp, FRAME_ID)
        tracked.publish(IdsList(header=header, ids=bodies))
        for b, points, cs in zip(bodies, norm, conf):
            msg = Skeleton2D(header=header)
            msg.skeleton = [NormalizedPointOfInterest2D(x=float(x), y=float(y), c=float(c))
                            for (x, y), c in zip(points, cs)]
            skel_pubs[b].publish(msg)
        return stamp

    d.send_until(lambda: (depth_msg(seq, 1), info_msg(seq), None), lambda: d.answered() is not None, stamp=frame)
    got = d.answered()
    assert [sk.body_id for sk in got.skeletons] == bodies
    px = np.where((conf > 0)[..., None], norm, np.nan) * [seq.camera.width, seq.camera.height]
    uv, c = get_layout("hri18").to_itop(px.astype(np.float32), conf.astype(np.float32))
    depth = decode_depth(encode_depth(seq.depth_m[1], "16UC1"), "16UC1")
    want = Pipeline().run(np.repeat(depth[None], 2, 0), uv, c, seq.camera).joints
    np.testing.assert_allclose(joints_from_msg(got)[1], want, atol=1e-5)
    assert np.isfinite(want).any()


def _tf(parent: str, child: str, stamp: int, xyz, yaw_deg: float):
    from geometry_msgs.msg import TransformStamped
    t = TransformStamped()
    t.header = CODEC.header(stamp, parent)
    t.child_frame_id = child
    t.transform.translation.x, t.transform.translation.y, t.transform.translation.z = map(float, xyz)
    yaw = np.radians(yaw_deg) / 2
    t.transform.rotation.z, t.transform.rotation.w = float(np.sin(yaw)), float(np.cos(yaw))
    return t


def test_target_frame_output_is_the_optical_output_moved_by_the_tf_at_the_stamp(driver, seq):
    """target_frame: base_link. Without any TF the frame waits tf_timeout and is a counted skip (tf), not
    published with a guess; with the robot moving (TF 50 ms before and after the image), skeletons,
    markers and TF are in base_link, at the transform interpolated at the image stamp, input stamp kept."""
    from refinet_ros.core.transforms import Rigid
    d = driver(target_frame="base_link", tf_timeout=0.05)
    d.send_until(good_frame(seq, 0), lambda: d.node.stats.skipped["tf"] >= 2)
    assert not d.skeletons and any("target_frame" in w for w in d.warnings)
    tf_pub = d.driver.create_publisher(TFMessage, "/tf", RELIABLE)

    def stamp() -> int:
        s = d.next_stamp()
        tf_pub.publish(TFMessage(transforms=[_tf("base_link", FRAME_ID, s - 50_000_000, (1.0, 0.0, 0.3), 80.0)]))
        tf_pub.publish(TFMessage(transforms=[_tf("base_link", FRAME_ID, s + 50_000_000, (1.0, 0.2, 0.3), 100.0)]))
        return s

    d.send_until(good_frame(seq, 0), lambda: d.answered() is not None, stamp=stamp)
    got = d.answered()
    assert got.header.frame_id == "base_link" and stamp_ns(got.header.stamp) in d.sent
    at_stamp = Rigid((1.0, 0.1, 0.3), (0.0, 0.0, float(np.sin(np.pi / 4)), float(np.cos(np.pi / 4))))
    np.testing.assert_allclose(joints_from_msg(got)[1], at_stamp.apply(offline(seq, 0, Pipeline())), atol=1e-5)
    assert d.spin_until(lambda: any(t.header.frame_id == "base_link" and t.child_frame_id == "body_alice"
                                    for m in d.tf for t in m.transforms))


@pytest.mark.parametrize("target", ["", "base_link"])
def test_poses_from_a_colour_camera_are_registered_with_the_tf_at_the_stamp(driver, seq, target):
    """pose_camera_info_topic: keypoints in the pixels of an 848x480 colour camera with its own lens, 15 mm
    beside the depth camera (a static TF). No colour camera_info yet: a counted skip. Then the skeletons
    come out in the colour optical frame (or target_frame): the offline frame's joints (refined in the
    depth camera, test_registration) moved by the rig's TF (and the robot's)."""
    from refinet_ros.core.distortion import Distortion, distort_points
    from refinet_ros.core.transforms import Rigid
    from refinet_ros.frame_input import InputLimits, PoseCamera, prepare_frame
    from refinet_ros.pose_messages import pose_reader
    colour = PinholeCamera(610.0, 608.0, 428.5, 241.0, 848, 480)
    lens = Distortion("plumb_bob", (0.11, -0.24, 0.0008, -0.0012, 0.1))
    rig = Rigid((-0.015, 0.002, 0.001))
    robot = Rigid((0.3, 0.0, 1.2), (0.0, 0.0, float(np.sin(np.pi / 4)), float(np.cos(np.pi / 4))))
    d = driver(pose_camera_info_topic="camera/color/camera_info", tf_timeout=0.05, target_frame=target)
    kp = distort_points(colour.project(rig.apply(offline(seq, 0, Pipeline())[0])), colour, lens)
    pose = lambda: CODEC.skeleton2d_array(Header(), ["eve"], kp[None], seq.confidence[0][None])   # noqa: E731
    d.send_until(lambda: (depth_msg(seq, 0), info_msg(seq), pose()),
                 lambda: d.node.stats.skipped["pose_camera_info"] >= 2)
    info = CODEC.camera_info(CODEC.header(1, "test_color_optical_frame"), colour)
    info.distortion_model, info.d = lens.model, list(lens.coeffs)
    d.driver.create_publisher(CameraInfo, "camera/color/camera_info", RELIABLE).publish(info)
    static = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE,
                        durability=rclpy.qos.DurabilityPolicy.TRANSIENT_LOCAL)
    d.driver.create_publisher(TFMessage, "/tf_static", static).publish(
        TFMessage(transforms=[_tf("test_color_optical_frame", FRAME_ID, 1, rig.translation, 0.0),
                              _tf("base_link", "test_color_optical_frame", 1, robot.translation, 90.0)]))
    d.send_until(lambda: (depth_msg(seq, 0), info_msg(seq), pose()), lambda: d.answered() is not None)
    got = d.answered()
    assert got.header.frame_id == (target or "test_color_optical_frame") and stamp_ns(got.header.stamp) in d.sent
    wire = CODEC.depth_image(Header(), seq.depth_m[0], "16UC1")
    wire.header.frame_id = FRAME_ID
    frame = prepare_frame(wire, pose(), info_msg(seq), pose_reader("skeleton2d"), InputLimits(0.1, 10.0, 8),
                          pose_camera=PoseCamera(info, rig))
    want = Pipeline().run(frame.depth_m[None], frame.uv, frame.confidence, frame.camera).joints   # depth frame
    out = (robot * rig) if target else rig
    np.testing.assert_allclose(joints_from_msg(got)[1], out.apply(want), atol=1e-5)
    err = np.linalg.norm(want[0] - offline(seq, 0, Pipeline())[0], axis=-1)
    assert np.nanmedian(err) < 0.001


def test_a_pose_camera_that_is_the_depth_camera_needs_no_registration(driver, seq):
    d = driver(pose_camera_info_topic="camera/color/camera_info")
    pub = d.driver.create_publisher(CameraInfo, "camera/color/camera_info", RELIABLE)
    same = info_msg(seq)
    same.header.frame_id = FRAME_ID

    def frame():
        pub.publish(same)
        return depth_msg(seq, 0), info_msg(seq), pose_msg(seq, 0)
    d.send_until(frame, lambda: d.answered() is not None)
    assert d.answered().header.frame_id == FRAME_ID
    np.testing.assert_allclose(joints_from_msg(d.answered())[1], offline(seq, 0, Pipeline()), atol=1e-6)


def test_two_untracked_people_keep_stable_ids_and_are_listed_on_the_bodies_topic(driver, seq):
    """Detector ids empty, people listed in either order: each keeps one ROS4HRI-style id over the frames
    (tracking, smoothing on: the shipped defaults), and refinet/bodies lists exactly those ids."""
    from refinet_ros.msg import TrackedBodies
    d = driver(smoothing=True)
    bodies: list[TrackedBodies] = []
    d.driver.create_subscription(TrackedBodies, d.node.config.bodies_topic, bodies.append, RELIABLE)
    rng = np.random.default_rng(4)
    seen: dict[str, float] = {}

    def frame():
        kp = np.stack([seq.keypoints[0], seq.keypoints[0] + [90.0, 0.0]]) + rng.normal(0, 0.3, (2, 15, 2))
        order = rng.permutation(2)
        pose = CODEC.skeleton2d_array(Header(), ["", ""], kp[order], np.repeat(seq.confidence[0][None], 2, 0))
        return depth_msg(seq, 0), info_msg(seq), pose

    d.send_until(frame, lambda: len(d.skeletons) >= 12, timeout_s=30.0)
    for msg in d.skeletons.values():
        ids, joints = joints_from_msg(msg)
        assert len(ids) == 2 and all(len(i) == 5 and i.isalpha() for i in ids)
        for body, person in zip(ids, joints):
            x = float(np.nanmean(person[:, 0]))
            assert abs(seen.setdefault(body, x) - x) < 0.2                # one id, one person
    assert len(seen) == 2
    assert d.spin_until(lambda: bodies and sorted(bodies[-1].ids) == sorted(seen))


def test_beyond_max_full_people_the_least_confident_get_the_reduced_stages(driver, seq):
    """Two people, max_full_people 1: the more confident one gets A,B,C, the other B, each marked so."""
    d = driver(stages="A,B,C", max_full_people=1, reduced_stages="B")
    conf = np.stack([seq.confidence[0] * 0.5, seq.confidence[0]])
    kp = np.stack([seq.keypoints[0], seq.keypoints[0] + [90.0, 0.0]])
    pose = lambda: CODEC.skeleton2d_array(Header(), ["low", "high"], kp, conf)      # noqa: E731
    d.send_until(lambda: (depth_msg(seq, 0), info_msg(seq), pose()), lambda: d.answered() is not None)
    assert {sk.body_id: sk.stages for sk in d.answered().skeletons} == {"low": "B", "high": "A,B,C"}


# --- bad input: a throttled warning, a counted skip, and the node keeps working -------------------------------
def _bad_depth(seq, encoding: str, value: float):
    raw = np.full(seq.depth_m[0].shape, value, dtype=np.float32)
    return lambda: (array_to_image(raw.astype(np.uint16) if encoding == "16UC1" else raw, encoding),
                    info_msg(seq), pose_msg(seq, 0))


def _rgb(seq):
    h, w = seq.depth_m[0].shape
    return lambda: (Image(height=h, width=w, encoding="rgb8", step=3 * w, data=bytes(3 * w * h)), info_msg(seq),
                    pose_msg(seq, 0))


def _small_info(seq):
    return lambda: (depth_msg(seq, 0), CODEC.camera_info(Header(), seq.camera.scaled(0.5)), pose_msg(seq, 0))


def _off_image(seq):
    kp = np.full((1, 15, 2), -50.0)
    kp[0, :5] = np.nan
    return lambda: (depth_msg(seq, 0), info_msg(seq), CODEC.skeleton2d_array(Header(), ["x"], kp, np.ones((1, 15))))


def _seventeen(seq):
    return lambda: (depth_msg(seq, 0), info_msg(seq),
                    CODEC.skeleton2d_array(Header(), ["x"], np.full((1, 17, 2), 10.0), np.ones((1, 17))))


def _no_info(seq):
    return lambda: (depth_msg(seq, 0), None, pose_msg(seq, 0))


def _fisheye624(seq) -> CameraInfo:
    info = info_msg(seq)
    info.distortion_model, info.d = "fisheye624", [0.1] * 12
    return info


BAD_INPUTS = {
    "unknown encoding": (_rgb, "encoding"),
    "depth and camera_info sizes differ": (_small_info, "size_mismatch"),
    "all-zero 16UC1 depth": (lambda s: _bad_depth(s, "16UC1", 0), "invalid_depth"),
    "all-NaN 32FC1 depth": (lambda s: _bad_depth(s, "32FC1", np.nan), "invalid_depth"),
    "keypoints off-image or NaN": (_off_image, "bad_keypoints"),
    "wrong keypoint count": (_seventeen, "keypoint_count"),
    "missing camera_info": (_no_info, "camera_info"),
    "a distortion model that cannot be undone": (lambda s: lambda: (depth_msg(s, 0), _fisheye624(s), pose_msg(s, 0)),
                                                 "distortion"),
    "normalised keypoints where pixels are expected": (
        lambda s: lambda: (depth_msg(s, 0), info_msg(s), CODEC.skeleton2d_array(
            Header(), ["dan"], s.keypoints[0][None] / [s.camera.width, s.camera.height], s.confidence[0][None])),
        "keypoint_units"),
}


def _assert_skipped_warned_and_alive(d: Driver, seq, reason: str) -> None:
    assert d.node.stats.published == 0
    assert d.spin_until(lambda: any(SKIP_REASONS[reason] in w for w in d.warnings)), d.warnings
    assert sum(SKIP_REASONS[reason] in w for w in d.warnings) == 1, "warnings must be throttled"

    def diag_count() -> float:
        for msg in reversed(d.diagnostics):
            for status in msg.status:
                if status.hardware_id == d.node.get_fully_qualified_name():
                    return float({kv.key: kv.value for kv in status.values}[f"skipped_{reason}"])
        return 0.0
    assert d.spin_until(lambda: diag_count() >= 1)
    published = d.node.stats.published
    d.send_until(good_frame(seq, 3), lambda: d.node.stats.published > published)   # still alive


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_is_skipped_counted_and_warned_once(driver, seq, case):
    make_frame, reason = BAD_INPUTS[case]
    d = driver()
    d.send_until(make_frame(seq), lambda: d.node.stats.skipped[reason] >= 2)
    assert not d.skeletons
    _assert_skipped_warned_and_alive(d, seq, reason)


def test_yolo_keypoint_ids_beyond_coco17_are_a_counted_skip(driver, seq):
    """A yolo pose model of another keypoint set (ids beyond 17) does not fit COCO-17: keypoint_count."""
    pytest.importorskip("yolo_msgs.msg")
    d = driver(pose_input="yolo")
    kp, conf = np.full((1, 17, 2), 150.0), np.ones((1, 17))
    bad = lambda: _with_keypoint_id(_yolo_detections(kp, conf, ["1"]), 21)    # noqa: E731
    d.send_until(lambda: (depth_msg(seq, 0), info_msg(seq), bad()), lambda: d.node.stats.skipped["keypoint_count"] >= 2)
    assert not d.skeletons and any("keypoint id 21" in w for w in d.warnings)


def _with_keypoint_id(msg, kp_id: int):
    msg.detections[0].keypoints.data[-1].id = kp_id
    return msg


def test_time_jump_back_resets_the_synchroniser(driver, seq):
    """A looping bag: the queues still hold messages from the end of the last loop. Their stamps are
    the newest, so without a reset the bound would evict every new message instead of them. The
    reset is counted as a reset, not as a skipped frame: the frame is processed."""
    d = driver(sync_queue_size=3)
    d.send_until(good_frame(seq), lambda: len(d.skeletons) >= 2)
    d.send_until(lambda: (None, None, pose_msg(seq, 0)), lambda: len(d.node._pairing._exact.queues[1]) >= 3)
    early = itertools.count(10)                       # stamps 1 s, 1.1 s, ... far before 1000 s
    d.send_until(good_frame(seq), lambda: d.node.stats.sync_resets >= 1 and d.answered() is not None,
                 stamp=lambda: next(early) * 100_000_000)     # frames after the jump pair again
    assert sum(d.node.stats.skipped.values()) == 0
    assert d.spin_until(lambda: any("time jumped backwards" in w for w in d.warnings))
    assert d.spin_until(lambda: float(diag_values(d).get("sync_resets", 0)) >= 1)


# --- wrong output that must not happen (hardening) ------------------------------------------------------
def diag_status(d: Driver):
    for msg in reversed(d.diagnostics):
        for status in msg.status:
            if status.hardware_id == d.node.get_fully_qualified_name():
                return status
    return None


def diag_values(d: Driver) -> dict[str, str]:
    status = diag_status(d)
    return {kv.key: kv.value for kv in status.values} if status else {}


def _pose_with_confidence(seq, i: int, values: dict[int, float]):
    pose = pose_msg(seq, i)
    conf = np.array(pose.skeletons[0].confidence, dtype=np.float32)
    for j, v in values.items():
        conf[j] = v
    pose.skeletons[0].confidence = conf.tolist()
    return pose


@pytest.mark.parametrize("values", [{3: 1e9}, {3: -5.0}, {3: float("nan")}, {0: float("inf"), 5: float("nan")}])
def test_confidence_out_of_range_or_nan_is_cleaned_counted_and_warned(driver, seq, values):
    d = driver()
    d.send_until(lambda: (depth_msg(seq, 1), info_msg(seq), _pose_with_confidence(seq, 1, values)),
                 lambda: d.answered() is not None)
    conf = np.array(seq.confidence[1], dtype=np.float32)[None]
    for j, v in values.items():
        conf[0, j] = v
    conf = np.clip(np.nan_to_num(conf, nan=0, posinf=0, neginf=0), 0, 1)
    depth = decode_depth(encode_depth(seq.depth_m[1], "16UC1"), "16UC1")
    want = Pipeline().run(depth[None], seq.keypoints[1][None].astype(np.float32), conf, seq.camera).joints
    got = joints_from_msg(d.answered())[1]
    np.testing.assert_allclose(got, want, atol=1e-6)
    assert np.isfinite(got).all(-1).sum() >= 12 and np.nanmax(np.abs(got)) < 10
    assert d.spin_until(lambda: float(diag_values(d).get("repaired_confidence", 0)) >= 1)
    assert d.spin_until(lambda: any("input repaired: 2D confidence" in w for w in d.warnings))


@pytest.mark.parametrize("encoding, far", [("32FC1", 1e30), ("16UC1", 65535)])
def test_out_of_range_depth_is_invalid_not_a_far_joint(driver, seq, encoding, far):
    d = driver()
    raw = encode_depth(seq.depth_m[1], encoding)
    body = np.isfinite(seq.depth_m[1]) & (seq.depth_m[1] < 3.2)
    raw[body & (np.arange(raw.shape[1])[None] < 160)] = far       # the left half of the person saturates
    d.send_until(lambda: (array_to_image(raw, encoding), info_msg(seq), pose_msg(seq, 1)),
                 lambda: d.answered() is not None)
    joints = joints_from_msg(d.answered())[1]
    assert np.isfinite(joints).any() and np.nanmax(joints[..., 2]) <= d.node.config.max_range
    assert np.isnan(joints).any(), "joints on the saturated half are missing"
    raw[:] = far                                                   # nothing in range at all
    d.send_until(lambda: (array_to_image(raw, encoding), info_msg(seq), pose_msg(seq, 1)),
                 lambda: d.node.stats.skipped["invalid_depth"] >= 1)


def test_high_rate_with_lost_depth_frames_pairs_each_pose_with_its_own_image(driver, seq):
    """60 Hz stamps, every 20th depth image lost, each pose after its image, a generous 20 ms slop. Each
    pose's id names its frame (tracking off: it would give the one person one stable id)."""
    d = driver(sync_slop=0.02, tracking=False)
    base = d.next_stamp()
    for i in range(60):
        stamp = base + round(i * 1e9 / 60)
        pose = pose_msg(seq, 0, ids=(f"f{i}",))
        d.send(None if i % 20 == 7 else depth_msg(seq, 0), info_msg(seq), pose, stamp)
        d.spin_until(lambda: stamp in d.skeletons, 0.3)
    assert len(d.skeletons) >= 40
    for stamp, msg in d.skeletons.items():
        assert msg.skeletons[0].body_id == f"f{round((stamp - base) * 60 / 1e9)}"


def test_slop_above_half_the_period_is_warned_when_stamps_differ(driver, seq):
    d = driver(sync_slop=0.02, diagnostics_period=0.5)
    for i in range(40):
        stamp = 5_000_000_000_000 + round(i * 1e9 / 60)     # 60 Hz stamps
        d.send(depth_msg(seq, 0), info_msg(seq), None, stamp)
        d.send(None, None, pose_msg(seq, 0), stamp + 3_000_000)  # a detector stamping 3 ms later
        d.spin_until(lambda: False, 0.03)
    assert d.spin_until(lambda: any("sync_slop" in w for w in d.warnings), 5.0), d.warnings
    assert d.spin_until(lambda: "sync_slop" in diag_status(d).message)


def test_duplicate_and_colliding_ids_get_unique_frames_markers_and_ids(driver, seq):
    d = driver(publish_measurements=True, measurement_rate=5.0)
    got: list[BodyMeasurements] = []
    d.driver.create_subscription(BodyMeasurements, d.node.config.measurements_topic, got.append, RELIABLE)
    ids = ("bob", "bob", "a/b", "a b")
    d.send_until(lambda: (depth_msg(seq, 1), info_msg(seq), pose_msg(seq, 1, ids, shift_px=20.0)),
                 lambda: bool(d.skeletons) and bool(d.tf) and bool(d.markers) and len({m.body_id for m in got}) >= 4)
    out = next(iter(d.skeletons.values()))
    assert [sk.body_id for sk in out.skeletons] == ["bob", "bob_2", "a/b", "a b"]
    msg = d.tf[0]
    roots = [t.child_frame_id for t in msg.transforms if t.child_frame_id.startswith("body_")]
    assert sorted(roots) == ["body_a_b", "body_a_b_2", "body_bob", "body_bob_2"]
    assert len({t.child_frame_id for t in msg.transforms}) == len(msg.transforms)
    assert len({(m.ns, m.id) for m in d.markers[0].markers}) == 8
    assert {m.body_id for m in got} == {"bob", "bob_2", "a_b", "a_b_2"}
    assert d.spin_until(lambda: float(diag_values(d).get("repaired_duplicate_id", 0)) >= 1)
    assert any("made unique" in w for w in d.warnings)


def test_max_bodies_refines_the_most_confident_and_counts_the_rest(driver, seq):
    d = driver(max_bodies=2)
    pose = pose_msg(seq, 1, ("a", "b", "c", "d", "e"), shift_px=10.0)
    for sk, c in zip(pose.skeletons, (0.2, 0.9, 0.3, 0.8, 0.1)):
        sk.confidence = [c] * 15
    d.send_until(lambda: (depth_msg(seq, 1), info_msg(seq), pose), lambda: d.answered() is not None)
    assert [sk.body_id for sk in d.answered().skeletons] == ["b", "d"]
    assert d.spin_until(lambda: float(diag_values(d).get("repaired_max_bodies", 0)) >= 3)


def test_zero_stamps_are_skipped_and_a_repeated_stamp_is_published_once(driver, seq):
    d = driver()
    d.send_until(good_frame(seq), lambda: d.node.stats.skipped["zero_stamp"] >= 2, stamp=lambda: 0)
    assert not d.skeletons
    stamp = d.next_stamp()
    d.send_until(good_frame(seq), lambda: d.node.stats.skipped["repeated_stamp"] >= 2, stamp=lambda: stamp)
    assert list(d.skeletons) == [stamp] and d.node.stats.published == 1
    assert any("stamp is zero" in w for w in d.warnings)


def test_lost_input_turns_diagnostics_warn(driver, seq):
    """Frames dropped on the way (as best-effort QoS drops large images) show as gaps in the stamps."""
    d = driver(diagnostics_period=0.3)
    base = d.next_stamp()
    for i in range(40):
        if i % 3 != 1:                                     # a third of a 30 Hz stream never arrives
            d.send(depth_msg(seq, 0), info_msg(seq), pose_msg(seq, 0), base + round(i * 1e9 / 30))
        d.spin_until(lambda: False, 0.02)
    assert d.spin_until(lambda: float(diag_values(d).get("depth_lost", 0)) >= 8)
    assert d.spin_until(lambda: diag_status(d).level == DiagnosticStatus.WARN and "lost" in diag_status(d).message)


def test_no_input_is_an_error_and_an_incompatible_publisher_is_reported(driver, seq):
    d = driver(qos_reliability="reliable", diagnostics_period=0.2, input_timeout=0.5)
    assert d.spin_until(lambda: diag_status(d) is not None and diag_status(d).level == DiagnosticStatus.ERROR)
    assert "no depth received" in diag_status(d).message
    best_effort = QoSProfile(depth=5, reliability=ReliabilityPolicy.BEST_EFFORT)
    d.driver.create_publisher(Image, d.node.config.depth_topic, best_effort)
    assert d.spin_until(lambda: any("incompatible" in w for w in d.warnings))
    assert d.spin_until(lambda: "incompatible QoS" in diag_status(d).message)
    assert diag_status(d).level == DiagnosticStatus.ERROR


# --- the in-process demo graph (player -> refine_node -> live scorer) ----------------------------------------
def test_demo_graph_scores_what_the_scorer_receives(monkeypatch):
    """Whatever arrived is scored exactly as offline: each received skeleton is the offline pipeline's for
    that frame (smoothing off: it joins frames), and the reported metrics are the offline metrics of those
    frames (so a broken pipeline, or a score against the wrong frames, fails however many frames the wire
    lost)."""
    from refinet_ros.core.metrics import evaluate
    from refinet_ros.ros.demo import graph
    scorers = []

    class KeptScorer(graph.LiveScorer):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            scorers.append(self)

    monkeypatch.setattr(graph, "LiveScorer", KeptScorer)
    lines = []
    result = graph.run_demo_graph(frames=45, stages="none", domain_id=1 + DOMAIN_ID % 100, progress=lines.append,
                                  params={"smoothing": False})
    assert result["frames_sent"] == 45 and 0 < result["frames_received"] <= 45
    assert result["frames_received"] + result["frames_skipped"] >= 40      # at most a few lost on the wire
    assert 0 < result["p50_ms"] <= result["p95_ms"] <= result["max_ms"] < 1000
    assert sum(row["frames"] for row in result["by_skeletons"].values()) == result["frames_received"]
    assert lines and "latency" in lines[-1]
    (scorer,) = scorers
    seq, idx = scorer.player.seq, np.asarray(scorer.indices)
    assert len(idx) == result["frames_received"] == len(set(idx.tolist()))
    depth = decode_depth(encode_depth(seq.depth_m[idx], "16UC1"), "16UC1")
    want = Pipeline().run(depth, seq.keypoints[idx], seq.confidence[idx], seq.camera).joints
    got = np.stack([s[0] if len(s) else np.full((15, 3), np.nan) for s in scorer.skeletons])
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-6)
    offline = evaluate(want, seq.joints[idx], seq.is_valid[idx])
    assert result["n_frames"] == offline["n_frames"] > 0
    assert result["mAP"] == pytest.approx(offline["mAP"], abs=1e-9)
    assert result["mDE_cm"] == pytest.approx(offline["mDE_cm"], abs=1e-6)
    assert "refine_node, side view, stages none" in graph.format_result(result)


def test_demo_graph_scores_every_person_of_a_multi_person_sequence(tmp_path):
    """A 3-person sequence with the poses on a topic: one skeleton per person in view comes back, nearly all
    matched to their person, and the picture is written; depth only (detector: depth) finds most of them."""
    from refinet_ros.ros.demo import graph
    result = graph.run_demo_graph(frames=30, stages="none", domain_id=1 + DOMAIN_ID % 100, progress=None,
                                  people=3, picture=tmp_path / "people.png")
    assert result["frames_received"] >= 25 and result["people"] >= 2 * result["frames_received"]
    # one skeleton per person published (recall == precision); baseline lifting of a person hidden behind
    # another lands on the occluder, farther than the match gate, hence not all are matched
    assert result["people_recall"] == pytest.approx(result["people_precision"]) and result["people_recall"] > 0.85
    assert (tmp_path / "people.png").stat().st_size > 10_000
    depth_only = graph.run_demo_graph(frames=30, stages="none", domain_id=1 + DOMAIN_ID % 100, progress=None,
                                      people=3, params={"detector": "depth"})
    assert depth_only["detector"] == "depth" and depth_only["frames_received"] >= 25
    assert depth_only["people_recall"] > 0.6 and depth_only["people_precision"] > 0.8


def test_detector_depth_needs_no_pose_topic_and_publishes_its_detections(driver, seq, context):
    """detector: depth: skeletons from depth and camera_info alone, one per person in view, and the
    2D detections on refinet/pose2d with the image's stamp."""
    d = driver(detector="depth")
    assert d.pub_pose.get_subscription_count() == 0
    detections: dict[int, Skeleton2DArray] = {}
    d.driver.create_subscription(Skeleton2DArray, d.node.config.pose2d_topic,
                                 lambda m: detections.setdefault(stamp_ns(m.header.stamp), m), RELIABLE)
    frame = lambda: (depth_msg(seq, 0), info_msg(seq), None)        # noqa: E731  no pose message at all
    d.send_until(frame, lambda: d.answered() is not None and any(s in detections for s in d.sent))
    got = d.answered()
    stamp = stamp_ns(got.header.stamp)
    assert len(got.skeletons) == 1 and got.header.frame_id == FRAME_ID
    assert len(detections[stamp].skeletons) == 1
    ids, joints = joints_from_msg(got)
    torso = seq.joints[0][8]
    assert np.linalg.norm(np.nanmean(joints[0], 0) - torso) < 0.5      # the person, not the background


def test_detector_depth_skips_a_frame_too_small_for_the_detector_and_goes_on(driver, seq):
    """An 8x8 depth image with its camera_info: counted skip (detector_size), then a good frame refines."""
    d = driver(detector="depth")
    tiny = PinholeCamera.from_k(np.array([[7.0, 0, 4], [0, 7.0, 4], [0, 0, 1]]), 8, 8)
    small = lambda: (array_to_image(encode_depth(np.full((8, 8), 2.0, np.float32), "16UC1"), "16UC1"),   # noqa: E731
                     CODEC.camera_info(Header(), tiny), None)
    d.send_until(small, lambda: d.node.stats.skipped["detector_size"] >= 1)
    d.send_until(lambda: (depth_msg(seq, 0), info_msg(seq), None), lambda: d.answered() is not None)
    assert len(d.answered().skeletons) == 1


def test_latency_by_skeleton_count_pools_only_frames_with_that_many():
    from refinet_ros.ros.demo.live_scorer import latency_by_count
    rows = latency_by_count([10.0, 20.0, 30.0, 40.0, 50.0], [1, 3, 3, 1, 3])
    assert set(rows) == {"1", "3"} and rows["1"]["frames"] == 2 and rows["3"]["frames"] == 3
    assert rows["1"]["p50_ms"] == 25.0 and rows["3"]["p50_ms"] == 30.0
    assert rows["3"]["p95_ms"] == pytest.approx(48.0)
