"""Run a pipeline over an ITOP-format file pair and score it against the labels.

Used by ``refinet baseline`` / ``refinet eval`` and by the benchmarks; frames are streamed
from the depth file in batches so the real 10k-frame test split never sits in memory as float32.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from .camera import PinholeCamera
from .itop import DepthFile, ItopLabels, Pose2D, check_pair, read_labels, read_pose2d
from .metrics import evaluate
from .one_euro import OneEuroParams
from .pipeline import Pipeline, stages_label
from .sequences import FrameTimes, SequenceOrderError, frame_times, jitter, smooth_sequences


@dataclass
class EvalRun:
    """Everything an evaluation produced: metrics plus the arrays behind them (valid frames only)."""

    result: dict
    labels: ItopLabels     # valid frames
    pose2d: Pose2D         # the 2D input, valid frames
    pred: np.ndarray       # (N, 15, 3) optical frame


def valid_frames(depth: DepthFile, labels_path: str | Path,
                 pose2d_path: str | Path | None) -> tuple[np.ndarray, ItopLabels, Pose2D]:
    """The valid frames of an ITOP pair: their indices, labels and 2D input (the predictions file,
    or the labels' image_coordinates with confidence 1). Checked against the open depth file."""
    labels = read_labels(labels_path)
    check_pair(depth, labels, labels_path)
    valid_idx = np.flatnonzero(labels.is_valid)
    if valid_idx.size == 0:
        raise ValueError(f"{labels_path}: no valid frames to evaluate (is_valid is all 0)")
    valid = labels.subset(valid_idx)
    pose2d = (read_pose2d(pose2d_path, valid.ids) if pose2d_path is not None
              else Pose2D(valid.uv.copy(), np.ones(valid.uv.shape[:2])))
    return valid_idx, valid, pose2d


def evaluate_files(depth_path: str | Path, labels_path: str | Path, pipeline: Pipeline,
                   pose2d_path: str | Path | None = None,
                   intrinsics: tuple[float, float, float, float] | None = None,
                   batch_size: int = 256, progress: bool = True, smooth: OneEuroParams | None = None,
                   meta_path: str | Path | None = None) -> EvalRun:
    """Score `pipeline` on the valid frames of an ITOP file pair.

    Without `pose2d_path` the labels' image_coordinates are the 2D input (confidence 1). With `smooth`
    the predictions are One-Euro filtered along each sequence in time (core.sequences: the frame order
    of `meta_path`, a generator's _meta.npz, else of the ids). The result holds ``jitter_m_s2`` (RMS
    joint acceleration over consecutive frames) with `smooth` or `meta_path`, when consecutive 30 Hz
    frames are there.
    """
    with DepthFile(depth_path) as depth:
        valid_idx, valid, pose2d = valid_frames(depth, labels_path, pose2d_path)
        camera = PinholeCamera.for_image(depth.shape, intrinsics)
        pred = np.full(valid.joints.shape, np.nan)
        bar = tqdm(total=len(valid_idx), desc=f"eval {stages_label(pipeline.names)}", unit="frame",
                   disable=not progress)
        for pos, frames in depth.batches(valid_idx, batch_size):
            state = pipeline.run(frames, pose2d.uv[pos], pose2d.confidence[pos], camera)
            pred[pos] = state.joints
            bar.update(len(pos))
        bar.close()
    times = _frame_times(valid.ids, meta_path, required=smooth is not None) if smooth or meta_path else None
    if smooth is not None:
        pred = smooth_sequences(pred, times, smooth)
    result = evaluate(pred, valid.joints)
    shake = (jitter(pred, times), jitter(valid.joints, times)) if times is not None else (np.nan, np.nan)
    if np.isfinite(shake).all():          # known frame order with runs of consecutive frames
        result["jitter_m_s2"], result["truth_jitter_m_s2"] = shake
    return EvalRun(result, valid, pose2d, pred)


def _frame_times(ids: np.ndarray, meta_path: str | Path | None, required: bool) -> FrameTimes | None:
    try:
        return frame_times(ids, meta_path)
    except SequenceOrderError:
        if required:
            raise
        return None

