"""Health of the refine node: frame counters, rates, latency, throttled warnings, DiagnosticArray.

Every skipped frame has a reason; each reason has its own counter (shown on /diagnostics) and its
own warning throttle, so one noisy fault cannot hide another.
"""
from __future__ import annotations

import threading
import time
from collections import Counter, deque
from typing import Callable

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from std_msgs.msg import Header

#: Why a frame was skipped -> what the diagnostics and the warning call it.
SKIP_REASONS: dict[str, str] = {
    "busy": "refiner still busy with an earlier frame",
    "encoding": "depth image has an unsupported encoding",
    "camera_info": "no valid camera_info received yet",
    "size_mismatch": "depth image and camera_info sizes differ",
    "invalid_depth": "depth image has no valid pixel",
    "keypoint_count": "keypoint count does not match the keypoint layout",
    "bad_keypoints": "every keypoint is NaN, undetected or off-image",
    "time_jump": "time jumped backwards; synchroniser reset",
    "error": "unexpected error while processing",
}
LATENCY_WINDOW = 300


class ThrottledWarner:
    """Logs each reason at most once per `period_s` (rclpy's throttle is per call site, not per reason)."""

    def __init__(self, log: Callable[[str], None], period_s: float) -> None:
        self._log = log
        self._period = period_s
        self._last: dict[str, float] = {}

    def warn(self, reason: str, detail: str) -> None:
        now = time.monotonic()
        if now - self._last.get(reason, -np.inf) >= self._period:
            self._last[reason] = now
            self._log(f"skipping frame: {SKIP_REASONS[reason]}: {detail}")


class FrameStats:
    """Thread-safe counters; the executor thread feeds inputs, the refiner thread results."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.inputs = 0
        self.published = 0
        self.skipped: Counter[str] = Counter()
        self._latency_ms: deque[float] = deque(maxlen=LATENCY_WINDOW)
        self._window_start = time.monotonic()
        self._window_inputs = 0

    def add_input(self) -> None:
        with self._lock:
            self.inputs += 1
            self._window_inputs += 1

    def add_skip(self, reason: str) -> None:
        with self._lock:
            self.skipped[reason] += 1

    def add_published(self, latency_ms: float) -> None:
        with self._lock:
            self.published += 1
            self._latency_ms.append(latency_ms)

    def snapshot(self) -> dict[str, float]:
        """Totals, plus the input rate since the previous snapshot and recent latency percentiles."""
        with self._lock:
            now = time.monotonic()
            rate = self._window_inputs / max(now - self._window_start, 1e-9)
            self._window_start, self._window_inputs = now, 0
            lat = np.array(self._latency_ms) if self._latency_ms else np.array([np.nan])
            out = {"input_rate_hz": rate, "frames_in": self.inputs, "frames_published": self.published,
                   "frames_skipped": sum(self.skipped.values()),
                   "latency_p50_ms": float(np.percentile(lat, 50)), "latency_p95_ms": float(np.percentile(lat, 95))}
            out.update({f"skipped_{r}": self.skipped[r] for r in SKIP_REASONS})
            return out


def diagnostic_array(header: Header, name: str, hardware_id: str, snap: dict[str, float],
                     last_skipped: float) -> DiagnosticArray:
    """One status: OK while every frame is refined, WARN when frames were skipped since the last one."""
    fresh = snap["frames_skipped"] - last_skipped
    level, message = (DiagnosticStatus.WARN, f"{fresh:.0f} frame(s) skipped") if fresh else (DiagnosticStatus.OK, "ok")
    values = [KeyValue(key=k, value=f"{v:.3f}" if isinstance(v, float) else str(v)) for k, v in snap.items()]
    status = DiagnosticStatus(level=level, name=name, message=message, hardware_id=hardware_id, values=values)
    return DiagnosticArray(header=header, status=[status])
