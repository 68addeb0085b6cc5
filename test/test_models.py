"""Refinement modules A/B/C: input features, stage invariants, weights files and training.

Everything runs on hand-made scenes (a wall and disc-shaped 'body parts' whose surface lies
5 cm in front of each joint centre), so the tests are fast and independent of the generator.
"""
import gzip
import io
import json
import lzma
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from refinet_ros.core.camera import PinholeCamera
from refinet_ros.core.features import (PATCH_BACKGROUND, PATCH_DEPTH_SCALE, depth_patches, joint_point_clouds,
                                       normalise_skeleton)
from refinet_ros.core.joints import NUM_JOINTS, TORSO
from refinet_ros.core.models import MODELS, STAGES, common
from refinet_ros.core.models.common import fold_batchnorm, load_weights, save_weights, zero_last_layer
from refinet_ros.core.models.skeleton_refiner import mirror_points, mirrored, skeleton_inputs
from refinet_ros.core.pipeline import Pipeline
from refinet_ros.core.weights import build_stages, load_stage
from refinet_ros.core.training import MIN_EPOCH_STEPS, fit_step, train_module
from refinet_ros.core.training_batches import BATCHES
from refinet_ros.core.training_data import SOURCES, FrameSet, build_bank


pytestmark = pytest.mark.usefixtures("two_torch_threads")


CAM = PinholeCamera.itop()
SURFACE_OFFSET = 0.05
#: xz level of the weights files tests write: ~3x faster than the shipped files' level.
FAST = 0


def toy_frames(n: int, seed: int = 0) -> FrameSet:
    """Joints spread over a person-sized area ~2.9 m away; each seen as a disc 5 cm in front of it."""
    rng = np.random.default_rng(seed)
    base = np.stack([np.linspace(-0.3, 0.3, NUM_JOINTS), np.linspace(-0.8, 0.8, NUM_JOINTS),
                     np.zeros(NUM_JOINTS)], -1)
    gt = base[None] + rng.normal(0, [0.15, 0.05, 0.08], (n, NUM_JOINTS, 3)) + [0, 0, 2.9]
    depth = np.full((n, CAM.height, CAM.width), 4.0, dtype=np.float32)
    rays = CAM.pixel_grid_rays()
    for j in np.argsort(-gt[..., 2], axis=1).T:          # far to near: nearer discs overwrite
        centre = gt[np.arange(n), j]
        r2 = ((rays[None, ..., 0] * centre[:, 2, None, None] - centre[:, 0, None, None]) ** 2
              + (rays[None, ..., 1] * centre[:, 2, None, None] - centre[:, 1, None, None]) ** 2)
        disc = r2 < 0.07 ** 2
        depth = np.where(disc, (centre[:, 2] - SURFACE_OFFSET)[:, None, None].astype(np.float32), depth)
    uv = CAM.project(gt) + rng.normal(0, 2.0, (n, NUM_JOINTS, 2))
    return FrameSet(depth, uv, np.full((n, NUM_JOINTS), 0.9), gt, CAM)


@pytest.fixture(scope="module")
def frames() -> FrameSet:
    return toy_frames(24)


def random_stage(name: str, zero: bool = False):
    torch.manual_seed(0)
    model = MODELS[name]()
    for p in model.out.parameters():
        torch.nn.init.normal_(p, 0.0, 0.05)
    if zero:
        zero_last_layer(model)
    return STAGES[name](model)


def baseline(frames: FrameSet, idx=slice(0, 4)):
    depth = frames.depth(np.arange(len(frames))[idx])
    state = Pipeline().initial_state(depth, frames.uv_in[idx], frames.conf_in[idx], CAM)
    return state, depth


# --------------------------------------------------------------------------- features
def test_patch_centre_is_the_depth_at_the_joint(frames):
    depth = frames.depth(np.arange(2))
    uv = np.rint(frames.uv_in[:2])
    patches = depth_patches(depth, uv)
    assert patches.shape == (2, NUM_JOINTS, 40, 40) and patches.dtype == np.float32
    b, j = 1, 5
    u, v = uv[b, j].astype(int)
    # a disc is flat, so the robust centre depth is the pixel's own depth: the centre reads 0
    assert patches[b, j, 20, 20] == pytest.approx(0.0, abs=1e-6)
    expected = np.clip((depth[b, v - 20, u - 20] - depth[b, v, u]) / PATCH_DEPTH_SCALE, -1, 1)
    assert patches[b, j, 0, 0] == pytest.approx(expected, abs=1e-6)


