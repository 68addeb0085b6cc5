"""The pose state every refinement stage consumes and produces.

Keeping one state type is what lets any subset of stages chain in the order A -> B -> C:
each stage reads what it needs (2D keypoints, 3D joints, confidence) and returns a new state.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np


@dataclass(frozen=True)
class PoseState:
    """A batch of skeletons. Missing joints are NaN in `uv` and `joints`, never 0."""

    uv: np.ndarray          # (B, J, 2) pixels in the depth image
    joints: np.ndarray      # (B, J, 3) metres, camera optical frame
    confidence: np.ndarray  # (B, J) in [0, 1]

    @property
    def valid(self) -> np.ndarray:
        """(B, J) joints that have a 3D position."""
        return np.isfinite(self.joints).all(-1)

    def with_joints(self, joints: np.ndarray) -> "PoseState":
        return replace(self, joints=joints)

    def with_uv(self, uv: np.ndarray) -> "PoseState":
        return replace(self, uv=uv)
