"""Tests of the synthetic ITOP-like generator (refinet_ros.core.synth). Fast: < 60 s in all."""
from __future__ import annotations

import json

import h5py
import numpy as np
import pytest

from refinet_ros.core.camera import PinholeCamera
from refinet_ros.core.joints import (
    HEAD, L_ELBOW, L_SHOULDER, LOWER_BODY, NECK, R_ELBOW, R_FOOT, R_HAND, R_SHOULDER, TORSO, R_HIP, L_HIP,
)
from refinet_ros.core.synth import SUBJECTS, ClipSpec, generate_clip, generate_split, subject_dims, write_split
from refinet_ros.core.synth.body import build_primitives, forward_kinematics, sample_body
from refinet_ros.core.synth.body import LIMITS
from refinet_ros.core.synth.detector import EVAL_FAMILIES, PROFILES, RANDOM_FAMILY, get_profile, random_profile
from refinet_ros.core.synth.motion import ACTIONS, TRAIN_ACTIONS, sample_motion
from refinet_ros.core.synth.render import render
from refinet_ros.core.synth.scene import sample_side

ARRAYS = ("depth_m", "is_valid", "visible", "uv", "joints", "segmentation", "keypoints", "confidence",
          "subject", "clip", "frame30", "cam_to_world")


@pytest.fixture(scope="module")
def side_set():
    return generate_split("side", "test", 120, seed=7)


@pytest.fixture(scope="module")
def top_set():
    return generate_split("top", "test", 120, seed=7)


def test_determinism_by_seed_and_workers():
    a = generate_split("side", "train", 24, seed=3)
    b = generate_split("side", "train", 24, seed=3, workers=2)
    for name in ARRAYS:
        assert np.array_equal(getattr(a, name), getattr(b, name), equal_nan=True), name
    assert np.array_equal(a.ids, b.ids)
    assert a.subjects == b.subjects
    c = generate_split("side", "train", 24, seed=4)
    assert not np.array_equal(a.joints, c.joints)


def test_train_test_subjects_disjoint():
    assert not set(SUBJECTS["train"]) & set(SUBJECTS["test"])
    tr, te = subject_dims("train", 0), subject_dims("test", 0)
    assert not {round(d.stature, 9) for d in tr.values()} & {round(d.stature, 9) for d in te.values()}
    s = generate_split("top", "train", 40, seed=0, stride=10)
    assert set(np.unique(s.subject)) <= set(SUBJECTS["train"])
    assert all(i[:2] in {f"{k:02d}" for k in SUBJECTS["train"]} for i in s.ids)
    assert len(set(s.ids)) == len(s.ids)
    assert all(len(i) == 8 and i[2] == "_" for i in s.ids)


def test_ground_truth_joints_inside_body_volume():
    """Every GT joint centre lies inside a primitive, and the ray through a visible trunk
    joint's pixel meets the surface in front of the joint."""
    rng = np.random.default_rng(11)
    cam = PinholeCamera.itop()
    checked = 0
    for action in ACTIONS:
        dims = sample_body(rng)
        _, pose = sample_motion(rng, 12, action)
        kin = forward_kinematics(dims, pose)
        prims = build_primitives(dims, kin)
        for f in (0, 11):
            p = prims.frame(f)
            j = kin.joints[f]
            ab = p.cap_b - p.cap_a
            s = np.clip(np.einsum("jkd,kd->jk", j[:, None] - p.cap_a[None], ab) / (ab * ab).sum(-1), 0, 1)
            d_cap = np.linalg.norm(j[:, None] - (p.cap_a + s[..., None] * ab), axis=-1) - p.cap_r
            local = np.einsum("kdi,jkd->jki", p.ell_r, j[:, None] - p.ell_c) / p.ell_radii
            inside = (d_cap < 0).any(1) | ((local ** 2).sum(-1) < 1).any(1)
            assert inside.all(), np.flatnonzero(~inside)
        cpose, scene, _ = sample_side(rng, kin.joints[:, TORSO, :2], float(pose["yaw"][0]))
        z, ids = render(cam, cpose, prims.frame(5), scene)
        jc = cpose.to_camera(kin.joints[5])
        uv = cam.project(jc)
        for k in (NECK, TORSO, R_HIP, L_HIP, R_SHOULDER, L_SHOULDER, HEAD):
            if cam.in_image(uv[k]):
                zs = z[int(round(uv[k, 1])), int(round(uv[k, 0]))]
                assert zs < jc[k, 2], (action, k)
                checked += 1
    assert checked > 30


