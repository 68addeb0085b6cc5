"""Health of the refine node: counters, rates, latency, throttled warnings, DiagnosticArray.

Every skipped frame has a reason and every repaired input a kind; each has its own counter (shown on
/diagnostics) and its own warning throttle, so one noisy fault cannot hide another. The status level
says what an operator must know: ERROR when nothing can be produced (no depth or camera_info, an
incompatible publisher), WARN when input is lost or output falls behind, OK otherwise. Nothing here
imports rclpy: the node assembles a snapshot and :func:`assess` judges it.
"""
from __future__ import annotations

import threading
import time
from collections import Counter, deque
from dataclasses import dataclass
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
    "distortion": "camera_info has a distortion model that is not supported",
    "pose_camera_info": "no valid camera_info of the pose camera (pose_camera_info_topic) received yet",
    "invalid_depth": "depth image has no valid pixel",
    "detector_size": "depth image too small for the depth detector (detector: depth)",
    "keypoint_count": "keypoint count does not match the keypoint layout",
    "keypoint_units": "keypoints in normalised coordinates where pixels are expected, or the reverse",
    "bad_keypoints": "every keypoint is NaN, undetected or off-image",
    "zero_stamp": "input stamp is zero (the publisher does not stamp its messages)",
    "repeated_stamp": "a result for this stamp was already published",
    "tf": "no transform to target_frame at the image stamp within tf_timeout",
    "error": "unexpected error while processing",
}
#: Inputs that were repaired and used -> what the diagnostics and the warning call it.
REPAIRS: dict[str, str] = {
    "confidence": "2D confidence NaN/inf or outside [0, 1], or a keypoint inf; cleaned (NaN -> 0, clipped)",
    "duplicate_id": "body ids repeated within one message (or equal once made frame-name safe); made unique",
    "max_bodies": "more people than max_bodies; the least confident were not refined",
}
#: Conditions reported once per throttle period that are neither skips nor repairs.
NOTICES: dict[str, str] = {
    "time_jump": "time jumped backwards; synchroniser reset",
    "hri_id": "a ROS4HRI body id that cannot name a topic; that body is ignored",
    "sync_slop": "sync_slop is at least half the input period: neighbouring frames can be paired",
    "incompatible_qos": "a publisher's QoS is incompatible with this subscription; its messages never arrive",
    "message_lost": "the middleware reports lost input messages",
}
LATENCY_WINDOW = 300
#: WARN when the output rate over a diagnostics period is below this share of the input rate.
MIN_OUTPUT_SHARE = 0.5


class ThrottledWarner:
    """Logs each key at most once per `period_s` (rclpy's throttle is per call site, not per reason)."""

    def __init__(self, log: Callable[[str], None], period_s: float) -> None:
        self._log = log
        self._period = period_s
        self._last: dict[str, float] = {}
        self._lock = threading.Lock()

    def warn(self, key: str, detail: str) -> None:
        now = time.monotonic()
        with self._lock:
            if now - self._last.get(key, -np.inf) < self._period:
                return
            self._last[key] = now
        self._log(f"{_describe(key)}: {detail}")


def _describe(key: str) -> str:
    if key in SKIP_REASONS:
        return f"skipping frame: {SKIP_REASONS[key]}"
    if key in REPAIRS:
        return f"input repaired: {REPAIRS[key]}"
    return NOTICES[key]


