"""refine_node: depth image + camera_info + 2D skeletons in, refined metric 3D skeletons out.

A managed (lifecycle) node, as ROS4HRI's and yolo_ros's nodes are: configure reads and validates
the parameters, loads the stages and warms them up (FAILURE with the reason on a bad config);
activate subscribes and starts the refiner thread; deactivate and cleanup stop it and drop the
models; shutdown stops the threads before the context goes away. With ``autostart`` (the default)
it goes straight to active, so ``ros2 launch`` behaves like a plain node, and ``ros2 lifecycle set``
works. Construction raises :class:`ConfigError` when autostart's configure fails. It composes: the
package's component container (ros/component_container.py) loads it into a
shared process. :func:`main` is the ``refine_node`` executable. It runs the core
:class:`~refinet_ros.core.pipeline.Pipeline` and adds no algorithm of its own.

Data flow: depth and 2D pose are paired by stamp (:class:`ExactFirstPairing`: exact matches while
the inputs share stamps, else message_filters' approximate matching within ``sync_slop``);
camera_info is kept as the latest message, because intrinsics are fixed per stream and a missing
camera_info must be a visible, counted fault rather than a silent lack of pairs. Each pair goes to
one background refiner (:class:`LatestWorker`); the outputs (Skeleton3DArray, MarkerArray, TF)
carry the depth image's stamp and frame. Every input is watched (:class:`InputMonitor`), and
/diagnostics turns WARN or ERROR when input is lost, stale or unusable (see diagnostics.assess).
"""
from __future__ import annotations

import sys
import time
from collections import OrderedDict
from dataclasses import asdict, dataclass, replace
from typing import Any, Callable

import numpy as np
import torch
from rcl_interfaces.msg import SetParametersResult
from rclpy.duration import Duration
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from rclpy.qos import QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
from rclpy.time import Time
from diagnostic_msgs.msg import DiagnosticArray
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import Header
from visualization_msgs.msg import MarkerArray

from ..core.camera import PinholeCamera
from ..core.tracking import Tracker, TrackerParams
from ..core.transforms import Rigid
from ..core.joints import NUM_JOINTS
from ..core.pipeline import Pipeline, run_capped
from ..core.pose import PoseState
from ..core.models.depth_detector import DepthDetector
from ..core.weights import build_stages, load_detector
from ..frame_input import (Frame, InputLimits, PoseCamera, SkipFrame, body_labels, prepare_detected_frame,
                           prepare_frame)
from ..stamps import stamp_ns
from ..msg import Skeleton2DArray, Skeleton3DArray, TrackedBodies
from ..pose_messages import pose_reader
from .compat import implementations
from .compat.image import image_to_array
from .compat.tf import Buffer, TransformBroadcaster, TransformException, TransformListener
from .config import NODE_NAME, PARAMETER_NAMES, ConfigError, NodeConfig, declare_parameters, read_config
from .rclpy_codec import CODEC
from .diagnostics import FrameStats, HealthLimits, ThrottledWarner, assess, diagnostic_array, slop_too_wide
from .hri_bodies import HriBodiesInput
from .input_monitor import InputMonitor
from .markers import skeleton_markers
from .measurements import MeasurementPublisher
from .pairing import ExactFirstPairing
from .process import spin_nodes
from .tf_frames import skeleton_transforms
from .worker import LatestWorker

try:                                    # Iron and later
    from rclpy.event_handler import SubscriptionEventCallbacks, UnsupportedEventTypeError
except ImportError:                     # Humble
    from rclpy.qos_event import SubscriptionEventCallbacks, UnsupportedEventTypeError

INPUTS = ("depth", "pose", "camera_info", "pose_camera_info")
#: Stamps whose published bodies are remembered, to refuse a second result for the same stamp and body.
PUBLISHED_STAMPS_KEPT = 64


@dataclass(frozen=True)
class _Pair:
    depth: Image
    pose: Skeleton2DArray | None   # None: detector depth, the poses come from the depth image itself
    synced_at: float     # time.perf_counter() when the synchroniser paired them (or the depth arrived)