def test_patch_fills_missing_depth_and_off_image_and_zeroes_missing_joints(frames):
    depth = frames.depth(np.arange(1)).copy()
    uv = frames.uv_in[:1].copy()
    uv[0, 0] = [2.0, 2.0]                       # near the corner: most of the patch is off-image
    depth[0, 0:30, 0:30] = np.nan
    depth[0, 0:3, 0:3] = 3.0                    # a reading right at the keypoint
    uv[0, 1] = np.nan                           # missing joint
    patches = depth_patches(depth, uv)
    assert np.all(patches[0, 0, :10, :10] == PATCH_BACKGROUND)
    assert np.all(patches[0, 1] == 0.0)
    assert np.isfinite(patches).all() and np.abs(patches).max() <= 1.0


def test_point_clouds_lie_in_the_cube_and_are_normalised(frames):
    state, depth = baseline(frames)
    joints = state.joints.copy()
    joints[0, 3] = np.nan
    joints[1, 4, 2] -= 0.25                     # 25 cm in front of its surface: the cube must grow
    clouds = joint_point_clouds(depth, joints, CAM, n_points=64, half_size=0.15)
    assert clouds.points.shape == (4, NUM_JOINTS, 64, 3)
    assert clouds.count[0, 3] == 0 and not clouds.mask[0, 3].any() and np.all(clouds.points[0, 3] == 0)
    assert clouds.half[1, 4] == pytest.approx(0.30) and clouds.count[1, 4] > 0
    ok = clouds.mask
    assert ok[0, 0].all() and np.abs(clouds.points[ok]).max() <= 1.0 + 1e-6
    # de-normalised points are real back-projected depth points
    pts = clouds.points[0, 0][ok[0, 0]] * clouds.half[0, 0] + joints[0, 0]
    uv = CAM.project(pts)
    z = depth[0][np.rint(uv[:, 1]).astype(int), np.rint(uv[:, 0]).astype(int)]
    np.testing.assert_allclose(pts[:, 2], z, atol=1e-4)
    again = joint_point_clouds(depth, joints, CAM, n_points=64)
    np.testing.assert_array_equal(clouds.points, again.points)      # deterministic at inference


def test_normalise_skeleton_centres_on_the_trunk_and_masks_missing():
    joints = np.random.default_rng(0).normal(0, 0.3, (2, NUM_JOINTS, 3)) + [0, 0, 3]
    joints[0, 0] = np.nan
    norm = normalise_skeleton(joints)
    assert not norm.mask[0, 0] and np.all(norm.joints[0, 0] == 0)
    np.testing.assert_allclose(norm.root[1], joints[1, [1, 2, 3, TORSO, 9, 10]].mean(0))
    np.testing.assert_allclose(norm.joints[1] + norm.root[1], joints[1])


# --------------------------------------------------------------------------- stages
@pytest.mark.parametrize("name", ["A", "B", "C"])
def test_zero_offset_leaves_the_pose_unchanged(frames, name):
    state, depth = baseline(frames)
    out = random_stage(name, zero=True)(state, depth, CAM)
    np.testing.assert_array_equal(out.joints, state.joints)
    np.testing.assert_array_equal(out.uv, state.uv)


@pytest.mark.parametrize("name", ["A", "B", "C"])
def test_missing_joints_stay_missing_and_valid_ones_move(frames, name):
    state, depth = baseline(frames)
    uv = state.uv.copy()
    uv[0, [2, 7]] = np.nan
    state = Pipeline().initial_state(depth, uv, state.confidence, CAM)
    out = random_stage(name)(state, depth, CAM)
    assert out.joints.shape == (4, NUM_JOINTS, 3)
    np.testing.assert_array_equal(out.valid, state.valid)
    assert not np.allclose(out.joints[state.valid], state.joints[state.valid])


@pytest.mark.parametrize("name", ["A", "B", "C"])
def test_outputs_are_finite_on_nan_depth(frames, name):
    state, depth = baseline(frames)
    for bad in (np.full_like(depth, np.nan),
                np.where(np.random.default_rng(1).random(depth.shape) < 0.8, np.nan, depth).astype(np.float32)):
        out = random_stage(name)(state, bad, CAM)
        assert np.isfinite(out.joints[state.valid]).all()
        np.testing.assert_array_equal(out.valid, state.valid)


