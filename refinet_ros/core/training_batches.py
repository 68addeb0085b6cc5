"""One training batch per module: (network inputs, target, per-joint loss weight).

The inputs come from the same functions the stages call at inference (patch_inputs,
skeleton_inputs, cloud_inputs), so training and inference cannot drift apart. Targets are the
offsets from the module's input to the ground-truth joint centre; the weight is 0 for joints the
stage would not move (missing) and carries the unit of the loss (pixels for A, metres for B/C).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from .augment import (drop_mask, jitter_uv, noisy_depth, push_along_rays, random_rotations, scene_scales,
                      similarity_about, transform_uv)
from .features import skeleton_root
from .models.patch_refiner import patch_inputs
from .models.pointcloud_refiner import cloud_inputs
from .models.skeleton_refiner import skeleton_inputs
from .pose import PoseState
from .training_data import FrameSet, StateBank

#: Augmentation strengths (module-level so the JSON record can store them).
#: B's ray pushes model one joint's depth lookup landing on an occluder (up to 0.8 m nearer) or on
#: the background behind a thin limb (up to 1.5 m farther): B must not spread that joint's error.
AUGMENT = {"uv_jitter_px": 6.0, "rotation_deg": 10.0, "skeleton_scale": 0.15, "ray_push_p": 0.08,
           "ray_push_m": (-0.8, 1.5), "joint_drop_p": 0.05, "joint_jitter_m": 0.03, "scene_scale": 0.1,
           "confidence_drop_p": 0.2}


@dataclass
class Batch:
    inputs: tuple[np.ndarray, ...]
    target: np.ndarray   # (B, J, D), 0 where weight is 0
    weight: np.ndarray   # (B, J)


def _batch(inputs: tuple[np.ndarray, ...], target: np.ndarray, weight: np.ndarray) -> Batch:
    """Zero the unweighted targets: NaN * 0 would still poison the loss."""
    ok = (weight > 0) & np.isfinite(target).all(-1)
    return Batch(inputs, np.where(ok[..., None], target, 0.0).astype(np.float32),
                 np.where(ok, weight, 0.0).astype(np.float32))


def _variants(bank: StateBank, n: int, rng: np.random.Generator | None) -> np.ndarray | int:
    """Random upstream variants when training; the first (detector, no upstream stage) to validate."""
    return 0 if rng is None else bank.sample(rng, n)


def batch_patch(frames: FrameSet, bank: StateBank, idx: np.ndarray, rng: np.random.Generator | None,
                config: dict) -> Batch:
    """Module A: patches around the (jittered) baseline keypoints; target = GT pixel - keypoint."""
    state = bank.state(_variants(bank, len(idx), rng), idx)
    depth, uv = frames.depth(idx), state.uv
    if rng is not None:
        depth = noisy_depth(depth, rng) * scene_scales(rng, len(idx), AUGMENT["scene_scale"])[:, None, None]
        uv = jitter_uv(uv, rng, AUGMENT["uv_jitter_px"])
    patches = patch_inputs(depth, uv, frames.camera, config["patch"])
    has_patch = np.abs(patches).reshape(*patches.shape[:2], -1).max(-1) > 0
    return _batch((patches,), frames.gt_uv[idx] - uv, (state.valid & has_patch).astype(np.float32))


def _augment_skeleton(state: PoseState, gt: np.ndarray, rng: np.random.Generator,
                      frames: FrameSet) -> tuple[PoseState, np.ndarray]:
    """One random similarity about the root for input and GT alike, then ray pushes, dropped joints and
    confidences replaced by 1 (detectors, or pose files, that report none)."""
    n = len(gt)
    root = skeleton_root(state.joints)
    rot = random_rotations(rng, n, AUGMENT["rotation_deg"])
    scale = rng.uniform(1 - AUGMENT["skeleton_scale"], 1 + AUGMENT["skeleton_scale"], n)
    z_ref = np.where(np.isfinite(state.joints[..., 2]), state.joints[..., 2], gt[..., 2])
    uv = transform_uv(state.uv, z_ref, root, rot, scale, frames.camera)
    joints = push_along_rays(similarity_about(state.joints, root, rot, scale), rng, AUGMENT["ray_push_p"],
                             *AUGMENT["ray_push_m"])
    drop = drop_mask(rng, joints.shape[:-1], AUGMENT["joint_drop_p"])
    joints[drop], uv[drop] = np.nan, np.nan
    no_conf = rng.random(n) < AUGMENT["confidence_drop_p"]
    conf = np.where(drop, 0.0, np.where(no_conf[:, None], 1.0, state.confidence))
    return PoseState(uv, joints, conf), similarity_about(gt, root, rot, scale)


def batch_skeleton(frames: FrameSet, bank: StateBank, idx: np.ndarray, rng: np.random.Generator | None,
                   config: dict) -> Batch:
    """Module B: a skeleton from a random upstream variant; target = GT joint - input joint (metres)."""
    state, gt = bank.state(_variants(bank, len(idx), rng), idx), frames.gt_joints[idx]
    if rng is not None:
        state, gt = _augment_skeleton(state, gt, rng, frames)
    return _batch((skeleton_inputs(state, frames.camera),), gt - state.joints, state.valid.astype(np.float32))


def batch_cloud(frames: FrameSet, bank: StateBank, idx: np.ndarray, rng: np.random.Generator | None,
                config: dict) -> Batch:
    """Module C: local clouds around joints of a random upstream variant; target in cube half-sizes.

    The weight is the half size, so the loss is in metres whatever cube each joint got.
    """
    joints, gt, depth = bank.joints[_variants(bank, len(idx), rng), idx], frames.gt_joints[idx], frames.depth(idx)
    if rng is not None:
        scale = scene_scales(rng, len(idx), AUGMENT["scene_scale"])
        depth = noisy_depth(depth, rng) * scale[:, None, None]
        joints = joints * scale[:, None, None] + rng.normal(0.0, AUGMENT["joint_jitter_m"], joints.shape)
        gt = gt * scale[:, None, None]
    clouds = cloud_inputs(depth, joints, frames.camera, config["n_points"], rng)
    weight = np.where(clouds.count > 0, clouds.half, 0.0)
    return _batch((clouds.points, clouds.mask.astype(np.float32)), (gt - joints) / clouds.half[..., None], weight)


BATCHES: dict[str, Callable[..., Batch]] = {"A": batch_patch, "B": batch_skeleton, "C": batch_cloud}
