"""Training data for the refinement modules: frames in memory, their cached source, upstream outputs.

A :class:`FrameSet` is the whole interface the trainer needs (depth, detector 2D input, GT joints),
so the synthetic generator, real ITOP files, or hand-made tensors all plug in the same way.
Only valid frames are kept. The 2D input is mostly a detector's: a module trained on perfect 2D
input would learn nothing about the errors it has to fix. But users also feed the dataset's own 2D
labels (``refinet eval`` without ``--pose2d``: exact keypoints, confidence 1), and a module trained
only on one detector learns that detector's confidence as an occlusion flag and fails without it.
So the training bank holds both sources (:data:`SOURCES`).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
from tqdm import tqdm

from .camera import PinholeCamera
from .itop import DepthFile, check_pair, read_labels, read_pose2d
from .pipeline import Pipeline, Stage
from .pose import PoseState

#: 2D input sources the bank holds, with the share of training samples drawn from each.
SOURCES = {"detector": 0.6, "labels": 0.4}


@dataclass
class FrameSet:
    """N valid frames. Depth is stored as float16 (as ITOP does) to halve memory; NaN = no reading."""

    depth_m: np.ndarray     # (N, H, W) float16 metres
    uv_in: np.ndarray       # (N, 15, 2) detector keypoints, NaN = missing
    conf_in: np.ndarray     # (N, 15) detector confidence
    gt_joints: np.ndarray   # (N, 15, 3) optical frame, metres
    camera: PinholeCamera
    label_uv: np.ndarray | None = None  # (N, 15, 2) the dataset's 2D labels; default: GT projection
    detector_families: tuple[str, ...] = ("unknown",)  # where uv_in came from (the leave-out bookkeeping)

    def __post_init__(self) -> None:
        self.depth_m = np.asarray(self.depth_m, dtype=np.float16)
        self.uv_in = np.asarray(self.uv_in, dtype=np.float64)
        self.conf_in = np.asarray(self.conf_in, dtype=np.float64)
        self.gt_joints = np.asarray(self.gt_joints, dtype=np.float64)
        self.label_uv = np.asarray(self.gt_uv if self.label_uv is None else self.label_uv, dtype=np.float64)
        n = len(self.depth_m)
        if not (len(self.uv_in) == len(self.conf_in) == len(self.gt_joints) == len(self.label_uv) == n):
            raise ValueError("FrameSet arrays must have the same number of frames")

    def __len__(self) -> int:
        return len(self.depth_m)

    def depth(self, index: np.ndarray) -> np.ndarray:
        """(len(index), H, W) float32 metres."""
        return self.depth_m[index].astype(np.float32)

    @property
    def gt_uv(self) -> np.ndarray:
        """(N, 15, 2) projection of the GT joint centres: Module A's target."""
        return self.camera.project(self.gt_joints)

    def input_2d(self, source: str) -> tuple[np.ndarray, np.ndarray]:
        """(uv, confidence) of a 2D source: 'detector', or 'labels' (confidence 1, as ``refinet eval``
        gives label keypoints when no --pose2d file is passed)."""
        if source == "detector":
            return self.uv_in, self.conf_in
        if source == "labels":
            return self.label_uv, np.ones(self.label_uv.shape[:2])
        raise ValueError(f"unknown 2D source {source!r}; expected one of {tuple(SOURCES)}")


def frames_from_synth(synth) -> FrameSet:
    """The valid frames of a :class:`refinet_ros.core.synth.generate.SynthSet`, with its detector input."""
    keep = np.flatnonzero(synth.is_valid)
    return FrameSet(synth.depth_m[keep], synth.keypoints[keep], synth.confidence[keep], synth.joints[keep],
                    synth.camera, synth.uv[keep], (synth.detector,))


def load_itop_frames(prefix: str | Path, n_frames: int | None = None, camera: PinholeCamera | None = None,
                     detector_family: str = "unknown") -> FrameSet:
    """The valid frames among the first `n_frames` of ``{prefix}_depth_map.h5`` / ``_labels.h5``,
    with their 2D input from ``{prefix}_pose2d.npz`` (made by `detector_family`)."""
    prefix = Path(prefix)
    labels = read_labels(prefix.with_name(prefix.name + "_labels.h5"))
    valid = np.flatnonzero(labels.is_valid[:n_frames])
    pose2d = read_pose2d(prefix.with_name(prefix.name + "_pose2d.npz"), labels.ids[valid])
    with DepthFile(prefix.with_name(prefix.name + "_depth_map.h5")) as depth:
        check_pair(depth, labels, prefix)
        frames = np.empty((len(valid), *depth.shape), dtype=np.float16)   # float32 would double the peak
        for pos, chunk in depth.batches(valid, 1024):
            frames[pos] = chunk
        camera = camera or PinholeCamera.for_image(depth.shape)
    return FrameSet(frames, pose2d.uv, pose2d.confidence, labels.joints[valid], camera, labels.uv[valid],
                    (detector_family,))


