"""Rigid transforms and a time-indexed frame tree with tf2's lookup semantics, in pure numpy.

The node expresses skeletons in a robot frame (``target_frame``) with the transform at the image's
stamp. In a ROS install tf2_ros does the lookup; without it (pip-only rclpy) the built-in twin in
ros/compat/tf_buffer.py runs on :class:`FrameTree`, which follows tf2's BufferCore:

* each frame has one parent; an edge holds a time-sorted history (``cache_s`` long) or is static;
* a lookup at time t interpolates every edge on the path (translation linearly, rotation by slerp);
  t = 0 means the latest time that every edge of the path has;
* a time outside an edge's history is an extrapolation error, a frame not in the tree or in another
  tree a lookup error: never a guess from the latest transform.

Quaternions are (x, y, z, w) as in geometry_msgs; times are integer nanoseconds.
"""
from __future__ import annotations

import bisect
from dataclasses import dataclass, field

import numpy as np


class TransformLookupError(LookupError):
    """No transform: an unknown frame, frames in unconnected trees, or a time outside the data."""


@dataclass(frozen=True)
class Rigid:
    """x' = R(q) x + t: maps points from the child (source) frame into the parent (target) frame."""

    translation: tuple[float, float, float] = (0.0, 0.0, 0.0)
    rotation: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 1.0)     # x, y, z, w

    def __mul__(self, other: "Rigid") -> "Rigid":
        """self after other: (self * other)(x) = self(other(x))."""
        t = np.add(self.translation, rotate(self.rotation, other.translation))
        return Rigid(tuple(float(v) for v in t), quat_multiply(self.rotation, other.rotation))

    def inverse(self) -> "Rigid":
        q = (-self.rotation[0], -self.rotation[1], -self.rotation[2], self.rotation[3])
        t = -np.asarray(rotate(q, self.translation))
        return Rigid(tuple(float(v) for v in t), q)

    def apply(self, points: np.ndarray) -> np.ndarray:
        """(..., 3) points mapped; NaN points stay NaN."""
        points = np.asarray(points, dtype=np.float64)
        return points @ rotation_matrix(self.rotation).T + np.asarray(self.translation)

    @property
    def is_identity(self) -> bool:
        return self.translation == (0.0, 0.0, 0.0) and abs(abs(self.rotation[3]) - 1.0) < 1e-12


def quat_multiply(a: tuple, b: tuple) -> tuple[float, float, float, float]:
    ax, ay, az, aw = a
    bx, by, bz, bw = b
    return (aw * bx + ax * bw + ay * bz - az * by, aw * by - ax * bz + ay * bw + az * bx,
            aw * bz + ax * by - ay * bx + az * bw, aw * bw - ax * bx - ay * by - az * bz)


