"""Train one refinement module (A, B or C) for one view (``refinet train`` is commands/train.py).

Chaining follows the reference: a later module learns on the outputs of the earlier ones. Since the
ablation runs every stage subset (B alone and A+B, C alone and A+B+C...), a later module is trained
on a mixture of all subsets of the already-trained earlier stages, so it works in each of them.
The learning rate follows a cosine schedule over max(step fraction, time-budget fraction), so a run
stopped by its time budget still ends at a low learning rate and writes its weights.
"""
from __future__ import annotations

import json
import math
import platform
import sys
import time
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from tqdm import tqdm

from .metrics import evaluate
from .models import MODELS, STAGES
from .models.common import DEFAULT_PRESET, count_params, save_weights
from .pipeline import Stage
from .weights import DEFAULT_WEIGHTS_DIR, weights_path
from .training_batches import AUGMENT, BATCHES, Batch
from .training_data import FrameSet, StateBank, build_bank, upstream_subsets

#: Defaults sized so that each module trains within ~30 min on a 2-core CPU (see the JSON records).
DEFAULTS = {"A": {"epochs": 16, "batch": 64, "lr": 1e-3},
            "B": {"epochs": 100, "batch": 256, "lr": 1e-3},
            "C": {"epochs": 8, "batch": 32, "lr": 1e-3}}
MIN_LR_FRACTION = 0.05
#: Linear warm-up share of the schedule: Adam's first steps on a zero-initialised output layer overshoot.
WARMUP_FRACTION = 0.02
VAL_BATCH = 256


def resolve_device(device: str) -> torch.device:
    """'auto' -> CUDA when available, else CPU."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def masked_l1(pred: torch.Tensor, target: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Sum over coordinates of |pred - target|, weighted per joint, averaged over weighted joints."""
    per_joint = (pred - target).abs().sum(-1) * weight
    return per_joint.sum() / (weight > 0).sum().clamp(min=1)


def fit_step(model: torch.nn.Module, opt: torch.optim.Optimizer, batch: Batch, device: torch.device) -> float:
    """One optimisation step on one batch; returns the loss before the step."""
    pred = model(*[torch.as_tensor(x, device=device) for x in batch.inputs])
    loss = masked_l1(pred, torch.as_tensor(batch.target, device=device), torch.as_tensor(batch.weight, device=device))
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return float(loss.item())


def _summary(result: dict) -> dict:
    keys = ("mAP", "mAP_5cm", "mDE_cm", "upper_mAP", "lower_mAP", "missing_rate")
    return {k: round(float(result[k]), 4) for k in keys}


def validate(stage: Stage, frames: FrameSet, bank: StateBank) -> dict:
    """Metrics before and after the stage, for every upstream variant of the validation frames."""
    out = {}
    gt_uv = frames.gt_uv
    for v, name in enumerate(bank.names):
        after = np.empty_like(bank.joints[v])
        uv_after = np.empty_like(bank.uv[v])
        for start in range(0, len(frames), VAL_BATCH):
            idx = np.arange(start, min(start + VAL_BATCH, len(frames)))
            st = stage(bank.state(v, idx), frames.depth(idx), frames.camera)
            after[idx], uv_after[idx] = st.joints, st.uv
        out[name] = {"before": {**_summary(evaluate(bank.joints[v], frames.gt_joints)),
                                "uv_err_px": round(float(np.nanmean(np.linalg.norm(bank.uv[v] - gt_uv, axis=-1))), 3)},
                     "after": {**_summary(evaluate(after, frames.gt_joints)),
                               "uv_err_px": round(float(np.nanmean(np.linalg.norm(uv_after - gt_uv, axis=-1))), 3)}}
    return out


def _lr_at(progress: float, lr: float) -> float:
    """Linear warm-up, then cosine decay to MIN_LR_FRACTION * lr."""
    warm = min(1.0, (progress + 1e-3) / WARMUP_FRACTION)
    return warm * lr * (MIN_LR_FRACTION + (1 - MIN_LR_FRACTION) * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0))))


def _save_checkpoint(path: Path, model: torch.nn.Module, opt: torch.optim.Optimizer, epoch: int, step: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"config": model.config, "model": model.state_dict(), "optimizer": opt.state_dict(),
                "epoch": epoch, "step": step}, path)