def sensor_qos(reliability: str) -> QoSProfile:
    """SensorDataQoS (keep last 5, volatile) with the configured reliability."""
    qos = QoSProfile(depth=qos_profile_sensor_data.depth, history=qos_profile_sensor_data.history,
                     durability=qos_profile_sensor_data.durability)
    qos.reliability = ReliabilityPolicy.RELIABLE if reliability == "reliable" else ReliabilityPolicy.BEST_EFFORT
    return qos


def make_pipeline(config: NodeConfig) -> Pipeline:
    """The configured stages on the configured device; missing weights are a ConfigError.
    torch_threads is process-wide: it also applies to other torch users in a composed process."""
    if config.stages and config.torch_threads:
        torch.set_num_threads(config.torch_threads)
    try:
        stages = build_stages(config.stages, config.view, config.weights_dir or None, config.device, config.int8)
    except (OSError, ValueError, RuntimeError) as exc:
        raise ConfigError(f"cannot load stages {','.join(config.stages)} ({config.view} view): {exc}") from None
    return Pipeline(stages, window=config.depth_window)


def make_detector(config: NodeConfig) -> DepthDetector | None:
    """The depth-image detector when `detector` is depth (its weights missing: a ConfigError), else None."""
    if config.detector != "depth":
        return None
    try:
        return load_detector(config.view, config.weights_dir or None, config.device)
    except (OSError, ValueError, RuntimeError) as exc:
        raise ConfigError(f"parameter detector=depth: {exc}") from None


def pose_message_type(config: NodeConfig) -> type | None:
    """The message class of the pose topic (None for hri, whose bodies come on topics of their own);
    a message package that is not installed is a ConfigError naming it."""
    try:
        if config.pose_input == "yolo":
            from yolo_msgs.msg import DetectionArray
            return DetectionArray
        if config.pose_input == "hri":
            import hri_msgs.msg  # noqa: F401
            return None
    except ImportError as exc:
        package = "yolo_msgs" if config.pose_input == "yolo" else "hri_msgs"
        raise ConfigError(f"parameter pose_input={config.pose_input}: {package} is not installed ({exc}); install "
                          f"it from its upstream repository, or `make venv` builds a stand-in") from None
    return Skeleton2DArray


def make_tracker(config: NodeConfig) -> Tracker | None:
    """The tracker of the configured ids and smoothing (None with tracking off)."""
    return Tracker(TrackerParams.from_config(asdict(config))) if config.tracking else None


def free_device_memory(device: str) -> None:
    """After the models are dropped: on CUDA, hand torch's cached memory back to the driver."""
    if device.startswith("cuda") and torch.cuda.is_available():
        torch.cuda.empty_cache()


def warm_up(pipeline: Pipeline, detector: DepthDetector | None = None) -> None:
    """Run the stages (and the depth detector) once on a dummy frame (a wall 2 m away) so that torch's
    one-off start-up cost lands before the first real frame instead of delaying it and making the
    next ones skip."""
    camera = PinholeCamera.itop()
    depth = np.full((1, camera.height, camera.width), 2.0, dtype=np.float32)
    if detector is not None:
        detector(depth[0])
    if not pipeline.stages:
        return
    uv = np.stack(np.meshgrid(np.linspace(120, 200, 5), np.linspace(60, 180, 3)), -1).reshape(1, NUM_JOINTS, 2)
    pipeline.run(depth, uv, np.ones((1, NUM_JOINTS)), camera)