def rotation_matrix(q: tuple) -> np.ndarray:
    x, y, z, w = np.asarray(q, dtype=np.float64) / np.linalg.norm(q)
    return np.array([[1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
                     [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
                     [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)]])


def rotate(q: tuple, v) -> tuple[float, float, float]:
    if tuple(q[:3]) == (0.0, 0.0, 0.0):
        return tuple(float(c) for c in v)
    return tuple(float(c) for c in rotation_matrix(q) @ np.asarray(v, dtype=np.float64))


def slerp(a: tuple, b: tuple, f: float) -> tuple[float, float, float, float]:
    a, b = np.asarray(a, float), np.asarray(b, float)
    dot = float(a @ b)
    if dot < 0.0:                       # the shorter way round
        b, dot = -b, -dot
    if dot > 0.9995:                    # nearly equal: linear, then normalised
        q = a + f * (b - a)
    else:
        theta = np.arccos(dot)
        q = (np.sin((1 - f) * theta) * a + np.sin(f * theta) * b) / np.sin(theta)
    return tuple(float(v) for v in q / np.linalg.norm(q))


def interpolate(a: Rigid, b: Rigid, f: float) -> Rigid:
    t = tuple(float(x + f * (y - x)) for x, y in zip(a.translation, b.translation))
    return Rigid(t, slerp(a.rotation, b.rotation, f))


@dataclass
class _Edge:
    """A frame's link to its parent: a time-sorted history, or one static transform."""

    parent: str
    static: bool
    stamps: list[int] = field(default_factory=list)
    values: list[Rigid] = field(default_factory=list)

    def at(self, stamp: int, child: str) -> Rigid:
        if self.static:
            return self.values[-1]
        if stamp == 0:
            return self.values[-1]
        i = bisect.bisect_left(self.stamps, stamp)
        if i < len(self.stamps) and self.stamps[i] == stamp:
            return self.values[i]
        if i == 0 or i == len(self.stamps):
            side = "past" if i == 0 else "future"
            raise TransformLookupError(
                f"extrapolation into the {side}: {child} -> {self.parent} at {stamp / 1e9:.6f} s, data from "
                f"{self.stamps[0] / 1e9:.6f} to {self.stamps[-1] / 1e9:.6f} s")
        t0, t1 = self.stamps[i - 1], self.stamps[i]
        return interpolate(self.values[i - 1], self.values[i], (stamp - t0) / (t1 - t0))

    def latest(self) -> int | None:
        return None if self.static else self.stamps[-1]


class FrameTree:
    """tf2's BufferCore in numpy: set transforms (parent, child, stamp), look them up (see module)."""

    def __init__(self, cache_s: float = 10.0) -> None:
        self.cache_ns = int(cache_s * 1e9)
        self._edges: dict[str, _Edge] = {}

    def set_transform(self, parent: str, child: str, stamp_ns: int, value: Rigid, static: bool = False) -> None:
        if not parent or not child or parent == child:
            raise ValueError(f"a transform needs two different frame ids (got {parent!r} -> {child!r})")
        edge = self._edges.get(child)
        if edge is None or edge.static != static or edge.parent != parent:
            edge = self._edges[child] = _Edge(parent, static)
        if static:
            edge.stamps, edge.values = [stamp_ns], [value]
            return
        i = bisect.bisect_left(edge.stamps, stamp_ns)
        if i < len(edge.stamps) and edge.stamps[i] == stamp_ns:
            edge.values[i] = value
        else:
            edge.stamps.insert(i, stamp_ns)
            edge.values.insert(i, value)
        keep = bisect.bisect_left(edge.stamps, edge.stamps[-1] - self.cache_ns)
        del edge.stamps[:keep], edge.values[:keep]

    def frames(self) -> set[str]:
        return set(self._edges) | {e.parent for e in self._edges.values()}

    def clear(self) -> None:
        self._edges.clear()

    def _chain(self, frame: str) -> list[str]:
        chain = [frame]
        while chain[-1] in self._edges:
            chain.append(self._edges[chain[-1]].parent)
            if len(chain) > 10_000:
                raise TransformLookupError(f"a loop in the frame tree above {frame}")
        return chain

    def _path(self, target: str, source: str) -> tuple[list[str], list[str]]:
        """Frames from source up to the common ancestor, and from target up to it (ancestor excluded)."""
        for frame in (target, source):
            if frame not in self.frames():
                raise TransformLookupError(f'frame "{frame}" does not exist')
        up, down = self._chain(source), self._chain(target)
        common = next((f for f in up if f in set(down)), None)
        if common is None:
            raise TransformLookupError(f"{source} and {target} are not in the same tree")
        return up[:up.index(common)], down[:down.index(common)]

    def latest_common_time(self, target: str, source: str) -> int:
        """The newest time every edge between the two frames has (0 when all are static)."""
        up, down = self._path(target, source)
        latest = [t for f in up + down if (t := self._edges[f].latest()) is not None]
        return min(latest) if latest else 0

    def lookup(self, target: str, source: str, stamp_ns: int) -> tuple[Rigid, int]:
        """(transform mapping source-frame points into target, the time it holds for)."""
        if target == source:
            return Rigid(), stamp_ns
        up, down = self._path(target, source)
        when = self.latest_common_time(target, source) if stamp_ns == 0 else stamp_ns
        to_common = Rigid()
        for frame in up:                                  # source -> ... -> common
            to_common = self._edges[frame].at(when, frame) * to_common
        from_target = Rigid()
        for frame in down:                                # target -> ... -> common
            from_target = self._edges[frame].at(when, frame) * from_target
        return from_target.inverse() * to_common if down else to_common, when

    def can_transform(self, target: str, source: str, stamp_ns: int) -> bool:
        try:
            self.lookup(target, source, stamp_ns)
        except TransformLookupError:
            return False
        return True


__all__ = ["FrameTree", "Rigid", "TransformLookupError", "interpolate", "rotation_matrix", "slerp"]