def test_dimensions_recorded_match_joints(side_set):
    dims = subject_dims("test", 7)
    for sid, d in dims.items():
        m = side_set.subjects[sid]
        assert 1.45 <= m["stature"] <= 2.05
        assert m == d.measurements()
        idx = side_set.subject == sid
        if idx.any():
            j = side_set.joints[idx].astype(np.float64)
            assert np.allclose(np.linalg.norm(j[:, R_SHOULDER] - j[:, R_ELBOW], axis=-1), m["upper_arm"], atol=1e-4)
            assert np.allclose(np.linalg.norm(j[:, R_ELBOW] - j[:, R_HAND], axis=-1), m["forearm"], atol=1e-4)
            assert np.allclose(np.linalg.norm(j[:, R_SHOULDER] - j[:, L_SHOULDER], axis=-1), m["shoulder_width"],
                               atol=1e-4)
            mid = 0.5 * (j[:, R_HIP] + j[:, L_HIP])
            trunk = np.linalg.norm(j[:, NECK] - mid, axis=-1)      # the spine bends: upright is the max
            assert (trunk <= m["torso"] + 2e-4).all() and (trunk > 0.8 * m["torso"]).all()


def test_side_view_geometry(side_set):
    s = side_set
    assert s.depth_m.shape == (120, 240, 320) and s.depth_m.dtype == np.float32
    assert 1.9 <= s.joints[:, TORSO, 2].min() and s.joints[:, TORSO, 2].max() <= 4.5
    person = (s.segmentation >= 0) & np.isfinite(s.depth_m)
    for i in range(0, 120, 10):
        d = s.depth_m[i][person[i]]
        assert d.size > 200
        lo, hi = np.quantile(d, [0.05, 0.95])
        assert 1.8 <= lo and hi <= 4.6
    # sensor: missing readings exist (edges, range) but most pixels have a reading
    nan_rate = np.isnan(s.depth_m).mean()
    assert 0.005 < nan_rate < 0.5
    assert s.segmentation.min() == -1 and s.segmentation.max() <= 14
    assert 0.3 < s.is_valid.mean() <= 1.0
    assert s.visible[:, HEAD].mean() > 0.8


def test_top_view_hides_the_lower_body(top_set):
    s = top_set
    v = s.visible[s.is_valid]
    assert v[:, LOWER_BODY].mean() < 0.3
    assert v[:, [HEAD, R_SHOULDER, L_SHOULDER]].mean() > 0.8
    # the camera looks down: the head is nearer than the torso
    assert (s.joints[:, HEAD, 2] < s.joints[:, TORSO, 2]).mean() > 0.95


def test_clip_is_a_continuous_sequence():
    n = 45
    clip = generate_clip("side", "train", ClipSpec(0, 5, n, tuple(range(n)), 0), seed=1)
    assert len(clip) == n
    step = np.linalg.norm(np.diff(clip.joints[:, TORSO].astype(np.float64), axis=0), axis=-1)
    assert step.max() < 0.1
    assert (clip.cam_to_world == clip.cam_to_world[0]).all()
    assert list(clip.frame30) == list(range(n))
    assert list(clip.ids) == [f"05_{i:05d}" for i in range(n)]


