"""People over time: stable body ids and smoothed skeletons, frame after frame, in the core.

:class:`Tracker` takes each frame's 3D skeletons with the 2D input's body ids and returns stable ids:

* a skeleton whose detector id belongs to a live track continues it: a detector that tracks keeps
  its ids, the tracker only fills in;
* the others (no id, or an id never seen, as from a detector whose ids change every frame) are
  matched to the remaining live tracks, each moved on at its own walking velocity to the frame's
  stamp, by median joint distance (a few joints lifted onto an occluder do not count), or that of
  the skeleton's left/right mirror when nearer (detectors swap a person's sides), optimally
  (Hungarian method, core.skeleton_matching) and gated by ``gate_m`` plus how far a person can walk
  in the gap (MAX_SPEED_M_S), the tracks seen last first; unmatched ones start new tracks;
* a track survives ``max_missing_s`` without a skeleton, then ends; a new person gets a new id, and
  an id the tracker made is never used again in the run. Tracks of untracked input get ROS4HRI-style
  ids (five random lowercase letters), tracks of a tracking detector its own id.

With ``smoothing`` each track's joints go through a :class:`~refinet_ros.core.one_euro.OneEuroFilter`
(reset when the track ends or time jumps). Time is the frames' stamps, never arrival times: a bag
replayed at any rate gives the same ids and the same joints.
"""
from __future__ import annotations

import string
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

from .depth import nanmedian_last
from .joints import FLIP_PERMUTATION
from .one_euro import OneEuroFilter, OneEuroParams
from .skeleton_matching import assign, skeleton_distances

#: Walking speed a gate allows for on top of gate_m, per second of gap (people rarely run past a robot).
MAX_SPEED_M_S = 2.0
#: Length of the ids the tracker makes.
ID_LENGTH = 5


@dataclass(frozen=True)
class TrackerParams:
    gate_m: float = 0.3             # median joint distance within which a skeleton continues a track
    max_missing_s: float = 2.0      # a track with no skeleton for longer ends
    smoothing: bool = True
    one_euro: OneEuroParams = OneEuroParams()

    @classmethod
    def from_config(cls, values: Mapping[str, Any], smoothing: bool | None = None) -> "TrackerParams":
        """From refine_node's parameters (config/refinet.yaml keys), so that the node, ``bag refine
        --smooth`` and ``eval --smooth`` filter alike; `smoothing` overrides the config's."""
        euro = OneEuroParams(values["one_euro_min_cutoff"], values["one_euro_beta"], values["one_euro_d_cutoff"],
                             max_gap_s=values["track_max_missing_s"])
        return cls(values["track_gate_m"], values["track_max_missing_s"],
                   values["smoothing"] if smoothing is None else smoothing, euro)


@dataclass
class _Track:
    body_id: str
    detector_id: str
    joints: np.ndarray
    last_ns: int
    filter: OneEuroFilter | None
    uv: np.ndarray | None = None                                          # last 2D keypoints, pixels
    metres_per_px: float = np.nan                                         # slow average at its distance
    velocity: np.ndarray = field(default_factory=lambda: np.zeros(3))    # m/s of the skeleton's centre
    velocity_px: np.ndarray = field(default_factory=lambda: np.zeros(2))  # px/s of its 2D keypoints

    def predicted(self, stamp_ns: int) -> np.ndarray:
        """The skeleton moved on at its velocity to `stamp_ns` (people walk on while occluded or crossing)."""
        return self.joints + self.velocity * max((stamp_ns - self.last_ns) / 1e9, 0.0)

    def predicted_uv(self, stamp_ns: int) -> np.ndarray:
        return self.uv + self.velocity_px * max((stamp_ns - self.last_ns) / 1e9, 0.0)

    def moved_to(self, joints: np.ndarray, stamp_ns: int, uv: np.ndarray | None, metres_per_px: float) -> None:
        dt = (stamp_ns - self.last_ns) / 1e9
        if 0 < dt <= 0.5:
            self.velocity = _follow(self.velocity, joints, self.joints, dt, MAX_SPEED_M_S)
            if uv is not None and self.uv is not None:
                self.velocity_px = _follow(self.velocity_px, uv, self.uv, dt, np.inf)
        if np.isfinite(metres_per_px):
            self.metres_per_px = (metres_per_px if not np.isfinite(self.metres_per_px)
                                  else 0.8 * self.metres_per_px + 0.2 * metres_per_px)
        self.joints, self.last_ns, self.uv = joints, stamp_ns, uv