def test_b_refines_a_mirrored_skeleton_into_the_mirrored_result(frames):
    """B averages its offsets over the skeleton and its mirror image, so mirroring commutes with it,
    although the network alone does not (random weights)."""
    state, depth = baseline(frames)
    stage = random_stage("B")
    back = mirrored(mirrored(state, CAM), CAM)
    np.testing.assert_allclose(back.uv, state.uv, atol=1e-9)
    np.testing.assert_array_equal(back.joints, state.joints)
    raw = stage.infer(skeleton_inputs(state, CAM))
    raw_mirror = mirror_points(stage.infer(skeleton_inputs(mirrored(state, CAM), CAM)))
    assert np.abs(raw - raw_mirror).max() > 1e-3
    np.testing.assert_allclose(mirrored(stage(mirrored(state, CAM), depth, CAM), CAM).joints,
                               stage(state, depth, CAM).joints, atol=1e-5)


def test_build_stages_loads_fp16_weights_in_pipeline_order(frames, tmp_path):
    stages = {n: random_stage(n) for n in "ABC"}
    for n, st in stages.items():
        save_weights(tmp_path / f"side_{n}.pt", n, st.model, preset=FAST)
    loaded = build_stages(["C", "A", "B"], "side", tmp_path)
    assert [s.name for s in loaded] == ["A", "B", "C"]
    assert all(next(s.model.parameters()).dtype == torch.float32 for s in loaded)
    state, depth = baseline(frames)
    for s in loaded:
        np.testing.assert_allclose(s(state, depth, CAM).joints, stages[s.name](state, depth, CAM).joints, atol=5e-3)
    with pytest.raises(FileNotFoundError, match="top_A.pt"):
        build_stages(["A"], "top", tmp_path)
    full = Pipeline(loaded).run(depth, frames.uv_in[:4], frames.conf_in[:4], CAM)
    assert np.isfinite(full.joints).all()


def test_weights_files_of_every_compression_load_alike(tmp_path):
    """xz (written now), gzip (earlier versions) and a plain torch.save payload hold the same weights."""
    xz_file = save_weights(tmp_path / "side_B.pt", "B", random_stage("B").model, preset=FAST)
    assert xz_file.read_bytes()[:6] == b"\xfd7zXZ\x00"
    raw = lzma.decompress(xz_file.read_bytes())
    reference = load_stage("B", "side", tmp_path).model.state_dict()
    for name, payload in (("gzip", gzip.compress(raw)), ("plain", raw)):
        folder = tmp_path / name
        folder.mkdir()
        (folder / "side_B.pt").write_bytes(payload)
        state = load_stage("B", "side", folder).model.state_dict()
        assert all(torch.equal(state[k], reference[k]) for k in reference), name


