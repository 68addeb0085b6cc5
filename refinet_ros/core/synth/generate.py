"""Synthetic ITOP-like data: orchestration, public API and file output.

A split is a sequence of *clips* (one subject, one action, one fixed camera, 1-4 s at
30 Hz). Each clip is: body (subject) + motion -> kinematics -> volumes -> ray-cast depth ->
sensor noise -> labels (ITOP ids, validity, visibility, segmentation) -> simulated 2D
detections. Everything derives from ``seed``:

* subject bodies from (seed, split, subject id); train subjects are ids 04-19 and test
  subjects 00-03 (ITOP has 16 / 4 people), so the splits never share a person;
* each clip's motion from (seed, split, clip index), its camera, scene, sensor and detector
  noise additionally from the view, so the side and top splits of one seed show the same
  people doing the same things (as ITOP's two cameras filmed the same sessions);
* results are independent of the number of worker processes.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Sequence

import h5py
import numpy as np

from ..camera import PinholeCamera, itop_to_optical
from ..depth import to_itop_depth
from ..itop import PEOPLE_GROUP
from ..joints import HEAD, NECK, NUM_JOINTS, TORSO
from ..views import check_view
from .body import BodyDims, build_primitives, forward_kinematics, joint_radius, sample_body
from .detector import (DEFAULT_PROFILE, PROFILES, RANDOM_FAMILY, DetectorProfile, get_profile, random_profile,
                       simulate_clip)
from .motion import ACTIONS, FPS, sample_motion
from .render import _rays, render_background, render_body
from .scene import sample_side, sample_top
from .world import DEFAULT_WORLD, World, get_world
from .sensor import apply_sensor, sample_sensor
from .walkers import FrameStream, PeopleBlock, WalkerScene

SPLITS = ("train", "test")
#: ITOP-like subject ids per split: disjoint, two digits.
SUBJECTS: dict[str, tuple[int, ...]] = {"test": tuple(range(0, 4)), "train": tuple(range(4, 20))}
_SPLIT_CODE = {"train": 11, "test": 23}
#: Side-view chance of furniture hiding the lower body. Training sees it often, so models learn
#: to distrust such depth; the test split stays close to ITOP, whose side view is mostly unoccluded.
OCCLUDER_P = {"train": 0.08, "test": 0.02}
_VIEW_CODE = {"side": 1, "top": 2}
#: Default temporal subsampling of clips in a split (30 Hz / 3 = 10 Hz): more poses per frame budget.
DEFAULT_STRIDE = 3
CLIP_SECONDS = (1.0, 4.0)
#: Bumped whenever generated data changes, so caches made by an older generator are regenerated.
#: 2: recalibrated detector (side sigma, snapping; top noise x2), furniture kept behind the person.
#: 3: the "random" detector family; train-split clips also draw anatomical-range poses (motion.py).
GENERATOR_VERSION = 3


def profile_or_family(detector: str | DetectorProfile | None) -> DetectorProfile | str:
    """A named profile, or the "random" family (a profile is drawn per clip)."""
    return RANDOM_FAMILY if detector == RANDOM_FAMILY else get_profile(detector)


def family_name(detector: DetectorProfile | str) -> str:
    return detector if isinstance(detector, str) else detector.name


def _check(view: str, split: str) -> None:
    check_view(view)
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; expected one of {SPLITS}")


def subject_dims(split: str, seed: int, subjects: Sequence[int] | None = None,
                 world: World = DEFAULT_WORLD) -> dict[int, BodyDims]:
    """The true bodies of a split's subjects (deterministic in seed, split and subject id)."""
    _check("side", split)
    ids = SUBJECTS[split] if subjects is None else subjects
    return {int(s): sample_body(np.random.default_rng([seed, _SPLIT_CODE[split], int(s), 101]), world.stature_m,
                                world.limb_scale) for s in ids}