def test_detector_profiles(side_set):
    with pytest.raises(ValueError):
        get_profile("nope")
    assert {"clean", "hrnet", "openpose"} <= set(PROFILES)
    s = side_set
    err = np.linalg.norm(s.keypoints - s.uv, axis=-1)
    inside = PinholeCamera.itop().in_image(s.uv.astype(np.float64))
    e, c = err[inside], s.confidence[inside]
    assert np.median(e) < 6.0
    assert np.corrcoef(c, np.minimum(e, 50))[0, 1] < -0.2        # confidence tracks the error
    assert np.isfinite(s.keypoints).all() and (0 <= s.confidence).all() and (s.confidence <= 1).all()
    # hands and elbows are noisier than the head
    vis = s.visible & inside
    assert np.median(err[:, [R_ELBOW, L_ELBOW]][vis[:, [R_ELBOW, L_ELBOW]]]) > np.median(err[:, HEAD][vis[:, HEAD]])
    clean = generate_split("side", "test", 20, seed=7, detector_profile="clean")
    ce = np.linalg.norm(clean.keypoints - clean.uv, axis=-1)[PinholeCamera.itop().in_image(clean.uv.astype(np.float64))]
    assert np.quantile(ce, 0.99) < 3.0


def test_evaluation_families_and_the_random_training_family():
    assert set(EVAL_FAMILIES) <= set(PROFILES) and RANDOM_FAMILY not in PROFILES
    draws = [random_profile(np.random.default_rng(i)) for i in range(200)]
    assert {d.name for d in draws} == {RANDOM_FAMILY}
    scale = np.array([np.mean(d.sigma_px) / np.mean(PROFILES["openpose"].sigma_px) for d in draws])
    assert scale.min() < 0.6 and scale.max() > 2.5                      # 0.5x .. 3x jitter
    assert min(d.p_snap for d in draws) < 0.05 and max(d.p_snap for d in draws) > 0.95
    assert {d.confidence for d in draws} == {"informative", "constant", "random"}
    assert 60 < sum(d.offset_px is not None for d in draws) < 140


@pytest.mark.parametrize("family", ["gauss", "random_conf"])
def test_confidence_that_carries_no_information(family):
    s = generate_split("side", "test", 40, seed=7, detector_profile=family)
    err = np.linalg.norm(s.keypoints - s.uv, axis=-1)
    if family == "gauss":
        assert (s.confidence == 1).all()
    else:
        assert abs(np.corrcoef(s.confidence.ravel(), np.minimum(err, 50).ravel())[0, 1]) < 0.1


def test_coco_convention_moves_head_down_and_feet_up_in_the_body_frame(side_set):
    s = generate_split("side", "test", 120, seed=7, detector_profile="coco")
    down = s.uv[:, TORSO] - s.uv[:, NECK]
    down /= np.linalg.norm(down, axis=-1, keepdims=True)
    shift = lambda j: np.median(((s.keypoints[:, j] - s.uv[:, j]) * down).sum(-1))  # noqa: E731
    assert shift(HEAD) > 3.0 and shift(R_FOOT) < -3.0 and abs(shift(NECK)) < 1.0


def test_training_poses_only_in_the_train_split():
    rng = np.random.default_rng(0)
    train = {sample_motion(np.random.default_rng(i), 30, train=True)[0] for i in range(300)}
    test = {sample_motion(np.random.default_rng(i), 30)[0] for i in range(300)}
    assert set(TRAIN_ACTIONS) <= train and not set(TRAIN_ACTIONS) & test
    _, pose = sample_motion(rng, 30, "limits", train=True)
    for k, (lo, hi) in LIMITS.items():
        if k != "lift":
            assert lo - 1.0 <= pose[k].min() and pose[k].max() <= hi + 1.0   # within limits, up to the wiggle


