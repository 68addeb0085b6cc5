"""A 2D human-pose detector on depth images alone: people, each with 15 ITOP keypoints and confidences.

ITOP-style recordings and many robot sensors (ToF, IR-only structured light) have no colour image
for an RGB detector. This network finds people in the depth map itself, single-shot and
bottom-up through person centres (CenterNet-style), which handles any number of people with
one pass of a small network:

* a centre heatmap (the torso) says where people are, one peak per person;
* at each centre, 15 regressed offsets say where that person's joints are (the grouping);
* 15 joint heatmaps place each joint precisely: the regressed position snaps to the nearest
  joint-heatmap peak within a few cells, the peak value is the keypoint's confidence.

Each frame is also seen mirrored, left and right swapped (the flip test of pose estimation), and the
two outputs are merged (:func:`merge_mirrored`), so a person and their mirror image give mirrored
keypoints exactly; fewer people are missed and the keypoints are nearer (README, Depth only), at
twice the batch.

The input is the depth map resized to a working width of :data:`WORK_WIDTH` pixels (half of
ITOP's 320: a person then spans the same cells whatever the sensor's resolution), normalised
per frame around the median valid reading, plus a validity channel (holes, NaN, zero are not
depth). Outputs are at 1/4 of the working resolution.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..joints import FLIP_PERMUTATION, NUM_JOINTS
from .patch_refiner import ResidualBlock

#: The network sees depth resized to this width (ITOP 320x240 -> 160x120).
WORK_WIDTH = 160
#: Output cells per working pixel: heatmaps are at 1/4 of the working resolution.
STRIDE = 4
#: Working sizes are padded to a multiple of this (three stride-2 levels).
PAD_TO = 8
#: Regressed joint offsets are in units of this many output cells.
OFFSET_UNIT = 8.0
#: Depth is normalised as (z - frame median) / DEPTH_SCALE_M, clipped to +-DEPTH_CLIP.
DEPTH_SCALE_M = 1.0
DEPTH_CLIP = 3.0
#: Joint channels of the mirror image: left and right swapped.
_FLIP = torch.as_tensor(FLIP_PERMUTATION)


class DepthPoseNet(nn.Module):
    """(B, 2, h, w) normalised depth + validity -> (B, 1 + 15 + 30, h/4, w/4): centre logits,
    joint logits, joint offsets from the centre cell (in OFFSET_UNIT cells). About 0.2 M parameters."""

    def __init__(self, width: int = 32, n_joints: int = NUM_JOINTS) -> None:
        super().__init__()
        self.config = dict(width=width, n_joints=n_joints)
        w = width
        self.stem = nn.Sequential(nn.Conv2d(2, w // 2, 3, 2, 1, bias=False), nn.BatchNorm2d(w // 2),
                                  nn.ReLU(inplace=True), nn.Conv2d(w // 2, w // 2, 3, 2, 1, bias=False),
                                  nn.BatchNorm2d(w // 2), nn.ReLU(inplace=True))        # 1/4
        self.down1 = ResidualBlock(w // 2, w, stride=2)                                  # 1/8
        self.down2 = nn.Sequential(ResidualBlock(w, 2 * w, stride=2), ResidualBlock(2 * w, 2 * w))   # 1/16
        self.merge1 = nn.Sequential(nn.Conv2d(3 * w, w, 1, bias=False), nn.BatchNorm2d(w), nn.ReLU(inplace=True),
                                    ResidualBlock(w, w))
        self.merge0 = nn.Sequential(nn.Conv2d(w + w // 2, w, 1, bias=False), nn.BatchNorm2d(w),
                                    nn.ReLU(inplace=True), nn.Conv2d(w, w, 3, 1, 1, bias=False),
                                    nn.BatchNorm2d(w), nn.ReLU(inplace=True))
        self.out = nn.Conv2d(w, 1 + 3 * n_joints, 1)
        with torch.no_grad():                       # heatmaps start near 0.01 (focal-loss prior)
            self.out.bias[: 1 + n_joints].fill_(-4.6)
            self.out.bias[1 + n_joints:].zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f0 = self.stem(x)
        f1 = self.down1(f0)
        f2 = self.down2(f1)
        m1 = self.merge1(torch.cat([f1, F.interpolate(f2, size=f1.shape[-2:], mode="nearest")], 1))
        m0 = self.merge0(torch.cat([f0, F.interpolate(m1, size=f0.shape[-2:], mode="nearest")], 1))
        return self.out(m0)


@dataclass(frozen=True)
class WorkGeometry:
    """How an input image maps onto the network's working image: scale, then padding."""

    scale: float          # working pixel = input pixel * scale
    height: int           # padded working height
    width: int            # padded working width

    @classmethod
    def for_image(cls, shape: tuple[int, int]) -> "WorkGeometry":
        h, w = shape
        if h < 16 or w < 16:
            raise ValueError(f"depth image {w}x{h} is too small for the depth detector (at least 16x16)")
        scale = WORK_WIDTH / w
        pad = lambda n: int(np.ceil(max(round(n * scale), PAD_TO) / PAD_TO) * PAD_TO)   # noqa: E731
        return cls(scale, pad(h), pad(w))

    def cell_to_input(self, uv_cells: np.ndarray) -> np.ndarray:
        """Continuous output-cell coordinates (cell c spans [c, c + 1)) -> input pixels (centres at integers)."""
        return uv_cells * STRIDE / self.scale - 0.5

    def input_to_cell(self, uv: np.ndarray) -> np.ndarray:
        """Input pixels -> continuous output-cell coordinates: the training targets' frame."""
        return (uv + 0.5) * self.scale / STRIDE


