"""The configurable RefiNet pipeline: baseline lifting, then any subset of stages A -> B -> C.

Both the CLI and the ROS node run frames through :class:`Pipeline`; neither adds algorithm of its own.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Protocol, Sequence

import numpy as np

from .camera import PinholeCamera
from .lifting import DEFAULT_WINDOW, lift_baseline
from .pose import PoseState
from .pose_input import most_confident
from .work_resolution import resample_depth, to_working_pixels, working_camera

STAGE_ORDER = ("A", "B", "C")


class Stage(Protocol):
    """One refinement module: a pure function of the pose state and the depth."""

    name: str

    def __call__(self, state: PoseState, depth_m: np.ndarray, camera: PinholeCamera) -> PoseState: ...


def parse_stages(text: str | Sequence[str]) -> tuple[str, ...]:
    """'none' / '' / 'A,B' / ['B', 'A'] -> canonical ordered tuple; unknown names are an error."""
    items = text.replace("+", ",").split(",") if isinstance(text, str) else list(text)
    names = {s.strip().upper() for s in items if s.strip() and s.strip().lower() not in ("none", "baseline")}
    unknown = names - set(STAGE_ORDER)
    if unknown:
        raise ValueError(f"unknown stage(s) {sorted(unknown)}; choose from {', '.join(STAGE_ORDER)} or 'none'")
    return tuple(s for s in STAGE_ORDER if s in names)


def stages_label(stages: Sequence[str]) -> str:
    """Display name of a stage subset: 'baseline' or 'A+B+C'."""
    return "+".join(stages) if stages else "baseline"


class Pipeline:
    """Baseline lifting followed by the given stages, in A -> B -> C order."""

    def __init__(self, stages: Sequence[Stage] = (), window: int = DEFAULT_WINDOW) -> None:
        self.stages = list(stages)
        self.window = window

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.stages)

    def subset(self, names: Sequence[str]) -> "Pipeline":
        """The same stage objects (no second copy of the weights), only those named."""
        return Pipeline([s for s in self.stages if s.name in names], self.window)

    def initial_state(self, depth_m: np.ndarray, uv: np.ndarray, confidence: np.ndarray,
                      camera: PinholeCamera) -> PoseState:
        """Lift the detector's 2D keypoints; off-image or NaN keypoints become missing joints."""
        uv = np.where(camera.in_image(uv)[..., None], uv, np.nan)
        joints = lift_baseline(depth_m, uv, camera, self.window)
        return PoseState(uv=uv, joints=joints, confidence=np.asarray(confidence, dtype=np.float64))

    def run(self, depth_m: np.ndarray, uv: np.ndarray, confidence: np.ndarray,
            camera: PinholeCamera) -> PoseState:
        """(B, H, W) depth in metres (NaN = no reading), (B, J, 2) keypoints, (B, J) confidence.

        A camera of much higher resolution than the training one runs at the working resolution
        (core.work_resolution); the result's keypoints are given back in `camera`'s pixels."""
        if depth_m.shape[1:] != (camera.height, camera.width):
            raise ValueError(f"depth is {depth_m.shape[2]}x{depth_m.shape[1]} but the camera is "
                             f"{camera.width}x{camera.height}")
        _check_inputs(depth_m, confidence)
        work = working_camera(camera)
        depth_m = resample_depth(depth_m, camera, work)
        state = self.initial_state(depth_m, to_working_pixels(uv, camera, work), confidence, work)
        for stage in self.stages:
            state = stage(state, depth_m, work)
        return state if work == camera else replace(state, uv=to_working_pixels(state.uv, work, camera))


def run_capped(pipeline: Pipeline, reduced: Pipeline, cap: int, depth_m: np.ndarray, uv: np.ndarray,
               confidence: np.ndarray, camera: PinholeCamera) -> tuple[PoseState, list[str]]:
    """The `cap` most confident people (mean 2D confidence) through `pipeline`, the others through
    `reduced` (fewer stages: a frame with many people stays within its time budget instead of being
    skipped whole). Returns the states in input order and the stages each person got ("A,B,C")."""
    n = len(uv)
    full = most_confident(confidence, cap) if n > cap else np.arange(n)
    rest = np.setdiff1d(np.arange(n), full)
    joints, out_uv = np.full((n, *np.shape(uv)[1:-1], 3), np.nan), np.array(uv, dtype=np.float64)
    conf = np.array(confidence, dtype=np.float64)
    stages = [""] * n
    for rows, stage_set in ((full, pipeline), (rest, reduced)):
        if len(rows):
            state = stage_set.run(depth_m[rows], uv[rows], confidence[rows], camera)
            joints[rows], out_uv[rows], conf[rows] = state.joints, state.uv, state.confidence
            for r in rows:
                stages[r] = ",".join(stage_set.names)
    return PoseState(out_uv, joints, conf), stages


def _check_inputs(depth_m: np.ndarray, confidence: np.ndarray) -> None:
    """What the stages cannot take: one NaN confidence makes B's output NaN for the whole skeleton,
    and an infinite depth is lifted to an infinite joint (clean them with core.pose_input and
    core.depth first)."""
    conf = np.asarray(confidence)
    if conf.size and not (np.isfinite(conf).all() and conf.min() >= 0 and conf.max() <= 1):
        raise ValueError("confidence must be finite and in [0, 1] (see core.pose_input.clean_keypoints)")
    if np.isinf(depth_m).any():
        raise ValueError("depth holds inf; invalid readings must be NaN (see core.depth)")