@dataclass(frozen=True)
class ClipSpec:
    """One planned clip: which subject, how long, which frames are kept."""

    index: int
    subject: int
    n_frames30: int          #: length at 30 Hz
    keep: tuple[int, ...]    #: kept 30 Hz frame indices
    first_id: int            #: running frame number of the subject for the first kept frame


def plan_clips(split: str, n_frames: int, seed: int, stride: int = DEFAULT_STRIDE,
               subjects: Sequence[int] | None = None) -> list[ClipSpec]:
    """Deterministic clip plan giving exactly ``n_frames`` frames (the last clip truncated).
    Clips cycle over the split's subjects."""
    _check("side", split)
    subs = list(SUBJECTS[split] if subjects is None else subjects)
    rng = np.random.default_rng([seed, _SPLIT_CODE[split], 7])
    plan, total, counter = [], 0, {s: 0 for s in subs}
    k = 0
    while total < n_frames:
        subj = subs[k % len(subs)]
        t30 = int(rng.integers(int(CLIP_SECONDS[0] * FPS), int(CLIP_SECONDS[1] * FPS) + 1))
        keep = tuple(range(0, t30, max(int(stride), 1)))[: n_frames - total]
        plan.append(ClipSpec(k, subj, t30, keep, counter[subj]))
        counter[subj] += len(keep)
        total += len(keep)
        k += 1
    return plan


@dataclass
class SynthSet:
    """Generated frames in memory (optical frame, metres; depth NaN = no reading)."""

    view: str
    split: str
    seed: int
    camera: PinholeCamera
    ids: np.ndarray            #: (N,) str 'SS_FFFFF'
    depth_m: np.ndarray        #: (N, H, W) float32
    is_valid: np.ndarray       #: (N,) bool
    visible: np.ndarray        #: (N, 15) bool
    uv: np.ndarray             #: (N, 15, 2) float32 ground-truth projections
    joints: np.ndarray         #: (N, 15, 3) float32 ground-truth joint centres, optical frame
    segmentation: np.ndarray   #: (N, H, W) int8 nearest-joint label, -1 background
    keypoints: np.ndarray      #: (N, 15, 2) float32 simulated 2D detections
    confidence: np.ndarray     #: (N, 15) float32
    subject: np.ndarray        #: (N,) int
    clip: np.ndarray           #: (N,) int clip index
    frame30: np.ndarray        #: (N,) int frame index within its clip at 30 Hz
    cam_to_world: np.ndarray   #: (N, 4, 4) float32 optical -> world (z up, floor z = 0)
    subjects: dict[int, dict[str, float]] = field(default_factory=dict)  #: true dims per subject
    actions: dict[int, str] = field(default_factory=dict)                 #: clip index -> action
    detector: str = DEFAULT_PROFILE
    people: PeopleBlock | None = None    #: every person, when walkers were added (:mod:`.walkers`)

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def labels(self):
        """The labels as :class:`refinet_ros.core.itop.ItopLabels`."""
        from ..itop import ItopLabels
        return ItopLabels(self.ids, self.is_valid, self.visible, self.uv.astype(np.float64),
                          self.joints.astype(np.float64), self.segmentation)

    def clip_frames(self, clip: int) -> np.ndarray:
        """Indices of one clip's frames, in temporal order."""
        return np.flatnonzero(self.clip == clip)

    def meta(self) -> dict:
        return _meta(self.view, self.split, self.seed, self.camera, self.detector, self.subjects, self.actions)

    @staticmethod
    def concat(parts: list["SynthSet"]) -> "SynthSet":
        p0 = parts[0]
        cat = lambda name: np.concatenate([getattr(p, name) for p in parts])  # noqa: E731
        out = SynthSet(p0.view, p0.split, p0.seed, p0.camera, *[cat(n) for n in _ARRAYS], detector=p0.detector)
        for p in parts:
            out.subjects.update(p.subjects)
            out.actions.update(p.actions)
        return out


