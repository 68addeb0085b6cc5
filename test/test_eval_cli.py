"""`refinet eval` / `refinet baseline` end to end on real files with known answers."""
import json

import h5py
import numpy as np
import pytest

from refinet_ros.cli import main
from refinet_ros.core.camera import PinholeCamera
from refinet_ros.core.itop import ItopLabels, write_itop, write_pose2d


@pytest.fixture
def plane_pair(tmp_path):
    """A person-free plane at 3 m with GT joints on it: baseline lifting from GT 2D is exact."""
    n = 8
    rng = np.random.default_rng(0)
    cam = PinholeCamera.itop()
    uv = rng.uniform([40, 30], [280, 210], size=(n, 15, 2)).round()
    joints = cam.backproject(uv, np.full((n, 15), 3.0))
    labels = ItopLabels(ids=np.array([f"00_{i:05d}" for i in range(n)]), is_valid=np.arange(n) != 5,
                        visible=np.ones((n, 15), bool), uv=uv, joints=joints)
    depth = np.full((n, 240, 320), 3.0, dtype=np.float32)
    depth_path, labels_path = write_itop(tmp_path / "ITOP_side_test", depth, labels)
    return depth_path, labels_path, labels


def test_baseline_from_gt_2d_is_exact(plane_pair, tmp_path, capsys):
    depth_path, labels_path, _ = plane_pair
    out = tmp_path / "out" / "baseline.json"
    assert main(["baseline", "--depth", str(depth_path), "--labels", str(labels_path), "--json", str(out),
                 "--no-progress"]) == 0
    result = json.loads(out.read_text())
    for key in ("mAP", "mDE_cm", "upper_mAP", "lower_mAP", "n_frames", "per_joint"):
        assert key in result
    assert result["n_frames"] == 7  # frame 5 is not valid
    assert result["mAP"] == 1.0 and result["mDE_cm"] < 0.5
    assert out.with_suffix(".png").stat().st_size > 10_000
    assert "Shoulders" in capsys.readouterr().out


def test_eval_with_external_pose2d(plane_pair, tmp_path):
    depth_path, labels_path, labels = plane_pair
    kp = labels.uv.copy()
    kp[:, :8] += [40.0, 0.0]  # upper body 40 px right: 40 * 0.0035 * 3 m = 42 cm off
    pose = write_pose2d(tmp_path / "det.npz", labels.ids, kp, np.ones((8, 15)))
    out = tmp_path / "eval.json"
    assert main(["eval", "--depth", str(depth_path), "--labels", str(labels_path), "--pose2d", str(pose),
                 "--stages", "none", "--json", str(out), "--png", str(tmp_path / "e.png"), "--no-progress"]) == 0
    result = json.loads(out.read_text())
    assert result["upper_mAP"] == 0.0 and result["lower_mAP"] == 1.0
    assert result["per_joint"]["Head"]["mDE_cm"] == pytest.approx(42.0, abs=0.5)


def test_eval_refines_with_the_nodes_stages_unless_told_otherwise(plane_pair, tmp_path):
    depth_path, labels_path, _ = plane_pair
    out = tmp_path / "abc.json"
    assert main(["eval", "--depth", str(depth_path), "--labels", str(labels_path), "--json", str(out),
                 "--png", str(tmp_path / "abc.png"), "--no-progress"]) == 0
    assert json.loads(out.read_text())["stages"] == "A+B+C"


def test_eval_scores_weights_from_another_folder(plane_pair, tmp_path, capsys):
    """`--weights DIR` scores what `refinet train --out DIR` wrote: untrained weights (zero last
    layers) leave the exact baseline untouched; a folder without them is one clear error."""
    from refinet_ros.core.models import MODELS
    from refinet_ros.core.models.common import save_weights
    depth_path, labels_path, _ = plane_pair
    for name, model in MODELS.items():
        save_weights(tmp_path / "w" / f"side_{name}.pt", name, model(), preset=0)
    out = tmp_path / "w.json"
    assert main(["eval", "--depth", str(depth_path), "--labels", str(labels_path), "--weights", str(tmp_path / "w"),
                 "--json", str(out), "--png", str(tmp_path / "w.png"), "--no-progress"]) == 0
    assert json.loads(out.read_text())["mAP"] == 1.0
    assert main(["eval", "--depth", str(depth_path), "--labels", str(labels_path), "--weights", str(tmp_path / "none"),
                 "--no-progress"]) == 2
    assert "side_A.pt does not exist" in capsys.readouterr().err


def test_bad_file_is_one_clear_error(tmp_path, capsys):
    bad = tmp_path / "ITOP_side_test_labels.h5"
    bad.write_text("garbage")
    assert main(["baseline", "--depth", str(bad), "--labels", str(bad), "--no-progress"]) == 2
    assert "not a readable HDF5 file" in capsys.readouterr().err


def _replace(path, key, value):
    with h5py.File(path, "a") as h5:
        del h5[key]
        h5[key] = value


@pytest.mark.parametrize("file,key,value", [
    ("depth", "data", np.full((8, 240, 320), 3000, np.uint16)),                  # a driver's 16UC1 millimetres
    ("depth", "data", np.full((8, 240, 320), 3000.0, np.float16)),               # millimetres stored as floats
    ("labels", "real_world_coordinates", None),                                  # labels in millimetres
])
def test_millimetres_are_one_clear_error_not_a_zero_score(plane_pair, tmp_path, capsys, file, key, value):
    """Before: exit 0 with mAP 0.0 and an mDE of kilometres. Now: exit 2 naming the file and the key."""
    depth_path, labels_path, _ = plane_pair
    path = depth_path if file == "depth" else labels_path
    with h5py.File(path, "r") as h5:
        value = h5[key][()] * 1000 if value is None else value
    _replace(path, key, value)
    out = tmp_path / "r.json"
    assert main(["eval", "--depth", str(depth_path), "--labels", str(labels_path), "--json", str(out),
                 "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert f"{path}: key '{key}'" in err and "millimetres" in err
    assert not out.exists()


def test_text_in_a_number_dataset_is_one_clear_error(plane_pair, capsys):
    depth_path, labels_path, _ = plane_pair
    _replace(labels_path, "is_valid", np.array([b"1"] * 8))
    assert main(["baseline", "--depth", str(depth_path), "--labels", str(labels_path), "--no-progress"]) == 2
    assert f"{labels_path}: key 'is_valid' holds text" in capsys.readouterr().err


def test_stages_need_a_view_when_the_name_has_none(plane_pair, tmp_path, capsys):
    depth_path, labels_path, _ = plane_pair
    renamed = tmp_path / "recording_labels.h5"
    renamed.write_bytes(labels_path.read_bytes())
    assert main(["eval", "--depth", str(tmp_path / "x.h5"), "--labels", str(renamed), "--stages", "B"]) == 2
    assert "refinet eval: error: cannot infer the view (side/top) from" in capsys.readouterr().err


def test_bench_baseline_writes_its_table(tmp_path):
    """`refinet bench baseline` on a small generated set: one view, the recorded command, real numbers."""
    out = tmp_path / "baseline.json"
    assert main(["bench", "baseline", "--frames", "30", "--view", "side", "--data", str(tmp_path),
                 "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["command"] == "refinet bench baseline --frames 30 --seed 2020 --view side"
    assert list(result["views"]) == ["side"] and 0.0 < result["views"]["side"]["mAP"] < 1.0
