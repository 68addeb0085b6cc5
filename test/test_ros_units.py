"""Pieces of the ROS layer that need no traffic: synchroniser, refiner mailbox, image seam,
markers, TF, diagnostics and parameter validation (message conversions: test_message_codec.py)."""
from __future__ import annotations

import os
import threading

import numpy as np
import pytest

rclpy = pytest.importorskip("rclpy")

from builtin_interfaces.msg import Time as TimeMsg  # noqa: E402
from sensor_msgs.msg import Image  # noqa: E402
from std_msgs.msg import Header  # noqa: E402

from refinet_ros.core.depth import encode_depth  # noqa: E402
from refinet_ros.core.joints import JOINT_NAMES, LIMBS, NUM_JOINTS, TORSO  # noqa: E402
from refinet_ros.core.pose import PoseState  # noqa: E402
from refinet_ros.ros import config as cfg  # noqa: E402
from refinet_ros.ros.compat import sync as sync_seam  # noqa: E402
from refinet_ros.ros.compat.image import ImageConversionError, array_to_image, image_to_array  # noqa: E402
from diagnostic_msgs.msg import DiagnosticStatus  # noqa: E402

from refinet_ros.ros.diagnostics import FrameStats, HealthLimits, ThrottledWarner, assess  # noqa: E402
from refinet_ros.ros.input_monitor import InputMonitor  # noqa: E402
from refinet_ros.ros.pairing import ExactFirstPairing  # noqa: E402
from refinet_ros.ros.markers import skeleton_markers  # noqa: E402
from refinet_ros.ros.tf_frames import skeleton_transforms  # noqa: E402
from refinet_ros.ros.worker import LatestWorker  # noqa: E402

DOMAIN_ID = 1 + (os.getpid() + 31) % 100