def test_write_split_reads_back(tmp_path):
    itop = pytest.importorskip("refinet_ros.core.itop")
    paths = write_split(tmp_path, "side", "test", 30, seed=2, progress=False)
    s = generate_split("side", "test", 30, seed=2)
    assert paths["depth_map"].name == "ITOP_side_test_depth_map.h5"
    labels = itop.read_labels(paths["labels"], with_segmentation=True)
    assert labels.joints.shape == (30, 15, 3) and labels.uv.shape == (30, 15, 2)
    assert labels.segmentation.shape == (30, 240, 320)
    assert list(labels.ids) == list(s.ids)
    assert np.allclose(labels.joints, s.joints, atol=1e-5)            # Y-up on disk, optical in memory
    with h5py.File(paths["labels"]) as h5:
        assert np.allclose(h5["real_world_coordinates"][:, :, 1], -s.joints[:, :, 1], atol=1e-5)
    with itop.DepthFile(paths["depth_map"]) as df:
        assert df.shape == (240, 320) and len(df) == 30
        d = df.read(slice(None))
    assert np.array_equal(np.isnan(d), np.isnan(s.depth_m))
    assert np.nanmax(np.abs(d - s.depth_m)) < 5e-3                    # float16 on disk
    pose = itop.read_pose2d(paths["pose2d"], labels.ids)
    assert np.allclose(pose.uv, s.keypoints) and np.allclose(pose.confidence, s.confidence)
    meta = json.loads(paths["subjects"].read_text())
    assert set(meta["subjects"]) >= {f"{k:02d}" for k in np.unique(s.subject)}
    assert meta["subjects"]["00"]["stature"] == pytest.approx(s.subjects[0]["stature"])
    # same datasets and dtypes as the reference writer
    ref = itop.write_itop(tmp_path / "ref", s.depth_m, s.labels)
    for mine, theirs in ((paths["depth_map"], ref[0]), (paths["labels"], ref[1])):
        with h5py.File(mine) as a, h5py.File(theirs) as b:
            assert set(a.keys()) == set(b.keys())
            for k in a.keys():
                assert a[k].shape == b[k].shape and a[k].dtype.kind == b[k].dtype.kind, k
                assert np.array_equal(a[k][()], b[k][()]), k
    assert itop.read_people(paths["labels"]) is None                  # plain ITOP: no per-person layout
    assert set(np.load(paths["pose2d"]).files) == {"ids", "keypoints", "confidence"}


@pytest.fixture(scope="module")
def walkers_split(tmp_path_factory):
    out = tmp_path_factory.mktemp("walkers")
    return write_split(out, "side", "test", 240, seed=5, stride=1, progress=False, people=3)


def test_multi_person_files_keep_the_itop_layout_for_person_0(walkers_split):
    from refinet_ros.core import itop
    labels = itop.read_labels(walkers_split["labels"], with_segmentation=True)
    people = itop.read_people(walkers_split["labels"])
    assert people.track_id.shape == (240, 3) and people.uv.shape == (240, 3, 15, 2)
    assert np.array_equal(people.uv[:, 0], labels.uv) and np.array_equal(people.visible[:, 0], labels.visible)
    assert np.allclose(people.joints[:, 0], labels.joints, atol=1e-5)
    with h5py.File(walkers_split["labels"]) as h5:
        pmap = h5["people/person_map"][()]
    assert np.array_equal(labels.segmentation >= 0, pmap == 0)       # person 0's pixels where it is seen
    pose = np.load(walkers_split["pose2d"])
    assert pose["people_keypoints"].shape == (240, 3, 15, 2)
    assert np.array_equal(pose["people_track_id"], people.track_id)
    assert np.array_equal(pose["keypoints"], pose["people_keypoints"][:, 0])


def test_walkers_enter_leave_cross_and_never_reuse_an_id(walkers_split):
    from refinet_ros.core import itop
    people = itop.read_people(walkers_split["labels"])
    with itop.DepthFile(walkers_split["depth_map"]) as df:
        depth = df.read(slice(None))
    with h5py.File(walkers_split["labels"]) as h5:
        pmap = h5["people/person_map"][()]
    counts = people.present.sum(1)
    assert counts.max() == 3 and counts.min() <= 2                    # people come and go
    for track in np.unique(people.track_id[people.track_id >= 0]):
        frames, slots = np.nonzero(people.track_id == track)
        assert len(set(slots)) == 1                                    # one person, one slot
        assert np.array_equal(frames, np.arange(frames[0], frames[-1] + 1))   # one run: ids are never reused
    walkers = people.track_id[:, 1:]
    assert len(np.unique(walkers[walkers >= 0])) > 2                   # walkers left and came back as new people
    # occlusion: a joint whose pixel shows another person is not visible, and the depth there is the nearer one
    t, k, j = np.nonzero(np.isfinite(people.uv[..., 0]))
    col = np.clip(np.round(people.uv[t, k, j, 0]).astype(int), 0, 319)
    row = np.clip(np.round(people.uv[t, k, j, 1]).astype(int), 0, 239)
    inside = (people.uv[t, k, j] >= 0).all(-1) & (people.uv[t, k, j, 0] <= 319) & (people.uv[t, k, j, 1] <= 239)
    hidden = inside & (pmap[t, row, col] >= 0) & (pmap[t, row, col] != k)
    assert hidden.sum() > 50 and not people.visible[t[hidden], k[hidden], j[hidden]].any()
    torso = (j == 8) & inside & (pmap[t, row, col] == k)
    assert np.nanmedian(np.abs(depth[t[torso], row[torso], col[torso]] - people.joints[t[torso], k[torso], 8, 2])) < 0.2


