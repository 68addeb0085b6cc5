"""Multi-person sequences: other people walking through a generated single-person sequence.

A generated clip has one person (slot 0, whose labels stay in ITOP's own layout). Each further
slot holds a *walker*: the person of another generated stream, cut out by its segmentation, moved
sideways so that its torso follows a straight walk across the image at 0.4-1.4 m/s, and z-tested
in (see :mod:`.crowd`): people cross in front of and behind each other and occlude each other.
A walker enters from one side, leaves at the other, waits 0.3-2 s and comes back as a *new* person
(a new track id), so sequences have people entering, leaving and crossing. When a walker's source
stream moves on to its next clip, the person shown changes there (another subject and pose): that is
a new track id too, as for person 0 at its clip boundaries. Everything is driven by
the frame count at the split's stride, so a sequence is the same for any ``workers``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator

import numpy as np

from ..camera import PinholeCamera
from ..joints import NUM_JOINTS, TORSO
from .crowd import shifted
from .motion import FPS

#: Walking speeds across the image, m/s.
WALK_SPEED = (0.4, 1.4)
#: Time a walker stays away between leaving and coming back, s.
AWAY_SECONDS = (0.3, 2.0)
#: A walker's torso enters and leaves this far outside the image (a share of its width).
MARGIN = 0.15
#: A person counts as present when the torso is in the image and this share of its pixels is seen.
MIN_SEEN = 0.1


@dataclass
class PeopleBlock:
    """Per-person labels of n frames with P slots (NaN / -1 / False where a slot is empty)."""

    track_id: np.ndarray      #: (n, P) int32, -1 = nobody in the slot
    present: np.ndarray       #: (n, P) bool: torso in the image and at least MIN_SEEN of the body seen
    uv: np.ndarray            #: (n, P, 15, 2) float32 pixels
    joints: np.ndarray        #: (n, P, 15, 3) float32 optical frame, metres
    visible: np.ndarray       #: (n, P, 15) bool: in the image and not hidden by another person
    keypoints: np.ndarray     #: (n, P, 15, 2) float32 simulated 2D detections
    confidence: np.ndarray    #: (n, P, 15) float32
    person_map: np.ndarray    #: (n, H, W) int8 slot seen at each pixel, -1 = nobody

    @staticmethod
    def concat(blocks: list["PeopleBlock"]) -> "PeopleBlock":
        return PeopleBlock(*(np.concatenate([getattr(b, f) for b in blocks]) for f in PeopleBlock.__dataclass_fields__))

    @classmethod
    def empty(cls, n: int, slots: int, shape: tuple[int, int]) -> "PeopleBlock":
        nan = lambda *s: np.full((n, slots, *s), np.nan, np.float32)   # noqa: E731
        return cls(np.full((n, slots), -1, np.int32), np.zeros((n, slots), bool), nan(NUM_JOINTS, 2),
                   nan(NUM_JOINTS, 3), np.zeros((n, slots, NUM_JOINTS), bool), nan(NUM_JOINTS, 2),
                   np.zeros((n, slots, NUM_JOINTS), np.float32), np.full((n, *shape), -1, np.int8))


class FrameStream:
    """Single frames, one at a time, from an iterator of generated clips (a walker's source)."""

    def __init__(self, clips: Iterator) -> None:
        self._clips = clips
        self._part = None
        self._i = 0

    def next(self):
        """(clip, index) of the next frame; streams restart nowhere: they are made long enough."""
        if self._part is None or self._i >= len(self._part):
            self._part, self._i = next(self._clips), 0
        self._i += 1
        return self._part, self._i - 1


@dataclass
class _Walker:
    track: int = -1           # -1: away
    u: float = 0.0            # torso column it walks along
    direction: float = 1.0
    speed: float = 1.0        # m/s
    away: int = 0             # frames left before coming back
    clip: int = -1            # the source clip it shows (another clip is another person)


@dataclass
class WalkerScene:
    """The walkers of one sequence and the track ids handed out so far (never reused)."""

    slots: int
    camera: PinholeCamera
    stride: int
    rng: np.random.Generator
    next_track: int = 0
    walkers: list[_Walker] = field(default_factory=list)
    base_clip: int | None = None
    base_track: int = -1

    def __post_init__(self) -> None:
        self.walkers = [self._start(inside=self.rng.random() < 0.7) for _ in range(self.slots - 1)]

    def _new_track(self) -> int:
        self.next_track += 1
        return self.next_track - 1

    def _start(self, inside: bool) -> _Walker:
        w = self.camera.width
        direction = 1.0 if self.rng.random() < 0.5 else -1.0
        u = self.rng.uniform(0.0, w) if inside else (-MARGIN * w if direction > 0 else (1 + MARGIN) * w)
        return _Walker(self._new_track(), u, direction, self.rng.uniform(*WALK_SPEED))

    def _advance(self, walker: _Walker, z: float) -> _Walker:
        w = self.camera.width
        if walker.track < 0:
            if walker.away > 0:
                walker.away -= 1
                return walker
            return self._start(inside=False)
        walker.u += walker.direction * walker.speed * self.camera.fx / max(z, 0.5) / FPS * self.stride
        if not -MARGIN * w <= walker.u <= (1 + MARGIN) * w:
            away = self.rng.uniform(*AWAY_SECONDS) * FPS / self.stride
            return _Walker(track=-1, away=int(round(away)))
        return walker

    def compose(self, base, streams: list[FrameStream]) -> tuple[np.ndarray, PeopleBlock]:
        """The clip `base` (a SynthSet) with the walkers added: (depth (n, H, W), its PeopleBlock)."""
        n, shape = len(base), base.depth_m.shape[1:]
        block = PeopleBlock.empty(n, self.slots, shape)
        depth = np.empty_like(base.depth_m)
        if base.clip[0] != self.base_clip:            # a new clip is a new person in slot 0
            self.base_clip, self.base_track = int(base.clip[0]), self._new_track()
        for t in range(n):
            depth[t] = self._frame(t, base, streams, block)
        return depth, block

    def _frame(self, t: int, base, streams: list[FrameStream], block: PeopleBlock) -> np.ndarray:
        depth = np.nan_to_num(base.depth_m[t], nan=np.inf).astype(np.float32)
        pmap = np.where(base.segmentation[t] >= 0, 0, -1).astype(np.int8)
        sizes = [int((base.segmentation[t] >= 0).sum())]
        _put(block, t, 0, self.base_track, base.uv[t], base.joints[t], base.visible[t], base.keypoints[t],
             base.confidence[t])
        for k, stream in enumerate(streams, start=1):
            part, i = stream.next()
            walker = self.walkers[k - 1] = self._advance(self.walkers[k - 1], float(part.joints[i, TORSO, 2]))
            sizes.append(0)
            if walker.track < 0:
                continue
            if int(part.clip[i]) != walker.clip:       # the source moved on to another clip: another person
                walker.track, walker.clip = self._new_track(), int(part.clip[i])
            du = int(round(walker.u - part.uv[i, TORSO, 0]))
            mask, moved = shifted(part.segmentation[i] >= 0, np.nan_to_num(part.depth_m[i], nan=np.inf), du)
            nearer = mask & (moved < depth)
            depth[nearer], pmap[nearer] = moved[nearer], k
            sizes[k] = int(mask.sum())
            uv = part.uv[i] + np.float32([du, 0.0])
            _put(block, t, k, walker.track, uv, self.camera.backproject(uv, part.joints[i, :, 2]),
                 part.visible[i], part.keypoints[i] + np.float32([du, 0.0]), part.confidence[i])
        block.person_map[t] = pmap
        self._visibility(block, t, pmap, sizes)
        depth[~np.isfinite(depth)] = np.nan
        return depth

    def _visibility(self, block: PeopleBlock, t: int, pmap: np.ndarray, sizes: list[int]) -> None:
        """Joints hidden by another person or outside the image are not visible; a slot is present
        when its torso is in the image and enough of the body is seen."""
        h, w = pmap.shape
        for k in range(self.slots):
            if block.track_id[t, k] < 0:
                continue
            uv = block.uv[t, k]
            inside = self.camera.in_image(uv)
            col = np.clip(np.round(uv[:, 0]).astype(int), 0, w - 1)
            row = np.clip(np.round(uv[:, 1]).astype(int), 0, h - 1)
            seen_as = pmap[row, col]
            block.visible[t, k] &= inside & ((seen_as == k) | (seen_as < 0))
            seen = int((pmap == k).sum())
            block.present[t, k] = bool(inside[TORSO]) and seen >= MIN_SEEN * max(sizes[k], 1)


def _put(block: PeopleBlock, t: int, k: int, track: int, uv, joints, visible, keypoints, confidence) -> None:
    block.track_id[t, k] = track
    block.uv[t, k], block.joints[t, k], block.visible[t, k] = uv, joints, visible
    block.keypoints[t, k], block.confidence[t, k] = keypoints, confidence


__all__ = ["FrameStream", "PeopleBlock", "WalkerScene"]