def _meta(view: str, split: str, seed: int, camera: PinholeCamera, detector: str,
          subjects: dict[int, dict[str, float]], actions: dict[int, str]) -> dict:
    return {
        "generator": "refinet_ros.core.synth", "version": GENERATOR_VERSION, "view": view,
        "split": split, "seed": seed, "detector": detector, "fps": FPS,
        "camera": {"fx": camera.fx, "fy": camera.fy, "cx": camera.cx, "cy": camera.cy,
                   "width": camera.width, "height": camera.height},
        "subjects": {f"{k:02d}": v for k, v in sorted(subjects.items())},
        "clips": {str(k): v for k, v in sorted(actions.items())},
    }


_ARRAYS = ("ids", "depth_m", "is_valid", "visible", "uv", "joints", "segmentation", "keypoints",
           "confidence", "subject", "clip", "frame30", "cam_to_world")


def _visibility(z_true: np.ndarray, uv: np.ndarray, joints_c: np.ndarray, radius: np.ndarray,
                camera: PinholeCamera) -> tuple[np.ndarray, np.ndarray]:
    """(in_image, visible): a joint is visible when it projects inside the image and the
    rendered surface at its pixel is not more than ~1.3 part radii (+3 cm) in front of it."""
    inside = camera.in_image(uv)
    ui = np.clip(np.rint(np.nan_to_num(uv[:, 0])), 0, camera.width - 1).astype(int)
    vi = np.clip(np.rint(np.nan_to_num(uv[:, 1])), 0, camera.height - 1).astype(int)
    zs = z_true[vi, ui]
    vis = inside & (zs >= joints_c[:, 2] - (1.3 * radius + 0.03))
    return inside, vis


def _validity(inside: np.ndarray, visible: np.ndarray, view: str, uv: np.ndarray, camera: PinholeCamera,
              rng: np.random.Generator) -> bool:
    """ITOP marks frames whose labels are unreliable as invalid; mimic the common causes:
    the person largely out of frame, key joints missing, heavy occlusion (side view), and a
    small rate of frames an annotator would reject anyway."""
    n_out = int((~inside).sum())
    if n_out > 2 or not inside[[HEAD, NECK, TORSO]].all():
        return False
    margin = 3.0
    core = uv[[HEAD, NECK, TORSO]]
    if ((core[:, 0] < margin) | (core[:, 0] > camera.width - 1 - margin)
            | (core[:, 1] < margin) | (core[:, 1] > camera.height - 1 - margin)).any():
        return False
    if view == "side" and int(visible.sum()) < 8:
        return False
    return bool(rng.random() > 0.04)


def _segmentation(z: np.ndarray, ids: np.ndarray, joints_c: np.ndarray, camera: PinholeCamera) -> np.ndarray:
    """Person pixels labelled with the nearest joint (0..14, 3D distance), background -1."""
    seg = np.full(z.shape, -1, dtype=np.int8)
    person = ids >= 0
    if person.any():
        pts = (_rays(camera)[person] * z[person][:, None]).astype(np.float32)
        j = joints_c.astype(np.float32)
        d2 = (j * j).sum(-1)[None] - 2.0 * pts @ j.T          # |p|^2 is common to all joints
        seg[person] = np.argmin(d2, axis=1).astype(np.int8)
    return seg


