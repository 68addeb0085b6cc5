"""Time synchronisation: message_filters when installed, else built-in twins.

The built-in classes follow the Python message_filters API and semantics (Humble .. Kilted):
inputs are ``SimpleFilter`` objects; each input keeps a ``{stamp_ns: msg}`` queue bounded by
``queue_size`` (the oldest stamp is dropped). ``TimeSynchronizer`` emits every set of messages with
one identical stamp. ``ApproximateTimeSynchronizer``: when a message arrives, the candidates of
every other queue within ``slop`` of its stamp are tried nearest first, and the first combination
whose stamps span less than ``slop`` is emitted (the new message is always part of it) and removed
from the queues. Unmatched older messages leave only through the queue bound.
"""
from __future__ import annotations

import itertools
import threading
from typing import Any, Callable, Sequence

try:
    from message_filters import ApproximateTimeSynchronizer, SimpleFilter, TimeSynchronizer
    HAVE_MESSAGE_FILTERS = True
except ImportError:
    HAVE_MESSAGE_FILTERS = False

    class SimpleFilter:  # type: ignore[no-redef]
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

    def _stamp(msg: Any) -> int:
        return msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec

    class TimeSynchronizer(SimpleFilter):  # type: ignore[no-redef]
        """message_filters.TimeSynchronizer(fs, queue_size): sets of messages with identical stamps."""

        def __init__(self, fs: Sequence[SimpleFilter], queue_size: int) -> None:
            super().__init__()
            self.queue_size = int(queue_size)
            self.lock = threading.Lock()
            self.queues: list[dict[int, Any]] = [{} for _ in fs]
            for i, f in enumerate(fs):
                f.registerCallback(self.add, self.queues[i], i)

        def add(self, msg: Any, my_queue: dict[int, Any], my_queue_index: int | None = None) -> None:
            with self.lock:
                my_queue[_stamp(msg)] = msg
                while len(my_queue) > self.queue_size:
                    del my_queue[min(my_queue)]
                common = set.intersection(*(set(q) for q in self.queues))
                for t in sorted(common):
                    self.signalMessage(*(q.pop(t) for q in self.queues))

    class ApproximateTimeSynchronizer(TimeSynchronizer):  # type: ignore[no-redef]
        """message_filters.ApproximateTimeSynchronizer(fs, queue_size, slop) for stamped messages."""

        def __init__(self, fs: Sequence[SimpleFilter], queue_size: int, slop: float) -> None:
            self.slop_ns = int(round(slop * 1e9))
            super().__init__(fs, queue_size)

        def add(self, msg: Any, my_queue: dict[int, Any], my_queue_index: int | None = None) -> None:
            stamp = _stamp(msg)
            with self.lock:
                my_queue[stamp] = msg
                while len(my_queue) > self.queue_size:
                    del my_queue[min(my_queue)]
                if stamp not in my_queue:      # older than everything queued: dropped at once
                    return
                match = self._match(stamp, my_queue_index)
                if match is None:
                    return
                msgs = [q.pop(t) for q, t in zip(self.queues, match)]
            self.signalMessage(*msgs)

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


def reset_synchronizer(sync: TimeSynchronizer) -> None:
    """Forget every queued message (after a jump back in time, e.g. a looping bag).

    Both implementations of both classes keep their per-input queues in ``sync.queues`` guarded by
    ``sync.lock``."""
    with sync.lock:
        for queue in sync.queues:
            queue.clear()


__all__ = ["HAVE_MESSAGE_FILTERS", "ApproximateTimeSynchronizer", "SimpleFilter", "TimeSynchronizer",
           "reset_synchronizer"]
