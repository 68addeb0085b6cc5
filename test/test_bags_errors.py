"""Bad input to the bag tools: a clear error naming the problem, and never a half-written output."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from refinet_ros.bags import layout as L
from refinet_ros.bags.bagio import BagError, add_connection, new_bag
from refinet_ros.bags.convert import itop_to_bag, synth_to_bag
from refinet_ros.bags.score_bag import evaluate_bag
from refinet_ros.bags.rosbags_codec import CODEC
from refinet_ros.pose_messages import pose_reader
from refinet_ros.bags.refine import refine_bag
from refinet_ros.bags.typestore import typestore
from refinet_ros.core.camera import PinholeCamera
from refinet_ros.core.itop import ItopFormatError, read_pose2d, write_pose2d
from refinet_ros.core.pipeline import Pipeline
from refinet_ros.core.synth.generate import write_split
from refinet_ros.frame_input import InputLimits

CAMERA = PinholeCamera.itop()


def frame(stamp_ns: int, keypoints: int = 15, pose_stamp_ns: int | None = None) -> list[tuple[str, str, object]]:
    """(topic, type, message) of one plane-at-2-m frame with one person."""
    hdr = CODEC.header(stamp_ns, L.OPTICAL_FRAME)
    uv = np.tile(np.linspace([100, 60], [200, 180], keypoints), (1, 1, 1))
    return [(L.CAMERA_INFO_TOPIC, L.CAMERA_INFO, CODEC.camera_info(hdr, CAMERA)),
            (L.DEPTH_TOPIC, L.IMAGE, CODEC.depth_image(hdr, np.full((240, 320), 2.0, np.float32), "16UC1")),
            (L.POSE2D_TOPIC, L.SKELETON2D_ARRAY, CODEC.skeleton2d_array(
                CODEC.header(pose_stamp_ns or stamp_ns, L.OPTICAL_FRAME), ["00"], uv, np.ones((1, keypoints))))]


def make_bag(path: Path, frames: list[list[tuple[str, str, object]]]) -> Path:
    """A bag with the given frames, each logged 1/30 s after the previous one."""
    with new_bag(path) as writer:
        conns: dict[str, object] = {}
        for k, items in enumerate(frames):
            for topic, msgtype, msg in items:
                conn = conns.get(topic) or conns.setdefault(topic, add_connection(writer, topic, msgtype))
                writer.write(conn, L.EPOCH_NS + k * 33_333_333, typestore().serialize_cdr(msg, msgtype))
    return path


def assert_no_output(out: Path) -> None:
    assert not out.exists()
    assert not [p for p in out.parent.iterdir() if p.name.startswith(f".{out.name}.")], "temporary left behind"


@pytest.fixture(scope="module")
def synth_bag(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("bags") / "synth"
    synth_to_bag(out, "side", 30, seed=2, progress=False)
    return out


def test_truncated_bag(synth_bag, tmp_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "metadata.yaml").write_text((synth_bag / "metadata.yaml").read_text().replace("synth.mcap", "bad.mcap"))
    data = (synth_bag / "synth.mcap").read_bytes()
    (bad / "bad.mcap").write_bytes(data[:len(data) // 2])
    with pytest.raises(BagError, match="corrupt or truncated"):
        refine_bag(bad, tmp_path / "out", Pipeline(), progress=False)
    assert_no_output(tmp_path / "out")


def test_corrupt_metadata_and_not_a_bag(tmp_path):
    with pytest.raises(BagError, match="no metadata.yaml"):
        evaluate_bag(tmp_path)
    (tmp_path / "metadata.yaml").write_text("rosbag2_bagfile_information: [unclosed")
    with pytest.raises(BagError, match="corrupt or truncated"):
        evaluate_bag(tmp_path)


def test_missing_topic(tmp_path):
    bag = make_bag(tmp_path / "in", [[item for item in frame(L.EPOCH_NS) if item[0] != L.POSE2D_TOPIC]])
    with pytest.raises(BagError, match="missing topic /pose2d"):
        refine_bag(bag, tmp_path / "out", Pipeline(), progress=False)
    assert_no_output(tmp_path / "out")
    with pytest.raises(BagError, match="missing topic /gt/skeletons"):
        evaluate_bag(bag)


def test_topic_of_the_wrong_type(tmp_path):
    hdr = CODEC.header(L.EPOCH_NS, L.OPTICAL_FRAME)
    wrong = (L.POSE2D_TOPIC, L.SKELETON3D_ARRAY,
             CODEC.skeleton3d_array(hdr, [], np.empty((0, 15, 3)), np.empty((0, 15))))
    bag = make_bag(tmp_path / "in", [[*frame(L.EPOCH_NS)[:2], wrong]])
    with pytest.raises(BagError, match="topic /pose2d has type refinet_ros/msg/Skeleton3DArray, expected "
                                       "refinet_ros/msg/Skeleton2DArray"):
        refine_bag(bag, tmp_path / "out", Pipeline(), progress=False)
    assert_no_output(tmp_path / "out")


def test_messages_out_of_order(tmp_path):
    frames = [frame(L.EPOCH_NS + k * 33_333_333) for k in range(70)]
    frames[-1] = frame(L.EPOCH_NS + 69 * 33_333_333, pose_stamp_ns=L.EPOCH_NS)   # after a full batch was written
    bag = make_bag(tmp_path / "in", frames)
    with pytest.raises(BagError, match="out of order on /pose2d"):
        refine_bag(bag, tmp_path / "out", Pipeline(), progress=False)
    assert_no_output(tmp_path / "out")


def test_frames_the_node_would_skip_are_skipped_and_counted_not_fatal(tmp_path):
    """One input path: the checks of refine_node (keypoint count, missing camera_info, all-invalid
    depth, size mismatch) skip the frame with the node's reason; the rest of the bag is refined."""
    good = [frame(L.EPOCH_NS + k * 33_333_333) for k in range(2, 5)]
    seventeen = frame(L.EPOCH_NS + 33_333_333, keypoints=17)
    no_info = frame(L.EPOCH_NS)[1:]                          # before any camera_info
    hdr = CODEC.header(L.EPOCH_NS + 5 * 33_333_333, L.OPTICAL_FRAME)
    empty = frame(L.EPOCH_NS + 5 * 33_333_333)
    empty[1] = (L.DEPTH_TOPIC, L.IMAGE, CODEC.depth_image(hdr, np.full((240, 320), np.nan, np.float32), "32FC1"))
    small = frame(L.EPOCH_NS + 6 * 33_333_333)
    small[1] = (L.DEPTH_TOPIC, L.IMAGE, CODEC.depth_image(CODEC.header(L.EPOCH_NS + 6 * 33_333_333, L.OPTICAL_FRAME),
                                                          np.full((120, 160), 2.0, np.float32), "16UC1"))
    bag = make_bag(tmp_path / "in", [no_info, seventeen, *good, empty, small])
    report = refine_bag(bag, tmp_path / "out", Pipeline(), progress=False)
    assert report.frames == 3 and report.skeletons == 3
    assert report.skipped == {"camera_info": 1, "keypoint_count": 1, "invalid_depth": 1, "size_mismatch": 1}
    assert "17 keypoints per person; layout itop15 has 15" in report.first_skip["keypoint_count"]
    report = refine_bag(make_bag(tmp_path / "in2", [seventeen]), tmp_path / "coco", Pipeline(),
                        pose_reader("skeleton2d", "coco17"), progress=False)
    assert report.frames == 1 and report.skeletons == 1 and not report.skipped


