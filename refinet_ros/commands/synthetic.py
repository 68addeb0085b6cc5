"""Fixed-seed synthetic test sets shared by the demo and the benchmarks, generated once and reused."""
from __future__ import annotations

from pathlib import Path

from ..core.synth.world import DEFAULT_WORLD
from ..core.synth.cache import cached_split
from ..core.synth.detector import DEFAULT_PROFILE

#: The benchmark test set: seed and size are part of the contract behind bench/*.json.
BENCH_SEED = 2020
BENCH_FRAMES = 1000
DEFAULT_DATA_DIR = Path("data")


def cached_test_set(view: str, frames: int, seed: int, data_dir: Path = DEFAULT_DATA_DIR,
                    progress: bool = True, detector: str = DEFAULT_PROFILE,
                    world: str = DEFAULT_WORLD.name) -> dict[str, Path]:
    """Paths of the synthetic test split for (view, frames, seed), its 2D keypoints from the
    simulated `detector` (a profile name, or "random"); generated on first use (see core.synth.cache).
    Depth and labels do not depend on the detector (same seed, same frames). `world`: the recording
    setup (core.synth.world; 'foreign' is one the shipped weights never saw)."""
    return cached_split(data_dir, view, "test", frames, seed, detector, progress=progress, world=world)
