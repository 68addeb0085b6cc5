"""Simulated 2D detections on a dataset's own labels: the 2D input for training on ITOP files.

ITOP ships no detector predictions, so training on it without a ``--pose2d`` file needs 2D input
with a detector's kinds of error. The generator's randomised family (:func:`.detector.random_profile`)
is applied to the labels' ``image_coordinates``: one detector per clip (a run of consecutive frames
of one subject, as ITOP stores its recordings), snapping onto a silhouette taken from the depth
itself (any ITOP-format file has depth; not all have segmentation).
"""
from __future__ import annotations

import numpy as np

from ..camera import PinholeCamera
from ..joints import L_SHOULDER, NUM_JOINTS, R_SHOULDER, TORSO
from .detector import random_profile, simulate_clip

#: Longest run of frames that shares one simulated detector (and its temporally correlated jitter).
CLIP_FRAMES = 64
#: A pixel belongs to the person's silhouette when its depth is within this margin of the joints' depth range.
SILHOUETTE_MARGIN_M = 0.25


def subject_of(frame_id: str) -> str:
    """The subject of an ITOP id: the prefix before the first underscore (``04`` in ``04_00123``)."""
    return str(frame_id).split("_", 1)[0]


def clips(ids: np.ndarray, max_len: int = CLIP_FRAMES) -> list[np.ndarray]:
    """Consecutive positions of the same subject, split into runs of at most `max_len`."""
    subjects = np.array([subject_of(i) for i in ids])
    starts = np.flatnonzero(np.r_[True, subjects[1:] != subjects[:-1]])
    ends = np.r_[starts[1:], len(ids)]
    return [np.arange(a, min(a + max_len, b)) for s, b in zip(starts, ends) for a in range(s, b, max_len)]


def silhouette(depth_m: np.ndarray, joints: np.ndarray) -> np.ndarray:
    """(T, H, W) bool: readings within the depth range of each frame's joints (plus a margin)."""
    z = joints[..., 2]
    lo = np.nanmin(z, axis=1) - SILHOUETTE_MARGIN_M
    hi = np.nanmax(z, axis=1) + SILHOUETTE_MARGIN_M
    with np.errstate(invalid="ignore"):
        return (depth_m >= lo[:, None, None]) & (depth_m <= hi[:, None, None])


def simulate_on_labels(uv: np.ndarray, visible: np.ndarray, joints: np.ndarray, ids: np.ndarray,
                       depth_of, camera: PinholeCamera, view: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(keypoints (N, 15, 2), confidence (N, 15)) from the randomised detector family, per clip.

    `depth_of(index)` returns the (len(index), H, W) float metres of those frames (so that the
    caller's depth store, in memory or on disk, is read one clip at a time)."""
    n = len(ids)
    kp = np.empty((n, NUM_JOINTS, 2), np.float32)
    conf = np.empty((n, NUM_JOINTS), np.float32)
    for k, idx in enumerate(clips(ids)):
        profile = random_profile(np.random.default_rng([seed, k, 6]))
        torso_z = np.maximum(joints[idx, TORSO, 2], 0.5)
        scale = np.clip(camera.fx / torso_z / (285.714 / 2.9), 0.4, 3.0)
        back = (joints[idx, R_SHOULDER, 0] > joints[idx, L_SHOULDER, 0]) if view == "side" else np.zeros(len(idx), bool)
        kp[idx], conf[idx] = simulate_clip(uv[idx], visible[idx], scale, back, camera.width, camera.height,
                                           profile, view, np.random.default_rng([seed, k, 3]),
                                           silhouette(depth_of(idx), joints[idx]))
    return kp, conf