class _Touch:
    """Unpickling this runs a shell command that creates a marker file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


@pytest.mark.parametrize("compress", [bytes, lzma.compress, gzip.compress])
def test_a_weights_file_that_would_run_code_is_refused(tmp_path, compress):
    marker, path = tmp_path / "ran", tmp_path / "side_A.pt"
    buffer = io.BytesIO()
    torch.save({"module": "A", "config": {}, "state_dict": {}, "meta": _Touch(marker)}, buffer)
    path.write_bytes(compress(buffer.getvalue()))
    with pytest.raises(ValueError, match=f"{path}: not a loadable weights file"):
        load_weights(path, MODELS)
    assert not marker.exists()


@pytest.mark.parametrize("compress", [lzma.compress, gzip.compress])
def test_a_decompression_bomb_is_refused(tmp_path, monkeypatch, compress):
    monkeypatch.setattr(common, "MAX_WEIGHTS_BYTES", 1 << 20)
    path = tmp_path / "side_A.pt"
    path.write_bytes(compress(b"\0" * ((1 << 20) + 1)))       # a few KB on disk
    assert path.stat().st_size < 20_000
    with pytest.raises(ValueError, match=f"{path}: decompresses to more than 1 MiB"):
        load_weights(path, MODELS)


@pytest.mark.parametrize("damage,message", [
    (lambda xz: xz[:len(xz) // 2], "truncated compressed weights file"),
    (lambda xz: xz + b"junk", "data after its end"),
    (lambda xz: xz[:40] + bytes(len(xz) - 40), "corrupt compressed weights file"),
])
def test_a_damaged_weights_file_is_a_value_error(tmp_path, damage, message):
    path = save_weights(tmp_path / "side_C.pt", "C", random_stage("C").model, preset=FAST)
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(ValueError, match=f"{path}: .*{message}"):
        load_weights(path, MODELS)


def test_weights_that_do_not_fit_the_module_are_a_value_error(tmp_path):
    path = save_weights(tmp_path / "side_C.pt", "C", random_stage("C").model, preset=FAST)
    blob = torch.load(io.BytesIO(lzma.decompress(path.read_bytes())), weights_only=True)
    blob["module"] = "A"
    buffer = io.BytesIO()
    torch.save(blob, buffer)
    path.write_bytes(buffer.getvalue())
    with pytest.raises(ValueError, match=f"{path}: weights do not fit module A"):
        load_weights(path, MODELS)


@pytest.mark.parametrize("name", ["A", "B", "C"])
def test_folded_batchnorm_gives_the_same_outputs(frames, name):
    """Inference folds BatchNorm into the layers before it: same numbers, no BatchNorm left."""
    stage = random_stage(name)
    for m in stage.model.modules():   # non-trivial running statistics
        if isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
            torch.nn.init.uniform_(m.running_mean, -0.5, 0.5)
            torch.nn.init.uniform_(m.running_var, 0.5, 2.0)
            torch.nn.init.uniform_(m.weight, 0.5, 1.5)
    folded = STAGES[name](fold_batchnorm(stage.model))

    def has_batchnorm(model: torch.nn.Module) -> bool:
        return any(isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)) for m in model.modules())

    assert has_batchnorm(stage.model) == (name != "C") and not has_batchnorm(folded.model)
    state, depth = baseline(frames)
    np.testing.assert_allclose(folded(state, depth, CAM).joints, stage(state, depth, CAM).joints, atol=1e-5)


def test_int8_stages_stay_close_to_float(frames):
    """The shipped weights with int8 Linear layers move joints to nearly the same places (the mAP
    cost on real-looking frames is checked in test_shipped_weights)."""
    state, depth = baseline(frames)
    for name in "ABC":
        exact, fast = load_stage(name, "side"), load_stage(name, "side", int8=True)
        gap = np.linalg.norm(fast(state, depth, CAM).joints - exact(state, depth, CAM).joints, axis=-1)
        assert np.nanmedian(gap) < 0.015, name      # side B: 1.1 cm here, 0.8 cm on generated frames
    assert any("quantized" in type(m).__module__ for m in fast.model.modules())
    with pytest.raises(ValueError, match="CPU option"):
        load_stage("B", "side", device="cuda", int8=True)


# --------------------------------------------------------------------------- training
#: Narrow variants keep the test fast on 2 shared cores; the training mechanics are the same.
SMALL = {"A": (dict(width=16, hidden=64), 8), "B": (dict(width=128), 24), "C": (dict(point_width=32, hidden=64), 8)}


@pytest.mark.parametrize("name", ["A", "B", "C"])
def test_a_few_training_steps_reduce_the_loss(frames, name):
    torch.manual_seed(0)
    config, batch = SMALL[name]
    model = MODELS[name](**config)
    bank = build_bank(frames, [[]])
    b = BATCHES[name](frames, bank, np.arange(batch), None, model.config)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    losses = [fit_step(model, opt, b, torch.device("cpu")) for _ in range(30)]
    assert max(losses[-3:]) < 0.7 * losses[0], losses


def test_bank_mixes_detector_and_label_keypoints(frames):
    """Label keypoints come with confidence 1 (as `refinet eval` without --pose2d gives them), and
    training draws them at their configured share: a model must not need a detector's confidences."""
    bank = build_bank(frames, [[]])
    assert bank.names == ["baseline", "labels:baseline"] and bank.sources == ["detector", "labels"]
    np.testing.assert_allclose(bank.uv[1], frames.label_uv)
    np.testing.assert_array_equal(bank.confidence[1], 1.0)
    np.testing.assert_array_equal(bank.confidence[0], frames.conf_in)
    picks = bank.sample(np.random.default_rng(0), 4000)
    assert abs((picks == 1).mean() - SOURCES["labels"]) < 0.03


def test_train_module_writes_weights_and_record(frames, tmp_path):
    upstream = [random_stage("A")]
    rec = train_module("B", "side", frames, toy_frames(8, seed=1), upstream, epochs=1, batch=8, seed=0,
                       device="cpu", out_path=tmp_path / "side_B.pt", progress=False, preset=FAST)
    variants = ["baseline", "A", "labels:baseline", "labels:A"]
    assert rec["data"]["upstream_variants"] == variants and MIN_EPOCH_STEPS <= rec["steps"] < MIN_EPOCH_STEPS + 8
    assert rec["best_epoch"] == 1 and rec["peak_rss_mib"] > 0
    saved = json.loads((tmp_path / "side_B.json").read_text())
    assert list(saved["val"]) == variants and "mAP" in saved["val"]["labels:A"]["after"]
    assert (tmp_path / "checkpoints" / "side_B_last.pt").is_file()
    assert build_stages(["B"], "side", tmp_path)[0].name == "B"


