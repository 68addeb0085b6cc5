"""Train the depth-image 2D pose detector (core.models.depth_detector) on generated frames.

Frames come from the generator's single-person ITOP splits (depth, segmentation, labels), composed
into 1-4 people per frame (core.synth.crowd), plus frames with nobody. What a real sensor varies
beyond the generator is randomised per sample: depth noise growing with z^2, holes, a global depth
scale error, mirror images (with left and right swapped). Targets follow CenterNet: Gaussian
heatmaps (the person's torso for the centre, each joint), focal loss, and L1 on the joint offsets
regressed at the centre cells.
"""
from __future__ import annotations

import json
import math
import platform
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from .camera import PinholeCamera
from .itop import DepthFile, read_labels
from .joints import FLIP_PERMUTATION, LOWER_BODY, NUM_JOINTS, TORSO, UPPER_BODY
from .models.common import count_params, load_weights, save_weights
from .training import FINETUNE_LR_FACTOR
from .weights import file_digest
from .models.depth_detector import OFFSET_UNIT, DepthDetector, DepthPoseNet, WorkGeometry, network_input
from .synth.crowd import Person, compose, people_count

#: Gaussian widths of the targets, in output cells.
JOINT_SIGMA = 0.9
CENTRE_SIGMA = 1.2
#: Share of training samples with nobody in view.
EMPTY_SHARE = 0.05
DEFAULTS = {"batch": 16, "lr": 2e-3, "steps": 40000}


@dataclass
class DetectorFrames:
    """Single-person source frames: depth (float16 metres, NaN = none), person masks, labels."""

    depth_m: np.ndarray     # (N, H, W) float16
    person: np.ndarray      # (N, H, W) bool
    uv: np.ndarray          # (N, 15, 2)
    joints: np.ndarray      # (N, 15, 3)
    camera: PinholeCamera

    def __len__(self) -> int:
        return len(self.depth_m)


def load_detector_frames(prefix: Path, n_frames: int | None = None) -> DetectorFrames:
    """The valid frames of ``{prefix}_depth_map.h5`` / ``_labels.h5`` with their segmentation."""
    labels = read_labels(prefix.with_name(prefix.name + "_labels.h5"), with_segmentation=True)
    valid = np.flatnonzero(labels.is_valid)[:n_frames]
    with DepthFile(prefix.with_name(prefix.name + "_depth_map.h5")) as f:
        depth = np.empty((len(valid), *f.shape), np.float16)
        for pos, chunk in f.batches(valid, 512):
            depth[pos] = chunk
        camera = PinholeCamera.for_image(f.shape)
    return DetectorFrames(depth, labels.segmentation[valid] >= 0, labels.uv[valid], labels.joints[valid], camera)


def sample_frame(data: DetectorFrames, rng: np.random.Generator, n_people: int | None = None,
                 augment: bool = True) -> tuple[np.ndarray, list[Person]]:
    """One frame of `n_people` (default: drawn; 0-4) composed people, with sensor effects and a mirror
    drawn at random when `augment` (training; evaluation sets are composed without them)."""
    i = int(rng.integers(len(data)))
    depth = data.depth_m[i].astype(np.float32)
    if n_people is None:
        n_people = 0 if rng.random() < EMPTY_SHARE else people_count(rng)
    if n_people == 0:
        people: list[Person] = []
        depth = np.where(data.person[i], np.nan, depth)          # the person's pixels become a hole
    else:
        extras = [(data.depth_m[j].astype(np.float32), np.where(data.person[j], 0, -1),
                   Person(data.uv[j], data.joints[j])) for j in rng.integers(len(data), size=n_people - 1)]
        crowd = compose(depth, Person(data.uv[i], data.joints[i]), extras, data.camera, rng)
        depth, people = crowd.depth_m, crowd.people
    if not augment:
        return depth, people
    depth = sensor_effects(depth, rng)
    if rng.random() < 0.5:
        depth = depth[:, ::-1].copy()
        w = data.camera.width
        people = [Person(np.stack([w - 1 - p.uv[FLIP_PERMUTATION, 0], p.uv[FLIP_PERMUTATION, 1]], -1),
                         p.joints[FLIP_PERMUTATION] * [-1, 1, 1]) for p in people]
    return depth, people