def network_input(depth_m: np.ndarray) -> tuple[np.ndarray, WorkGeometry]:
    """(B, 2, h, w) float32 input for (B, H, W) metres (NaN/0/inf = no reading) and its geometry.

    Resizing is nearest-neighbour (averaging would invent depth between a person and the wall)."""
    depth_m = np.asarray(depth_m, dtype=np.float32)
    geo = WorkGeometry.for_image(depth_m.shape[-2:])
    h, w = depth_m.shape[-2:]
    hh, ww = round(h * geo.scale), round(w * geo.scale)
    rows = np.minimum((np.arange(hh) + 0.5) / geo.scale, h - 1).astype(np.int64)
    cols = np.minimum((np.arange(ww) + 0.5) / geo.scale, w - 1).astype(np.int64)
    small = depth_m[:, rows][:, :, cols]
    valid = np.isfinite(small) & (small > 0)
    with np.errstate(all="ignore"):
        median = np.array([np.median(f[v]) if v.any() else 0.0 for f, v in zip(small, valid)], np.float32)
    norm = np.clip((np.where(valid, small, 0.0) - median[:, None, None]) / DEPTH_SCALE_M, -DEPTH_CLIP, DEPTH_CLIP)
    out = np.zeros((len(depth_m), 2, geo.height, geo.width), np.float32)
    out[:, 0, :hh, :ww] = np.where(valid, norm, 0.0)
    out[:, 1, :hh, :ww] = valid
    return out, geo


@dataclass
class Detections:
    """People found in one frame: keypoints in input pixels, per-keypoint and per-person confidence."""

    uv: np.ndarray            # (P, 15, 2)
    confidence: np.ndarray    # (P, 15) in [0, 1]
    score: np.ndarray         # (P,) centre-heatmap peak

    def __len__(self) -> int:
        return len(self.score)


#: Decoding: a centre peak above this is a person; joints snap to a heatmap peak within SNAP_CELLS.
CENTRE_THRESHOLD = 0.3
SNAP_CELLS = 3
#: Two centre peaks closer than this many cells are one person (the weaker is dropped).
MIN_CENTRE_GAP_CELLS = 4
MAX_PEOPLE = 8


def decode(output: torch.Tensor, geo: WorkGeometry, threshold: float = CENTRE_THRESHOLD,
           max_people: int = MAX_PEOPLE) -> list[Detections]:
    """Network output (B, 46, h, w) -> per-frame detections."""
    n_joints = (output.shape[1] - 1) // 3
    heat = torch.sigmoid(output[:, : 1 + n_joints])
    peaks = heat[:, :1] * (heat[:, :1] == F.max_pool2d(heat[:, :1], 3, 1, 1))
    heat_np, peaks_np = heat.cpu().numpy(), peaks[:, 0].cpu().numpy()
    offsets = output[:, 1 + n_joints:].cpu().numpy() * OFFSET_UNIT
    return [_decode_frame(heat_np[b], peaks_np[b], offsets[b], geo, threshold, max_people, n_joints)
            for b in range(len(output))]


