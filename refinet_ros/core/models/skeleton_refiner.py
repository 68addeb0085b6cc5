"""Module B: whole-skeleton 3D refinement (Martinez et al. 2017 style residual MLP).

Lifting puts every joint on the depth surface it hits. When a body part is hidden (the legs under
the torso in the top view) the lifted joint lands on the occluder, up to a metre too close; the
depth map at that keypoint simply holds no information about the joint. Only the rest of the
skeleton does: B sees all 15 joints at once and predicts per-joint 3D offsets, z included.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..camera import PinholeCamera
from ..features import normalise_skeleton
from ..joints import FLIP_PERMUTATION, NUM_JOINTS
from ..pose import PoseState
from .common import TorchStage, zero_last_layer

#: Per joint: xyz root-relative (3), valid (1), image-plane position root-relative (2), confidence (1).
FEATURES_PER_JOINT = 7
#: Root depth enters as (z - this) / 1 m: a centred scalar telling near from far.
ROOT_DEPTH_REF_M = 3.0
#: Outputs are offsets in units of this many metres.
OFFSET_SCALE_M = 0.1
#: Mirroring about the camera's y-z plane negates x.
MIRROR_X = np.array([-1.0, 1.0, 1.0])


class LinearBlock(nn.Module):
    """Martinez' residual block: (Linear, BatchNorm, ReLU, Dropout) x 2 plus the identity."""

    def __init__(self, width: int, dropout: float) -> None:
        super().__init__()
        self.body = nn.Sequential(*[m for _ in range(2) for m in (
            nn.Linear(width, width), nn.BatchNorm1d(width), nn.ReLU(inplace=True), nn.Dropout(dropout))])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class SkeletonRefiner(nn.Module):
    """(B, F) skeleton features -> (B, 15, 3) offsets in metres. ~4.3M params at width 1024."""

    def __init__(self, n_joints: int = NUM_JOINTS, width: int = 1024, blocks: int = 2, dropout: float = 0.25) -> None:
        super().__init__()
        self.config = dict(n_joints=n_joints, width=width, blocks=blocks, dropout=dropout)
        self.inp = nn.Sequential(nn.Linear(n_joints * FEATURES_PER_JOINT + 1, width), nn.BatchNorm1d(width),
                                 nn.ReLU(inplace=True), nn.Dropout(dropout))
        self.blocks = nn.Sequential(*[LinearBlock(width, dropout) for _ in range(blocks)])
        self.out = nn.Linear(width, n_joints * 3)
        zero_last_layer(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.blocks(self.inp(x))).view(x.shape[0], -1, 3) * OFFSET_SCALE_M


def skeleton_inputs(state: PoseState, camera: PinholeCamera) -> np.ndarray:
    """(B, F) float32 features: the lifted skeleton relative to its root, plus the 2D evidence.

    The 2D keypoints are turned into metric image-plane offsets from the root's ray (ray x root depth),
    so the features do not depend on the camera's resolution or intrinsics. Joints with a keypoint but
    no depth still contribute their 2D position; that is often all there is of an occluded limb.
    """
    norm = normalise_skeleton(state.joints)
    z_root = np.where(norm.root[:, 2] > 0, norm.root[:, 2], ROOT_DEPTH_REF_M)
    rays = np.stack([(state.uv[..., 0] - camera.cx) / camera.fx, (state.uv[..., 1] - camera.cy) / camera.fy], -1)
    root_ray = norm.root[:, :2] / z_root[:, None]
    has_uv = np.isfinite(rays).all(-1)
    plane = np.where(has_uv[..., None], (rays - root_ray[:, None, :]) * z_root[:, None, None], 0.0)
    conf = np.where(has_uv, state.confidence, 0.0)
    per_joint = np.concatenate([norm.joints, norm.mask[..., None], plane, conf[..., None]], -1)
    root_depth = (z_root - ROOT_DEPTH_REF_M)[:, None]
    return np.concatenate([per_joint.reshape(len(per_joint), -1), root_depth], -1).astype(np.float32)


def apply_offsets(state: PoseState, offsets_m: np.ndarray) -> PoseState:
    """Add 3D offsets to the joints that exist; missing joints stay missing (NaN + x = NaN)."""
    return state.with_joints(state.joints + offsets_m)


def mirror_points(points: np.ndarray) -> np.ndarray:
    """(B, 15, 3) joints or offsets mirrored about the camera's y-z plane, left and right swapped."""
    return points[:, FLIP_PERMUTATION] * MIRROR_X


def mirrored(state: PoseState, camera: PinholeCamera) -> PoseState:
    """The skeleton's mirror image (:func:`mirror_points`): another person just as plausible,
    whose keypoints stay consistent with the same intrinsics."""
    uv = state.uv[:, FLIP_PERMUTATION].copy()
    uv[..., 0] = 2.0 * camera.cx - uv[..., 0]
    return PoseState(uv, mirror_points(state.joints), state.confidence[:, FLIP_PERMUTATION])


class SkeletonStage(TorchStage):
    """Stage B: move every joint using the whole skeleton's context.

    B runs on the skeleton and on its mirror image in one batch and averages the two offsets (the
    mirrored one mapped back). The two predictions err partly independently where the 2D input is
    ambiguous, the occluded legs of the top view above all. The price is B's float32 latency: torch's
    CPU kernel does not get the second row for free (README, Speed); in int8 it nearly does.
    """

    name = "B"

    def __call__(self, state: PoseState, depth_m: np.ndarray, camera: PinholeCamera) -> PoseState:
        n = len(state.uv)
        both = [state, mirrored(state, camera)]
        offsets = self.infer(np.concatenate([skeleton_inputs(s, camera) for s in both]))
        return apply_offsets(state, 0.5 * (offsets[:n] + mirror_points(offsets[n:])))