@pytest.fixture(scope="module")
def itop(tmp_path_factory) -> dict[str, Path]:
    return write_split(tmp_path_factory.mktemp("itop"), "side", "test", 12, seed=3, progress=False)


def test_ids_missing_between_h5_and_npz(itop, tmp_path):
    full = np.load(itop["pose2d"])
    ids = np.array([i.decode() for i in full["ids"]])
    short = write_pose2d(tmp_path / "short.npz", ids[3:], full["keypoints"][3:], full["confidence"][3:])
    with pytest.raises(ItopFormatError, match="lacks 3 id"):
        itop_to_bag(itop["depth_map"], itop["labels"], tmp_path / "out", "side", short, progress=False)
    assert_no_output(tmp_path / "out")
    read_pose2d(itop["pose2d"], ids)   # the complete file is fine


def test_depth_and_labels_that_disagree_leave_no_bag(itop, tmp_path):
    other = write_split(tmp_path / "other", "side", "test", 5, seed=4, progress=False)
    with pytest.raises(ItopFormatError, match="does not match"):
        itop_to_bag(other["depth_map"], itop["labels"], tmp_path / "out", "side", progress=False)
    assert_no_output(tmp_path / "out")


def test_existing_output_is_not_overwritten(synth_bag, tmp_path):
    (tmp_path / "out").mkdir()
    with pytest.raises(BagError, match="already exists"):
        refine_bag(synth_bag, tmp_path / "out", Pipeline(), progress=False)
    assert list((tmp_path / "out").iterdir()) == []


