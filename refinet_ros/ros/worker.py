"""One background refiner with a one-slot mailbox: bounded memory, bounded latency.

The executor thread hands each synchronised frame to :meth:`LatestWorker.submit` and returns at
once, so subscriptions keep draining while the refiner runs. While the refiner is busy at most one
frame waits; a newer frame replaces it and the replaced one is reported as skipped. Nothing can
queue up behind a slow refiner, and the frame refined next is always the newest.
"""
from __future__ import annotations

import threading
from typing import Any, Callable


class LatestWorker:
    def __init__(self, process: Callable[[Any], None], on_skip: Callable[[Any], None], name: str) -> None:
        self._process = process
        self._on_skip = on_skip
        self._cond = threading.Condition()
        self._pending: Any = None
        self._closed = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def submit(self, item: Any) -> None:
        with self._cond:
            replaced, self._pending = self._pending, item
            self._cond.notify()
        if replaced is not None:
            self._on_skip(replaced)

    def close(self, timeout_s: float = 5.0) -> None:
        """Stop after the frame in progress; a waiting frame is dropped."""
        with self._cond:
            self._closed = True
            self._pending = None
            self._cond.notify()
        self._thread.join(timeout_s)

    def _run(self) -> None:
        while True:
            with self._cond:
                while self._pending is None and not self._closed:
                    self._cond.wait()
                if self._closed:
                    return
                item, self._pending = self._pending, None
            self._process(item)
