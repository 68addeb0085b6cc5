"""Recordings from ITOP-format files or from the synthetic generator, as rosbag2.

A recording has, per frame and at the frame's stamp: the camera info, the depth image, the 2D pose
(/pose2d, one person) and the ground truth (/gt/skeletons; empty for a frame whose labels ITOP marks
invalid, so that `bag eval` scores exactly the frames `refinet eval` scores).
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
from rosbags.rosbag2 import Writer
from tqdm import tqdm

from ..core.camera import PinholeCamera
from ..core.itop import DepthFile, ItopFormatError, check_pair, read_labels, read_pose2d
from ..core.joints import NUM_JOINTS
from ..core.synth.generate import iter_clips
from ..stamps import NS_PER_S
from . import layout as L
from .bagio import add_connection, new_bag
from .rosbags_codec import CODEC
from .typestore import typestore

STAMP_MODES = ("rate", "ids")
BATCH = 64
_ID = re.compile(r"^(\d+)_(\d+)$")
_PERIOD_NS = NS_PER_S / L.FPS


class Recording:
    """Writes one-person frames to the recording topics of an open bag."""

    def __init__(self, writer: Writer, camera: PinholeCamera, encoding: str) -> None:
        self.writer, self.camera, self.encoding = writer, camera, encoding
        self.conns = {topic: add_connection(writer, topic, msgtype) for topic, msgtype in L.RECORDING_TOPICS.items()}

    def write(self, stamp_ns: int, depth_m: np.ndarray, body_id: str, uv: np.ndarray, confidence: np.ndarray,
              gt: np.ndarray | None) -> None:
        """One frame; `gt` None means no usable ground truth (an invalid ITOP frame)."""
        hdr = CODEC.header(stamp_ns, L.OPTICAL_FRAME)
        gt_ids, gt_joints = ([body_id], gt[None]) if gt is not None else ([], np.empty((0, NUM_JOINTS, 3)))
        msgs = {
            L.CAMERA_INFO_TOPIC: CODEC.camera_info(hdr, self.camera),
            L.DEPTH_TOPIC: CODEC.depth_image(hdr, depth_m, self.encoding),
            L.POSE2D_TOPIC: CODEC.skeleton2d_array(hdr, [body_id], uv[None], confidence[None]),
            L.GT_TOPIC: CODEC.skeleton3d_array(hdr, gt_ids, gt_joints, np.ones(gt_joints.shape[:2])),
        }
        for topic, msg in msgs.items():
            conn = self.conns[topic]
            self.writer.write(conn, stamp_ns, typestore().serialize_cdr(msg, conn.msgtype))


def id_stamps(ids: np.ndarray) -> np.ndarray:
    """Stamps (ns) from ITOP ids 'SS_FFFFF': frame FFFFF of subject SS is FFFFF/30 s into that subject's
    block; blocks of consecutive same-subject ids follow each other one frame apart, so gaps in the
    frame numbers (ITOP's test ids are not contiguous) stay gaps in time."""
    parsed = [_ID.match(str(i)) for i in ids]
    if not all(parsed):
        bad = next(str(i) for i, m in zip(ids, parsed) if not m)
        raise ItopFormatError(f"id {bad!r} is not of the form SS_FFFFF; use --stamps rate")
    subject = np.array([m.group(1) for m in parsed])
    number = np.array([int(m.group(2)) for m in parsed], dtype=np.int64)
    new_block = np.r_[True, subject[1:] != subject[:-1]]
    backwards = np.flatnonzero(~new_block[1:] & (np.diff(number) <= 0))
    if backwards.size:
        raise ItopFormatError(f"ids out of order: {ids[backwards[0] + 1]} follows {ids[backwards[0]]}; "
                              "use --stamps rate")
    block = np.cumsum(new_block) - 1
    rel = number - number[new_block][block]
    length = np.array([rel[block == b].max() + 1 for b in range(block[-1] + 1)])
    start = np.r_[0, np.cumsum(length)[:-1]]
    return L.EPOCH_NS + np.rint((start[block] + rel) * _PERIOD_NS).astype(np.int64)


def rate_stamps(n: int) -> np.ndarray:
    """Stamps (ns) of n consecutive frames at 30 Hz."""
    return L.EPOCH_NS + np.rint(np.arange(n) * _PERIOD_NS).astype(np.int64)


def itop_to_bag(depth_path: Path, labels_path: Path, out: Path, view: str, pose2d_path: Path | None = None,
                encoding: str = "16UC1", storage: str = "mcap", stamps: str = "rate",
                progress: bool = True) -> int:
    """Convert an ITOP file pair (+ optional 2D predictions) to a recording; returns the frame count.

    Without `pose2d_path` the labels' image_coordinates are the 2D input, as in `refinet eval`."""
    labels = read_labels(labels_path)
    pose2d = read_pose2d(pose2d_path, labels.ids) if pose2d_path is not None else None
    uv, conf = (pose2d.uv, pose2d.confidence) if pose2d else (labels.uv, np.ones(labels.uv.shape[:2]))
    times = id_stamps(labels.ids) if stamps == "ids" else rate_stamps(len(labels))
    body = [str(i).split("_")[0] for i in labels.ids]
    meta = {L.META_VIEW: view, L.META_SOURCE: f"itop:{Path(labels_path).name}"}
    with DepthFile(depth_path) as depth, new_bag(out, storage, meta) as writer:
        check_pair(depth, labels, labels_path)
        rec = Recording(writer, PinholeCamera.for_image(depth.shape), encoding)
        for pos, frames in tqdm(depth.batches(np.arange(len(labels)), BATCH), desc="bag from-itop", unit="batch",
                                total=-(-len(labels) // BATCH), disable=not progress):
            for p, frame in zip(pos, frames):
                gt = labels.joints[p] if labels.is_valid[p] else None
                rec.write(int(times[p]), frame, body[p], uv[p], conf[p], gt)
    return len(labels)


def synth_to_bag(out: Path, view: str, frames: int, seed: int, split: str = "test", detector: str | None = None,
                 encoding: str = "16UC1", storage: str = "mcap", progress: bool = True) -> int:
    """A continuous 30 Hz recording of the generator's clips, in order (one person per clip)."""
    if frames <= 0:
        raise ValueError("the number of frames must be positive")
    meta = {L.META_VIEW: view, L.META_SOURCE: f"synth:split={split},seed={seed}"}
    times = rate_stamps(frames)
    k = 0
    with new_bag(out, storage, meta) as writer:
        rec = None
        for clip in iter_clips(view, split, frames, seed, detector_profile=detector, stride=1, progress=progress):
            rec = rec or Recording(writer, clip.camera, encoding)
            for i in range(len(clip)):
                gt = clip.joints[i].astype(np.float64) if clip.is_valid[i] else None
                rec.write(int(times[k]), clip.depth_m[i], f"{clip.subject[i]:02d}", clip.keypoints[i],
                          clip.confidence[i], gt)
                k += 1
    return frames
