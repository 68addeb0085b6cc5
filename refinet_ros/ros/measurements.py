"""Per-body measurements for the refine node: BodyMeasurements messages and an RViz stature label.

The refiner thread feeds every refined skeleton to :meth:`MeasurementPublisher.update`; a thread of
the publisher's own publishes at a low rate (people do not change size, and a consumer wants a settled value, not
frame-rate jitter). Each body's values are the sliding-window median of its per-frame
measurements (:class:`~refinet_ros.core.anthropometry.SlidingWindowEstimator`), with the spread.

Stature: with a model trained by ``refinet anthropometry train`` it is the median of the
regressor's per-frame standing-height estimates over the window (exactly what
``refinet anthropometry eval`` scores); the regressor runs at publish time, on the window's
feature rows, so the refiner thread only pays for a few distances per body. Without a model it
is the joint-chain height (head centre to ankle), shorter than the standing height by the crown
and the sole (~10 %); the text marker says which.
"""
from __future__ import annotations

import threading
import zlib
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np
from builtin_interfaces.msg import Duration, Time as TimeMsg
from geometry_msgs.msg import Point
from rclpy.node import Node
from std_msgs.msg import ColorRGBA, Header
from visualization_msgs.msg import Marker, MarkerArray

from ..core.anthropometry import MEASUREMENTS, Estimate, SlidingWindowEstimator, summarise
from ..core.anthropometry_regression import FEATURES, StatureModel, features
from ..core.joints import HEAD
from ..msg import BodyMeasurements
from ..stamps import seconds_ns, stamp_msg, stamp_ns

#: Text placed this far above the head centre, along the image's up direction (optical -y).
LABEL_OFFSET_M = 0.25
LABEL_HEIGHT_M = 0.08
_STATURE = MEASUREMENTS.index("stature")


def measurements_msg(header: Header, body_id: str, estimate: Estimate) -> BodyMeasurements:
    """One body's (K,) estimate -> BodyMeasurements (NaN where unknown)."""
    msg = BodyMeasurements(header=header, body_id=body_id, n_frames=int(estimate.count.max(initial=0)))
    for name, value, spread in zip(MEASUREMENTS, estimate.value, estimate.spread):
        setattr(msg, name, float(value))
        setattr(msg, f"{name}_spread", float(spread))
    return msg


def stature_marker(header: Header, body_id: str, head: np.ndarray, stature: float, spread: float,
                   lifetime_s: float, learned: bool) -> Marker:
    """A view-facing text above the head, e.g. 'height 1.78 m ±2 cm' ('chain' without a model)."""
    kind = "height" if learned else "chain height"
    m = Marker(header=header, ns="refinet/stature", id=zlib.crc32(body_id.encode()) & 0x7FFFFFFF,
               type=Marker.TEXT_VIEW_FACING, action=Marker.ADD, text=f"{kind} {stature:.2f} m ±{100 * spread:.0f} cm",
               color=ColorRGBA(r=1.0, g=1.0, b=1.0, a=1.0),
               lifetime=stamp_msg(Duration, seconds_ns(lifetime_s)))
    m.pose.position = Point(x=float(head[0]), y=float(head[1]) - LABEL_OFFSET_M, z=float(head[2]))
    m.pose.orientation.w = 1.0
    m.scale.z = LABEL_HEIGHT_M
    return m


def window_estimate(rows: np.ndarray, min_frames: int, model: StatureModel | None = None,
                    regressor: str = "RF") -> Estimate:
    """(n, F) window of :func:`features` rows -> (K,) measurement estimate; with a model, the
    stature is the median of its per-frame predictions (frames missing a feature are skipped)."""
    est = summarise(rows[:, :len(MEASUREMENTS)], min_frames)
    if model is None:
        return est
    stature = summarise(model.predict_features(rows, regressor)[:, None], min_frames)
    for arr, new in ((est.value, stature.value), (est.spread, stature.spread), (est.count, stature.count)):
        arr[_STATURE] = new[0]
    return est


@dataclass
class _Body:
    estimator: SlidingWindowEstimator
    header: Header = field(default_factory=Header)
    head: np.ndarray = field(default_factory=lambda: np.full(3, np.nan))


