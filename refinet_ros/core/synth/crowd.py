"""Several people in one depth frame, composed from single-person frames.

Each extra person is cut out of another frame by its segmentation, moved sideways in the image
(at its own depth, so its 3D labels follow: X = (u - cx) z / fx), and z-tested into the base
frame: nearer people occlude farther ones and the background, as in a real scene. Moving a person
partly off the image gives people entering and leaving. The base frame keeps its own person and
background. Shifts are drawn so that centres stay apart (one detection per person).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..camera import PinholeCamera
from ..joints import TORSO


@dataclass
class Person:
    """One labelled person of a composed frame."""

    uv: np.ndarray          # (15, 2) pixels (may lie outside the image)
    joints: np.ndarray      # (15, 3) optical frame, metres


@dataclass
class CrowdFrame:
    depth_m: np.ndarray     # (H, W) metres, NaN = no reading
    people: list[Person]    # those whose torso is inside the image


#: Share of frames with 1, 2, 3 and 4 people.
PEOPLE_SHARES = (0.4, 0.25, 0.2, 0.15)
#: Torsos of two people are at least this far apart in the image (a fraction of the width).
MIN_CENTRE_GAP = 0.12
#: An extra person is kept when at least this share of its pixels is in front of the scene.
MIN_VISIBLE = 0.4


def shifted(mask: np.ndarray, depth: np.ndarray, du: int) -> tuple[np.ndarray, np.ndarray]:
    """The person's mask and depth moved by `du` columns (pixels leaving the image are dropped)."""
    out_mask = np.zeros_like(mask)
    out_depth = np.full(depth.shape, np.inf, np.float32)
    w = mask.shape[1]
    if abs(du) >= w:                                    # moved wholly out of the image
        return out_mask, out_depth
    src = slice(max(0, -du), w - max(0, du))
    dst = slice(max(0, du), w - max(0, -du))
    out_mask[:, dst] = mask[:, src]
    out_depth[:, dst] = np.where(mask[:, src], depth[:, src], np.inf)
    return out_mask, out_depth


def compose(base_depth: np.ndarray, base_person: Person, extras: list[tuple[np.ndarray, np.ndarray, Person]],
            camera: PinholeCamera, rng: np.random.Generator) -> CrowdFrame:
    """The base frame with each extra (depth, segmentation, person) moved sideways and z-tested in."""
    depth = np.where(np.isfinite(base_depth), base_depth, np.inf).astype(np.float32)
    people = [base_person]
    taken = [base_person.uv[TORSO, 0]]
    for extra_depth, seg, person in extras:
        du = _free_shift(person.uv[TORSO, 0], taken, camera.width, rng)
        if du is None:
            continue
        mask, moved = shifted(seg >= 0, np.nan_to_num(extra_depth, nan=np.inf), du)
        nearer = mask & (moved < depth)
        if nearer.sum() < MIN_VISIBLE * max(int(mask.sum()), 1):
            continue                                   # behind a wall or another person: not in view
        depth[nearer] = moved[nearer]
        uv = person.uv + [du, 0.0]
        joints = camera.backproject(uv, person.joints[:, 2])
        people.append(Person(uv, joints))
        taken.append(uv[TORSO, 0])
    depth[~np.isfinite(depth)] = np.nan
    inside = [p for p in people if 0 <= p.uv[TORSO, 0] < camera.width and 0 <= p.uv[TORSO, 1] < camera.height]
    return CrowdFrame(depth, inside)


def _free_shift(u_torso: float, taken: list[float], width: int, rng: np.random.Generator,
                tries: int = 20) -> int | None:
    """A column shift that puts the torso at least MIN_CENTRE_GAP * width from the others, or None.
    Torsos may land up to a tenth of the width outside the image (a person entering or leaving)."""
    gap = MIN_CENTRE_GAP * width
    for _ in range(tries):
        target = rng.uniform(-0.1 * width, 1.1 * width)
        if all(abs(target - t) >= gap for t in taken):
            return int(round(target - u_torso))
    return None


def people_count(rng: np.random.Generator) -> int:
    return int(rng.choice(len(PEOPLE_SHARES), p=PEOPLE_SHARES)) + 1