def generate_clip(view: str, split: str, spec: ClipSpec, seed: int, camera: PinholeCamera | None = None,
                  detector_profile: str | DetectorProfile | None = None,
                  dims: BodyDims | None = None, action: str | None = None,
                  world: World = DEFAULT_WORLD) -> SynthSet:
    """Render one clip's kept frames (``spec.keep``) in temporal order.

    For a continuous 30 Hz sequence use ``ClipSpec(index, subject, n, tuple(range(n)), 0)``."""
    _check(view, split)
    camera = camera or PinholeCamera.itop()
    sc, vc = _SPLIT_CODE[split], _VIEW_CODE[view]
    prof = (random_profile(np.random.default_rng([seed, sc, spec.index, 6, vc])) if detector_profile == RANDOM_FAMILY
            else get_profile(detector_profile))
    dims = dims or subject_dims(split, seed, [spec.subject], world)[spec.subject]
    act, pose = sample_motion(np.random.default_rng([seed, sc, spec.index, 1]), spec.n_frames30, action,
                              train=split == "train")
    kin = forward_kinematics(dims, pose)
    prims = build_primitives(dims, kin)
    rng_scene = np.random.default_rng([seed, sc, spec.index, 2, vc])
    path = kin.joints[:, TORSO, :2]
    labelled = world.labelled(kin.joints)
    if view == "side":
        cpose, scene, _ = sample_side(rng_scene, path, float(pose["yaw"][0]), OCCLUDER_P[split],
                                      world.side_camera_height_m)
    else:
        cpose, scene, _ = sample_top(rng_scene, path, world.top_camera_height_m)
    sensor = sample_sensor(rng_scene, camera.fx)
    rng_noise = np.random.default_rng([seed, sc, spec.index, 4, vc])
    rng_label = np.random.default_rng([seed, sc, spec.index, 5, vc])
    bg = render_background(camera, cpose, scene)
    radius = joint_radius(dims)
    n_cap = len(prims.cap_r[0])
    keep = np.asarray(spec.keep, dtype=np.int64)
    n = len(keep)
    h, w = camera.height, camera.width
    depth = np.empty((n, h, w), np.float32)
    seg = np.empty((n, h, w), np.int8)
    uv = np.empty((n, NUM_JOINTS, 2))
    jc = np.empty((n, NUM_JOINTS, 3))
    vis = np.zeros((n, NUM_JOINTS), bool)
    valid = np.zeros(n, bool)
    back = np.zeros(n, bool)
    scale = np.ones(n)
    for i, f in enumerate(keep):
        z, ids = render_body(camera, cpose, prims.frame(int(f)), bg)
        jc[i] = cpose.to_camera(labelled[f])
        uv[i] = camera.project(jc[i])
        inside, vis[i] = _visibility(z, uv[i], jc[i], radius, camera)
        valid[i] = _validity(inside, vis[i], view, uv[i], camera, rng_label)
        person = ids >= 0
        depth[i] = apply_sensor(z, person, ids == n_cap, sensor, rng_noise)   # ellipsoid 0 = head
        seg[i] = _segmentation(z, ids, jc[i], camera)
        fwd = cpose.R @ (kin.r_pelvis[f] @ np.array([0.0, 1.0, 0.0]))
        back[i] = view == "side" and fwd[2] > 0.35          # chest points away from the camera
        scale[i] = np.clip(camera.fx / max(jc[i, TORSO, 2], 0.5) / (285.714 / 2.9), 0.4, 3.0)
    kp, conf = simulate_clip(uv, vis, scale, back, w, h, prof, view,
                             np.random.default_rng([seed, sc, spec.index, 3, vc]), seg >= 0)
    ids_s = np.array([f"{spec.subject:02d}_{spec.first_id + i:05d}" for i in range(n)])
    c2w = np.broadcast_to(cpose.cam_to_world().astype(np.float32), (n, 4, 4)).copy()
    return SynthSet(view, split, seed, camera, ids_s, depth, valid, vis, uv.astype(np.float32),
                    jc.astype(np.float32), seg, kp, conf, np.full(n, spec.subject), np.full(n, spec.index),
                    keep, c2w, {spec.subject: dims.measurements()}, {spec.index: act}, prof.name)


def _clip_job(args) -> SynthSet:
    view, split, spec, seed, camera, prof, world = args
    return generate_clip(view, split, spec, seed, camera, prof, world=world)


