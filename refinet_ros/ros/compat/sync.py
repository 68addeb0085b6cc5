"""Time synchronisation: message_filters when installed, else the built-in twins (builtin_sync.py)."""
from __future__ import annotations

try:
    from message_filters import ApproximateTimeSynchronizer, SimpleFilter, TimeSynchronizer
    HAVE_MESSAGE_FILTERS = True
except ImportError:
    HAVE_MESSAGE_FILTERS = False
    from .builtin_sync import ApproximateTimeSynchronizer, SimpleFilter, TimeSynchronizer  # type: ignore[assignment]


def reset_synchronizer(sync: TimeSynchronizer) -> None:
    """Forget every queued message (after a jump back in time, e.g. a looping bag).

    Both implementations of both classes keep their per-input queues in ``sync.queues`` guarded by
    ``sync.lock``."""
    with sync.lock:
        for queue in sync.queues:
            queue.clear()


__all__ = ["HAVE_MESSAGE_FILTERS", "ApproximateTimeSynchronizer", "SimpleFilter", "TimeSynchronizer",
           "reset_synchronizer"]
