"""Built-in twins of message_filters' SimpleFilter, TimeSynchronizer and ApproximateTimeSynchronizer.

They follow the Python message_filters API and semantics (Humble .. Kilted), and make
upstream's own test_approxsync.py scenarios pass (`make ros-check` runs it against both):
inputs are ``SimpleFilter`` objects; each input keeps a ``{stamp_ns: msg}`` queue bounded by
``queue_size`` (the oldest stamp is dropped). Stamps may be builtin_interfaces/Time messages or
rclpy ``Time`` objects; a headerless message is stamped with the ROS clock's now when
``allow_headerless`` is set, and dropped otherwise. ``TimeSynchronizer`` emits every set of
messages with one identical stamp. ``ApproximateTimeSynchronizer``: when a message arrives, the
candidates of every other queue within ``slop`` of its stamp are tried nearest first, and the first
combination whose stamps span less than ``slop`` is emitted (the new message is always part of it)
and removed from the queues. ``slop`` is truncated to whole nanoseconds, as rclpy's Duration does.
Callbacks run under the synchroniser's lock, as upstream's do. Unmatched older messages leave only
through the queue bound.
"""
from __future__ import annotations

import itertools
import threading
from typing import Any, Callable, Sequence

from rclpy.clock import ROSClock


def stamp_of(msg: Any, allow_headerless: bool = False) -> int | None:
    """A message's stamp in ns (rclpy Time or builtin_interfaces/Time); None for a headerless
    message unless `allow_headerless`, which stamps it now."""
    stamp = getattr(getattr(msg, "header", None), "stamp", None)
    if stamp is None:
        return ROSClock().now().nanoseconds if allow_headerless else None
    if hasattr(stamp, "nanoseconds"):
        return int(stamp.nanoseconds)
    return int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec)


class SimpleFilter:
    """A message source other filters connect to (message_filters.SimpleFilter)."""

    def __init__(self) -> None:
        self.callbacks: dict[int, tuple[Callable[..., Any], tuple]] = {}

    def registerCallback(self, cb: Callable[..., Any], *args: Any) -> int:  # noqa: N802 (ROS API)
        conn = len(self.callbacks)
        self.callbacks[conn] = (cb, args)
        return conn

    def signalMessage(self, *msg: Any) -> None:  # noqa: N802 (ROS API)
        for cb, args in list(self.callbacks.values()):
            cb(*(msg + args))


class TimeSynchronizer(SimpleFilter):
    """message_filters.TimeSynchronizer(fs, queue_size): sets of messages with identical stamps."""

    allow_headerless = False

    def __init__(self, fs: Sequence[SimpleFilter], queue_size: int) -> None:
        super().__init__()
        self.queue_size = int(queue_size)
        self.lock = threading.Lock()
        self.queues: list[dict[int, Any]] = [{} for _ in fs]
        for i, f in enumerate(fs):
            f.registerCallback(self.add, self.queues[i], i)

    def _enqueue(self, msg: Any, my_queue: dict[int, Any]) -> int | None:
        """Queue `msg` under its stamp (the lock held); None if it has none or was dropped at once."""
        stamp = stamp_of(msg, self.allow_headerless)
        if stamp is None:
            return None
        my_queue[stamp] = msg
        while len(my_queue) > self.queue_size:
            del my_queue[min(my_queue)]
        return stamp if stamp in my_queue else None

    def add(self, msg: Any, my_queue: dict[int, Any], my_queue_index: int | None = None) -> None:
        with self.lock:
            if self._enqueue(msg, my_queue) is None:
                return
            for t in sorted(set.intersection(*(set(q) for q in self.queues))):
                self.signalMessage(*(q.pop(t) for q in self.queues))


class ApproximateTimeSynchronizer(TimeSynchronizer):
    """message_filters.ApproximateTimeSynchronizer(fs, queue_size, slop, allow_headerless=False)."""

    def __init__(self, fs: Sequence[SimpleFilter], queue_size: int, slop: float,
                 allow_headerless: bool = False) -> None:
        self.slop_ns = int(slop * 1e9)
        self.allow_headerless = allow_headerless
        super().__init__(fs, queue_size)

    def add(self, msg: Any, my_queue: dict[int, Any], my_queue_index: int | None = None) -> None:
        with self.lock:
            stamp = self._enqueue(msg, my_queue)
            if stamp is None:
                return
            index = self.queues.index(my_queue) if my_queue_index is None else my_queue_index
            match = self._match(stamp, index)
            if match is not None:
                self.signalMessage(*(q.pop(t) for q, t in zip(self.queues, match)))

    def _match(self, stamp: int, index: int) -> list[int] | None:
        """Stamps (one per queue) of the first set around `stamp` that spans less than slop."""
        candidates = []
        for i, queue in enumerate(self.queues):
            if i == index:
                candidates.append([stamp])
                continue
            near = sorted((s for s in queue if abs(s - stamp) <= self.slop_ns), key=lambda s: abs(s - stamp))
            if not near:
                return None
            candidates.append(near)
        for combo in itertools.product(*candidates):
            if max(combo) - min(combo) < self.slop_ns:
                return list(combo)
        return None
