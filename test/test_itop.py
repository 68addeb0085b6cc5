"""ITOP h5 reader/writer, 2D-prediction files, and their error messages on bad files."""
import h5py
import numpy as np
import pytest

from refinet_ros.core.camera import PinholeCamera
from refinet_ros.core.itop import (DepthFile, ItopFormatError, ItopLabels, check_pair, infer_view, read_labels,
                                   read_pose2d, write_itop, write_pose2d)


def make_labels(n=6, seed=0):
    rng = np.random.default_rng(seed)
    cam = PinholeCamera.itop()
    joints = rng.uniform([-0.5, -0.8, 2.5], [0.5, 0.8, 3.5], size=(n, 15, 3))
    ids = np.array([f"{s:02d}_{f:05d}" for s, f in zip(rng.integers(0, 20, n), range(n))])
    seg = rng.integers(-1, 15, size=(n, 240, 320)).astype(np.int8)
    return ItopLabels(ids=ids, is_valid=np.arange(n) % 3 != 2, visible=rng.random((n, 15)) > 0.2,
                      uv=cam.project(joints), joints=joints, segmentation=seg)


@pytest.fixture
def pair(tmp_path):
    labels = make_labels()
    depth = np.random.default_rng(1).uniform(1, 4, size=(len(labels), 240, 320)).astype(np.float32)
    depth[:, :10] = np.nan
    paths = write_itop(tmp_path / "ITOP_side_test", depth, labels)
    return paths, labels, depth


def test_round_trip(pair):
    (depth_path, labels_path), labels, depth = pair
    assert depth_path.name == "ITOP_side_test_depth_map.h5" and labels_path.name == "ITOP_side_test_labels.h5"
    back = read_labels(labels_path, with_segmentation=True)
    np.testing.assert_array_equal(back.ids, labels.ids)
    np.testing.assert_array_equal(back.is_valid, labels.is_valid)
    np.testing.assert_array_equal(back.visible, labels.visible)
    np.testing.assert_allclose(back.joints, labels.joints, atol=1e-6)
    np.testing.assert_allclose(back.uv, labels.uv, atol=1e-4)
    np.testing.assert_array_equal(back.segmentation, labels.segmentation)
    with DepthFile(depth_path) as d:
        check_pair(d, back, labels_path)
        assert d.shape == (240, 320) and len(d) == len(labels)
        frames = d.read(slice(None))
    assert np.isnan(frames[:, :10]).all()
    np.testing.assert_allclose(frames[:, 10:], depth[:, 10:], rtol=1e-3)  # float16 storage


def test_depth_read_takes_any_index_order(tmp_path, monkeypatch):
    """Unsorted, repeated, dense and sparse selections all return the frames asked for, in that order."""
    import refinet_ros.core.itop as itop
    monkeypatch.setattr(itop, "READ_BLOCK", 8)   # several blocks, dense and sparse, in a small file
    labels = make_labels(40)
    depth = np.random.default_rng(2).uniform(1, 4, size=(40, 240, 320)).astype(np.float32)
    depth_path, _ = write_itop(tmp_path / "ITOP_side_test", depth, labels)
    index = np.array([3, 1, 2, 2, 0, 7, 5, 6, 4, 39, 17, 30])   # block 0 dense, the rest sparse
    with DepthFile(depth_path) as d:
        frames = d.read(index)
    np.testing.assert_allclose(frames, depth[index], rtol=1e-3)


def test_file_is_real_itop_layout(pair):
    (depth_path, labels_path), labels, _ = pair
    with h5py.File(depth_path) as h5:
        assert h5["data"].dtype == np.float16 and h5["data"].shape == (6, 240, 320)
        assert h5["id"][0] == labels.ids[0].encode()
        assert h5["data"][0, 0, 0] == 0  # missing depth is written as 0
    with h5py.File(labels_path) as h5:
        assert set(h5) == {"id", "is_valid", "visible_joints", "image_coordinates", "real_world_coordinates",
                           "segmentation"}
        # ITOP stores Y up: optical y is negated
        np.testing.assert_allclose(h5["real_world_coordinates"][0, :, 1], -labels.joints[0, :, 1], atol=1e-6)