def _decode_frame(heat: np.ndarray, peaks: np.ndarray, offsets: np.ndarray, geo: WorkGeometry,
                  threshold: float, max_people: int, n_joints: int) -> Detections:
    order = np.argsort(peaks, axis=None)[::-1]
    centres: list[tuple[int, int]] = []
    for flat in order[: 4 * max_people]:
        cy, cx = np.unravel_index(flat, peaks.shape)
        if peaks[cy, cx] < threshold or len(centres) == max_people:
            break
        if all((cy - y) ** 2 + (cx - x) ** 2 >= MIN_CENTRE_GAP_CELLS ** 2 for y, x in centres):
            centres.append((int(cy), int(cx)))
    uv = np.zeros((len(centres), n_joints, 2))
    conf = np.zeros((len(centres), n_joints))
    for p, (cy, cx) in enumerate(centres):
        guess = np.stack([cx + 0.5 + offsets[0::2, cy, cx], cy + 0.5 + offsets[1::2, cy, cx]], -1)
        for j in range(n_joints):
            uv[p, j], conf[p, j] = _snap(heat[1 + j], guess[j])
    score = np.array([peaks[c] for c in centres])
    return Detections(geo.cell_to_input(uv), np.clip(conf, 0.0, 1.0), score)


def _snap(heat: np.ndarray, guess: np.ndarray) -> tuple[np.ndarray, float]:
    """The heatmap's peak within SNAP_CELLS of the regressed position, refined to sub-cell by a
    parabola through the log-heatmap on each axis (exact for a Gaussian peak); the regressed
    position itself when there is no peak."""
    h, w = heat.shape
    gx, gy = int(np.clip(np.floor(guess[0]), 0, w - 1)), int(np.clip(np.floor(guess[1]), 0, h - 1))
    y0, x0 = max(gy - SNAP_CELLS, 0), max(gx - SNAP_CELLS, 0)
    window = heat[y0:gy + SNAP_CELLS + 1, x0:gx + SNAP_CELLS + 1]
    py, px = np.unravel_index(np.argmax(window), window.shape)
    py, px = int(py) + y0, int(px) + x0
    value = float(heat[py, px])
    if value < 0.05:
        return guess, value
    log = np.log(np.maximum(heat, 1e-6))
    return np.array([px + 0.5 + _vertex(log[py, px - 1:px + 2]) if 0 < px < w - 1 else px + 0.5,
                     py + 0.5 + _vertex(log[py - 1:py + 2, px]) if 0 < py < h - 1 else py + 0.5]), value


def _vertex(three: np.ndarray) -> float:
    """Offset (-0.5..0.5) of the maximum of the parabola through three equally spaced samples."""
    curvature = three[0] - 2 * three[1] + three[2]
    return float(np.clip(0.5 * (three[0] - three[2]) / curvature, -0.5, 0.5)) if curvature < 0 else 0.0


def merge_mirrored(output: torch.Tensor, mirrored: torch.Tensor) -> torch.Tensor:
    """The network's output (B, 1 + 3J, h, w) merged with its output on the mirrored input, that one
    flipped back, its left and right joints swapped and its x offsets negated. Joint heatmaps are
    averaged as probabilities (returned as logits, as decode expects) and offsets as they are; the
    centre heatmap takes the larger of the two, since averaging it loses people that one of the two
    images shows clearly. Exact on the cell grid: working widths are padded to a multiple of the
    stride."""
    n_joints = (output.shape[1] - 1) // 3
    back = mirrored.flip(-1)
    heat = torch.cat([back[:, :1], back[:, 1:1 + n_joints][:, _FLIP]], 1)
    offsets = back[:, 1 + n_joints:].unflatten(1, (n_joints, 2))[:, _FLIP]
    offsets = torch.stack([-offsets[:, :, 0], offsets[:, :, 1]], 2)
    centre = torch.maximum(output[:, :1], heat[:, :1])        # a person seen in either image is a person
    joints = torch.logit((torch.sigmoid(output[:, 1:1 + n_joints]) + torch.sigmoid(heat[:, 1:])) / 2, eps=1e-6)
    return torch.cat([centre, joints, (output[:, 1 + n_joints:] + offsets.flatten(1, 2)) / 2], 1)


class DepthDetector:
    """The detector as the pipeline uses it: (B, H, W) depth in metres -> people per frame."""

    def __init__(self, model: DepthPoseNet, device: str | torch.device = "cpu") -> None:
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()

    def __call__(self, depth_m: np.ndarray, threshold: float = CENTRE_THRESHOLD) -> list[Detections]:
        depth_m = np.asarray(depth_m)
        if depth_m.ndim == 2:
            depth_m = depth_m[None]
        x, geo = network_input(depth_m)
        x = torch.from_numpy(x).to(self.device)
        with torch.inference_mode():
            both = self.model(torch.cat([x, x.flip(-1)]))
        return decode(merge_mirrored(both[: len(x)], both[len(x):]), geo, threshold)

    def keypoints(self, depth_m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """One (H, W) frame -> ((P, 15, 2) keypoints, (P, 15) confidences), most confident person first."""
        found = self(depth_m)[0]
        order = np.argsort(-found.score)
        return found.uv[order], found.confidence[order]
