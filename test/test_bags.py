"""Bag workflows without ROS: ITOP-format -> bag -> `bag refine` -> `bag eval` reproduces `refinet eval`,
and the bags are standard rosbag2 that carry the msg/ definitions."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from rosbags.highlevel import AnyReader
from rosbags.typesys import Stores, get_typestore

from refinet_ros.bags import layout as L
from refinet_ros.bags.convert import id_stamps, rate_stamps
from refinet_ros.bags.typestore import custom_types
from refinet_ros.commands import bag as bag_cmd
from refinet_ros.core.score_files import evaluate_files
from refinet_ros.core.models import MODELS
from refinet_ros.core.models.common import save_weights
from refinet_ros.core.pipeline import Pipeline
from refinet_ros.core.weights import build_stages, weights_path
from refinet_ros.core.synth.generate import write_split
from refinet_ros.message_codec import joints_from_msg

N_FRAMES = 40


def run_bag(*argv: str) -> int:
    """`refinet bag ...` through the command module's own parser (independent of cli.py's wiring)."""
    parser = argparse.ArgumentParser(prog="refinet")
    bag_cmd.add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["bag", *map(str, argv)])
    return args.handler(args)


@pytest.fixture(scope="module")
def itop(tmp_path_factory) -> dict[str, Path]:
    """A small synthetic ITOP-format test split with simulated 2D detections."""
    return write_split(tmp_path_factory.mktemp("itop"), "side", "test", N_FRAMES, seed=11, progress=False)


@pytest.fixture(scope="module")
def recording(itop, tmp_path_factory) -> Path:
    """The split as a lossless (32FC1) bag with stamps from the ids."""
    out = tmp_path_factory.mktemp("bags") / "rec"
    assert run_bag("from-itop", out, "--depth", itop["depth_map"], "--labels", itop["labels"],
                   "--pose2d", itop["pose2d"], "--encoding", "32FC1", "--stamps", "ids", "--no-progress") == 0
    return out


def test_round_trip_baseline_matches_refinet_eval(itop, recording, tmp_path):
    refined, report = tmp_path / "refined", tmp_path / "eval.json"
    assert run_bag("refine", recording, refined, "--stages", "none", "--no-progress") == 0
    assert run_bag("eval", refined, "--json", report) == 0
    direct = evaluate_files(itop["depth_map"], itop["labels"], Pipeline(), itop["pose2d"], progress=False)
    got = json.loads(report.read_text())
    assert got["stages"] == "baseline"
    assert {k: got[k] for k in direct.result} == direct.result   # every metric, exactly


def test_round_trip_with_stages_matches_refinet_eval(itop, recording, tmp_path):
    """A+B+C (untrained weights of the real architectures: equality does not depend on training)."""
    from refinet_ros.bags.score_bag import evaluate_bag
    from refinet_ros.bags.refine import refine_bag
    for name, model in MODELS.items():
        save_weights(weights_path(tmp_path, "side", name), name, model(), preset=0)   # fast xz level
    pipeline = Pipeline(build_stages("A,B,C", "side", tmp_path))
    refine_bag(recording, tmp_path / "refined", pipeline, batch_size=16, progress=False)
    got = evaluate_bag(tmp_path / "refined").result
    direct = evaluate_files(itop["depth_map"], itop["labels"], pipeline, itop["pose2d"], progress=False).result
    for key in ("mAP", "mAP_5cm", "mDE_cm", "upper_mAP", "lower_mAP", "missing_rate", "n_frames"):
        assert got[key] == pytest.approx(direct[key], rel=1e-5), key


def test_16uc1_sqlite3_round_trip_is_close(itop, tmp_path):
    """Millimetre depth (what drivers publish) moves ITOP's float16 metres by < 1 mm: same scores to 0.01."""
    rec, refined = tmp_path / "rec16", tmp_path / "refined16"
    assert run_bag("from-itop", rec, "--depth", itop["depth_map"], "--labels", itop["labels"],
                   "--storage", "sqlite3", "--no-progress") == 0
    assert (rec / "rec16.db3").is_file()
    assert run_bag("refine", rec, refined, "--stages", "none", "--storage", "sqlite3", "--no-progress") == 0
    from refinet_ros.bags.score_bag import evaluate_bag
    got = evaluate_bag(refined).result
    direct = evaluate_files(itop["depth_map"], itop["labels"], Pipeline(), None, progress=False).result
    assert got["n_frames"] == direct["n_frames"]
    assert got["mAP"] == pytest.approx(direct["mAP"], abs=0.01)
    assert got["mDE_cm"] == pytest.approx(direct["mDE_cm"], abs=0.1)