class MeasurementPublisher:
    """Owned by the refine node: collects per-body measurements, publishes them every 1/rate_hz s.

    Bodies are keyed by the label given to :meth:`update`. A body not seen for `forget_after_s` (in
    stamp time, so bag playback works) is dropped, and at most `max_bodies` are kept (the longest
    unseen goes first), so churning ids cannot grow the table or the publish work without bound.
    Publishing (one regressor call per body) runs on a thread of its own, never on the executor
    thread that drains the subscriptions; :meth:`close` stops it."""

    def __init__(self, node: Node, rate_hz: float = 1.0, topic: str = "refinet/body_measurements",
                 markers_topic: str = "refinet/markers", window: int = 30, min_frames: int = 5,
                 stature_model: StatureModel | None = None, regressor: str = "RF",
                 forget_after_s: float = 5.0, max_bodies: int = 64) -> None:
        if rate_hz <= 0:
            raise ValueError(f"measurement rate must be > 0 Hz, got {rate_hz}")
        if stature_model is not None and regressor not in stature_model.regressors:
            raise ValueError(f"regressor {regressor!r} not in the model ({', '.join(stature_model.regressors)})")
        self._window, self._min_frames = window, min_frames
        self._model, self._regressor = stature_model, regressor
        self._forget_ns = seconds_ns(forget_after_s)
        self._max_bodies = max_bodies
        self._period_s = 1.0 / rate_hz
        self._lifetime_s = 2.5 / rate_hz
        self._bodies: OrderedDict[str, _Body] = OrderedDict()     # least recently updated first
        self._lock = threading.Lock()
        self._pub = node.create_publisher(BodyMeasurements, topic, 10)
        self._pub_markers = node.create_publisher(MarkerArray, markers_topic, 10)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"{node.get_name()}_measurements", daemon=True)
        self._thread.start()

    @classmethod
    def from_config(cls, node: Node, config) -> "MeasurementPublisher":
        """The refine node's publisher, from its validated NodeConfig; a bad model file is a ValueError."""
        model = StatureModel.load(config.measurement_model) if config.measurement_model else None
        return cls(node, config.measurement_rate, config.measurements_topic, config.markers_topic,
                   stature_model=model)

    def update(self, body_id: str, joints: np.ndarray, stamp: TimeMsg, frame_id: str) -> None:
        """Add one refined (15, 3) skeleton (NaN = missing joint). Thread-safe."""
        joints = np.asarray(joints, dtype=np.float64)
        row = features(joints[None])[0]
        with self._lock:
            body = self._bodies.pop(body_id, None) or _Body(
                SlidingWindowEstimator(self._window, self._min_frames, len(FEATURES)))
            self._bodies[body_id] = body
            while len(self._bodies) > self._max_bodies:
                self._bodies.popitem(last=False)
            body.estimator.update(row)
            body.header = Header(stamp=stamp, frame_id=frame_id)
            if np.isfinite(joints[HEAD]).all():
                body.head = joints[HEAD].copy()

    @property
    def tracked(self) -> int:
        with self._lock:
            return len(self._bodies)

    def close(self) -> None:
        """Stop publishing (before the node and its context go away)."""
        self._stop.set()
        self._thread.join(5.0)

    def _run(self) -> None:
        while not self._stop.wait(self._period_s):
            self.publish()

    def publish(self) -> None:
        """One BodyMeasurements per known body, stature labels for the subscribed."""
        with self._lock:
            self._forget_stale()
            snapshot = [(bid, b.header, b.head.copy(), b.estimator.frames()) for bid, b in self._bodies.items()]
        markers = []
        for body_id, header, head, rows in snapshot:
            if self._stop.is_set():
                return
            est = window_estimate(rows, self._min_frames, self._model, self._regressor)
            self._pub.publish(measurements_msg(header, body_id, est))
            if np.isfinite(head).all() and np.isfinite(est.value[_STATURE]):
                markers.append(stature_marker(header, body_id, head, est.value[_STATURE], est.spread[_STATURE],
                                              self._lifetime_s, self._model is not None))
        if markers and self._pub_markers.get_subscription_count() > 0:
            self._pub_markers.publish(MarkerArray(markers=markers))

    def _forget_stale(self) -> None:
        if not self._bodies:
            return
        newest = max(stamp_ns(b.header.stamp) for b in self._bodies.values())
        for body_id in [k for k, b in self._bodies.items() if newest - stamp_ns(b.header.stamp) > self._forget_ns]:
            del self._bodies[body_id]