def iter_clips(view: str, split: str, n_frames: int, seed: int, camera: PinholeCamera | None = None,
               detector_profile: str | DetectorProfile | None = None, stride: int = DEFAULT_STRIDE,
               workers: int = 1, progress: bool = False, world: str | World | None = None) -> Iterator[SynthSet]:
    """Clips of a split in order (each a :class:`SynthSet`), optionally on worker processes.
    The output does not depend on ``workers``."""
    _check(view, split)
    camera = camera or PinholeCamera.itop()
    prof = profile_or_family(detector_profile)
    plan = plan_clips(split, n_frames, seed, stride)
    jobs = [(view, split, spec, seed, camera, prof, get_world(world)) for spec in plan]
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=n_frames, desc=f"synth {view}/{split}", unit="frame")
    try:
        if workers > 1:
            import multiprocessing as mp
            with mp.get_context("fork" if hasattr(__import__("os"), "fork") else "spawn").Pool(workers) as pool:
                for part in pool.imap(_clip_job, jobs, chunksize=1):
                    if bar is not None:
                        bar.update(len(part))
                    yield part
        else:
            for job in jobs:
                part = _clip_job(job)
                if bar is not None:
                    bar.update(len(part))
                yield part
    finally:
        if bar is not None:
            bar.close()


def generate_split(view: str, split: str, n_frames: int, seed: int = 0, camera: PinholeCamera | None = None,
                   detector_profile: str | DetectorProfile | None = None, stride: int = DEFAULT_STRIDE,
                   workers: int = 1, progress: bool = False, people: int = 1) -> SynthSet:
    """Generate ``n_frames`` frames of a view/split in memory (~0.4 MB per frame); `people` > 1 adds
    walkers as :func:`write_split` does, their labels in the result's ``people``."""
    if n_frames <= 0:
        raise ValueError("n_frames must be positive")
    camera = camera or PinholeCamera.itop()
    prof = profile_or_family(detector_profile)
    parts = list(iter_clips(view, split, n_frames, seed, camera, prof, stride, workers, progress))
    walk = _walkers(view, split, n_frames, seed, camera, prof, stride, None, people)
    blocks = [] if walk is None else [_with_walkers(part, *walk)[1] for part in parts]
    out = SynthSet.concat(parts)
    out.people = PeopleBlock.concat(blocks) if blocks else None
    out.subjects = {k: v for k, v in sorted(out.subjects.items())}
    return out