def _rewrite(path, key, value):
    with h5py.File(path, "a") as h5:
        del h5[key]
        if value is not None:
            h5[key] = value


@pytest.mark.parametrize("key,value,message", [
    ("visible_joints", None, "missing key 'visible_joints'"),
    ("image_coordinates", np.zeros((6, 14, 2)), "'image_coordinates' has shape \\(6, 14, 2\\)"),
    ("is_valid", np.ones(5), "'is_valid' has 5 entries but 'id' has 6"),
])
def test_bad_labels_name_file_and_key(pair, key, value, message):
    (_, labels_path), _, _ = pair
    _rewrite(labels_path, key, value)
    with pytest.raises(ItopFormatError, match=message) as exc:
        read_labels(labels_path)
    assert str(labels_path) in str(exc.value)


@pytest.mark.parametrize("key,value", [
    ("is_valid", np.array([b"1"] * 6)),                                    # fixed-length bytes
    ("visible_joints", np.array([["yes"] * 15] * 6, dtype=h5py.string_dtype())),   # variable-length text
    ("image_coordinates", np.full((6, 15, 2), b"1.5")),
])
def test_text_where_numbers_belong_names_file_and_key(pair, key, value):
    (_, labels_path), _, _ = pair
    _rewrite(labels_path, key, value)
    with pytest.raises(ItopFormatError, match=f"{labels_path}: key '{key}' holds text .*expected numbers"):
        read_labels(labels_path)


def test_labels_in_millimetres_are_an_error(pair):
    (_, labels_path), _, _ = pair
    with h5py.File(labels_path, "a") as h5:
        h5["real_world_coordinates"][...] = h5["real_world_coordinates"][()] * 1000
    with pytest.raises(ItopFormatError, match=f"{labels_path}: key 'real_world_coordinates' .*looks like millimetres"):
        read_labels(labels_path)


@pytest.mark.parametrize("data,message", [
    (lambda m: np.round(m * 1000).astype(np.uint16), r"is uint16, expected float16/float32 metres "
                                                     r"\(integers look like millimetres\)"),
    (lambda m: (m * 1000).astype(np.float32), "has a median distance of .*looks like millimetres"),
    (lambda m: np.full(m.shape, b"3.0"), "holds text"),
])
def test_depth_in_the_wrong_unit_or_type_names_file_and_key(pair, data, message):
    (depth_path, _), _, depth = pair
    _rewrite(depth_path, "data", data(np.nan_to_num(depth)))
    with pytest.raises(ItopFormatError, match=f"{depth_path}: key 'data' {message}"):
        DepthFile(depth_path)


def test_depth_unit_check_ignores_empty_frames(pair):
    """Frames with no readings at all (0 everywhere) are metres too: nothing to judge them by."""
    (depth_path, _), _, depth = pair
    _rewrite(depth_path, "data", np.zeros(depth.shape, np.float16))
    with DepthFile(depth_path) as d:
        assert np.isnan(d.read(slice(None))).all()


def test_pose2d_text_keypoints_name_file_and_key(tmp_path):
    labels = make_labels()
    path = tmp_path / "p.npz"
    np.savez(path, ids=np.array([i.encode() for i in labels.ids]), keypoints=labels.uv.astype(str))
    with pytest.raises(ItopFormatError, match=f"{path}: key 'keypoints' holds text"):
        read_pose2d(path, labels.ids)


def test_nan_in_valid_frame_is_an_error(pair):
    (_, labels_path), labels, _ = pair
    with h5py.File(labels_path, "a") as h5:
        world = h5["real_world_coordinates"][()]
        world[0, 4, 0] = np.nan
        h5["real_world_coordinates"][...] = world
    with pytest.raises(ItopFormatError, match="'real_world_coordinates' has NaN/inf in 1 valid frame"):
        read_labels(labels_path)


def test_nan_in_invalid_frame_is_fine(pair):
    (_, labels_path), labels, _ = pair
    with h5py.File(labels_path, "a") as h5:
        world = h5["real_world_coordinates"][()]
        world[2] = np.nan  # frame 2 is not valid
        h5["real_world_coordinates"][...] = world
    assert not read_labels(labels_path).is_valid[2]


