"""`refinet train` on ITOP-format files written here with h5py (not by the generator): odd ids,
invalid frames, missing predictions, subject hold-out, fine-tuning and the errors that write nothing."""
from __future__ import annotations

import json
import shutil

import h5py
import numpy as np
import pytest
import torch

from refinet_ros.cli import main
from refinet_ros.core.camera import PinholeCamera
from refinet_ros.core.joints import NUM_JOINTS
from refinet_ros.core.weights import DEFAULT_WEIGHTS_DIR, build_stages

CAM = PinholeCamera.itop()
#: Subjects and frame numbers with gaps, as a team's own recordings may have.
IDS = [f"{s}_{k:05d}" for s, ks in (("07", range(3, 40, 3)), ("11", range(100, 124, 2)), ("23", range(5, 17)))
       for k in ks]
INVALID = {"07_00009", "11_00104", "23_00007"}
NO_PREDICTION = {"07_00012", "23_00010"}


pytestmark = pytest.mark.usefixtures("two_torch_threads")


def write_split(root, name="ITOP_side_train", ids=IDS, seed=0):
    """ITOP-layout depth and labels (Y up, float16 metres, 0 = no reading) and a predictions file
    lacking NO_PREDICTION; each joint is a disc 5 cm in front of its centre on a wall at 4 m."""
    rng = np.random.default_rng(seed)
    n = len(ids)
    base = np.stack([np.linspace(-0.3, 0.3, NUM_JOINTS), np.linspace(-0.8, 0.8, NUM_JOINTS), np.zeros(NUM_JOINTS)], -1)
    gt = base[None] + rng.normal(0, [0.15, 0.05, 0.08], (n, NUM_JOINTS, 3)) + [0, 0, 2.9]
    depth = np.full((n, CAM.height, CAM.width), 4.0, np.float32)
    rays = CAM.pixel_grid_rays()
    for i in range(n):
        for j in np.argsort(-gt[i, :, 2]):
            c = gt[i, j]
            inside = (rays[..., 0] * c[2] - c[0]) ** 2 + (rays[..., 1] * c[2] - c[1]) ** 2 < 0.07 ** 2
            depth[i][inside] = c[2] - 0.05
    depth[:, :4] = 0.0                                   # a band with no readings
    uv = CAM.project(gt)
    world = gt * [1, -1, 1]                              # ITOP: Y up
    enc = np.array([i.encode() for i in ids])
    with h5py.File(root / f"{name}_depth_map.h5", "w") as f:
        f["id"], f["data"] = enc, depth.astype(np.float16)
    with h5py.File(root / f"{name}_labels.h5", "w") as f:
        f["id"] = enc
        f["is_valid"] = np.array([i not in INVALID for i in ids], np.uint8)
        f["visible_joints"] = np.ones((n, NUM_JOINTS), np.uint8)
        f["image_coordinates"] = np.round(uv).astype(np.int32)
        f["real_world_coordinates"] = world.astype(np.float32)
    kept = [k for k, i in enumerate(ids) if i not in NO_PREDICTION]
    np.savez(root / f"{name}_pose2d.npz", ids=enc[kept], keypoints=(uv + rng.normal(0, 3, uv.shape))[kept],
             confidence=np.full((len(kept), NUM_JOINTS), 0.8))
    return {k: root / f"{name}_{k}" for k in ("depth_map.h5", "labels.h5", "pose2d.npz")}


@pytest.fixture(scope="module")
def split(tmp_path_factory):
    return write_split(tmp_path_factory.mktemp("itop"))


def train_args(split, out, *extra):
    return ["train", "--module", "B", "--view", "side", "--depth", str(split["depth_map.h5"]),
            "--labels", str(split["labels.h5"]), "--epochs", "1", "--batch", "8", "--synthetic-mix", "0",
            "--out", str(out), "--no-progress", *extra]


def test_training_on_files_leaves_out_invalid_and_unpredicted_frames_and_holds_out_a_subject(split, tmp_path):
    out = tmp_path / "w"
    assert main(train_args(split, out, "--pose2d", str(split["pose2d.npz"]), "--init", "none")) == 0
    rec = json.loads((out / "side_B.json").read_text())["data"]
    train = rec["train_counts"]
    assert train["frames"] == len(IDS) and train["valid"] == len(IDS) - len(INVALID)
    assert train["used"] == rec["train_frames"] and rec["val_counts"]["used"] == rec["val_frames"]
    assert train["without_prediction"] == len(NO_PREDICTION)
    assert len(rec["val_subjects"]) == 1 and not set(rec["val_subjects"]) & set(rec["train_subjects"])
    assert rec["train_frames"] + rec["val_frames"] == len(IDS) - len(INVALID) - len(NO_PREDICTION)
    assert rec["train_files"]["labels"]["sha256"] and rec["train_files"]["pose2d"]["path"].endswith("pose2d.npz")
    assert rec["detector_families"] == ["file:ITOP_side_train_pose2d.npz", "labels"]
    assert build_stages(["B"], "side", out)[0].name == "B"


def test_without_predictions_the_2d_input_is_simulated_detector_noise_on_the_labels(split, tmp_path):
    out = tmp_path / "w"
    assert main(train_args(split, out, "--init", "none")) == 0
    rec = json.loads((out / "side_B.json").read_text())["data"]
    assert rec["train_counts"]["without_prediction"] == 0 and "random" in rec["detector_families"]
    before = json.loads((out / "side_B.json").read_text())["val"]["baseline"]["before"]
    assert before["uv_err_px"] > 0.5                    # the 2D input is not the labels themselves