def train_module(module: str, view: str, data_train: FrameSet, data_val: FrameSet, upstream: Sequence[Stage] = (),
                 epochs: int | None = None, batch: int | None = None, lr: float | None = None, seed: int = 0,
                 device: str = "auto", out_path: str | Path | None = None, progress: bool = True,
                 max_minutes: float | None = None, model_config: dict | None = None,
                 checkpoint_dir: str | Path | None = None, preset: int = DEFAULT_PRESET) -> dict:
    """Train `module` on frames whose upstream states come from every subset of `upstream`.

    Writes the fp16 weights to `out_path` (default ``{view}_{module}.pt`` in the shipped weights dir;
    `preset` is its xz level, see :func:`.models.common.save_weights`), a JSON record next to it,
    and a full checkpoint per epoch in `checkpoint_dir`. Returns the record.
    """
    cfg = {**DEFAULTS[module], **{k: v for k, v in dict(epochs=epochs, batch=batch, lr=lr).items() if v is not None}}
    out_path = Path(out_path) if out_path else weights_path(DEFAULT_WEIGHTS_DIR, view, module)
    checkpoint = Path(checkpoint_dir or out_path.parent / "checkpoints") / f"{view}_{module}_last.pt"
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    dev = resolve_device(device)
    model = MODELS[module](**(model_config or {})).to(dev)
    variants = upstream_subsets(module, {s.name: s for s in upstream})
    bank_train = build_bank(data_train, variants, progress)
    bank_val = build_bank(data_val, variants, progress)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg["lr"], weight_decay=1e-4)
    steps_per_epoch = max(1, len(data_train) // cfg["batch"])
    total = cfg["epochs"] * steps_per_epoch
    budget_s = max_minutes * 60 if max_minutes else math.inf
    t0, step, loss_ema, epoch, val = time.monotonic(), 0, float("nan"), 0, {}
    bar = tqdm(total=total, desc=f"train {view} {module}", unit="step", disable=not progress)
    while epoch < cfg["epochs"] and time.monotonic() - t0 < budget_s:
        model.train()
        perm = rng.permutation(len(data_train))
        for k in range(steps_per_epoch):
            fraction = max(step / total, (time.monotonic() - t0) / budget_s)
            if fraction >= 1.0:
                break
            for group in opt.param_groups:
                group["lr"] = _lr_at(fraction, cfg["lr"])
            index = perm[k * cfg["batch"]:(k + 1) * cfg["batch"]]
            b = BATCHES[module](data_train, bank_train, index, rng, model.config)
            loss = fit_step(model, opt, b, dev)
            step += 1
            loss_ema = loss if math.isnan(loss_ema) else 0.98 * loss_ema + 0.02 * loss
            bar.update(1)
            bar.set_postfix(epoch=epoch + 1, loss=f"{loss_ema:.4f}")
        epoch += 1
        val = validate(STAGES[module](model, dev), data_val, bank_val)
        _save_checkpoint(checkpoint, model, opt, epoch, step)
        bar.write(f"epoch {epoch}: loss {loss_ema:.4f}  val " + "  ".join(
            f"{n}: mAP {r['before']['mAP']:.3f}->{r['after']['mAP']:.3f}" for n, r in val.items()))
    bar.close()
    model.eval()
    record = {
        "module": module, "view": view, "command": " ".join(["refinet", *sys.argv[1:]]),
        "config": {**cfg, "seed": seed, "device": str(dev), "max_minutes": max_minutes, "model": model.config,
                   "augment": AUGMENT, "loss": "masked L1 (A: pixels, B/C: metres)"},
        "data": {"train_frames": len(data_train), "val_frames": len(data_val), "upstream_variants": bank_train.names,
                 "detector_families": sorted({data_train.detector_family, *(s for s in bank_train.sources
                                                                            if s != "detector")})},
        "params": count_params(model), "steps": step, "epochs_done": epoch,
        "train_seconds": round(time.monotonic() - t0, 1), "final_train_loss": loss_ema, "val": val,
        "torch": torch.__version__, "python": platform.python_version(),
    }
    save_weights(out_path, module, model.cpu(), meta={k: record[k] for k in ("view", "config", "data", "steps")},
                 preset=preset)
    out_path.with_suffix(".json").write_text(json.dumps(record, indent=2))
    return record
