"""Train one refinement module (A, B or C) for one view (``refinet train`` is commands/train.py).

Chaining follows the reference: a later module learns on the outputs of the earlier ones. Since the
ablation runs every stage subset (B alone and A+B, C alone and A+B+C...), a later module is trained
on a mixture of all subsets of the already-trained earlier stages, so it works in each of them.
The learning rate follows a cosine schedule over max(step fraction, time-budget fraction), so a run
stopped by its time budget still ends at a low learning rate and writes its weights.
"""
from __future__ import annotations

import copy
import hashlib
import json
import math
import platform
import resource
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from tqdm import tqdm

from .metrics import evaluate
from .models import MODELS, STAGES
from .models.common import DEFAULT_PRESET, count_params, save_weights
from .pipeline import Stage
from .leave_out import training_families
from .models.common import load_weights
from .weights import DEFAULT_WEIGHTS_DIR, file_digest, read_record, weights_path
from .training_batches import AUGMENT, BATCHES, Batch
from .training_data import FrameSet, StateBank, build_bank, upstream_subsets

#: Defaults sized so that each module trains within ~30 min on a 2-core CPU (see the JSON records).
DEFAULTS = {"A": {"epochs": 16, "batch": 64, "lr": 1e-3},
            "B": {"epochs": 100, "batch": 256, "lr": 1e-3},
            "C": {"epochs": 8, "batch": 32, "lr": 1e-3}}
#: Fine-tuning from trained weights (``init``) starts at this share of the module's learning rate, so the
#: first steps on new data do not undo what the weights know; the epochs default stays (time-bounded).
FINETUNE_LR_FACTOR = 0.3
#: An epoch is at least this many steps (a pass over a small file set is a few steps; validating
#: after each would cost more than training).
MIN_EPOCH_STEPS = 50
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


@dataclass
class RunState:
    """Where a run stands after an epoch: what the checkpoint saves and ``resume`` continues from."""

    epoch: int = 0
    step: int = 0
    seconds: float = 0.0                  # training time so far (the --max-minutes budget counts it)
    first_loss: float = math.nan
    loss_ema: float = math.nan
    best_epoch: int = 0
    best_score: float = -math.inf
    best_val: dict = field(default_factory=dict)
    best_state: dict | None = None        # the weights of the best epoch so far


