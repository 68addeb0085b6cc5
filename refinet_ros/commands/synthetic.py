"""Fixed-seed synthetic test sets shared by the demo and the benchmarks, generated once and reused."""
from __future__ import annotations

import json
from pathlib import Path

from ..core.synth.detector import DEFAULT_PROFILE
from ..core.synth.generate import GENERATOR_VERSION, split_prefix, write_split

#: The benchmark test set: seed and size are part of the contract behind bench/*.json.
BENCH_SEED = 2020
BENCH_FRAMES = 1000
DEFAULT_DATA_DIR = Path("data")


def cached_test_set(view: str, frames: int, seed: int, data_dir: Path = DEFAULT_DATA_DIR,
                    progress: bool = True, detector: str = DEFAULT_PROFILE) -> dict[str, Path]:
    """Paths of the synthetic test split for (view, frames, seed), its 2D keypoints from the
    simulated `detector` (a profile name, or "random"); generated on first use.

    The default detector keeps the folder it has always had (``synth_test_seed{S}_n{N}``), so
    existing benchmarks and their caches stay valid; another detector gets its own folder
    (``..._{detector}``). Depth and labels do not depend on the detector (same seed, same frames)."""
    name = f"synth_test_seed{seed}_n{frames}" + ("" if detector == DEFAULT_PROFILE else f"_{detector}")
    out = Path(data_dir) / name
    prefix = split_prefix(out, view, "test")
    paths = {key: prefix.with_name(prefix.name + suffix) for key, suffix in
             (("depth_map", "_depth_map.h5"), ("labels", "_labels.h5"), ("pose2d", "_pose2d.npz"),
              ("subjects", "_subjects.json"))}
    if not _complete(paths, frames, detector):
        paths = write_split(out, view, "test", frames, seed, detector_profile=detector, progress=progress)
    return paths


def _complete(paths: dict[str, Path], frames: int, detector: str = DEFAULT_PROFILE) -> bool:
    """A set is reusable only if every file exists and the metadata (written last) says it is whole,
    made by this generator version and by this detector."""
    if not all(p.is_file() for p in paths.values()):
        return False
    try:
        meta = json.loads(paths["subjects"].read_text())
    except (OSError, ValueError):
        return False
    return (meta.get("n_frames") == frames and meta.get("version") == GENERATOR_VERSION
            and meta.get("detector", DEFAULT_PROFILE) == detector)
