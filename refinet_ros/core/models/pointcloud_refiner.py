"""Module C: per-joint 3D refinement from the local point cloud (a PointNet shared across joints).

After A/B a joint is roughly right, but a joint centre lies inside the body, a few centimetres
behind the surface the camera sees. The points within ~15 cm of the estimate show the local
surface (an elbow's bend, a knee's cylinder); a PointNet with a joint-identity embedding learns
where inside that surface each joint's centre sits.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..camera import PinholeCamera
from ..features import CLOUD_POINTS, PointClouds, joint_point_clouds
from ..joints import NUM_JOINTS
from ..pose import PoseState
from .common import TorchStage, zero_last_layer

#: Share of C's predicted offset that is applied. On an already accurate skeleton (B from exact
#: keypoints) C's full correction is noisier than the error left: A+B+C lost 0.5 points of mAP to B
#: from label keypoints, with mDE 2.5 -> 3.1 cm. Applied at half strength, C still adds 1-2 points on
#: every detector family and no longer costs anything on exact keypoints. Chosen on a tuning split
#: (seed 2021, side view, openpose / gauss / noisy / label keypoints), not on the benchmark's sets.
APPLIED_SHARE = 0.5


def mlp(sizes: list[int]) -> nn.Sequential:
    """Linear + ReLU layers (applied per point when the input is (..., N, C))."""
    layers: list[nn.Module] = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(a, b), nn.ReLU(inplace=True)]
    return nn.Sequential(*layers)


class PointCloudRefiner(nn.Module):
    """(B, J, N, 3) normalised points + (B, J, N) mask -> (B, J, 3) offsets in cube half-sizes."""

    def __init__(self, n_joints: int = NUM_JOINTS, n_points: int = CLOUD_POINTS, point_width: int = 128,
                 embed: int = 32, hidden: int = 256) -> None:
        super().__init__()
        self.config = dict(n_joints=n_joints, n_points=n_points, point_width=point_width, embed=embed, hidden=hidden)
        self.point_mlp = mlp([3, 64, 128, point_width])
        self.joint_embed = nn.Embedding(n_joints, embed)
        self.head = mlp([point_width + embed, hidden, hidden // 2])
        self.out = nn.Linear(hidden // 2, 3)
        zero_last_layer(self)

    def forward(self, points: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        b, j = points.shape[:2]
        feats = self.point_mlp(points)                                   # (B, J, N, W)
        feats = feats.masked_fill(~mask.bool()[..., None], float("-inf")).amax(-2)
        feats = torch.nan_to_num(feats, neginf=0.0)                      # joints with no point
        ids = self.joint_embed.weight[None].expand(b, j, -1)
        return self.out(self.head(torch.cat([feats, ids], -1)))


def cloud_inputs(depth_m: np.ndarray, joints: np.ndarray, camera: PinholeCamera, n_points: int = CLOUD_POINTS,
                 rng: np.random.Generator | None = None) -> PointClouds:
    """The network input around joint estimates; the same function feeds training and inference."""
    return joint_point_clouds(depth_m, joints, camera, n_points=n_points, rng=rng)


def offsets_metres(raw: np.ndarray, clouds: PointClouds) -> np.ndarray:
    """Network outputs (cube half-sizes) -> metres; no points in the cube means no evidence, no move."""
    return np.where((clouds.count > 0)[..., None], raw * clouds.half[..., None], 0.0)


class PointCloudStage(TorchStage):
    """Stage C: move each joint towards its centre as seen in the local point cloud."""

    name = "C"

    def __call__(self, state: PoseState, depth_m: np.ndarray, camera: PinholeCamera) -> PoseState:
        clouds = cloud_inputs(depth_m, state.joints, camera, self.model.config["n_points"])
        raw = self.infer(clouds.points, clouds.mask.astype(np.float32))
        return state.with_joints(state.joints + APPLIED_SHARE * offsets_metres(raw, clouds))
