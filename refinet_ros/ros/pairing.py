"""Depth + 2D pose pairing that prefers exact stamps and falls back to approximate matching.

A detector that copies the image header (the usual case, and what our bags hold) gives its poses
the depth image's stamp. message_filters' ApproximateTimeSynchronizer then still pairs greedily:
when a depth frame is lost, its pose stays queued and the next depth image, arriving before its
own pose, takes the stale one if it lies within ``slop``; every later frame repeats the mistake
(at 60 Hz with a 20 ms slop, 109 of 114 outputs used the previous frame's pose). So both
synchronisers of message_filters run side by side on the same inputs: while the streams are seen
to share stamps (an exact pair among the last ``queue_size`` depth messages), only the exact
:class:`TimeSynchronizer`'s pairs are used; otherwise the approximate one's, with its own semantics.
"""
from __future__ import annotations

import threading
from typing import Any, Callable

from .compat.sync import ApproximateTimeSynchronizer, SimpleFilter, TimeSynchronizer, reset_synchronizer


class ExactFirstPairing:
    """Feed :meth:`add_depth` / :meth:`add_pose`; `on_pair(depth, pose)` gets each pair."""

    def __init__(self, queue_size: int, slop_s: float, on_pair: Callable[[Any, Any], None]) -> None:
        self._on_pair = on_pair
        self._window = queue_size
        self._depth_in, self._pose_in = SimpleFilter(), SimpleFilter()
        inputs = [self._depth_in, self._pose_in]
        self._exact = TimeSynchronizer(inputs, queue_size)          # registered first: runs first
        self._approx = ApproximateTimeSynchronizer(inputs, queue_size, slop_s)
        self._exact.registerCallback(self._exact_pair)
        self._approx.registerCallback(self._approx_pair)
        self._lock = threading.Lock()
        self._depth_since_exact = queue_size + 1      # no evidence of shared stamps yet
        self.pairs = 0

    @property
    def exact_mode(self) -> bool:
        """True while the inputs share stamps (approximate matches are then ignored)."""
        return self._depth_since_exact <= self._window

    def add_depth(self, msg: Any) -> None:
        with self._lock:
            self._depth_since_exact += 1
        self._depth_in.signalMessage(msg)

    def add_pose(self, msg: Any) -> None:
        self._pose_in.signalMessage(msg)

    def reset(self) -> None:
        """Forget queued messages (time went backwards); the stamp-sharing evidence is kept."""
        for sync in (self._exact, self._approx):
            reset_synchronizer(sync)

    def _exact_pair(self, depth: Any, pose: Any) -> None:
        with self._lock:
            self._depth_since_exact = 0
            self.pairs += 1
        self._on_pair(depth, pose)

    def _approx_pair(self, depth: Any, pose: Any) -> None:
        if self.exact_mode:
            return
        with self._lock:
            self.pairs += 1
        self._on_pair(depth, pose)
