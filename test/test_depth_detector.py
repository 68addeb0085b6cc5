"""The depth-image 2D detector: decoding geometry, empty frames, bad sizes, crowds, training, CLI."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from refinet_ros.cli import main
from refinet_ros.core.camera import PinholeCamera
from refinet_ros.core.detector_training import DetectorFrames, detector_loss, make_batch, targets, train_detector
from refinet_ros.core.joints import NUM_JOINTS, TORSO
from refinet_ros.core.models.depth_detector import (OFFSET_UNIT, DepthDetector, DepthPoseNet, WorkGeometry, decode,
                                                    network_input)
from refinet_ros.core.synth.crowd import Person, compose

CAM = PinholeCamera.itop()


pytestmark = pytest.mark.usefixtures("two_torch_threads")


def toy_people(n: int, seed: int = 0) -> DetectorFrames:
    """One upright 'person' per frame: a slab 0.4 m wide, 1.6 m tall, 2.5-3.5 m away, in front of a wall."""
    rng = np.random.default_rng(seed)
    depth = np.full((n, CAM.height, CAM.width), 4.5, np.float32)
    mask = np.zeros(depth.shape, bool)
    uv = np.empty((n, NUM_JOINTS, 2))
    joints = np.empty((n, NUM_JOINTS, 3))
    for i in range(n):
        z, x = rng.uniform(2.5, 3.5), rng.uniform(-0.6, 0.6)
        body = np.stack([np.full(NUM_JOINTS, x) + rng.normal(0, 0.1, NUM_JOINTS),
                         np.linspace(-0.75, 0.75, NUM_JOINTS), np.full(NUM_JOINTS, z)], -1)
        joints[i], uv[i] = body, CAM.project(body)
        u0, u1 = CAM.project(np.array([[x - 0.2, 0, z], [x + 0.2, 0, z]]))[:, 0].astype(int)
        v0, v1 = CAM.project(np.array([[x, -0.8, z], [x, 0.8, z]]))[:, 1].astype(int)
        mask[i, max(v0, 0):v1, max(u0, 0):u1] = True
        depth[i][mask[i]] = z
    return DetectorFrames(depth.astype(np.float16), mask, uv, joints, CAM)


def test_decoding_recovers_planted_people_in_input_pixels():
    """Two centre peaks with their joint peaks, planted in the network's output grid, come back as
    two people at the planted pixel positions (the cell <-> pixel geometry round trip)."""
    geo = WorkGeometry.for_image((240, 320))
    people = [Person(CAM.project(np.c_[np.full(15, dx), np.linspace(-0.7, 0.7, 15), np.full(15, 3.0)]), None)
              for dx in (-0.8, 0.7)]
    heat, off, _ = targets(people, geo)
    logits = torch.logit(torch.from_numpy(heat).clamp(1e-4, 1 - 1e-4))
    out = torch.cat([logits, torch.from_numpy(off)], 0)[None]
    found = decode(out, geo)[0]
    assert len(found) == 2
    order = np.argsort(found.uv[:, TORSO, 0])
    for k, person in zip(order, people):
        inside = CAM.in_image(person.uv)
        np.testing.assert_allclose(found.uv[k][inside], person.uv[inside], atol=0.8)
        assert (found.confidence[k][inside] > 0.8).all()
    assert OFFSET_UNIT > 0


def test_untrained_network_finds_nobody_and_bad_frames_do_not_crash():
    detector = DepthDetector(DepthPoseNet())
    frames = np.stack([np.full((240, 320), np.nan, np.float32), np.zeros((240, 320), np.float32),
                       np.random.default_rng(0).uniform(1, 5, (240, 320)).astype(np.float32)])
    frames[2, :10] = np.inf
    found = detector(frames)
    assert len(found) == 3 and all(len(f) == 0 and f.uv.shape == (0, NUM_JOINTS, 2) for f in found)
    x, _ = network_input(frames)
    assert np.isfinite(x).all() and x[0, 1].sum() == 0            # all-invalid: no valid pixel
    for shape in ((480, 640), (720, 1280), (100, 90)):
        assert len(detector(np.full(shape, 2.0, np.float32))) == 1
    with pytest.raises(ValueError, match="too small for the depth detector"):
        detector(np.ones((8, 8), np.float32))


def test_compose_z_tests_people_and_drops_the_hidden_ones():
    data = toy_people(3)
    rng = np.random.default_rng(1)
    base = Person(data.uv[0], data.joints[0])
    extra = (data.depth_m[1].astype(np.float32), np.where(data.person[1], 0, -1), Person(data.uv[1], data.joints[1]))
    crowd = compose(data.depth_m[0].astype(np.float32), base, [extra], CAM, rng)
    assert len(crowd.people) in (1, 2)
    wall = np.full((CAM.height, CAM.width), 1.0, np.float32)          # a wall nearer than everyone
    hidden = compose(wall, base, [extra], CAM, np.random.default_rng(1))
    assert len(hidden.people) == 1 and np.allclose(hidden.depth_m, 1.0)


def test_a_few_training_steps_lower_the_loss():
    data = toy_people(16)
    rng = np.random.default_rng(0)
    batch = make_batch(data, 8, rng)
    torch.manual_seed(0)
    model = DepthPoseNet(width=16)
    opt = torch.optim.Adam(model.parameters(), 3e-3)
    with torch.no_grad():
        before = float(detector_loss(model(batch[0]), *batch[1:]))
    for _ in range(25):
        loss = detector_loss(model(batch[0]), *batch[1:])
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        assert float(detector_loss(model(batch[0]), *batch[1:])) < 0.7 * before


def test_detect_writes_predictions_that_eval_scores(tmp_path, capsys):
    """refinet detect -> refinet eval end to end, with weights from train_detector."""
    from test_train_files import write_split
    data = toy_people(12)
    train_detector("side", data, data, tmp_path / "w" / "side_detector.pt", steps=3, progress=False, val_frames=4,
                   width=16)
    split = write_split(tmp_path)
    pose = tmp_path / "detected.npz"
    assert main(["detect", "--depth", str(split["depth_map.h5"]), "--out", str(pose), "--weights",
                 str(tmp_path / "w"), "--no-progress"]) == 0
    with np.load(pose) as npz:
        assert {"ids", "keypoints", "confidence", "n_people"} <= set(npz.files)
        assert len(npz["ids"]) == len(npz["n_people"])
    assert main(["eval", "--depth", str(split["depth_map.h5"]), "--labels", str(split["labels.h5"]), "--pose2d",
                 str(pose), "--stages", "none", "--no-progress"]) == 0
    assert "mAP@10cm" in capsys.readouterr().out


@pytest.mark.parametrize("du", [-400, -320, -319, -5, 0, 7, 319, 320, 1000])
def test_a_person_moved_by_any_shift_keeps_its_shape_or_leaves(du):
    """Shifts beyond the image width once crashed a 40-minute training run (broadcast of (240, 0))."""
    from refinet_ros.core.synth.crowd import shifted
    mask = np.zeros((240, 320), bool)
    mask[:, 100:140] = True
    moved, depth = shifted(mask, np.full(mask.shape, 2.0, np.float32), du)
    cols = np.clip(np.arange(100, 140) + du, -1, 320)
    assert moved.sum() == 240 * ((cols >= 0) & (cols < 320)).sum()
    assert np.isinf(depth[~moved]).all() and (depth[moved] == 2.0).all()


def test_the_shipped_detector_finds_each_person_of_a_multi_person_frame():
    """Three held-out people composed into one frame (they occlude each other) give three skeletons,
    each near its person."""
    from refinet_ros.core.detector_training import sample_frame
    from refinet_ros.core.synth.generate import generate_split
    from refinet_ros.core.weights import load_detector
    seq = generate_split("side", "test", 12, seed=3)
    keep = np.flatnonzero(seq.is_valid)
    data = DetectorFrames(seq.depth_m[keep].astype(np.float16), seq.segmentation[keep] >= 0, seq.uv[keep],
                          seq.joints[keep], seq.camera)
    depth, people = next(f for k in range(50)
                         if len((f := sample_frame(data, np.random.default_rng([7, k]), 3, augment=False))[1]) == 3)
    uv, conf = load_detector("side").keypoints(depth)
    assert len(uv) == 3
    found = np.sort(uv[:, TORSO, 0])
    np.testing.assert_allclose(found, np.sort([p.uv[TORSO, 0] for p in people]), atol=15)


def test_detector_training_continues_from_init_weights(tmp_path):
    data = toy_people(8)
    first = tmp_path / "a" / "side_detector.pt"
    train_detector("side", data, data, first, steps=2, progress=False, val_frames=2, width=16)
    rec = train_detector("side", data, data, tmp_path / "b" / "side_detector.pt", steps=0, progress=False,
                         val_frames=2, init=first)
    assert rec["init"]["weights"] == str(first) and rec["config"]["lr"] < 2e-3
    a, b = (torch.load(__import__("io").BytesIO(__import__("lzma").decompress(p.read_bytes())),
                       weights_only=True)["state_dict"] for p in (first, tmp_path / "b" / "side_detector.pt"))
    assert all(torch.equal(a[k], b[k]) for k in a)          # zero steps from init: the same weights


@pytest.mark.parametrize("view", ["side", "top"])
def test_a_mirrored_frame_gives_the_mirrored_people_exactly(view):
    """The flip test: each frame is also seen mirrored and the outputs averaged, so the mirror image of a
    frame gives each person's keypoints mirrored (u -> W - 1 - u), left and right swapped, and the same
    confidences. One network pass alone does not (it was 1-3 px off). The frames are at the working
    width (160 px), where resizing cannot break the symmetry."""
    from refinet_ros.core.joints import FLIP_PERMUTATION
    from refinet_ros.core.synth.generate import generate_split
    from refinet_ros.core.weights import load_detector
    seq = generate_split(view, "test", 12, seed=5, stride=12)       # 12 frames far apart
    detector = load_detector(view)
    people = 0
    for depth in seq.depth_m[seq.is_valid][:, ::2, ::2]:
        uv, conf = detector.keypoints(depth)
        uv_m, conf_m = detector.keypoints(depth[:, ::-1])
        assert len(uv) == len(uv_m)
        people += len(uv)
        order = np.argsort(uv[:, 8, 0]), np.argsort(-uv_m[:, 8, 0])      # people by torso, mirrored order
        mirrored = uv_m[order[1]][:, FLIP_PERMUTATION] * [-1, 1] + [depth.shape[1] - 1, 0]
        np.testing.assert_allclose(mirrored, uv[order[0]], atol=1e-3)
        np.testing.assert_allclose(conf_m[order[1]][:, FLIP_PERMUTATION], conf[order[0]], atol=1e-4)
    assert people >= 3
