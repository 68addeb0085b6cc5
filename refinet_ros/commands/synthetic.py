"""Fixed-seed synthetic test sets shared by the demo and the benchmarks, generated once and reused."""
from __future__ import annotations

from pathlib import Path

from ..core.synth.cache import cached_split
from ..core.synth.detector import DEFAULT_PROFILE

#: The benchmark test set: seed and size are part of the contract behind bench/*.json.
BENCH_SEED = 2020
BENCH_FRAMES = 1000
DEFAULT_DATA_DIR = Path("data")


def cached_test_set(view: str, frames: int, seed: int, data_dir: Path = DEFAULT_DATA_DIR,
                    progress: bool = True, detector: str = DEFAULT_PROFILE) -> dict[str, Path]:
    """Paths of the synthetic test split for (view, frames, seed), its 2D keypoints from the
    simulated `detector` (a profile name, or "random"); generated on first use (see core.synth.cache).
    Depth and labels do not depend on the detector (same seed, same frames)."""
    return cached_split(data_dir, view, "test", frames, seed, detector, progress=progress)
