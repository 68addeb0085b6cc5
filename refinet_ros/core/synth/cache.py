"""One cache for generated data: every tool that keeps what the generator made names it here.

Rendering costs ~25 ms a frame, so the benchmarks, the demo and training keep their synthetic ITOP
splits, ``refinet anthropometry`` its per-source joints and models, ``bench bags`` its recording.
:func:`cache_name` names each entry from everything the generated frames depend on (view, split,
seed, frame count, detector, stride) and :data:`~.generate.GENERATOR_VERSION`, so data of an older
generator has another name and is never reused. A cached ITOP split counts only once its
``_subjects.json``, which :func:`~.generate.write_split` writes last, says it is whole.
"""
from __future__ import annotations

import json
from pathlib import Path

from ..camera import PinholeCamera
from .detector import DEFAULT_PROFILE
from .generate import DEFAULT_STRIDE, GENERATOR_VERSION, split_prefix, write_split
from .world import DEFAULT_WORLD

#: The files of a written split, by the keys of write_split's result.
SPLIT_FILES = {"depth_map": "_depth_map.h5", "labels": "_labels.h5", "pose2d": "_pose2d.npz", "meta": "_meta.npz",
               "subjects": "_subjects.json"}


def cache_name(kind: str, view: str, split: str, seed: int | str, frames: int, detector: str = DEFAULT_PROFILE,
               stride: int = DEFAULT_STRIDE, world: str = DEFAULT_WORLD.name,
               camera: PinholeCamera | None = None, people: int = 1) -> str:
    """The cache entry name of generated data of `kind` ("itop", "joints", "bag", ...); `seed` may be
    several seeds joined by '-' (data drawn from each); a world other than the default is named, and
    so are a camera other than ITOP's and more than one person."""
    place = "" if world == DEFAULT_WORLD.name else f"_{world}"
    if camera is not None and camera != PinholeCamera.itop():
        place += f"_c{camera.width}x{camera.height}f{camera.fx:g}-{camera.fy:g}p{camera.cx:g}-{camera.cy:g}"
    if people > 1:
        place += f"_p{people}"
    return f"{kind}_{view}_{split}_s{seed}_n{frames}_{detector}_k{stride}{place}_g{GENERATOR_VERSION}"


def cached_split(root: str | Path, view: str, split: str, frames: int, seed: int, detector: str = DEFAULT_PROFILE,
                 stride: int = DEFAULT_STRIDE, workers: int = 1, progress: bool = True,
                 world: str = DEFAULT_WORLD.name, camera: PinholeCamera | None = None,
                 people: int = 1) -> dict[str, Path]:
    """The files of a synthetic ITOP split in its folder under `root` (the keys of :data:`SPLIT_FILES`),
    generated first unless a whole one is there. `detector` is a profile name or the "random" family;
    `camera` another sensor (default ITOP's); `people` > 1 adds walkers (core.synth.walkers)."""
    folder = Path(root) / cache_name("itop", view, split, seed, frames, detector, stride, world, camera, people)
    prefix = split_prefix(folder, view, split)
    paths = {key: prefix.with_name(prefix.name + suffix) for key, suffix in SPLIT_FILES.items()}
    if not _whole(paths, frames):
        write_split(folder, view, split, frames, seed, camera=camera, detector_profile=detector, stride=stride,
                    workers=workers, progress=progress, world=world, people=people)
    return paths


def _whole(paths: dict[str, Path], frames: int) -> bool:
    if not all(p.is_file() for p in paths.values()):
        return False
    try:
        meta = json.loads(paths["subjects"].read_text())
    except (OSError, ValueError):
        return False
    return meta.get("n_frames") == frames