def _follow(velocity: np.ndarray, now: np.ndarray, before: np.ndarray, dt: float, limit: float) -> np.ndarray:
    """The velocity of a point set's median, smoothed over frames and capped at `limit`."""
    if not (np.isfinite(now).any() and np.isfinite(before).any()):
        return velocity
    step = (nanmedian_last(now.T) - nanmedian_last(before.T)) / dt
    if not np.isfinite(step).all():
        return velocity
    v = 0.5 * velocity + 0.5 * step
    speed = np.linalg.norm(v)
    return v if speed <= limit else v * (limit / speed)


@dataclass
class TrackedFrame:
    """One frame's output: stable ids (one per input skeleton, in input order) and joints."""

    body_ids: list[str]
    joints: np.ndarray          # (K, J, 3), smoothed when smoothing is on
    ended: list[str] = field(default_factory=list)     # tracks that ended at this frame


class Tracker:
    """Stable ids and smoothing over one stream of frames (see the module docstring)."""

    def __init__(self, params: TrackerParams = TrackerParams(), seed: int | None = None) -> None:
        self.params = params
        self._rng = np.random.default_rng(seed)
        self._tracks: dict[str, _Track] = {}
        self._used: set[str] = set()
        self._last_ns: int | None = None

    @property
    def tracked(self) -> list[str]:
        """Ids of the live tracks (ROS4HRI's /humans/bodies/tracked)."""
        return sorted(self._tracks)

    def reset(self) -> list[str]:
        """End every track (time jumped back: a bag looping); returns their ids."""
        ended = self.tracked
        self._tracks.clear()
        self._last_ns = None
        return ended

    def update(self, stamp_ns: int, detector_ids: list[str], joints: np.ndarray, uv: np.ndarray | None = None,
               focal_px: float | None = None) -> TrackedFrame:
        """Ids and joints for the (K, J, 3) skeletons of the frame at `stamp_ns`. With their (K, J, 2)
        image keypoints `uv` and the camera's focal length, tracks are matched in the image (pixel
        distances as metres at each track's own distance): a person hidden behind another is lifted
        onto the nearer one's surface, so in 3D both stand in one place, while their 2D keypoints
        keep their own positions, scale and pose. `joints` must then be in the camera's optical frame."""
        joints = np.asarray(joints, dtype=np.float64)
        if len(detector_ids) != len(joints):
            raise ValueError(f"{len(detector_ids)} ids for {len(joints)} skeletons")
        uv = None if uv is None or not focal_px else np.asarray(uv, dtype=np.float64)
        with np.errstate(all="ignore"):
            scale = (nanmedian_last(joints[..., 2]) / focal_px if uv is not None and len(joints)
                     else np.full(len(joints), np.nan))
        ended = self.reset() if self._last_ns is not None and stamp_ns < self._last_ns else []
        ended += self._expire(stamp_ns)
        self._last_ns = stamp_ns
        assigned: list[str | None] = [None] * len(joints)
        by_detector = {t.detector_id: t.body_id for t in self._tracks.values() if t.detector_id}
        for k, did in enumerate(detector_ids):
            if did and did in by_detector and by_detector[did] not in assigned:
                assigned[k] = by_detector[did]
        self._match_rest(stamp_ns, joints, uv, assigned)
        out = np.empty_like(joints)
        for k, body in enumerate(assigned):
            if body is None:
                body = assigned[k] = self._new_track(detector_ids[k], joints[k])
            track = self._tracks[body]
            if detector_ids[k] and detector_ids[k] != track.detector_id and detector_ids[k] not in by_detector:
                track.detector_id = detector_ids[k]          # the detector renamed it: follow its new id
            track.moved_to(joints[k], stamp_ns, None if uv is None else uv[k], float(scale[k]))
            out[k] = track.filter(joints[k], stamp_ns) if track.filter is not None else joints[k]
        return TrackedFrame(list(assigned), out, ended)

    def _expire(self, stamp_ns: int) -> list[str]:
        gone = [b for b, t in self._tracks.items() if (stamp_ns - t.last_ns) / 1e9 > self.params.max_missing_s]
        for body in gone:
            del self._tracks[body]
        return gone

    def _match_rest(self, stamp_ns: int, joints: np.ndarray, uv: np.ndarray | None,
                    assigned: list[str | None]) -> None:
        """Assign the skeletons without a track yet, tracks seen most recently first (a matching cascade,
        as in DeepSORT): a track missed for a while has a wider gate, and must not take a person from
        the track that followed them in the last frame."""
        free = [b for b in self._tracks if b not in assigned]
        todo = [k for k, a in enumerate(assigned) if a is None]
        if not free or not todo:
            return
        tracks = [self._tracks[b] for b in free]
        cost = self._distances(stamp_ns, joints[todo], None if uv is None else uv[todo], tracks)
        rows = list(range(len(todo)))
        for last_ns in sorted({t.last_ns for t in tracks}, reverse=True):
            if not rows:
                return
            cols = [j for j, t in enumerate(tracks) if t.last_ns == last_ns]
            gate = self.params.gate_m + MAX_SPEED_M_S * max((stamp_ns - last_ns) / 1e9, 0.0)
            pairs = assign(cost[np.ix_(rows, cols)], gate)
            for i, j in pairs:
                assigned[todo[rows[i]]] = free[cols[j]]
            taken = {i for i, _ in pairs}
            rows = [r for i, r in enumerate(rows) if i not in taken]

    @staticmethod
    def _distances(stamp_ns: int, joints: np.ndarray, uv: np.ndarray | None, tracks: list[_Track]) -> np.ndarray:
        """(skeletons, tracks) median joint distances, metres, to each track moved on to `stamp_ns`, the
        smaller of a skeleton's and its left/right mirror's (detectors swap the sides of a person from
        one frame to the next). With image keypoints they are measured in the image, pixels as metres
        at each track's distance."""
        if uv is not None and all(t.uv is not None and np.isfinite(t.metres_per_px) for t in tracks):
            return _mirror_distances(_flat(uv), _flat(np.stack([t.predicted_uv(stamp_ns) for t in tracks]))) \
                * np.array([t.metres_per_px for t in tracks])
        return _mirror_distances(joints, np.stack([t.predicted(stamp_ns) for t in tracks]))

    def _new_track(self, detector_id: str, joints: np.ndarray) -> str:
        body = detector_id if detector_id and detector_id not in self._used else self._new_id()
        self._used.add(body)
        smooth = OneEuroFilter(self.params.one_euro, joints.shape[0]) if self.params.smoothing else None
        self._tracks[body] = _Track(body, detector_id, joints, 0, smooth)
        return body

    def _new_id(self) -> str:
        while True:
            body = "".join(self._rng.choice(list(string.ascii_lowercase), ID_LENGTH))
            if body not in self._used:
                return body


def _mirror_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Median joint distances of skeletons a to b, or of a's left/right mirror when that is nearer."""
    return np.minimum(skeleton_distances(a, b, median=True), skeleton_distances(a[:, FLIP_PERMUTATION], b, median=True))


def _flat(uv: np.ndarray) -> np.ndarray:
    """(K, J, 2) pixels as (K, J, 3) points on a plane, for the skeleton distance."""
    return np.concatenate([uv, np.zeros((*uv.shape[:-1], 1))], -1)


__all__ = ["TrackedFrame", "Tracker", "TrackerParams"]