def synthetic_split(data_dir: str | Path, view: str, split: str, n_frames: int, seed: int,
                    workers: int = 1, progress: bool = True, detector: str = "random") -> FrameSet:
    """A generated split, cached as ITOP files under ``data_dir`` (see core.synth.cache). Training data
    comes from the randomised detector family by default: a module trained on one detector's errors
    learns that detector, and is worse than the baseline on others."""
    from .synth.cache import cached_split
    from .synth.generate import split_prefix

    paths = cached_split(data_dir, view, split, n_frames, seed, detector, workers=workers, progress=progress)
    return load_itop_frames(split_prefix(paths["labels"].parent, view, split), n_frames, detector_family=detector)


@dataclass
class StateBank:
    """Upstream outputs for every frame, one variant per (2D source, upstream stage subset).

    Training a later module on a mixture of these variants is what lets it work after any subset
    of the earlier stages, as the ablation evaluates, and from either kind of 2D input.
    """

    names: list[str]         # variant labels, e.g. ['baseline', 'A', 'labels:baseline', 'labels:A']
    sources: list[str]       # the 2D source of each variant
    uv: np.ndarray           # (V, N, 15, 2)
    joints: np.ndarray       # (V, N, 15, 3)
    confidence: np.ndarray   # (V, N, 15)

    def state(self, variant: np.ndarray | int, index: np.ndarray) -> PoseState:
        """Per-sample variant choice: `variant` is an int or an array aligned with `index`."""
        return PoseState(self.uv[variant, index], self.joints[variant, index], self.confidence[variant, index])

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """(n,) variant indices: a source by its :data:`SOURCES` share, then any of its subsets alike."""
        share = np.array([SOURCES[s] for s in self.sources])
        count = np.array([self.sources.count(s) for s in self.sources])
        p = share / count
        return rng.choice(len(self.names), size=n, p=p / p.sum())


def run_stages(frames: FrameSet, stages: Sequence[Stage], source: str = "detector", batch: int = 256,
               progress: bool = False) -> PoseState:
    """The pipeline's output for every frame from one 2D source, batched."""
    pipe = Pipeline(stages)
    uv_in, conf_in = frames.input_2d(source)
    uv, joints = np.empty_like(uv_in), np.empty_like(frames.gt_joints)
    label = "+".join(pipe.names) or "baseline"
    for start in tqdm(range(0, len(frames), batch), desc=f"upstream {source} {label}", disable=not progress,
                      leave=False):
        idx = np.arange(start, min(start + batch, len(frames)))
        st = pipe.run(frames.depth(idx), uv_in[idx], conf_in[idx], frames.camera)
        uv[idx], joints[idx] = st.uv, st.joints
    return PoseState(uv, joints, conf_in)


def build_bank(frames: FrameSet, variants: Sequence[Sequence[Stage]], progress: bool = False,
               sources: Sequence[str] = tuple(SOURCES)) -> StateBank:
    """Run each upstream stage subset over the frames, from each 2D source."""
    keys = [(src, v) for src in sources for v in variants]
    states = [run_stages(frames, v, src, progress=progress) for src, v in keys]
    names = [("" if src == "detector" else f"{src}:") + ("+".join(s.name for s in v) or "baseline")
             for src, v in keys]
    return StateBank(names, [src for src, _ in keys], np.stack([s.uv for s in states]),
                     np.stack([s.joints for s in states]), np.stack([s.confidence for s in states]))


def upstream_subsets(module: str, available: dict[str, Stage]) -> list[list[Stage]]:
    """Every subset of the trained earlier stages (in A -> B -> C order), the empty one included."""
    earlier = [available[n] for n in sorted(available) if n < module]
    subsets: list[list[Stage]] = [[]]
    for stage in earlier:
        subsets += [s + [stage] for s in subsets]
    return subsets
