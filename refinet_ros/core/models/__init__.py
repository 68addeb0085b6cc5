"""The three RefiNet refinement modules (torch) and their pipeline-stage wrappers.

Registries keyed by stage name, so loading, training and benchmarking never branch on 'A'/'B'/'C'.
"""
from __future__ import annotations

from .common import TorchStage
from .patch_refiner import PatchRefiner, PatchStage
from .pointcloud_refiner import PointCloudRefiner, PointCloudStage
from .skeleton_refiner import SkeletonRefiner, SkeletonStage

MODELS = {"A": PatchRefiner, "B": SkeletonRefiner, "C": PointCloudRefiner}
STAGES: dict[str, type[TorchStage]] = {"A": PatchStage, "B": SkeletonStage, "C": PointCloudStage}
