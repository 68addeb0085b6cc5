"""Per-input arrival bookkeeping: counts, staleness, the stream's period and messages lost on the way.

Large images over best-effort QoS are dropped by the middleware without any error at the
subscriber (a 640x480 stream at 30 Hz arrived at 115 of 300 frames). The stamps tell: a camera
stamps every frame, so a gap of k periods between two received stamps means k - 1 frames were
lost. The period is a low percentile of recent stamp gaps, so it stays right even when most frames
are lost. Gaps longer than :data:`PAUSE_PERIODS` periods are a pause of the source, not losses
(staleness reports those), and so is the step after stamps went backwards (a looping bag, or one
stray stamp). Pure Python: the node feeds it from its subscription callbacks.
"""
from __future__ import annotations

import threading
from collections import deque

import numpy as np

from ..stamps import NS_PER_S

#: A gap of more periods than this is the source pausing, not frames lost.
PAUSE_PERIODS = 30
#: Stamp gaps needed before the period (and so any loss) is estimated.
MIN_GAPS = 5


class InputMonitor:
    """One input topic. :meth:`add` per message (stamp in ns, arrival time in monotonic seconds)."""

    def __init__(self, history: int = 60) -> None:
        self._lock = threading.Lock()
        self._gaps: deque[int] = deque(maxlen=history)
        self._last_stamp: int | None = None
        self._after_jump = False
        self._last_arrival = np.nan
        self.count = 0
        self.lost = 0               # inferred from stamp gaps
        self.reported_lost = 0      # reported by the middleware (message_lost events)
        self.incompatible_qos = 0

    def add(self, stamp_ns: int, arrival_s: float) -> None:
        with self._lock:
            self.count += 1
            self._last_arrival = arrival_s
            last, self._last_stamp = self._last_stamp, stamp_ns
            if last is None or stamp_ns < last:      # the first message, or the source started over
                self._after_jump = last is not None
                return
            gap, after_jump, self._after_jump = stamp_ns - last, self._after_jump, False
            period = self._period_ns()
            if gap and not after_jump:               # after a jump back, the way forward is no loss
                missed = round(gap / period) - 1 if period else 0
                if 0 < missed <= PAUSE_PERIODS:
                    self.lost += missed
                self._gaps.append(gap)

    def _period_ns(self) -> float:
        return float(np.percentile(self._gaps, 10)) if len(self._gaps) >= MIN_GAPS else 0.0

    @property
    def period_s(self) -> float:
        """The stream's frame period (NaN until enough messages arrived)."""
        with self._lock:
            period = self._period_ns()
        return period / NS_PER_S if period else float("nan")

    def age_s(self, now_s: float) -> float:
        """Seconds since the last message (NaN if none ever arrived)."""
        return now_s - self._last_arrival