class _ItopAppender:
    """Streams frames into an ITOP h5 pair, clip by clip, so a 40k-frame split never has to
    fit in memory. Same datasets and dtypes as :func:`refinet_ros.core.itop.write_itop`."""

    def __init__(self, prefix: Path, h: int, w: int, slots: int = 1) -> None:
        prefix.parent.mkdir(parents=True, exist_ok=True)
        self.depth_path = prefix.with_name(prefix.name + "_depth_map.h5")
        self.labels_path = prefix.with_name(prefix.name + "_labels.h5")
        self.d = h5py.File(self.depth_path, "w")
        self.l = h5py.File(self.labels_path, "w")
        mk = lambda f, k, shape, dt, **kw: f.create_dataset(  # noqa: E731
            k, shape=(0, *shape), maxshape=(None, *shape), dtype=dt, **kw)
        img = dict(compression="gzip", compression_opts=1, chunks=(1, h, w))
        self.sets = {
            ("d", "id"): mk(self.d, "id", (), "S8", chunks=(4096,)),
            ("d", "data"): mk(self.d, "data", (h, w), np.float16, **img),
            ("l", "id"): mk(self.l, "id", (), "S8", chunks=(4096,)),
            ("l", "is_valid"): mk(self.l, "is_valid", (), np.uint8, chunks=(4096,)),
            ("l", "visible_joints"): mk(self.l, "visible_joints", (NUM_JOINTS,), np.uint8, chunks=(1024, NUM_JOINTS)),
            ("l", "image_coordinates"): mk(self.l, "image_coordinates", (NUM_JOINTS, 2), np.float32,
                                           chunks=(1024, NUM_JOINTS, 2)),
            ("l", "real_world_coordinates"): mk(self.l, "real_world_coordinates", (NUM_JOINTS, 3), np.float32,
                                                chunks=(1024, NUM_JOINTS, 3)),
            ("l", "segmentation"): mk(self.l, "segmentation", (h, w), np.int8, **img),
        }
        if slots > 1:                                   # the per-person layout (README: Multi-person files)
            g = self.l.create_group(PEOPLE_GROUP)
            g.attrs["slots"] = slots
            per = lambda k, shape, dt: mk(g, k, (slots, *shape), dt, chunks=(1024, slots, *shape))  # noqa: E731
            self.sets.update({
                ("p", "track_id"): per("track_id", (), np.int32),
                ("p", "present"): per("present", (), np.uint8),
                ("p", "visible_joints"): per("visible_joints", (NUM_JOINTS,), np.uint8),
                ("p", "image_coordinates"): per("image_coordinates", (NUM_JOINTS, 2), np.float32),
                ("p", "real_world_coordinates"): per("real_world_coordinates", (NUM_JOINTS, 3), np.float32),
                ("p", "person_map"): mk(g, "person_map", (h, w), np.int8, **img),
            })

    def append(self, s: SynthSet, people: PeopleBlock | None = None) -> None:
        ids = np.array([i.encode() for i in s.ids], dtype="S8")
        data = {
            ("d", "id"): ids, ("d", "data"): to_itop_depth(s.depth_m), ("l", "id"): ids,
            ("l", "is_valid"): s.is_valid.astype(np.uint8), ("l", "visible_joints"): s.visible.astype(np.uint8),
            ("l", "image_coordinates"): s.uv.astype(np.float32),
            ("l", "real_world_coordinates"): itop_to_optical(s.joints).astype(np.float32),
            ("l", "segmentation"): s.segmentation.astype(np.int8),
        }
        if people is not None:
            data.update({
                ("p", "track_id"): people.track_id, ("p", "present"): people.present.astype(np.uint8),
                ("p", "visible_joints"): people.visible.astype(np.uint8),
                ("p", "image_coordinates"): people.uv,
                ("p", "real_world_coordinates"): itop_to_optical(people.joints).astype(np.float32),
                ("p", "person_map"): people.person_map,
            })
        for key, ds in self.sets.items():
            n0 = ds.shape[0]
            ds.resize(n0 + len(ids), axis=0)
            ds[n0:] = data[key]

    def close(self) -> None:
        self.d.close()
        self.l.close()


def split_prefix(out_dir: str | Path, view: str, split: str) -> Path:
    return Path(out_dir) / f"ITOP_{view}_{split}"