def test_bag_is_standard_rosbag2_with_our_definitions(recording):
    meta = yaml.safe_load((recording / "metadata.yaml").read_text())["rosbag2_bagfile_information"]
    assert meta["version"] == 9 and meta["storage_identifier"] == "mcap"
    assert all((recording / p).is_file() for p in meta["relative_file_paths"])
    topics = {t["topic_metadata"]["name"]: (t["topic_metadata"]["type"], t["message_count"])
              for t in meta["topics_with_message_count"]}
    assert topics == {topic: (msgtype, N_FRAMES) for topic, msgtype in L.RECORDING_TOPICS.items()}
    assert meta["custom_data"][L.META_VIEW] == "side"
    # Only the definitions embedded in the bag (no refinet types in the default store) are needed.
    with AnyReader([recording], default_typestore=get_typestore(Stores.EMPTY)) as reader:
        ours = custom_types()
        for name in ("refinet_ros/msg/Skeleton2DArray", "refinet_ros/msg/Skeleton2D",
                     "refinet_ros/msg/Skeleton3DArray", "refinet_ros/msg/Skeleton3D"):
            assert reader.typestore.fielddefs[name] == ours[name][:2], name
        gt = [c for c in reader.connections if c.topic == L.GT_TOPIC]
        first = next(reader.messages(connections=gt))
        msg = reader.deserialize(first[2], first[0].msgtype)
        assert msg.header.frame_id == L.OPTICAL_FRAME


def test_type_hashes_match_the_ros_build(recording):
    """The RIHS01 hashes in the bag equal rosidl's for msg/ (from the built package's type descriptions)."""
    share = Path(sys.prefix) / "share" / "refinet_ros" / "msg"
    if not share.is_dir():
        pytest.skip("refinet_ros messages not built into this environment (make venv)")
    with AnyReader([recording]) as reader:
        for conn in reader.connections:
            if conn.msgtype.startswith("refinet_ros/"):
                desc = json.loads((share / f"{conn.msgtype.split('/')[-1]}.json").read_text())
                hashes = {h["type_name"]: h["hash_string"] for h in desc["type_hashes"]}
                assert conn.digest == hashes[conn.msgtype]


def test_gt_is_empty_exactly_on_invalid_frames(itop, recording):
    from refinet_ros.core.itop import read_labels
    labels = read_labels(itop["labels"])
    with AnyReader([recording]) as reader:
        gt = [c for c in reader.connections if c.topic == L.GT_TOPIC]
        people = [joints_from_msg(reader.deserialize(raw, c.msgtype))[1] for c, _, raw in reader.messages(gt)]
    assert [len(p) for p in people] == labels.is_valid.astype(int).tolist()
    np.testing.assert_array_equal(np.concatenate(people), labels.joints[labels.is_valid])


def test_synth_bag_is_a_continuous_30hz_sequence(tmp_path):
    out = tmp_path / "synth"
    assert run_bag("synth", out, "--frames", 30, "--seed", 4, "--view", "top", "--no-progress") == 0
    with AnyReader([out]) as reader:
        assert reader.topics[L.DEPTH_TOPIC].msgcount == 30
        conns = [c for c in reader.connections if c.topic == L.GT_TOPIC]
        stamps, joints = [], []
        for conn, t, raw in reader.messages(conns):
            msg = reader.deserialize(raw, conn.msgtype)
            stamps.append(t)
            joints.append(joints_from_msg(msg)[1][0] if msg.skeletons else np.full((15, 3), np.nan))
    assert np.allclose(np.diff(stamps), 1e9 / 30, atol=1)
    step = np.linalg.norm(np.diff(np.array(joints), axis=0), axis=-1)
    assert np.nanmedian(step) < 0.05     # consecutive 30 Hz frames of one clip: a few cm apart, not random poses
    assert yaml.safe_load((out / "metadata.yaml").read_text())["rosbag2_bagfile_information"][
        "custom_data"][L.META_VIEW] == "top"


def test_stamps_from_ids_keep_gaps_and_order():
    ids = np.array(["04_00010", "04_00011", "04_00015", "07_00002", "07_00003"])
    t = (id_stamps(ids) - L.EPOCH_NS) / (1e9 / 30)
    np.testing.assert_allclose(t, [0, 1, 5, 6, 7], atol=1e-6)
    np.testing.assert_allclose(np.diff(rate_stamps(3)), 1e9 / 30, atol=1)


def test_refine_with_the_depth_detector_matches_detect_then_eval(itop, recording, tmp_path):
    """bag refine --detector depth (no /pose2d used) scores exactly as refinet detect + refinet eval."""
    from refinet_ros.bags.score_bag import evaluate_bag
    from refinet_ros.core.detect_files import detect_file
    from refinet_ros.core.itop import write_pose2d
    from refinet_ros.core.weights import load_detector
    refined = tmp_path / "refined"
    assert run_bag("refine", recording, refined, "--stages", "none", "--detector", "depth", "--no-progress") == 0
    found = detect_file(itop["depth_map"], load_detector("side"), progress=False)
    pose = write_pose2d(tmp_path / "detected.npz", found.ids, found.keypoints, found.confidence)
    direct = evaluate_files(itop["depth_map"], itop["labels"], Pipeline(), pose, progress=False).result
    got = evaluate_bag(refined).result
    assert found.n_people.min() >= 1 and direct["mAP"] > 0.2        # one person per frame, found
    for key in ("mAP", "mDE_cm", "n_frames"):
        assert got[key] == pytest.approx(direct[key], abs=1e-3), key