def test_mismatched_ids_between_depth_and_labels(pair):
    (depth_path, labels_path), _, _ = pair
    with h5py.File(depth_path, "a") as h5:
        ids = h5["id"][()]
        ids[3] = b"99_99999"
        h5["id"][...] = ids
    with (DepthFile(depth_path) as d,
          pytest.raises(ItopFormatError, match="'id' does not match.*first mismatch at index 3")):
        check_pair(d, read_labels(labels_path), labels_path)


def test_corrupt_and_missing_files(tmp_path):
    bad = tmp_path / "ITOP_side_test_labels.h5"
    bad.write_bytes(b"not an hdf5 file at all")
    with pytest.raises(ItopFormatError, match="not a readable HDF5 file"):
        read_labels(bad)
    with pytest.raises(ItopFormatError, match="no such file"):
        DepthFile(tmp_path / "nope.h5")


def test_depth_file_without_data_key(tmp_path):
    path = tmp_path / "d.h5"
    with h5py.File(path, "w") as h5:
        h5["id"] = np.array([b"00_00000"])
    with pytest.raises(ItopFormatError, match=f"{path}: missing key 'data'"):
        DepthFile(path)


def test_pose2d_reordered_to_label_ids(tmp_path):
    labels = make_labels()
    rng = np.random.default_rng(3)
    kp = rng.uniform(0, 300, size=(6, 15, 2))
    order = rng.permutation(6)
    path = write_pose2d(tmp_path / "p.npz", labels.ids[order], kp[order], np.full((6, 15), 0.5))
    pose = read_pose2d(path, labels.ids)
    np.testing.assert_allclose(pose.uv, kp, atol=1e-4)
    assert np.allclose(pose.confidence, 0.5)


def test_pose2d_without_confidence_defaults_to_one(tmp_path):
    labels = make_labels()
    path = tmp_path / "p.npz"
    np.savez(path, ids=np.array([i.encode() for i in labels.ids]), keypoints=labels.uv)
    assert np.all(read_pose2d(path, labels.ids).confidence == 1.0)


@pytest.mark.parametrize("mutate,message", [
    (lambda d: d.pop("keypoints"), "missing key 'keypoints'"),
    (lambda d: d.update(keypoints=d["keypoints"][:, :14]), "'keypoints' has shape \\(6, 14, 2\\)"),
    (lambda d: d.update(ids=d["ids"][:5], keypoints=d["keypoints"][:5], confidence=d["confidence"][:5]),
     "'ids' lacks 1 id"),
    (lambda d: d["keypoints"].__setitem__((0, 0, 0), np.nan), "NaN/inf keypoint"),
    (lambda d: d.update(confidence=d["confidence"][:, :3]), "'confidence' has shape"),
])
def test_bad_pose2d_files(tmp_path, mutate, message):
    labels = make_labels()
    data = {"ids": np.array([i.encode() for i in labels.ids]), "keypoints": labels.uv.copy(),
            "confidence": np.ones((6, 15))}
    mutate(data)
    path = tmp_path / "bad.npz"
    np.savez(path, **data)
    with pytest.raises(ItopFormatError, match=message) as exc:
        read_pose2d(path, labels.ids)
    assert str(path) in str(exc.value)


def test_pose2d_nan_allowed_when_declared_missing(tmp_path):
    labels = make_labels()
    kp, conf = labels.uv.copy(), np.ones((6, 15))
    kp[1, 5] = np.nan
    conf[1, 5] = 0.0
    path = write_pose2d(tmp_path / "p.npz", labels.ids, kp, conf)
    pose = read_pose2d(path, labels.ids)
    assert np.isnan(pose.uv[1, 5]).all() and pose.confidence[1, 5] == 0


def test_infer_view():
    assert infer_view("/data/ITOP_side_test_labels.h5") == "side"
    assert infer_view("ITOP_top_train_depth_map.h5") == "top"
    assert infer_view("my_recording.h5") is None