class FrameStats:
    """Thread-safe counters; the executor thread feeds inputs, the refiner thread results."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.inputs = 0
        self.published = 0
        self.sync_resets = 0
        self.skipped: Counter[str] = Counter()
        self.repaired: Counter[str] = Counter()
        self._latency_ms: deque[float] = deque(maxlen=LATENCY_WINDOW)
        self._window_start = time.monotonic()
        self._window = Counter()

    def add_input(self) -> None:
        with self._lock:
            self.inputs += 1
            self._window["in"] += 1

    def add_skip(self, reason: str) -> None:
        with self._lock:
            self.skipped[reason] += 1

    def add_repair(self, kind: str, count: int = 1) -> None:
        with self._lock:
            self.repaired[kind] += count

    def add_reset(self) -> None:
        with self._lock:
            self.sync_resets += 1

    def add_published(self, latency_ms: float) -> None:
        with self._lock:
            self.published += 1
            self._window["out"] += 1
            self._latency_ms.append(latency_ms)

    def snapshot(self) -> dict[str, float]:
        """Totals, the input/output rates since the previous snapshot, and recent latency percentiles."""
        with self._lock:
            now = time.monotonic()
            dt = max(now - self._window_start, 1e-9)
            rates = {"input_rate_hz": self._window["in"] / dt, "output_rate_hz": self._window["out"] / dt}
            self._window_start, self._window = now, Counter()
            lat = np.array(self._latency_ms) if self._latency_ms else np.array([np.nan])
            out = {**rates, "frames_in": self.inputs, "frames_published": self.published,
                   "frames_skipped": sum(self.skipped.values()), "sync_resets": self.sync_resets,
                   "latency_p50_ms": float(np.percentile(lat, 50)), "latency_p95_ms": float(np.percentile(lat, 95))}
            out.update({f"skipped_{r}": self.skipped[r] for r in SKIP_REASONS})
            out.update({f"repaired_{r}": self.repaired[r] for r in REPAIRS})
            return out


@dataclass(frozen=True)
class HealthLimits:
    """What the node's configuration says about healthy input."""

    input_timeout_s: float     # depth/camera_info/pose older than this are stale
    sync_slop_s: float


def slop_too_wide(snap: dict[str, float], sync_slop_s: float) -> bool:
    """Approximate pairing with a slop of at least half the measured depth period: neighbouring frames
    can be paired (exact-stamp pairing ignores the slop)."""
    return not snap["sync_exact"] and sync_slop_s * 2e3 >= snap["depth_period_ms"]


def assess(snap: dict[str, float], last: dict[str, float], limits: HealthLimits) -> tuple[bytes, list[str]]:
    """(DiagnosticStatus level, problems) of a snapshot, given the previous one (deltas since then).

    `snap` holds FrameStats' keys plus the node's per-input keys: ``<input>_age_s`` (NaN = never
    received), ``<input>_lost``, ``<input>_unpaired``, ``<input>_incompatible_qos``, ``depth_period_ms``
    and ``sync_exact``."""
    errors, warnings = [], []
    delta = {k: snap[k] - last.get(k, 0) for k, v in snap.items() if isinstance(v, (int, float))}
    for name, fatal in (("depth", True), ("camera_info", True), ("pose", False)):
        age = snap[f"{name}_age_s"]
        if not age <= limits.input_timeout_s:       # NaN (never) or stale
            text = f"no {name} received" + ("" if np.isnan(age) else f" for {age:.1f} s")
            (errors if fatal else warnings).append(text)
        if delta.get(f"{name}_incompatible_qos", 0) > 0 or (snap.get(f"{name}_incompatible_qos", 0)
                                                               and not age <= limits.input_timeout_s):
            errors.append(f"{name}: incompatible QoS offered by a publisher")
    for name in ("depth", "pose"):
        if delta[f"{name}_lost"] > 0:
            warnings.append(f"{delta[f'{name}_lost']:.0f} {name} message(s) lost in transport "
                            "(use reliable QoS for large images)")
    if delta["pose_unpaired"] > 2:
        warnings.append(f"{delta['pose_unpaired']:.0f} pose message(s) found no depth image")
    if delta["frames_skipped"] > 0:
        warnings.append(f"{delta['frames_skipped']:.0f} frame(s) skipped")
    expected = min(snap["input_rate_hz"], snap["pose_rate_hz"])
    if expected > 0 and snap["output_rate_hz"] < MIN_OUTPUT_SHARE * expected:
        warnings.append(f"output {snap['output_rate_hz']:.1f} Hz for {expected:.1f} Hz of input")
    if slop_too_wide(snap, limits.sync_slop_s):
        warnings.append(f"sync_slop {limits.sync_slop_s:g} s >= half the {snap['depth_period_ms']:.0f} ms "
                        "input period")
    level = DiagnosticStatus.ERROR if errors else DiagnosticStatus.WARN if warnings else DiagnosticStatus.OK
    return level, errors + warnings


def diagnostic_array(header: Header, name: str, hardware_id: str, snap: dict[str, float],
                     level: bytes, problems: list[str]) -> DiagnosticArray:
    """One status with every snapshot value as a KeyValue."""
    values = [KeyValue(key=k, value=f"{v:.3f}" if isinstance(v, float) else str(v)) for k, v in snap.items()]
    status = DiagnosticStatus(level=level, name=name, message="; ".join(problems) or "ok",
                              hardware_id=hardware_id, values=values)
    return DiagnosticArray(header=header, status=[status])
