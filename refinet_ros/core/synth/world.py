"""Recording setups: what another lab's ITOP-format data varies beyond this generator's defaults.

A :class:`World` sets the people's statures and proportions, the camera mounting heights and the
labelling convention: where the annotation puts a joint (datasets differ: a head label at the
face or the skull centre, a foot at the ankle or the instep, hips at the joint or the pelvis
rim). The ``default`` world is what the shipped weights were trained on; ``foreign`` is a setup
they never saw (shorter people with longer limbs for their height, a side camera mounted high and
looking down, a higher ceiling camera, another labelling convention): the stand-in for a user's
own recordings when showing that fine-tuning on files (``refinet train --depth``) adapts the weights.
``wide`` spans the camera mounts and builds a robot meets (what the depth detector trains on).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..joints import HEAD, L_FOOT, L_HIP, L_KNEE, NECK, R_FOOT, R_HIP, R_KNEE


@dataclass(frozen=True)
class World:
    """People and camera mounting of a recording setup."""

    name: str = "default"
    stature_m: tuple[float, float] = (1.50, 2.00)       #: uniform range of the subjects' statures
    limb_scale: float = 1.0                             #: arm and leg segment lengths, relative to Winter's ratios
    side_camera_height_m: tuple[float, float] = (1.0, 1.8)
    top_camera_height_m: tuple[float, float] = (2.5, 3.5)
    head_label_up_m: float = 0.0                        #: head label moved along neck -> head
    foot_label_up_m: float = 0.0                        #: foot labels moved toward the knees
    hip_label_out_m: float = 0.0                        #: hip labels moved apart

    def labelled(self, joints: np.ndarray) -> np.ndarray:
        """(T, 15, 3) joints where this world's annotation convention puts them."""
        if not (self.head_label_up_m or self.foot_label_up_m or self.hip_label_out_m):
            return joints
        out = joints.copy()
        out[:, HEAD] += self.head_label_up_m * _unit(joints[:, HEAD] - joints[:, NECK])
        for foot, knee in ((R_FOOT, R_KNEE), (L_FOOT, L_KNEE)):
            out[:, foot] += self.foot_label_up_m * _unit(joints[:, knee] - joints[:, foot])
        apart = _unit(joints[:, R_HIP] - joints[:, L_HIP])
        out[:, R_HIP] += self.hip_label_out_m * apart
        out[:, L_HIP] -= self.hip_label_out_m * apart
        return out


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-9)


WORLDS = {w.name: w for w in (
    World(),
    World("foreign", stature_m=(1.35, 1.75), limb_scale=1.07, side_camera_height_m=(2.0, 2.5),
          top_camera_height_m=(3.6, 4.2), head_label_up_m=0.10, foot_label_up_m=0.09, hip_label_out_m=0.07),
    # the mounts and people a robot meets: camera at a small robot's height up to a wall mount, ceilings
    # from low offices to halls, children to tall adults (the detector's training setup; ITOP's labels)
    World("wide", stature_m=(1.30, 2.05), side_camera_height_m=(0.8, 2.7), top_camera_height_m=(2.3, 4.5)),
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