def sensor_effects(depth: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Noise growing with z^2, a global scale error and holes: what other sensors do differently."""
    z = depth * rng.uniform(0.95, 1.05)
    z = z + rng.normal(0.0, 1.0, z.shape) * rng.uniform(0.0, 0.004) * np.nan_to_num(z) ** 2
    h, w = z.shape
    for _ in range(rng.poisson(3)):
        r = int(rng.integers(2, 12))
        v, u = int(rng.integers(h)), int(rng.integers(w))
        z[max(v - r, 0):v + r, max(u - r, 0):u + r] = np.nan
    if rng.random() < 0.3:
        z[rng.random(z.shape) < rng.uniform(0.0, 0.05)] = np.nan    # scattered lost readings
    return z.astype(np.float32)


def targets(people: list[Person], geo: WorkGeometry) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(heatmaps (1 + 15, h, w), offsets (30, h, w), offset weight (h, w)) in output cells."""
    h, w = geo.height // 4, geo.width // 4
    heat = np.zeros((1 + NUM_JOINTS, h, w), np.float32)
    offsets = np.zeros((2 * NUM_JOINTS, h, w), np.float32)
    weight = np.zeros((h, w), np.float32)
    ys, xs = np.mgrid[0:h, 0:w] + 0.5
    for p in people:
        cells = geo.input_to_cell(p.uv)
        _splat(heat[0], xs, ys, cells[TORSO], CENTRE_SIGMA)
        for j in range(NUM_JOINTS):
            if 0 <= cells[j, 0] < w and 0 <= cells[j, 1] < h:
                _splat(heat[1 + j], xs, ys, cells[j], JOINT_SIGMA)
        cx, cy = int(cells[TORSO, 0]), int(cells[TORSO, 1])
        for dy in (-1, 0, 1):
            for dx in (-1, 0, 1):
                y, x = cy + dy, cx + dx
                if 0 <= y < h and 0 <= x < w:
                    rel = (cells - [x + 0.5, y + 0.5]) / OFFSET_UNIT
                    offsets[:, y, x] = rel.reshape(-1)
                    weight[y, x] = 1.0 if dx == dy == 0 else 0.5
    return heat, offsets, weight


def _splat(channel: np.ndarray, xs: np.ndarray, ys: np.ndarray, centre: np.ndarray, sigma: float) -> None:
    g = np.exp(-((xs - centre[0]) ** 2 + (ys - centre[1]) ** 2) / (2 * sigma ** 2))
    np.maximum(channel, g, out=channel)


def make_batch(data: DetectorFrames, n: int, rng: np.random.Generator) -> tuple[torch.Tensor, ...]:
    frames, people = zip(*(sample_frame(data, rng) for _ in range(n)))
    x, geo = network_input(np.stack(frames))
    heat, off, weight = map(np.stack, zip(*(targets(p, geo) for p in people)))
    return tuple(torch.from_numpy(a) for a in (x, heat, off, weight))


def focal_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """CenterNet's penalty-reduced focal loss, per positive (peak) cell."""
    p = torch.sigmoid(logits).clamp(1e-4, 1 - 1e-4)
    pos = target.ge(0.99).float()
    pos_loss = -torch.log(p) * (1 - p) ** 2 * pos
    neg_loss = -torch.log(1 - p) * p ** 2 * (1 - target) ** 4 * (1 - pos)
    return (pos_loss.sum() + neg_loss.sum()) / pos.sum().clamp(min=1.0)


def detector_loss(out: torch.Tensor, heat: torch.Tensor, off: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    n_heat = heat.shape[1]
    l1 = ((out[:, n_heat:] - off).abs().sum(1) * weight).sum() / weight.gt(0).sum().clamp(min=1)
    return focal_loss(out[:, :1], heat[:, :1]) + focal_loss(out[:, 1:n_heat], heat[:, 1:]) + l1


def _load_init(path: Path) -> DepthPoseNet:
    loaded, model, _ = load_weights(path, {"detector": DepthPoseNet})
    if loaded != "detector":
        raise ValueError(f"{path}: holds module {loaded}; cannot initialise the detector from it")
    return model


def score_detector(detector: DepthDetector, frames: list[tuple[np.ndarray, list[Person]]],
                   match_px: float = 30.0) -> dict:
    """Keypoint error of the matched people (median px, share within 5 and 10 px; overall, upper and
    lower body), person recall and precision. A detection matches the unmatched person whose torso
    is nearest, within `match_px`; only keypoints inside the image are scored."""
    errors, found, truth, predicted = [], 0, 0, 0
    for depth, people in frames:
        det = detector(depth)[0]
        truth += len(people)
        predicted += len(det)
        used: set[int] = set()
        for p in people:
            d = np.linalg.norm(det.uv[:, TORSO] - p.uv[TORSO], axis=-1) if len(det) else np.empty(0)
            d[list(used)] = np.inf
            if not d.size or d.min() >= match_px:
                continue
            k = int(np.argmin(d))
            used.add(k)
            found += 1
            inside = (p.uv >= 0).all(-1) & (p.uv[:, 0] < depth.shape[1]) & (p.uv[:, 1] < depth.shape[0])
            errors.append(np.where(inside, np.linalg.norm(det.uv[k] - p.uv, axis=-1), np.nan))
    err = np.stack(errors) if errors else np.empty((0, NUM_JOINTS))
    return {**keypoint_errors(err), "recall": round(found / max(truth, 1), 4),
            "precision": round(found / max(predicted, 1), 4), "people": truth, "detections": predicted}


def keypoint_errors(err: np.ndarray) -> dict:
    """(N, 15) pixel errors (NaN = not scored) -> median and shares within 5 / 10 px, per joint group."""
    out = {}
    for group, joints in (("", slice(None)), ("upper_", UPPER_BODY), ("lower_", LOWER_BODY)):
        e = err[:, joints].ravel()
        e = e[np.isfinite(e)]
        out[f"{group}median_px"] = round(float(np.median(e)), 3) if e.size else None
        for px in (5, 10):
            out[f"{group}within_{px}px"] = round(float(np.mean(e < px)), 4) if e.size else 0.0
    return out


def train_detector(view: str, train: DetectorFrames, val: DetectorFrames, out_path: Path, steps: int | None = None,
                   batch: int | None = None, lr: float | None = None, seed: int = 0, max_minutes: float | None = None,
                   progress: bool = True, val_frames: int = 200, width: int = 32, init: Path | None = None) -> dict:
    """Train for `steps` (or until `max_minutes`), cosine learning rate; write fp16 weights and a record.
    `init`: continue from a detector weights file, at FINETUNE_LR_FACTOR of the learning rate."""
    base = {**DEFAULTS, "lr": DEFAULTS["lr"] * (FINETUNE_LR_FACTOR if init else 1.0)}
    cfg = {**base, **{k: v for k, v in dict(steps=steps, batch=batch, lr=lr).items() if v is not None}}
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = DepthPoseNet(width=width) if init is None else _load_init(init)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg["lr"], weight_decay=1e-4)
    budget = max_minutes * 60 if max_minutes else math.inf
    val_set = [sample_frame(val, np.random.default_rng([seed, 1, k]), augment=False) for k in range(val_frames)]
    t0, step, loss_ema = time.monotonic(), 0, math.nan
    bar = tqdm(total=cfg["steps"], desc=f"train {view} detector", unit="step", disable=not progress)
    model.train()
    while step < cfg["steps"]:
        fraction = max(step / cfg["steps"], (time.monotonic() - t0) / budget)
        if fraction >= 1.0:
            break
        for group in opt.param_groups:
            warm = min(1.0, (step + 1) / 200)
            group["lr"] = cfg["lr"] * warm * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * fraction)))
        x, heat, off, weight = make_batch(train, cfg["batch"], rng)
        loss = detector_loss(model(x), heat, off, weight)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
        value = float(loss.detach())
        loss_ema = value if math.isnan(loss_ema) else 0.98 * loss_ema + 0.02 * value
        bar.update(1)
        bar.set_postfix(loss=f"{loss_ema:.3f}")
    bar.close()
    model.eval()
    val_scores = score_detector(DepthDetector(model), val_set)
    record = {"module": "detector", "view": view, "command": " ".join(["refinet", *sys.argv[1:]]),
              "config": {**cfg, "seed": seed, "max_minutes": max_minutes, "model": model.config,
                         "joint_sigma": JOINT_SIGMA, "centre_sigma": CENTRE_SIGMA, "empty_share": EMPTY_SHARE},
              "data": {"train_frames": len(train), "val_frames": len(val_set)}, "params": count_params(model),
              "steps": step, "train_seconds": round(time.monotonic() - t0, 1), "final_train_loss": loss_ema,
              "val": val_scores, "torch": torch.__version__, "python": platform.python_version()}
    record["init"] = None if init is None else {"weights": str(init), "sha256": file_digest(init)}
    save_weights(out_path, "detector", model, meta={"view": view, "config": record["config"]})
    out_path.with_suffix(".json").write_text(json.dumps(record, indent=2))
    return record
