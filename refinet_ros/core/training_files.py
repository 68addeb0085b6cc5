"""Training frames from ITOP-format files (the real dataset, or a team's own recordings).

The files are read with the readers and checks of ``refinet eval`` (core.itop). Frames are the
valid ones (``is_valid``) that have 2D input: a predictions file's rows matched by id (frames
without a prediction are left out and counted), or, without one, detections simulated on the
labels' own ``image_coordinates`` (:mod:`.synth.label_detections`; ITOP ships no predictions).
Validation holds out whole subjects (the ``XX_`` id prefix), never random frames of a training
subject. Depth is held once, as float16 (the real train split: ~18k valid frames, 2.8 GB);
the patches and crops the modules need are cut per batch, never stored.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from .camera import PinholeCamera
from .itop import DepthFile, ItopFormatError, ItopLabels, Pose2D, check_pair, match_pose2d, read_labels
from .synth.detector import RANDOM_FAMILY
from .synth.label_detections import simulate_on_labels, subject_of
from .training_data import FrameSet

#: Share of the subjects held out for validation when no validation files are given (at least one).
VAL_SUBJECT_SHARE = 0.15
#: Frames per read from the depth file.
READ_CHUNK = 512


@dataclass(frozen=True)
class ItopFiles:
    """One ITOP-format split: depth and labels files, and optionally a detector's predictions."""

    depth: Path
    labels: Path
    pose2d: Path | None = None

    def describe(self) -> dict:
        """Paths and content hashes, so that a training record traces back to its data."""
        from .weights import file_digest
        return {key: None if path is None else {"path": str(path), "sha256": file_digest(path)}
                for key, path in (("depth", self.depth), ("labels", self.labels), ("pose2d", self.pose2d))}


@dataclass
class Selection:
    """The frames of an ITOP split that training can use, and how many were left out and why."""

    files: ItopFiles
    index: np.ndarray                 # positions in the files
    labels: ItopLabels                # the labels of those frames
    pose2d: Pose2D | None             # their predictions; None: simulated on the labels
    counts: dict = field(default_factory=dict)

    def subset(self, keep: np.ndarray) -> "Selection":
        pose2d = None if self.pose2d is None else Pose2D(self.pose2d.uv[keep], self.pose2d.confidence[keep])
        return Selection(self.files, self.index[keep], self.labels.subset(keep), pose2d,
                         {**self.counts, "used": int(np.count_nonzero(keep) if keep.dtype == bool else len(keep))})

    @property
    def subjects(self) -> list[str]:
        return sorted({subject_of(i) for i in self.labels.ids})


def select_frames(files: ItopFiles) -> Selection:
    """The valid frames with 2D input; an ItopFormatError naming file and key when there are none."""
    labels = read_labels(files.labels)
    with DepthFile(files.depth) as depth:
        check_pair(depth, labels, files.labels)
    valid = np.flatnonzero(labels.is_valid)
    if valid.size == 0:
        raise ItopFormatError(f"{files.labels}: key 'is_valid' marks no frame valid; nothing to train on")
    counts = {"frames": len(labels), "valid": int(valid.size), "without_prediction": 0}
    pose2d = None
    if files.pose2d is not None:
        matched, covered = match_pose2d(files.pose2d, labels.ids[valid])
        counts["without_prediction"] = int(np.count_nonzero(~covered))
        valid = valid[covered]
        pose2d = Pose2D(matched.uv[covered], matched.confidence[covered])
    counts["used"] = int(valid.size)
    return Selection(files, valid, labels.subset(valid), pose2d, counts)


def split_subjects(selection: Selection, seed: int,
                   share: float = VAL_SUBJECT_SHARE) -> tuple[Selection, Selection, list[str]]:
    """(train, validation, validation subjects): whole subjects held out, chosen by `seed`."""
    subjects = selection.subjects
    if len(subjects) < 2:
        raise ItopFormatError(f"{selection.files.labels}: key 'id' names one subject only ({subjects[0]}); "
                              "validation holds out whole subjects, so pass --val-depth/--val-labels")
    n_val = max(1, round(share * len(subjects)))
    val_subjects = sorted(np.random.default_rng(seed).choice(subjects, n_val, replace=False).tolist())
    in_val = np.isin([subject_of(i) for i in selection.labels.ids], val_subjects)
    return selection.subset(~in_val), selection.subset(in_val), val_subjects


def load_selection(selection: Selection, view: str, seed: int, append: FrameSet | None = None,
                   progress: bool = True) -> FrameSet:
    """The selected frames in memory (float16 depth), followed by the frames of `append` when given
    (the synthetic mix: one buffer, so the depth is never held twice)."""
    files = selection.files
    with DepthFile(files.depth) as depth:
        camera = PinholeCamera.for_image(depth.shape)
        if append is not None and append.camera != camera:
            raise ValueError(f"{files.depth}: the synthetic mix is rendered for {append.camera}, "
                             f"but these frames are {camera}; pass --synthetic-mix 0")
        n, extra = len(selection.index), 0 if append is None else len(append)
        buffer = np.empty((n + extra, *depth.shape), np.float16)
        bar = tqdm(total=n, desc=f"read {files.depth.name}", unit="frame", disable=not progress)
        for pos, chunk in depth.batches(selection.index, READ_CHUNK):
            buffer[pos] = chunk
            bar.update(len(pos))
        bar.close()
    labels = selection.labels
    if selection.pose2d is not None:
        uv, conf, family = selection.pose2d.uv, selection.pose2d.confidence, f"file:{files.pose2d.name}"
    else:
        uv, conf = simulate_on_labels(labels.uv, labels.visible, labels.joints, labels.ids,
                                      lambda idx: buffer[idx].astype(np.float32), camera, view, seed)
        family = RANDOM_FAMILY
    if append is None:
        return FrameSet(buffer, uv, conf, labels.joints, camera, labels.uv, (family,))
    buffer[n:] = append.depth_m
    return FrameSet(buffer, np.concatenate([uv, append.uv_in]), np.concatenate([conf, append.conf_in]),
                    np.concatenate([labels.joints, append.gt_joints]), camera,
                    np.concatenate([labels.uv, append.label_uv]),
                    tuple(dict.fromkeys((family, *append.detector_families))))


def synthetic_share_frames(n_real: int, share: float) -> int:
    """Generated frames to add to `n_real` file frames so that they make `share` of the training stream."""
    if not 0.0 <= share < 1.0:
        raise ValueError(f"--synthetic-mix must be in [0, 1), got {share}")
    return int(round(n_real * share / (1.0 - share)))
