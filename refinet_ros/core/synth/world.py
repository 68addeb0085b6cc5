"""Recording setups: what another lab's ITOP-format data varies beyond this generator's defaults.

A :class:`World` sets the people's statures and proportions and the camera mounting heights. The
``default`` world is what the shipped weights were trained on; ``foreign`` is a setup they never
saw (shorter people with longer limbs for their height, a side camera mounted high and looking
down, a higher ceiling camera): the stand-in for a user's own recordings when showing that
fine-tuning on files (``refinet train --depth``) adapts the weights.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class World:
    """People and camera mounting of a recording setup."""

    name: str = "default"
    stature_m: tuple[float, float] = (1.50, 2.00)       #: uniform range of the subjects' statures
    limb_scale: float = 1.0                             #: arm and leg segment lengths, relative to Winter's ratios
    side_camera_height_m: tuple[float, float] = (1.0, 1.8)
    top_camera_height_m: tuple[float, float] = (2.5, 3.5)


WORLDS = {w.name: w for w in (
    World(),
    World("foreign", stature_m=(1.35, 1.75), limb_scale=1.07, side_camera_height_m=(2.0, 2.5),
          top_camera_height_m=(3.6, 4.2)),
)}
DEFAULT_WORLD = WORLDS["default"]


def get_world(world: str | World | None) -> World:
    """A World by name (or as given); an unknown name is a ValueError listing the known ones."""
    if world is None:
        return DEFAULT_WORLD
    if isinstance(world, World):
        return world
    if world not in WORLDS:
        raise ValueError(f"unknown world {world!r}; expected one of {sorted(WORLDS)}")
    return WORLDS[world]