def test_training_from_init_weights_starts_from_them_and_records_their_lineage(frames, tmp_path):
    """Fine-tuning: zero epochs from `init` reproduce its outputs; the record names the file by hash and
    carries its training families (the leave-out bookkeeping follows the whole lineage)."""
    first = tmp_path / "first" / "side_B.pt"
    train_module("B", "side", frames, toy_frames(8, seed=1), epochs=1, batch=8, device="cpu", out_path=first,
                 progress=False, preset=FAST)
    record = json.loads(first.with_suffix(".json").read_text())
    record["data"]["detector_families"] = ["openpose", "labels"]        # as if trained on another family
    first.with_suffix(".json").write_text(json.dumps(record))
    tuned = tmp_path / "tuned" / "side_B.pt"
    rec = train_module("B", "side", frames, toy_frames(8, seed=1), epochs=0, batch=8, device="cpu",
                       out_path=tuned, progress=False, preset=FAST, init=first)
    assert rec["init"]["weights"] == str(first) and len(rec["init"]["sha256"]) == 64
    assert {"openpose", "labels", *frames.detector_families} <= set(rec["data"]["detector_families"])
    state, depth = baseline(frames)
    before = build_stages(["B"], "side", first.parent)[0](state, depth, CAM).joints
    after = build_stages(["B"], "side", tuned.parent)[0](state, depth, CAM).joints
    np.testing.assert_allclose(after, before, atol=1e-6)


def test_init_weights_of_another_module_or_size_are_refused(frames, tmp_path):
    first = tmp_path / "side_B.pt"
    train_module("B", "side", frames, toy_frames(8, seed=1), epochs=1, batch=8, device="cpu", out_path=first,
                 progress=False, preset=FAST)
    with pytest.raises(ValueError, match="holds module B"):
        train_module("A", "side", frames, toy_frames(8, seed=1), epochs=1, batch=8, device="cpu",
                     out_path=tmp_path / "a" / "side_A.pt", progress=False, init=first)
    with pytest.raises(ValueError, match="--model overrides"):
        train_module("B", "side", frames, toy_frames(8, seed=1), epochs=1, batch=8, device="cpu",
                     out_path=tmp_path / "b" / "side_B.pt", progress=False, init=first, model_config={"width": 7})


def test_an_interrupted_run_resumes_to_the_same_weights(frames, tmp_path, monkeypatch):
    """A run killed after its first epoch and resumed ends exactly where an uninterrupted one does;
    a checkpoint of another run is refused."""
    import refinet_ros.core.training as training
    monkeypatch.setattr(training, "MIN_EPOCH_STEPS", 4)      # short epochs: the test is about the checkpoint
    kw = dict(epochs=2, batch=8, device="cpu", progress=False, preset=FAST, checkpoint_dir=tmp_path / "ck")
    whole = train_module("B", "side", frames, toy_frames(8, seed=1), out_path=tmp_path / "whole" / "side_B.pt",
                         **{**kw, "checkpoint_dir": tmp_path / "ck_whole"})
    real_validate = training.validate

    def killed_after_first_epoch(stage, data, bank):
        result = real_validate(stage, data, bank)
        if not (tmp_path / "ck" / "side_B_last.pt").exists():
            return result
        raise KeyboardInterrupt
    monkeypatch.setattr(training, "validate", killed_after_first_epoch)
    with pytest.raises(KeyboardInterrupt):        # epoch 1 checkpointed, epoch 2 dies in validation
        train_module("B", "side", frames, toy_frames(8, seed=1), out_path=tmp_path / "cut" / "side_B.pt", **kw)
    monkeypatch.setattr(training, "validate", real_validate)
    resumed = train_module("B", "side", frames, toy_frames(8, seed=1), out_path=tmp_path / "cut" / "side_B.pt",
                           resume=True, **kw)
    assert resumed["resumed_at_step"] == whole["steps"] // 2 and resumed["steps"] == whole["steps"]
    a = build_stages(["B"], "side", tmp_path / "whole")[0].model.state_dict()
    b = build_stages(["B"], "side", tmp_path / "cut")[0].model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    with pytest.raises(ValueError, match="checkpoint of another run"):
        train_module("B", "side", frames, toy_frames(8, seed=1), out_path=tmp_path / "other" / "side_B.pt",
                     resume=True, **{**kw, "batch": 4})
