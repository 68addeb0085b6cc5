"""``refinet bench models``: per-module and full-pipeline latency at batch 1 on this machine.

Timings include the numpy work each stage does (patch extraction, point cropping, re-lifting), because
that is what a frame costs the ROS node. Latency does not depend on the weights' values, so when a
view's weights are not trained yet, randomly initialised modules are timed (and the JSON says so).
torch is imported when the benchmark runs, not when the parser is built.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path
from typing import Callable

import numpy as np

from ..core.pipeline import STAGE_ORDER, Pipeline, Stage
from ..core.views import VIEWS
from ..core.weights import DEFAULT_WEIGHTS_DIR, build_stages, weights_path
from .flags import add_int8_flag

ROWS = ("A", "B", "C", "A+B", "A+B+C")


def add_models_parser(kinds: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``models`` on the ``refinet bench`` sub-command parsers."""
    p = kinds.add_parser("models", help="latency of modules A, B, C and the pipeline at batch 1")
    p.add_argument("--view", default="side", choices=VIEWS, help="which view's weights")
    p.add_argument("--weights", type=Path, default=DEFAULT_WEIGHTS_DIR,
                   help="weights directory (default: the shipped weights)")
    p.add_argument("--iterations", type=int, default=200, help="timed runs per row, after 20 warm-up runs")
    p.add_argument("--threads", type=int, default=2, help="torch CPU threads (the target is a 2-core CPU)")
    p.add_argument("--json", type=Path, default=None,
                   help="results (default: bench/models.json, with --int8 bench/models_int8.json)")
    add_int8_flag(p)
    p.set_defaults(handler=run_bench_models)
    return p


def one_thread_timings(fn: Callable[[], object], n_iter: int, warmup: int) -> dict[str, float]:
    """:func:`_timings` on one torch thread (as the node runs by default), the thread count restored."""
    import torch
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _timings(fn, n_iter, warmup)
    finally:
        torch.set_num_threads(threads)


def _timings(fn: Callable[[], object], n_iter: int, warmup: int) -> dict[str, float]:
    for _ in range(warmup):
        fn()
    ms = []
    for _ in range(n_iter):
        t0 = time.perf_counter()
        fn()
        ms.append((time.perf_counter() - t0) * 1e3)
    return {"p50_ms": round(float(np.percentile(ms, 50)), 3), "p95_ms": round(float(np.percentile(ms, 95)), 3),
            "mean_ms": round(float(np.mean(ms)), 3)}


def _stages(view: str, weights_dir: Path, int8: bool = False) -> tuple[dict[str, Stage], str]:
    """Trained stages when all three weights files exist, else random-init ones."""
    import torch

    from ..core.models import MODELS, STAGES
    from ..core.models.common import quantize_linear

    if all(weights_path(weights_dir, view, n).is_file() for n in STAGE_ORDER):
        return {s.name: s for s in build_stages(STAGE_ORDER, view, weights_dir, int8=int8)}, "trained"
    torch.manual_seed(0)
    return {n: STAGES[n](quantize_linear(MODELS[n]()) if int8 else MODELS[n]()) for n in MODELS}, "random-init"


def _frame(view: str):
    """One synthetic test frame with its simulated 2D detections: a realistic body and depth."""
    from ..core.synth.generate import generate_split
    synth = generate_split(view, "test", 4, seed=0)
    i = int(np.flatnonzero(synth.is_valid)[0]) if synth.is_valid.any() else 0
    return (synth.depth_m[i:i + 1], synth.keypoints[i:i + 1].astype(np.float64),
            synth.confidence[i:i + 1].astype(np.float64), synth.camera)


def bench_models(view: str = "side", weights_dir: Path | None = None, n_iter: int = 200, warmup: int = 20,
                 int8: bool = False) -> dict:
    """{"rows": [{"name", "p50_ms", "p95_ms", "params"}, ...], ...}: single stages run on the baseline
    state; the combined rows are the whole Pipeline.run (baseline lifting included). `params` counts
    the float network (int8 layers hold packed weights that are not parameters)."""
    import torch

    weights_dir = weights_dir or DEFAULT_WEIGHTS_DIR
    stages, source = _stages(view, weights_dir, int8)
    params = {n: s.params for n, s in (_stages(view, weights_dir)[0] if int8 else stages).items()}
    depth, uv, conf, camera = _frame(view)
    state = Pipeline().initial_state(depth, uv, conf, camera)
    rows = [{"name": "baseline", **_timings(lambda: Pipeline().run(depth, uv, conf, camera), n_iter, warmup),
             "params": 0}]
    for name in ROWS:
        chain = [stages[n] for n in name.split("+")]
        if len(chain) == 1:
            fn = lambda s=chain[0]: s(state, depth, camera)  # noqa: E731
        else:
            fn = lambda p=Pipeline(chain): p.run(depth, uv, conf, camera)  # noqa: E731
        rows.append({"name": name, **_timings(fn, n_iter, warmup), "params": sum(params[s.name] for s in chain)})
    return {"rows": rows, "batch": 1, "view": view, "weights": source, "int8": int8, "iterations": n_iter,
            "torch_threads": torch.get_num_threads(), "cpu_count": os.cpu_count(), "torch": torch.__version__,
            "machine": platform.processor() or platform.machine(),
            "note": "single-stage rows: the stage alone on the baseline state; combined rows: Pipeline.run "
                    "including baseline lifting; all include the numpy feature extraction"}


def run_bench_models(args: argparse.Namespace) -> int:
    import torch

    torch.set_num_threads(args.threads)
    result = bench_models(args.view, args.weights, args.iterations, int8=args.int8)
    for row in result["rows"]:
        print(f"{row['name']:<8} p50 {row['p50_ms']:7.2f} ms  p95 {row['p95_ms']:7.2f} ms  params {row['params']:,}")
    path = args.json or Path("bench/models_int8.json" if args.int8 else "bench/models.json")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2))
    print(f"wrote {path}")
    return 0