def test_fine_tuning_from_init_lowers_the_loss_and_changes_the_weights(split, tmp_path):
    first, tuned = tmp_path / "first", tmp_path / "tuned"      # `first`: barely trained (lr 1e-7)
    assert main(train_args(split, first, "--init", "none", "--pose2d", str(split["pose2d.npz"]), "--lr", "1e-7")) == 0
    assert main(train_args(split, tuned, "--init", str(first), "--pose2d", str(split["pose2d.npz"]),
                           "--epochs", "3")) == 0
    start = json.loads((first / "side_B.json").read_text())
    rec = json.loads((tuned / "side_B.json").read_text())
    assert rec["init"]["weights"] == str(first / "side_B.pt")
    assert rec["final_train_loss"] < start["final_train_loss"]          # same data, same augmentation
    for variant in ("baseline", "labels:baseline"):                      # and on the held-out subject
        assert rec["val"][variant]["after"]["mDE_cm"] < start["val"][variant]["after"]["mDE_cm"] - 1.0
    a = build_stages(["B"], "side", first)[0].model.state_dict()
    b = build_stages(["B"], "side", tuned)[0].model.state_dict()
    assert any(not torch.equal(a[k], b[k]) for k in a)


def test_a_whole_chain_trains_in_one_go_and_copies_missing_upstream_from_init(split, tmp_path):
    first, tuned = tmp_path / "first", tmp_path / "tuned"
    assert main(["train", "--module", "A,B", *train_args(split, first, "--init", "none")[3:]]) == 0
    rec_b = json.loads((first / "side_B.json").read_text())
    assert rec_b["data"]["upstream_variants"][:2] == ["baseline", "A"]     # B trained on A's outputs
    assert main(train_args(split, tuned, "--init", str(first))) == 0      # only B: A comes from --init
    assert (tuned / "side_A.pt").read_bytes() == (first / "side_A.pt").read_bytes()


@pytest.mark.parametrize("case,message", [
    ("mismatch", "key 'id' does not match"),
    ("foreign_pose2d", "key 'ids' covers none of the"),
    ("wrong_module", "holds module A"),
    ("wrong_view", "holds side-view weights"),
    ("one_subject", "names one subject only"),
])
def test_bad_input_is_one_clear_error_and_writes_nothing(split, tmp_path, capsys, case, message):
    files = {"--depth": split["depth_map.h5"], "--labels": split["labels.h5"], "--pose2d": split["pose2d.npz"]}
    module, view, init = "B", "side", "none"
    if case == "mismatch":
        files["--labels"] = write_split(tmp_path, "ITOP_side_other", IDS[:-1])["labels.h5"]
    elif case == "foreign_pose2d":
        files["--pose2d"] = write_split(tmp_path, "ITOP_side_other", [f"99_{k:05d}" for k in range(5)])["pose2d.npz"]
    elif case in ("wrong_module", "wrong_view"):
        init = tmp_path / "init"
        assert main(["train", "--module", "A", *train_args(split, init, "--init", "none")[3:]]) == 0
        if case == "wrong_module":                       # A's weights where B's should be
            (init / "side_A.pt").rename(init / "side_B.pt")
        else:                                            # side weights where the top view's should be
            module, view = "A", "top"
            (init / "side_A.pt").rename(init / "top_A.pt")
    elif case == "one_subject":
        one = write_split(tmp_path, "ITOP_side_one", [f"05_{k:05d}" for k in range(8)])
        files = {"--depth": one["depth_map.h5"], "--labels": one["labels.h5"]}
    out = tmp_path / "out"
    argv = ["train", "--module", module, "--view", view, *[str(x) for kv in files.items() for x in kv],
            "--init", str(init), "--epochs", "1", "--out", str(out), "--no-progress"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_synthetic_mix_blends_generated_frames_into_the_file_frames(split, tmp_path):
    out = tmp_path / "w"
    argv = train_args(split, out, "--init", "none", "--data", str(tmp_path / "cache"))
    argv[argv.index("--synthetic-mix") + 1] = "0.3"
    assert main(argv) == 0
    rec = json.loads((out / "side_B.json").read_text())["data"]
    real = rec["train_frames"] - rec["synthetic_frames"]
    assert 0 < rec["synthetic_frames"] <= round(real * 0.3 / 0.7)      # the valid ones of those generated
    assert rec["synthetic_mix"] == 0.3 and rec["detector_families"] == ["labels", "random"]


def test_bench_ablation_scores_itop_files_with_other_weights(split, tmp_path, capsys):
    """The paper-style table on ITOP-format files, e.g. the real test split with weights trained on the train split."""
    out = tmp_path / "w"
    shutil.copytree(DEFAULT_WEIGHTS_DIR, out)
    table = tmp_path / "ablation.json"
    assert main(["bench", "ablation", "--depth", str(split["depth_map.h5"]), "--labels", str(split["labels.h5"]),
                 "--weights", str(out), "--json", str(table)]) == 0
    rows = json.loads(table.read_text())["views"]["side"]
    assert [r["name"] for r in rows] == ["baseline", "A", "B", "C", "A+B", "A+B+C"]
    assert all(r["n_frames"] == len(IDS) - len(INVALID) for r in rows)
    assert "A+B+C" in capsys.readouterr().out