# --- synchroniser (the built-in one is what runs here; message_filters would be used if present) ---
class _Stamped:
    def __init__(self, seconds: float, tag: str) -> None:
        ns = round(seconds * 1e9)
        self.header = Header(stamp=TimeMsg(sec=ns // 10**9, nanosec=ns % 10**9))
        self.tag = tag


def _sync(queue_size=5, slop=0.02):
    a, b = sync_seam.SimpleFilter(), sync_seam.SimpleFilter()
    ts = sync_seam.ApproximateTimeSynchronizer([a, b], queue_size, slop)
    out = []
    ts.registerCallback(lambda x, y: out.append((x.tag, y.tag)))
    return ts, a, b, out


def test_sync_pairs_within_slop_and_nearest_first():
    _, a, b, out = _sync(slop=0.02)
    a.signalMessage(_Stamped(1.000, "a1"))
    assert out == []
    b.signalMessage(_Stamped(1.050, "far"))          # 50 ms away: no pair
    assert out == []
    b.signalMessage(_Stamped(1.005, "b1"))
    assert out == [("a1", "b1")]
    a.signalMessage(_Stamped(1.040, "a2"))           # 'far' is 10 ms away now
    assert out[-1] == ("a2", "far")


def test_sync_emits_each_message_once_and_keeps_unmatched_ones():
    _, a, b, out = _sync(slop=0.01)
    for t in (1.0, 2.0, 3.0):
        a.signalMessage(_Stamped(t, f"a{t:.0f}"))
    b.signalMessage(_Stamped(2.0, "b2"))
    b.signalMessage(_Stamped(2.001, "b2bis"))        # a2 already used: nothing to pair with
    b.signalMessage(_Stamped(1.0, "b1"))             # an older partner is still queued
    assert out == [("a2", "b2"), ("a1", "b1")]


def test_sync_queues_are_bounded_dropping_the_oldest():
    ts, a, b, out = _sync(queue_size=3, slop=0.01)
    for i in range(10):
        a.signalMessage(_Stamped(float(i), f"a{i}"))
    assert len(ts.queues[0]) == 3
    b.signalMessage(_Stamped(0.0, "b0"))             # a0 was dropped long ago
    assert out == []
    b.signalMessage(_Stamped(9.0, "b9"))
    assert out == [("a9", "b9")]


def test_sync_drops_a_new_message_older_than_a_full_queue():
    _, a, b, out = _sync(queue_size=2, slop=0.01)
    b.signalMessage(_Stamped(1.0, "b1"))
    for t in (5.0, 6.0):
        a.signalMessage(_Stamped(t, f"a{t:.0f}"))
    a.signalMessage(_Stamped(1.0, "a1"))             # the oldest stamp of a full queue: evicted at once
    assert out == []


def test_reset_forgets_queued_messages():
    ts, a, b, out = _sync()
    a.signalMessage(_Stamped(5.0, "a5"))
    sync_seam.reset_synchronizer(ts)
    b.signalMessage(_Stamped(5.0, "b5"))
    assert out == [] and len(ts.queues[1]) == 1


def test_time_sync_pairs_identical_stamps_only():
    a, b = sync_seam.SimpleFilter(), sync_seam.SimpleFilter()
    ts = sync_seam.TimeSynchronizer([a, b], 3)
    out = []
    ts.registerCallback(lambda x, y: out.append((x.tag, y.tag)))
    a.signalMessage(_Stamped(1.0, "a1"))
    b.signalMessage(_Stamped(1.001, "near"))
    b.signalMessage(_Stamped(1.0, "b1"))
    assert out == [("a1", "b1")] and len(ts.queues[1]) == 1


# --- exact-first pairing ----------------------------------------------------------------------------
def _pairing(slop=0.02, queue_size=10):
    out = []
    return ExactFirstPairing(queue_size, slop, lambda d, p: out.append((d.tag, p.tag))), out


def test_pairing_shared_stamps_never_pair_neighbours_after_a_lost_depth_frame():
    """60 Hz, one depth frame in 20 lost, each pose arriving after its depth image: message_filters'
    approximate matching alone would pair every later depth image with the previous frame's pose."""
    pairing, out = _pairing(slop=0.02)
    for i in range(114):
        t = i / 60
        if i % 20 != 7:
            pairing.add_depth(_Stamped(t, f"{i}"))
        pairing.add_pose(_Stamped(t, f"{i}"))
    assert pairing.exact_mode
    assert len(out) == 114 - 6 and all(d == p for d, p in out)


def test_pairing_without_shared_stamps_is_message_filters_approximate_matching():
    pairing, out = _pairing(slop=0.005)
    for i in range(30):
        pairing.add_depth(_Stamped(i / 30, f"d{i}"))
        pairing.add_pose(_Stamped(i / 30 + 0.002, f"p{i}"))     # a detector stamping 2 ms later
    assert not pairing.exact_mode
    assert out == [(f"d{i}", f"p{i}") for i in range(30)]


def test_pairing_falls_back_to_approximate_when_stamps_stop_being_shared():
    pairing, out = _pairing(slop=0.005, queue_size=3)
    for i in range(5):
        pairing.add_depth(_Stamped(i / 30, f"d{i}"))
        pairing.add_pose(_Stamped(i / 30, f"p{i}"))
    for i in range(5, 12):
        pairing.add_depth(_Stamped(i / 30, f"d{i}"))
        pairing.add_pose(_Stamped(i / 30 + 0.002, f"p{i}"))
    assert not pairing.exact_mode
    assert out[:5] == [(f"d{i}", f"p{i}") for i in range(5)] and out[-1] == ("d11", "p11")


# --- input monitor -----------------------------------------------------------------------------------
def test_monitor_infers_lost_frames_from_stamp_gaps():
    monitor = InputMonitor()
    received = [i for i in range(300) if i % 3 != 1]           # a third of a 30 Hz stream lost
    for k, i in enumerate(received):
        monitor.add(round(i * 1e9 / 30), float(k))
    assert monitor.period_s == pytest.approx(1 / 30, rel=1e-6)
    assert 95 <= monitor.lost <= 100 and monitor.count == len(received)   # the first gaps set the period


def test_monitor_treats_a_long_gap_as_a_pause_and_a_jump_back_as_no_loss():
    monitor = InputMonitor()
    for i in range(10):
        monitor.add(i * 100_000_000, 0.0)
    monitor.add(100 * 1_000_000_000, 0.0)      # 90 s of silence
    monitor.add(99 * 1_000_000_000, 1.0)       # one stray stamp 1 s back...
    monitor.add(100 * 1_000_000_000 + 100_000_000, 2.0)   # ...and on: 20 periods forward, no loss
    monitor.add(100 * 1_000_000_000 + 300_000_000, 3.0)   # one frame lost
    assert monitor.lost == 1 and monitor.age_s(7.0) == 4.0
    assert np.isnan(InputMonitor().age_s(1.0))


def _healthy(**changes):
    snap = {"frames_skipped": 0, "input_rate_hz": 30.0, "output_rate_hz": 30.0, "pose_rate_hz": 30.0,
            "depth_age_s": 0.01, "pose_age_s": 0.01, "camera_info_age_s": 0.01, "depth_incompatible_qos": 0,
            "pose_incompatible_qos": 0, "camera_info_incompatible_qos": 0, "depth_lost": 0, "pose_lost": 0,
            "depth_unpaired": 0, "pose_unpaired": 0, "depth_period_ms": 33.3, "sync_exact": 1}
    return {**snap, **changes}


@pytest.mark.parametrize("changes, level, words", [
    ({}, DiagnosticStatus.OK, "ok"),
    ({"depth_age_s": float("nan")}, DiagnosticStatus.ERROR, "no depth received"),
    ({"camera_info_age_s": 9.0}, DiagnosticStatus.ERROR, "no camera_info received for 9.0 s"),
    ({"pose_age_s": 9.0}, DiagnosticStatus.WARN, "no pose received"),
    ({"depth_incompatible_qos": 1, "depth_age_s": float("nan")}, DiagnosticStatus.ERROR, "incompatible QoS"),
    ({"depth_lost": 20}, DiagnosticStatus.WARN, "20 depth message(s) lost"),
    ({"output_rate_hz": 10.0}, DiagnosticStatus.WARN, "output 10.0 Hz for 30.0 Hz"),
    ({"frames_skipped": 3}, DiagnosticStatus.WARN, "3 frame(s) skipped"),
    ({"pose_unpaired": 5}, DiagnosticStatus.WARN, "5 pose message(s) found no depth"),
    ({"sync_exact": 0}, DiagnosticStatus.WARN, "sync_slop 0.02 s >= half"),
])
def test_assess_levels(changes, level, words):
    got, problems = assess(_healthy(**changes), _healthy(), HealthLimits(input_timeout_s=2.0, sync_slop_s=0.02))
    assert got == level and words in ("; ".join(problems) or "ok")


# --- the refiner's one-slot mailbox ---------------------------------------------------------------
def test_worker_keeps_only_the_newest_pending_item_while_busy():
    gate, started = threading.Event(), threading.Event()
    done, skipped = [], []

    def process(item):
        started.set()
        gate.wait(10)
        done.append(item)

    worker = LatestWorker(process, skipped.append, "test_worker")
    try:
        worker.submit(1)
        assert started.wait(10)
        for item in (2, 3, 4):                        # all arrive while 1 is being processed
            worker.submit(item)
        gate.set()
        deadline = threading.Event()
        for _ in range(200):
            if len(done) == 2:
                break
            deadline.wait(0.05)
    finally:
        worker.close()
    assert done == [1, 4] and skipped == [2, 3]


# --- image seam ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("encoding", ["16UC1", "32FC1"])
def test_image_round_trip(encoding):
    depth = np.random.default_rng(0).uniform(0.5, 4.0, (6, 7)).astype(np.float32)
    raw = encode_depth(depth, encoding)
    back = image_to_array(array_to_image(raw, encoding))
    np.testing.assert_array_equal(back, raw)
    assert back.dtype == raw.dtype


def test_image_honours_row_padding_and_big_endian():
    raw = np.arange(12, dtype=np.uint16).reshape(3, 4)
    rows = np.zeros((3, 10), dtype=np.uint8)            # 8 bytes of pixels + 2 of padding per row
    rows[:, :8] = raw.astype(">u2").view(np.uint8)
    msg = Image(height=3, width=4, encoding="16UC1", is_bigendian=1, step=10, data=rows.tobytes())
    np.testing.assert_array_equal(image_to_array(msg), raw)


def test_image_rejects_unknown_encoding_and_short_buffer():
    with pytest.raises(ImageConversionError, match="unsupported depth encoding 'rgb8'"):
        image_to_array(Image(height=1, width=1, encoding="rgb8", step=3, data=b"abc"))
    with pytest.raises(ImageConversionError, match="bytes"):
        image_to_array(Image(height=2, width=2, encoding="16UC1", step=4, data=b"\0" * 6))


# --- conversions, markers, TF ---------------------------------------------------------------------------
def _state():
    joints = np.random.default_rng(1).uniform(-1, 3, (2, NUM_JOINTS, 3))
    joints[0, 5] = np.nan
    joints[1, TORSO] = np.nan
    return PoseState(np.zeros((2, NUM_JOINTS, 2)), joints, np.full((2, NUM_JOINTS), 0.7))


def test_markers_one_joint_list_and_one_limb_list_per_body_without_missing_joints():
    state = _state()
    arr = skeleton_markers(Header(frame_id="cam"), ["a", "b"], state.joints, 0.25)
    assert len(arr.markers) == 4
    joints_a, limbs_a = arr.markers[0], arr.markers[1]
    assert len(joints_a.points) == NUM_JOINTS - 1
    assert len(limbs_a.points) == 2 * sum(1 for a, b in LIMBS if 5 not in (a, b))
    assert joints_a.lifetime.nanosec == 250_000_000 and joints_a.header.frame_id == "cam"
    assert joints_a.color != arr.markers[2].color or joints_a.id != arr.markers[2].id


def test_tf_root_at_torso_or_centroid_and_one_child_per_valid_joint():
    state = _state()
    tfs = skeleton_transforms(Header(frame_id="cam"), ["a", "b"], state.joints)
    by_child = {t.child_frame_id: t for t in tfs}
    assert by_child["body_a"].header.frame_id == "cam"
    assert by_child["body_a"].transform.translation.x == pytest.approx(state.joints[0, TORSO, 0])
    assert "left_elbow_a" not in by_child and "left_elbow_b" in by_child
    centroid = np.nanmean(state.joints[1], axis=0)
    assert by_child["body_b"].transform.translation.z == pytest.approx(centroid[2])
    head = by_child["head_a"]
    assert head.header.frame_id == "body_a"
    assert head.transform.translation.y == pytest.approx(state.joints[0, 0, 1] - state.joints[0, TORSO, 1])
    assert len(tfs) == 2 + (NUM_JOINTS - 1) + (NUM_JOINTS - 1)
    assert {f"{n}_a" for n in JOINT_NAMES} - set(by_child) == {"left_elbow_a"}


# --- diagnostics ----------------------------------------------------------------------------------------
def test_warnings_are_throttled_per_reason():
    logged = []
    warner = ThrottledWarner(logged.append, period_s=60.0)
    for _ in range(5):
        warner.warn("encoding", "x")
        warner.warn("invalid_depth", "y")
    assert len(logged) == 2 and "unsupported encoding" in logged[0]


def test_frame_stats_snapshot_counts_skips_by_reason():
    stats = FrameStats()
    for _ in range(3):
        stats.add_input()
    stats.add_skip("busy")
    stats.add_published(10.0)
    snap = stats.snapshot()
    assert snap["frames_in"] == 3 and snap["frames_skipped"] == 1 and snap["skipped_busy"] == 1
    assert snap["latency_p50_ms"] == 10.0 and snap["skipped_encoding"] == 0


# --- parameters -------------------------------------------------------------------------------------------
def _read(context, **overrides):
    from rclpy.parameter import Parameter
    node = rclpy.create_node("refine_node", context=context,
                             parameter_overrides=[Parameter(k, value=v) for k, v in overrides.items()])
    try:
        problems = cfg.declare_parameters(node)
        if problems:
            raise cfg.ConfigError("; ".join(problems))
        return cfg.read_config(node)
    finally:
        node.destroy_node()


def test_shipped_yaml_names_every_parameter_and_validates():
    defaults = cfg.load_defaults()
    assert set(defaults) == set(cfg.PARAMETER_NAMES)
    config = cfg.validate(defaults)
    assert config.stages == ("A", "B", "C") and config.keypoint_layout == "itop15"


def test_overrides_are_read_and_stages_parsed(context):
    config = _read(context, stages="c,a", view="top", keypoint_layout="coco17", sync_slop=0.05)
    assert config.stages == ("A", "C") and config.view == "top" and config.sync_slop == 0.05


@pytest.mark.parametrize("name,value,message", [
    ("view", "front", "view='front': expected side or top"),
    ("stages", "A,D", "unknown stage"),
    ("keypoint_layout", "halpe", "itop15 | coco17 | body25 | hri18"),
    ("qos_reliability", "sometimes", "best_effort or reliable"),
    ("sync_slop", 0.0, "sync_slop"),
    ("sync_queue_size", 0, "sync_queue_size"),
    ("depth_window", 4, "depth_window=4: expected a value from 1 to 51 in steps of 2"),
    ("torch_threads", -1, "torch_threads"),
    ("device", "tpu", "device"),
    ("weights_dir", "/nonexistent/weights", "weights_dir"),
    ("depth_topic", " ", "depth_topic"),
    ("sync_slop", "fast", "sync_slop"),               # wrong type
])
def test_bad_values_are_clear_config_errors(context, name, value, message):
    with pytest.raises(cfg.ConfigError, match=message):
        _read(context, **{name: value})


def test_int8_needs_the_cpu(context):
    assert _read(context, int8=True).int8
    with pytest.raises(cfg.ConfigError, match="int8=True: expected false unless device is cpu"):
        _read(context, int8=True, device="cuda")


def test_misspelt_parameter_is_rejected(context):
    with pytest.raises(cfg.ConfigError, match=r"unknown parameter\(s\) \['sync_slope'\]"):
        _read(context, sync_slope=0.1)


def test_missing_weights_stop_the_node_with_a_clear_error(context, tmp_path):
    from refinet_ros.ros.refine_node import RefineNode
    from rclpy.parameter import Parameter
    with pytest.raises(cfg.ConfigError, match=r"side_A\.pt does not exist"):
        RefineNode(context=context, parameter_overrides=[Parameter("stages", value="A"),
                                                         Parameter("weights_dir", value=str(tmp_path))])


def test_main_exits_2_on_a_bad_parameter(capsys, monkeypatch):
    from refinet_ros.ros.refine_node import main
    monkeypatch.setenv("ROS_DOMAIN_ID", str(DOMAIN_ID))
    assert main(["refine_node", "--ros-args", "-p", "view:=front"]) == 2
    assert "configuration error: parameter view='front'" in capsys.readouterr().err


@pytest.mark.parametrize("content", [b"not a model", b"\x80\x04\x95" + b"\x00" * 20, b""])
def test_an_unusable_measurement_model_is_a_clean_configuration_error(capsys, monkeypatch, tmp_path, content):
    from refinet_ros.ros.refine_node import main
    model = tmp_path / "stature.npz"
    model.write_bytes(content)
    monkeypatch.setenv("ROS_DOMAIN_ID", str(DOMAIN_ID))
    assert main(["refine_node", "--ros-args", "-p", "publish_measurements:=true", "-p",
                 f"measurement_model:={model}", "-p", "stages:=none"]) == 2
    err = capsys.readouterr().err
    assert "configuration error: parameter measurement_model=" in err and "Traceback" not in err