def test_cached_split_is_named_by_what_made_it_and_regenerated_until_whole(tmp_path, monkeypatch):
    from refinet_ros.core.synth import cache
    writes = []
    real_write = cache.write_split
    monkeypatch.setattr(cache, "write_split", lambda *a, **k: writes.append(a) or real_write(*a, **k))
    paths = cache.cached_split(tmp_path, "side", "test", 6, seed=5, progress=False)
    assert paths["labels"].parent.name == cache.cache_name("itop", "side", "test", 5, 6)
    assert paths["labels"].parent.name.endswith(f"_openpose_k3_g{cache.GENERATOR_VERSION}")
    assert all(p.is_file() for p in paths.values()) and len(writes) == 1
    assert cache.cached_split(tmp_path, "side", "test", 6, seed=5, progress=False) == paths and len(writes) == 1
    paths["subjects"].unlink()                       # a write killed before its last file: not whole
    assert cache.cached_split(tmp_path, "side", "test", 6, seed=5, progress=False) == paths and len(writes) == 2
    assert json.loads(paths["subjects"].read_text())["n_frames"] == 6
    monkeypatch.setattr(cache, "GENERATOR_VERSION", cache.GENERATOR_VERSION + 1)     # a newer generator
    newer = cache.cached_split(tmp_path, "side", "test", 6, seed=5, progress=False)
    assert newer["labels"].parent != paths["labels"].parent and len(writes) == 3
    other = cache.cached_split(tmp_path, "side", "test", 6, seed=5, detector="random", progress=False)
    assert other["labels"].parent.name.startswith("itop_side_test_s5_n6_random_") and len(writes) == 4


def test_the_foreign_world_has_its_own_people_and_camera_mounts():
    """`refinet generate --world foreign`: statures, limb proportions and camera heights outside the
    default ranges the shipped weights were trained on; the default world is unchanged."""
    from refinet_ros.core.synth.generate import iter_clips
    from refinet_ros.core.synth.world import WORLDS
    foreign = WORLDS["foreign"]
    default_dims = subject_dims("train", 0).values()
    foreign_dims = subject_dims("train", 0, world=foreign).values()
    assert all(1.35 - 0.02 < d.stature < 1.75 + 0.02 for d in foreign_dims)
    legs = lambda dims: np.median([(d.thigh + d.shin) / d.stature for d in dims])   # noqa: E731
    assert legs(foreign_dims) > 1.05 * legs(default_dims)
    for view, (lo, hi) in (("side", foreign.side_camera_height_m), ("top", foreign.top_camera_height_m)):
        clips = list(iter_clips(view, "test", 60, 3, world="foreign"))
        assert all(lo <= c.cam_to_world[0, 2, 3] <= hi for c in clips)
        assert np.concatenate([c.is_valid for c in clips]).mean() > 0.8       # people still in view


def test_the_foreign_labelling_convention_moves_head_feet_and_hips():
    from refinet_ros.core.joints import HEAD, L_HIP, NECK, R_FOOT, R_HIP
    from refinet_ros.core.synth.world import WORLDS
    joints = np.random.default_rng(0).normal(0, 0.3, (4, 15, 3))
    moved = WORLDS["foreign"].labelled(joints)
    np.testing.assert_allclose(np.linalg.norm(moved - joints, axis=-1)[:, [HEAD, R_FOOT, R_HIP, L_HIP]],
                               np.tile([0.10, 0.09, 0.07, 0.07], (4, 1)))
    assert np.allclose(moved[:, NECK], joints[:, NECK]) and WORLDS["default"].labelled(joints) is joints