def run_key(*parts: object) -> str:
    """A digest of what defines a run (module, data sizes, config...): a checkpoint resumes only its own run."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _save_checkpoint(path: Path, key: str, model: torch.nn.Module, opt: torch.optim.Optimizer,
                     rng: np.random.Generator, state: RunState) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")       # a run killed while writing leaves the last one whole
    torch.save({"run": key, "config": model.config, "model": model.state_dict(), "optimizer": opt.state_dict(),
                "rng": rng.bit_generator.state, "torch_rng": torch.get_rng_state(), "state": asdict(state)}, partial)
    partial.replace(path)


def _resume(path: Path, key: str, model: torch.nn.Module, opt: torch.optim.Optimizer,
            rng: np.random.Generator) -> RunState:
    """Continue from the checkpoint of this same run; one of another run is a ValueError, not a silent mix."""
    ck = torch.load(path, map_location="cpu", weights_only=True)
    if ck.get("run") != key:
        raise ValueError(f"{path}: checkpoint of another run (other data, module or settings); "
                         "train without --resume to start over")
    model.load_state_dict(ck["model"])
    opt.load_state_dict(ck["optimizer"])
    rng.bit_generator.state = ck["rng"]
    torch.set_rng_state(ck["torch_rng"])
    return RunState(**ck["state"])


def load_init(init: Path, module: str, view: str) -> torch.nn.Module:
    """The network of the weights file `init`; weights of another module or view are a ValueError
    naming the file (checked for every module before a multi-module run writes anything)."""
    loaded, model, meta = load_weights(init, MODELS)
    if loaded != module:
        raise ValueError(f"{init}: holds module {loaded}; cannot initialise module {module} from it")
    if meta.get("view", view) != view:
        raise ValueError(f"{init}: holds {meta['view']}-view weights; cannot initialise the {view} view from them")
    return model


def initial_model(module: str, view: str, init: Path | None,
                  model_config: dict | None) -> tuple[torch.nn.Module, dict | None]:
    """(the network to train, the record of where it started): fresh from `model_config`, or the
    weights file `init` (its sizes; a conflicting `model_config` is an error, not silently ignored)."""
    if init is None:
        return MODELS[module](**(model_config or {})), None
    model = load_init(init, module, view)
    clash = {k: v for k, v in (model_config or {}).items() if model.config.get(k) != v}
    if clash:
        raise ValueError(f"{init}: its network sizes {model.config} differ from the --model overrides {clash}")
    return model, {"weights": str(init), "sha256": file_digest(init),
                   "detector_families": list(training_families(read_record(init)))}


def _epoch_passes(n: int, batch: int) -> int:
    """Passes over the `n` frames in one epoch: enough for MIN_EPOCH_STEPS batches."""
    return max(1, math.ceil(MIN_EPOCH_STEPS * batch / max(n, 1)))


def _epoch_order(n: int, batch: int, rng: np.random.Generator) -> np.ndarray:
    """Sample order of one epoch: a fresh permutation of the frames per pass."""
    return np.concatenate([rng.permutation(n) for _ in range(_epoch_passes(n, batch))])


def _val_score(val: dict) -> float:
    """One number per validation: the mean mAP after the stage over its upstream variants."""
    return float(np.mean([r["after"]["mAP"] for r in val.values()])) if val else -math.inf


def peak_rss_mib() -> float:
    """Peak resident memory of this process so far (Linux reports KiB)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def train_module(module: str, view: str, data_train: FrameSet, data_val: FrameSet, upstream: Sequence[Stage] = (),
                 epochs: int | None = None, batch: int | None = None, lr: float | None = None, seed: int = 0,
                 device: str = "auto", out_path: str | Path | None = None, progress: bool = True,
                 max_minutes: float | None = None, model_config: dict | None = None,
                 checkpoint_dir: str | Path | None = None, preset: int = DEFAULT_PRESET,
                 init: str | Path | None = None, data_record: dict | None = None, resume: bool = False) -> dict:
    """Train `module` on frames whose upstream states come from every subset of `upstream`.

    Starts from the weights file `init` when given (fine-tuning: the learning rate defaults to
    FINETUNE_LR_FACTOR of the module's, and the record's training families include the ones
    those weights were trained on, so the leave-out bookkeeping follows the whole lineage).
    Writes the fp16 weights to `out_path` (default ``{view}_{module}.pt`` in the shipped weights dir;
    `preset` is its xz level, see :func:`.models.common.save_weights`), a JSON record next to it,
    and a full checkpoint per epoch in `checkpoint_dir`. The weights kept are those of the epoch
    that scored best on the validation frames (held-out subjects). `data_record` (the data files
    and their hashes) joins the record's ``data``. `resume` continues from this run's checkpoint
    (same module, data and settings), within the same time budget. Returns the record.
    """
    init = Path(init) if init is not None else None
    base = {**DEFAULTS[module]}
    if init is not None:
        base["lr"] *= FINETUNE_LR_FACTOR
    cfg = {**base, **{k: v for k, v in dict(epochs=epochs, batch=batch, lr=lr).items() if v is not None}}
    out_path = Path(out_path) if out_path else weights_path(DEFAULT_WEIGHTS_DIR, view, module)
    checkpoint = Path(checkpoint_dir or out_path.parent / "checkpoints") / f"{view}_{module}_last.pt"
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    dev = resolve_device(device)
    model, started_from = initial_model(module, view, init, model_config)
    model = model.to(dev)
    variants = upstream_subsets(module, {s.name: s for s in upstream})
    bank_train = build_bank(data_train, variants, progress)
    bank_val = build_bank(data_val, variants, progress)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg["lr"], weight_decay=1e-4)
    steps_per_epoch = max(1, _epoch_passes(len(data_train), cfg["batch"]) * len(data_train) // cfg["batch"])
    total = cfg["epochs"] * steps_per_epoch
    budget_s = max_minutes * 60 if max_minutes else math.inf
    key = run_key(module, view, cfg, model.config, seed, len(data_train), len(data_val), bank_train.names,
                  started_from)
    run = _resume(checkpoint, key, model, opt, rng) if resume and checkpoint.is_file() else RunState()
    resumed_at = run.step
    t0 = time.monotonic() - run.seconds
    bar = tqdm(total=total, initial=run.step, desc=f"train {view} {module}", unit="step", disable=not progress)
    while run.epoch < cfg["epochs"] and time.monotonic() - t0 < budget_s:
        model.train()
        perm = _epoch_order(len(data_train), cfg["batch"], rng)
        for k in range(steps_per_epoch):
            fraction = max(run.step / total, (time.monotonic() - t0) / budget_s)
            if fraction >= 1.0:
                break
            for group in opt.param_groups:
                group["lr"] = _lr_at(fraction, cfg["lr"])
            index = perm[k * cfg["batch"]:(k + 1) * cfg["batch"]]
            b = BATCHES[module](data_train, bank_train, index, rng, model.config)
            loss = fit_step(model, opt, b, dev)
            run.step += 1
            run.first_loss = loss if math.isnan(run.first_loss) else run.first_loss
            run.loss_ema = loss if math.isnan(run.loss_ema) else 0.98 * run.loss_ema + 0.02 * loss
            bar.update(1)
            bar.set_postfix(epoch=run.epoch + 1, loss=f"{run.loss_ema:.4f}")
        run.epoch += 1
        val = validate(STAGES[module](model, dev), data_val, bank_val)
        if _val_score(val) > run.best_score:
            run.best_epoch, run.best_score, run.best_val = run.epoch, _val_score(val), val
            run.best_state = copy.deepcopy(model.state_dict())
        run.seconds = time.monotonic() - t0
        _save_checkpoint(checkpoint, key, model, opt, rng, run)
        bar.write(f"epoch {run.epoch}: loss {run.loss_ema:.4f}  val " + "  ".join(
            f"{n}: mAP {r['before']['mAP']:.3f}->{r['after']['mAP']:.3f}" for n, r in val.items()))
    bar.close()
    if run.best_state is not None:
        model.load_state_dict(run.best_state)
    model.eval()
    record = {
        "module": module, "view": view, "command": " ".join(["refinet", *sys.argv[1:]]),
        "config": {**cfg, "seed": seed, "device": str(dev), "max_minutes": max_minutes, "model": model.config,
                   "augment": AUGMENT, "loss": "masked L1 (A: pixels, B/C: metres)"},
        "data": {"train_frames": len(data_train), "val_frames": len(data_val), "upstream_variants": bank_train.names,
                 "detector_families": sorted({*data_train.detector_families, *(s for s in bank_train.sources
                                                                            if s != "detector"),
                                              *(started_from or {}).get("detector_families", ())}),
                 **(data_record or {})},
        "init": started_from,
        "params": count_params(model), "steps": run.step, "epochs_done": run.epoch, "best_epoch": run.best_epoch,
        "train_seconds": round(time.monotonic() - t0, 1), "first_train_loss": run.first_loss,
        "final_train_loss": run.loss_ema, "val": run.best_val, "resumed_at_step": resumed_at,
        "peak_rss_mib": peak_rss_mib(),
        "torch": torch.__version__, "python": platform.python_version(),
    }
    save_weights(out_path, module, model.cpu(), meta={k: record[k] for k in ("view", "config", "data", "steps")},
                 preset=preset)
    out_path.with_suffix(".json").write_text(json.dumps(record, indent=2))
    return record