def _dead_pid() -> int:
    """The pid of a process that has already exited."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_killed_write_leaves_nothing_behind_for_long(synth_bag, tmp_path, capsys):
    """`bag refine` killed with SIGKILL keeps its temporary folder; the next write to the same output
    removes it, and leaves alone a live writer's folder, other outputs' folders and foreign names."""
    out, dead = tmp_path / "refined", _dead_pid()
    stale = tmp_path / f".refined.{dead}.k1ll3d_x.partial"
    keep = [tmp_path / f".refined.{os.getpid()}.running.partial",     # a live concurrent writer
            tmp_path / f".refined2.{dead}.abc.partial",               # another output's
            tmp_path / ".refined.abc.partial"]                         # no pid: not ours to judge
    for folder in (stale, *keep):
        (folder / "refined").mkdir(parents=True)
        (folder / "refined" / "refined_0.mcap").write_bytes(b"half a bag")
    refine_bag(synth_bag, out, Pipeline(), progress=False)
    assert not stale.exists() and all(folder.is_dir() for folder in keep)
    assert (out / "metadata.yaml").is_file()
    err = capsys.readouterr().err
    assert f"removed 1 temporary folder(s) left by killed writes of {out}: {stale.name}" in err


def _refined_joints(out: Path) -> np.ndarray:
    from refinet_ros.bags.bagio import open_bag, read_messages
    from refinet_ros.message_codec import joints_from_msg
    with open_bag(out) as reader:
        conns = [c for c in reader.connections if c.topic == L.REFINED_TOPIC]
        return np.concatenate([joints_from_msg(msg)[1]
                               for _, _, msg, _ in read_messages(reader, conns, {L.REFINED_TOPIC})])


def test_refine_cleans_nan_and_out_of_range_confidence_and_counts_it(tmp_path):
    frames = [frame(L.EPOCH_NS + k * 33_333_333) for k in range(3)]
    bad = frames[1][2][2].skeletons[0]
    bad.confidence = np.array([np.nan, 1e9, -5.0] + [1.0] * 12, dtype=np.float32)
    src = make_bag(tmp_path / "in", frames)
    report = refine_bag(src, tmp_path / "out", Pipeline(), progress=False)
    assert report.frames == 3 and report.repaired["confidence"] == 1
    joints = _refined_joints(tmp_path / "out")
    assert np.isfinite(joints).all() and np.allclose(joints[1], joints[0])


def test_refine_treats_depth_outside_the_range_as_invalid(tmp_path):
    hdr = CODEC.header(L.EPOCH_NS, L.OPTICAL_FRAME)
    items = frame(L.EPOCH_NS)
    depth = np.full((240, 320), 2.0, np.float32)
    depth[:, :150] = 1e30                                   # saturated garbage on the left half
    items[1] = (L.DEPTH_TOPIC, L.IMAGE, CODEC.depth_image(hdr, depth, "32FC1"))
    src = make_bag(tmp_path / "in", [items])
    refine_bag(src, tmp_path / "out", Pipeline(), progress=False, limits=InputLimits(0.1, 10.0, 8))
    joints = _refined_joints(tmp_path / "out")[0]
    assert np.isnan(joints[:7]).all() and np.nanmax(joints[..., 2]) == pytest.approx(2.0)