class RefineNode(LifecycleNode):
    """Refined 3D skeletons from depth + 2D pose, as a lifecycle node (see the module docstring)."""

    def __init__(self, node_name: str = NODE_NAME, **node_kwargs: Any) -> None:
        super().__init__(node_name, **node_kwargs)
        self._declare_problems = declare_parameters(self)
        self.config: NodeConfig | None = None
        self.pipeline: Pipeline | None = None
        self._reduced: Pipeline | None = None      # the stages of people beyond max_full_people
        self.detector: DepthDetector | None = None
        self._measurements: MeasurementPublisher | None = None
        self._worker: LatestWorker | None = None
        self._subscriptions_in: list[Any] = []
        self._hri: HriBodiesInput | None = None
        self._tf_listener: TransformListener | None = None
        self._diag_timer = None
        self.config_error = ""
        self.add_on_set_parameters_callback(self._on_set_parameters)
        if self.get_parameter("autostart").value:
            self._autostart()

    def _autostart(self) -> None:
        """Configure and activate now; on failure leave nothing half-built and raise ConfigError."""
        if self.trigger_configure() != TransitionCallbackReturn.SUCCESS:
            error = self.config_error or "configure failed"
        elif self.trigger_activate() != TransitionCallbackReturn.SUCCESS:
            error = "activate failed"
        else:
            return
        self.destroy_node()
        raise ConfigError(error)

    # --- lifecycle ------------------------------------------------------------------------------
    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        try:
            if self._declare_problems:
                raise ConfigError("; ".join(self._declare_problems))
            self.config = read_config(self)
            self.pipeline = make_pipeline(self.config)
            self._reduced = self.pipeline.subset(self.config.reduced_stages)   # once, not per frame
            self.detector = make_detector(self.config)
            self._pose_type = pose_message_type(self.config)
            self._measurements = self._make_measurements()
        except ConfigError as exc:
            self.get_logger().error(f"configuration error: {exc}")
            self.config_error = str(exc)
            self._drop_models()
            return TransitionCallbackReturn.FAILURE
        c = self.config
        self.reader = pose_reader(c.pose_input, c.keypoint_layout)
        self.limits = InputLimits(c.min_range, c.max_range, c.max_bodies)
        warm_up(self.pipeline, self.detector)
        self._create_publishers()
        source = (f"detected on {self.resolve_topic_name(c.depth_topic)}" if self.detector is not None else
                  f"{self.reader.layout.name} {c.pose_input} skeletons from {self._topic_of_poses()}")
        self.get_logger().info(
            f"configured: {source}, "
            f"{c.view} stages {','.join(c.stages) or 'none (baseline)'} on {c.device} ({implementations()})")
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        c = self.config
        self.stats = FrameStats()
        self.monitors = {name: InputMonitor() for name in INPUTS}
        self._warner = ThrottledWarner(self.get_logger().warning, c.warn_period)
        self._info: CameraInfo | None = None
        self._pose_info: CameraInfo | None = None
        self._said_aligned = False
        self._last_stamp: dict[str, int] = {}
        self._published: OrderedDict[int, set[str]] = OrderedDict()
        self._last_diag: dict[str, float] = {}
        self._started = time.monotonic()
        self._pairing = ExactFirstPairing(c.sync_queue_size, c.sync_slop, self._on_pair)
        self._tracker = make_tracker(c)
        self._worker = LatestWorker(self._refine, lambda _pair: self._skip("busy", "a newer frame arrived"),
                                    name=f"{self.get_name()}_refiner")
        self._create_inputs()
        self._diag_timer = self.create_timer(c.diagnostics_period, self._publish_diagnostics)
        self.get_logger().info("active")
        return TransitionCallbackReturn.SUCCESS

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._stop_inputs()
        self.get_logger().info("inactive")
        return TransitionCallbackReturn.SUCCESS

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._destroy_publishers()
        self._drop_models()
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._stop_inputs()
        self._destroy_publishers()
        self._drop_models()
        return TransitionCallbackReturn.SUCCESS

    def _on_set_parameters(self, params: list[Any]) -> SetParametersResult:
        """Parameters are read at configure: a change while configured would silently do nothing."""
        if self.config is None or not any(p.name in PARAMETER_NAMES for p in params):
            return SetParametersResult(successful=True)
        return SetParametersResult(successful=False, reason="parameters take effect at configure: "
                                   "`ros2 lifecycle set` deactivate and cleanup first, then set, then configure")

    # --- wiring -----------------------------------------------------------------------------
    def _make_measurements(self) -> MeasurementPublisher | None:
        if not self.config.publish_measurements:
            return None
        try:
            return MeasurementPublisher.from_config(self, self.config)
        except (OSError, ValueError) as exc:
            raise ConfigError(f"parameter measurement_model={self.config.measurement_model!r}: {exc}") from None

    def _create_publishers(self) -> None:
        c = self.config
        self._pub_skeletons = self.create_publisher(Skeleton3DArray, c.output_topic, 10)
        self._pub_markers = self.create_publisher(MarkerArray, c.markers_topic, 10)
        self._pub_pose2d = (self.create_publisher(Skeleton2DArray, c.pose2d_topic, 10) if c.detector == "depth"
                            else None)
        self._pub_bodies = self.create_publisher(TrackedBodies, c.bodies_topic, 10) if c.tracking else None
        self._pub_diag = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self._tf = TransformBroadcaster(self) if c.publish_tf else None

    def _destroy_publishers(self) -> None:
        for name in ("_pub_skeletons", "_pub_markers", "_pub_pose2d", "_pub_bodies", "_pub_diag"):
            if getattr(self, name, None) is not None:
                self.destroy_publisher(getattr(self, name))
                setattr(self, name, None)
        if getattr(self, "_tf", None) is not None:
            self.destroy_publisher(self._tf.pub_tf)
            self._tf = None

    def _drop_models(self) -> None:
        if self._measurements is not None:
            self._measurements.close()
            self._measurements = None
        if self.pipeline is not None:
            self.pipeline = self._reduced = None
            self.detector = None
            free_device_memory(self.config.device if self.config else "cpu")
        self.config = None

    def _create_inputs(self) -> None:
        c = self.config
        qos = sensor_qos(c.qos_reliability)
        if c.target_frame or c.pose_camera_info_topic:
            self._tf_buffer = Buffer()
            self._tf_listener = TransformListener(self._tf_buffer, self)
        self._subscribe(CameraInfo, c.camera_info_topic, "camera_info", self._on_info, qos)
        self._subscribe(Image, c.depth_topic, "depth", lambda m: self._on_input("depth", m), qos)
        if c.detector == "depth":
            return
        if c.pose_camera_info_topic:
            self._subscribe(CameraInfo, c.pose_camera_info_topic, "pose_camera_info", self._on_pose_info, qos)
        on_pose = lambda m: self._on_input("pose", m)        # noqa: E731
        if c.pose_input == "hri":
            self._hri = HriBodiesInput(c.hri_prefix, lambda t, topic, cb: self._subscribe(t, topic, "pose", cb, qos),
                                       self._unsubscribe, on_pose, self._warner.warn)
        else:
            self._subscribe(self._pose_type, c.pose_topic, "pose", on_pose, qos)

    def _stop_inputs(self) -> None:
        """Unsubscribe, stop the diagnostics timer and the refiner (after the frame in progress)."""
        if self._hri is not None:
            self._hri.close()
            self._hri = None
        if self._tf_listener is not None:
            self._tf_listener.unregister()
            self._tf_listener = None
        for sub in self._subscriptions_in:
            self.destroy_subscription(sub)
        self._subscriptions_in = []
        if self._diag_timer is not None:
            self.destroy_timer(self._diag_timer)
            self._diag_timer = None
        if self._worker is not None:
            self._worker.close()
            self._worker = None

    def _subscribe(self, msg_type: type, topic: str, name: str, callback: Callable[[Any], None],
                   qos: QoSProfile) -> Any:
        """A subscription whose QoS incompatibilities and middleware-reported losses are counted."""
        monitor = self.monitors[name]

        def incompatible(event: Any) -> None:
            monitor.incompatible_qos = event.total_count
            self._warner.warn("incompatible_qos", f"{self.resolve_topic_name(topic)} ({event.total_count} publisher"
                                                  f" event(s), last policy kind {event.last_policy_kind})")

        def lost(event: Any) -> None:
            monitor.reported_lost = event.total_count
            self._warner.warn("message_lost", f"{event.total_count} on {self.resolve_topic_name(topic)}")

        try:
            events = SubscriptionEventCallbacks(incompatible_qos=incompatible, message_lost=lost)
            sub = self.create_subscription(msg_type, topic, callback, qos, event_callbacks=events)
        except UnsupportedEventTypeError:       # an RMW without message-lost events
            events = SubscriptionEventCallbacks(incompatible_qos=incompatible)
            sub = self.create_subscription(msg_type, topic, callback, qos, event_callbacks=events)
        self._subscriptions_in.append(sub)
        return sub

    def _unsubscribe(self, sub: Any) -> None:
        if sub in self._subscriptions_in:
            self._subscriptions_in.remove(sub)
            self.destroy_subscription(sub)

    # --- executor thread ----------------------------------------------------------------------
    def _on_info(self, msg: CameraInfo) -> None:
        self.monitors["camera_info"].add(stamp_ns(msg.header.stamp), time.monotonic())
        self._info = msg

    def _on_pose_info(self, msg: CameraInfo) -> None:
        self.monitors["pose_camera_info"].add(stamp_ns(msg.header.stamp), time.monotonic())
        self._pose_info = msg

    def _on_input(self, topic: str, msg: Any) -> None:
        """Feed the pairing. A zero stamp cannot be paired or put on TF: skipped. A stamp older than
        the topic's last one means the source restarted (a bag looping): the queued messages now look
        newest, so the queue bound would evict every new message instead of them; pairing starts over."""
        stamp = stamp_ns(msg.header.stamp)
        self.monitors[topic].add(stamp, time.monotonic())
        if topic == "depth":
            self.stats.add_input()
        if stamp == 0:
            self._skip("zero_stamp", f"{topic} message on {self._topic(topic)} has stamp 0")
            return
        last = self._last_stamp.get(topic, stamp)
        if stamp < last:
            self._pairing.reset()
            self._last_stamp.clear()
            self.stats.add_reset()
            self._warner.warn("time_jump", f"{topic} stamp went back by {(last - stamp) / 1e9:.3f} s")
        self._last_stamp[topic] = stamp
        if self.config.detector == "depth":      # the depth image carries its own poses: nothing to pair
            self.monitors["pose"].add(stamp, time.monotonic())
            self._on_pair(msg, None)
            return
        (self._pairing.add_depth if topic == "depth" else self._pairing.add_pose)(msg)

    def _topic(self, name: str) -> str:
        if name == "pose":
            return self._topic_of_poses()
        return self.resolve_topic_name({"depth": self.config.depth_topic,
                                        "camera_info": self.config.camera_info_topic}[name])

    def _topic_of_poses(self) -> str:
        c = self.config
        return (f"{c.hri_prefix}/tracked + <id>/skeleton2d" if c.pose_input == "hri"
                else self.resolve_topic_name(c.pose_topic))

    def _on_pair(self, depth: Image, pose: Skeleton2DArray | None) -> None:
        worker = self._worker            # None once deactivated (a callback already under way)
        if worker is not None:
            worker.submit(_Pair(depth, pose, time.perf_counter()))

    # --- refiner thread -----------------------------------------------------------------------
    def _refine(self, pair: _Pair) -> None:
        try:
            header, pose_camera = pair.depth.header, None
            if pair.pose is None:
                frame = prepare_detected_frame(pair.depth, self._info, self.limits, self.detector.keypoints,
                                               image_to_array)
                self._pub_pose2d.publish(CODEC.skeleton2d_array(pair.depth.header, frame.body_ids, frame.uv,
                                                                frame.confidence))
            else:
                pose_camera = self._pose_camera(pair.depth.header)
                frame = prepare_frame(pair.depth, pair.pose, self._info, self.reader, self.limits, image_to_array,
                                      pose_camera)
            frame = self._new_bodies(pair.depth, frame)
            header, to_output = self._output_frame(header, pose_camera)
            for kind, count in frame.repairs.items():
                self.stats.add_repair(kind, count)
                self._warner.warn(kind, f"{count} skeleton(s) at {stamp_ns(pair.depth.header.stamp)} ns")
            state, stages = self._run_pipeline(frame)
            if self._tracker is not None:          # in the camera's frame: matched in its image, smoothed there
                frame, state = self._track(header, frame, state)
            if to_output is not None:
                state = PoseState(state.uv, to_output.apply(state.joints), state.confidence)
            self._publish(header, frame, state, stages)
            self.stats.add_published((time.perf_counter() - pair.synced_at) * 1e3)
        except SkipFrame as skip:
            self._skip(skip.reason, str(skip))
        except Exception as exc:  # noqa: BLE001 - one bad frame must never stop the node
            self._skip("error", f"{type(exc).__name__}: {exc}")

    def _pose_camera(self, depth: Header) -> PoseCamera | None:
        """The pose camera when pose_camera_info_topic names one that is not the depth camera itself
        (same frame and size: nothing to register, said once in the log)."""
        if not self.config.pose_camera_info_topic:
            return None
        info = self._pose_info
        if info is None:
            return PoseCamera(None, Rigid())
        if info.header.frame_id == depth.frame_id and self._info is not None and \
                (info.width, info.height, tuple(info.k)) == (self._info.width, self._info.height, tuple(self._info.k)):
            if not self._said_aligned:
                self.get_logger().info(f"the pose camera is the depth camera ({depth.frame_id}, "
                                       f"{info.width}x{info.height}): depth already aligned, nothing to register")
                self._said_aligned = True
            return None
        return PoseCamera(info, self._lookup(info.header.frame_id, depth))

    def _lookup(self, target: str, header: Header) -> Rigid:
        """header.frame_id -> target at header.stamp, waiting at most tf_timeout; none: SkipFrame (tf)."""
        try:
            t = self._tf_buffer.lookup_transform(target, header.frame_id, Time.from_msg(header.stamp),
                                                 timeout=Duration(seconds=self.config.tf_timeout))
        except TransformException as exc:
            raise SkipFrame("tf", f"{header.frame_id} -> {target} at {stamp_ns(header.stamp)} ns: {exc}") from None
        tr, q = t.transform.translation, t.transform.rotation
        return Rigid((tr.x, tr.y, tr.z), (q.x, q.y, q.z, q.w))

    def _output_frame(self, header: Header, pose_camera: PoseCamera | None) -> tuple[Header, Rigid | None]:
        """The output header (input stamp; the pose camera's optical frame when the poses came from one,
        target_frame when set) and the transform from the depth optical frame, where the stages run,
        into it; target_frame is looked up at the image stamp with a wait of at most tf_timeout (none:
        SkipFrame, never the latest)."""
        to_output = None
        if pose_camera is not None:
            header, to_output = Header(stamp=header.stamp, frame_id=pose_camera.info.header.frame_id), \
                pose_camera.from_depth
        target = self.config.target_frame
        if not target or target == header.frame_id:
            return header, to_output
        to_target = self._lookup(target, header)
        return (Header(stamp=header.stamp, frame_id=target),
                to_target if to_output is None else to_target * to_output)

    def _track(self, header: Header, frame: Frame, state: PoseState) -> tuple[Frame, PoseState]:
        """Stable ids (and smoothed joints) for the frame's people; the live tracks on bodies_topic."""
        tracked = self._tracker.update(stamp_ns(header.stamp), frame.body_ids, state.joints, frame.uv,
                                       frame.camera.fx)
        labels, _ = body_labels(tracked.body_ids)
        self._pub_bodies.publish(TrackedBodies(header=header, ids=self._tracker.tracked))
        return (replace(frame, body_ids=tracked.body_ids, labels=labels),
                PoseState(state.uv, tracked.joints, state.confidence))

    def _new_bodies(self, depth: Image, frame: Frame) -> Frame:
        """The frame without the bodies already published for its stamp (a republished message)."""
        stamp = stamp_ns(depth.header.stamp)
        done = self._published.get(stamp)
        if done is None:
            return frame
        keep = [i for i, label in enumerate(frame.labels) if label not in done]
        if not keep:
            raise SkipFrame("repeated_stamp", f"stamp {stamp} ns, bodies {frame.labels or 'none'}")
        return replace(frame, body_ids=[frame.body_ids[i] for i in keep], labels=[frame.labels[i] for i in keep],
                       uv=frame.uv[keep], confidence=frame.confidence[keep])

    def _run_pipeline(self, frame: Frame) -> tuple[PoseState, list[str]]:
        """All people in one batch; beyond max_full_people the least confident get reduced_stages."""
        n = len(frame.body_ids)
        if n == 0:   # nobody in view: an empty result, without running the stages on an empty batch
            return PoseState(frame.uv, np.empty((0, NUM_JOINTS, 3)), frame.confidence), []
        depth = np.broadcast_to(frame.depth_m, (n, *frame.depth_m.shape))
        return run_capped(self.pipeline, self._reduced, self.config.max_full_people, depth, frame.uv,
                          frame.confidence, frame.camera)

    def _publish(self, header: Header, frame: Frame, state: PoseState, stages: list[str]) -> None:
        stamp = stamp_ns(header.stamp)
        self._published.setdefault(stamp, set()).update(frame.labels)
        while len(self._published) > PUBLISHED_STAMPS_KEPT:
            self._published.popitem(last=False)
        self._pub_skeletons.publish(CODEC.skeleton3d_array(header, frame.body_ids, state.joints, state.confidence,
                                                           stages))
        if self._tf is not None and frame.labels:
            self._tf.sendTransform(skeleton_transforms(header, frame.labels, state.joints))
        if self._pub_markers.get_subscription_count() > 0:
            self._pub_markers.publish(skeleton_markers(header, frame.labels, state.joints, self.config.marker_lifetime))
        if self._measurements is not None:
            for label, joints in zip(frame.labels, state.joints):
                self._measurements.update(label, joints, header.stamp, header.frame_id)

    def _skip(self, reason: str, detail: str) -> None:
        self.stats.add_skip(reason)
        self._warner.warn(reason, detail)

    # --- diagnostics --------------------------------------------------------------------------
    def health_snapshot(self) -> dict[str, float]:
        """FrameStats' counters plus, per input, age, losses, unpaired messages and QoS problems."""
        snap = self.stats.snapshot()
        now = time.monotonic()
        depth, pose = self.monitors["depth"], self.monitors["pose"]
        since = max(now - self._last_diag.get("at", self._started), 1e-9)
        snap["pose_rate_hz"] = (pose.count - self._last_diag.get("pose_in", 0)) / since
        snap["pose_in"] = pose.count
        for name, monitor in self.monitors.items():
            snap[f"{name}_age_s"] = monitor.age_s(now)
            snap[f"{name}_incompatible_qos"] = monitor.incompatible_qos
        for name, monitor in (("depth", depth), ("pose", pose)):
            snap[f"{name}_lost"] = monitor.lost + monitor.reported_lost
            snap[f"{name}_unpaired"] = max(monitor.count - self._pairing.pairs, 0)
        snap["depth_period_ms"] = depth.period_s * 1e3
        snap["sync_exact"] = int(self._pairing.exact_mode)
        snap["at"] = now
        return snap

    def _publish_diagnostics(self) -> None:
        snap = self.health_snapshot()
        level, problems = assess(snap, self._last_diag, HealthLimits(self.config.input_timeout, self.config.sync_slop))
        if slop_too_wide(snap, self.config.sync_slop):
            self._warner.warn("sync_slop", f"{self.config.sync_slop:g} s for a {snap['depth_period_ms']:.1f} ms "
                                           "depth period; lower sync_slop or stamp poses with the image stamp")
        header = Header(stamp=self.get_clock().now().to_msg())
        self._pub_diag.publish(diagnostic_array(header, f"{self.get_name()}: refinement",
                                                self.get_fully_qualified_name(), snap, level, problems))
        self._last_diag = snap

    def destroy_node(self) -> None:
        """Stop the worker threads first: nothing may publish once the node or its context is gone."""
        self._stop_inputs()
        self._drop_models()
        super().destroy_node()
        # rclpy's LifecycleNode.destroy_node leaves its state machine alive, and the state machine holds
        # the node handle: the node's /rosout publisher then outlives it and a new node of the same
        # name logs nowhere. Release it explicitly.
        self._state_machine.destroy_when_not_in_use()



def main(args: list[str] | None = None) -> int:
    """``ros2 run refinet_ros refine_node [--ros-args --params-file refinet.yaml ...]``."""
    return spin_nodes(lambda _executor: [RefineNode()], args, "refine_node")


if __name__ == "__main__":
    sys.exit(main())