def write_split(out_dir: str | Path, view: str, split: str, n_frames: int, seed: int = 0,
                camera: PinholeCamera | None = None, detector_profile: str | DetectorProfile | None = None,
                stride: int = DEFAULT_STRIDE, workers: int = 1, progress: bool = True,
                world: str | World | None = None, people: int = 1) -> dict[str, Path]:
    """Generate and write one view/split (of the recording setup `world`, default the generator's own):
    ``ITOP_{view}_{split}_depth_map.h5``, ``_labels.h5`` (real ITOP layout),
    ``_pose2d.npz`` (ids, keypoints, confidence: the simulated detector),
    ``_meta.npz`` (per-frame subject, clip, frame30, cam_to_world) for sequence tools and, last, so
    that its presence marks a whole split, ``_subjects.json`` (true body dimensions, clip actions,
    seed, camera, frame count).

    `people` > 1 adds walkers (:mod:`.walkers`): up to that many people per frame, entering, leaving
    and crossing. Person 0 keeps the ITOP layout; all of them are in the labels' ``people`` group
    and the predictions' ``people_*`` arrays."""
    if people < 1:
        raise ValueError(f"people must be at least 1, got {people}")
    camera = camera or PinholeCamera.itop()
    prefix = split_prefix(out_dir, view, split)
    app = _ItopAppender(prefix, camera.height, camera.width, slots=people)
    ids, kps, confs, subj, clip, f30, c2w, blocks = [], [], [], [], [], [], [], []
    subjects: dict[int, dict[str, float]] = {}
    actions: dict[int, str] = {}
    prof = profile_or_family(detector_profile)
    try:
        walk = _walkers(view, split, n_frames, seed, camera, prof, stride, world, people)
        for part in iter_clips(view, split, n_frames, seed, camera, prof, stride, workers, progress, world):
            block = None
            if walk is not None:
                part, block = _with_walkers(part, *walk)
                blocks.append(block)
            app.append(part, block)
            ids.append(part.ids)
            kps.append(part.keypoints)
            confs.append(part.confidence)
            subj.append(part.subject)
            clip.append(part.clip)
            f30.append(part.frame30)
            c2w.append(part.cam_to_world)
            subjects.update(part.subjects)
            actions.update(part.actions)
    finally:
        app.close()
    from ..itop import write_pose2d
    all_ids = np.concatenate(ids)
    extra = {} if not blocks else {
        "people_keypoints": np.concatenate([b.keypoints for b in blocks]),
        "people_confidence": np.concatenate([b.confidence for b in blocks]),
        "people_track_id": np.concatenate([b.track_id for b in blocks])}
    pose2d = write_pose2d(prefix.with_name(prefix.name + "_pose2d.npz"), all_ids, np.concatenate(kps),
                          np.concatenate(confs), **extra)
    meta = _meta(view, split, seed, camera, family_name(prof), subjects, actions)
    meta["n_frames"] = int(len(all_ids))
    meta["world"] = get_world(world).name
    meta["stride"] = int(stride)
    meta["people"] = int(people)
    meta_path = prefix.with_name(prefix.name + "_meta.npz")
    np.savez_compressed(meta_path, ids=np.array([i.encode() for i in all_ids], dtype="S8"),
                        subject=np.concatenate(subj).astype(np.int16), clip=np.concatenate(clip).astype(np.int32),
                        frame30=np.concatenate(f30).astype(np.int16), cam_to_world=np.concatenate(c2w))
    subjects_path = prefix.with_name(prefix.name + "_subjects.json")
    subjects_path.write_text(json.dumps(meta, indent=1, sort_keys=True))
    return {"depth_map": app.depth_path, "labels": app.labels_path, "pose2d": pose2d,
            "subjects": subjects_path, "meta": meta_path}


def _walkers(view: str, split: str, n_frames: int, seed: int, camera: PinholeCamera, prof, stride: int,
             world, people: int) -> tuple[WalkerScene, list[FrameStream]] | None:
    """The walker scene and one frame stream per walker (other seeds: other people and motion)."""
    if people == 1:
        return None
    streams = [FrameStream(iter_clips(view, split, n_frames, (seed + 1) * 1_000_003 + k, camera, prof, stride,
                                      world=world)) for k in range(1, people)]
    return WalkerScene(people, camera, stride, np.random.default_rng([seed, 31])), streams


def _with_walkers(part: SynthSet, scene: WalkerScene, streams: list[FrameStream]) -> tuple[SynthSet, PeopleBlock]:
    """The clip with walkers composed in; person 0's ITOP fields lose what the walkers hide."""
    depth, block = scene.compose(part, streams)
    part.depth_m = depth
    part.visible = block.visible[:, 0].copy()
    part.segmentation = np.where(block.person_map == 0, part.segmentation, -1).astype(np.int8)
    return part, block


__all__ = ["ACTIONS", "PROFILES", "SUBJECTS", "SynthSet", "ClipSpec", "SPLITS", "generate_clip",
           "generate_split", "iter_clips", "plan_clips", "subject_dims", "write_split"]
