"""Module A: 2D keypoint refinement from depth patches.

The detector's keypoints lie near, not on, the joints; a depth patch around each keypoint shows
where the limb actually is (its silhouette and its depth profile). The 15 patches are stacked as
the channels of one image, as in the reference code, so the network also sees the joints' context.
The refined keypoints are lifted again with the robust depth lookup.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..camera import PinholeCamera
from ..features import PATCH_SIZE, depth_patches, patch_step
from ..joints import NUM_JOINTS
from ..lifting import lift_baseline
from ..pose import PoseState
from .common import TorchStage, zero_last_layer

#: Network outputs are offsets in units of this many ITOP pixels (keeps the outputs near 1).
OFFSET_SCALE_PX = 10.0


class ResidualBlock(nn.Module):
    """Two 3x3 convolutions with batch norm and an identity (or 1x1 strided) shortcut."""

    def __init__(self, c_in: int, c_out: int, stride: int = 1) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True),
            nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False), nn.BatchNorm2d(c_out))
        self.skip = (nn.Identity() if stride == 1 and c_in == c_out else
                     nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.body(x) + self.skip(x))


class PatchRefiner(nn.Module):
    """(B, 15, 40, 40) depth patches -> (B, 15, 2) keypoint offsets in ITOP pixels. ~0.8M params; width 48
    keeps it under 5 ms on 2 cores.

    The head flattens a 1x1-reduced 10x10 map instead of pooling it: an offset is a position, and
    pooling would throw away exactly where in the patch the limb is.
    """

    def __init__(self, n_joints: int = NUM_JOINTS, patch: int = PATCH_SIZE, width: int = 48,
                 reduced: int = 16, hidden: int = 384) -> None:
        super().__init__()
        self.config = dict(n_joints=n_joints, patch=patch, width=width, reduced=reduced, hidden=hidden)
        self.features = nn.Sequential(
            nn.Conv2d(n_joints, width, 3, 2, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU(inplace=True),
            ResidualBlock(width, width), ResidualBlock(width, 2 * width, stride=2),
            nn.Conv2d(2 * width, reduced, 1, bias=False), nn.BatchNorm2d(reduced), nn.ReLU(inplace=True),
            nn.Flatten())
        side = (patch + 3) // 4
        self.hidden = nn.Sequential(nn.Linear(reduced * side * side, hidden), nn.ReLU(inplace=True))
        self.out = nn.Linear(hidden, n_joints * 2)
        zero_last_layer(self)

    def forward(self, patches: torch.Tensor) -> torch.Tensor:
        offsets = self.out(self.hidden(self.features(patches)))
        return offsets.view(patches.shape[0], -1, 2) * OFFSET_SCALE_PX


def patch_inputs(depth_m: np.ndarray, uv: np.ndarray, camera: PinholeCamera, patch: int = PATCH_SIZE) -> np.ndarray:
    """The network input for keypoints `uv`; the same function feeds training and inference."""
    return depth_patches(depth_m, uv, size=patch, step=patch_step(camera))


#: A keypoint moved by a few pixels stays on the same body part, whose surface varies by less
#: than a limb radius; a larger depth jump means the new pixel fell off the part.
SAME_SURFACE_M = 0.08


def refine_uv(state: PoseState, offsets_px: np.ndarray, depth_m: np.ndarray,
              camera: PinholeCamera) -> PoseState:
    """Move the keypoints by the offsets (ITOP pixels) and lift them again.

    Only joints that had a 3D position move, and only within the image. When the depth at the new
    keypoint jumps by more than SAME_SURFACE_M (onto the background or another part, typical at
    thin limbs' silhouettes) or is a hole, the joint keeps its previous depth along the new ray:
    the 2D correction is kept, the depth lookup's failure is not. Refinement never loses a joint.
    """
    uv_new = state.uv + offsets_px * patch_step(camera)
    moved = state.valid & camera.in_image(uv_new)
    z_new = lift_baseline(depth_m, uv_new, camera)[..., 2]
    same_surface = np.abs(z_new - state.joints[..., 2]) < SAME_SURFACE_M   # False for NaN
    z = np.where(same_surface, z_new, state.joints[..., 2])
    joints = camera.backproject(uv_new, z)
    return PoseState(uv=np.where(moved[..., None], uv_new, state.uv),
                     joints=np.where(moved[..., None], joints, state.joints),
                     confidence=state.confidence)


class PatchStage(TorchStage):
    """Stage A: refine the 2D keypoints, then lift again."""

    name = "A"

    def __call__(self, state: PoseState, depth_m: np.ndarray, camera: PinholeCamera) -> PoseState:
        patches = patch_inputs(depth_m, state.uv, camera, self.model.config["patch"])
        return refine_uv(state, self.infer(patches), depth_m, camera)
