"""Run the depth-image detector over an ITOP-format depth file (``refinet detect``, ``bench detector``)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from .itop import DepthFile
from .joints import NUM_JOINTS
from .models.depth_detector import DepthDetector


@dataclass
class FileDetections:
    """Per frame of the file: the most confident person's keypoints (NaN, confidence 0 when nobody) and
    how many people were found."""

    ids: np.ndarray           # (N,) frame ids of the depth file
    keypoints: np.ndarray     # (N, 15, 2)
    confidence: np.ndarray    # (N, 15)
    n_people: np.ndarray      # (N,)


def detect_file(depth_path: Path, detector: DepthDetector, batch_size: int = 32,
                progress: bool = True) -> FileDetections:
    with DepthFile(depth_path) as depth:
        n = len(depth)
        out = FileDetections(depth.ids, np.full((n, NUM_JOINTS, 2), np.nan, np.float32),
                             np.zeros((n, NUM_JOINTS), np.float32), np.zeros(n, np.int16))
        bar = tqdm(total=n, desc="detect", unit="frame", disable=not progress)
        for pos, frames in depth.batches(np.arange(n), batch_size):
            for k, found in zip(pos, detector(frames)):
                out.n_people[k] = len(found)
                if len(found):
                    best = int(np.argmax(found.score))
                    out.keypoints[k], out.confidence[k] = found.uv[best], found.confidence[best]
            bar.update(len(pos))
        bar.close()
    return out
