"""refine_node: depth image + camera_info + 2D skeletons in, refined metric 3D skeletons out.

The node is a plain rclpy ``Node`` subclass, so it can share one process and one executor with
other nodes (rclpy has no component container); :func:`main` is the ``refine_node`` executable.
It runs the core :class:`~refinet_ros.core.pipeline.Pipeline` and adds no algorithm of its own.

Data flow: depth and 2D pose are paired by an ApproximateTimeSynchronizer (stamps within
``sync_slop``); camera_info is kept as the latest message, because intrinsics are fixed per stream
and a missing camera_info must be a visible, counted fault rather than a silent lack of pairs.
Each pair goes to one background refiner (:class:`LatestWorker`); the outputs (Skeleton3DArray,
MarkerArray, TF) carry the depth image's stamp and frame.
"""
from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import rclpy
import torch
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
from diagnostic_msgs.msg import DiagnosticArray
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import Header
from visualization_msgs.msg import MarkerArray

from ..core.camera import PinholeCamera
from ..core.joints import NUM_JOINTS
from ..core.layouts import get_layout
from ..core.pipeline import Pipeline
from ..core.pose import PoseState
from ..core.stages import build_stages
from ..message_codec import stamp_ns
from ..msg import Skeleton2DArray, Skeleton3DArray
from .compat.sync import ApproximateTimeSynchronizer, SimpleFilter, reset_synchronizer
from .compat.tf import TransformBroadcaster
from .config import NODE_NAME, ConfigError, NodeConfig, declare_and_read
from .conversions import CODEC, body_label
from .diagnostics import FrameStats, ThrottledWarner, diagnostic_array
from .frame import Frame, SkipFrame, prepare_frame
from .markers import skeleton_markers
from .measurements import MeasurementPublisher
from .tf_frames import skeleton_transforms
from .worker import LatestWorker


@dataclass(frozen=True)
class _Pair:
    depth: Image
    pose: Skeleton2DArray
    synced_at: float     # time.perf_counter() when the synchroniser paired them


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


def warm_up(pipeline: Pipeline) -> None:
    """Run the stages once on a dummy frame (a wall 2 m away) so that torch's one-off start-up cost
    lands before the first real frame instead of delaying it and making the next ones skip."""
    if not pipeline.stages:
        return
    camera = PinholeCamera.itop()
    depth = np.full((1, camera.height, camera.width), 2.0, dtype=np.float32)
    uv = np.stack(np.meshgrid(np.linspace(120, 200, 5), np.linspace(60, 180, 3)), -1).reshape(1, NUM_JOINTS, 2)
    pipeline.run(depth, uv, np.ones((1, NUM_JOINTS)), camera)


class RefineNode(Node):
    """Refined 3D skeletons from depth + 2D pose. Raises ConfigError on a bad parameter."""

    def __init__(self, node_name: str = NODE_NAME, **node_kwargs: Any) -> None:
        super().__init__(node_name, **node_kwargs)
        try:
            self.config = declare_and_read(self)
            self.pipeline = make_pipeline(self.config)
        except ConfigError:
            super().destroy_node()   # leave nothing half-built behind in the context
            raise
        self.layout = get_layout(self.config.keypoint_layout)
        warm_up(self.pipeline)
        self.stats = FrameStats()
        self._warner = ThrottledWarner(self.get_logger().warning, self.config.warn_period)
        self._info: CameraInfo | None = None
        self._last_stamp: dict[str, int] = {}
        self._skipped_at_last_diag = 0
        self._create_publishers()
        self._create_inputs()
        self._worker = LatestWorker(self._refine, lambda _pair: self._skip("busy", "a newer frame arrived"),
                                    name=f"{node_name}_refiner")
        self.create_timer(self.config.diagnostics_period, self._publish_diagnostics)
        self.get_logger().info(
            f"refining {self.config.keypoint_layout} skeletons from {self.resolve_topic_name(self.config.pose_topic)} "
            f"with {self.config.view} stages {','.join(self.config.stages) or 'none (baseline)'} "
            f"on {self.config.device}")

    # --- wiring -----------------------------------------------------------------------------
    def _create_publishers(self) -> None:
        c = self.config
        self._pub_skeletons = self.create_publisher(Skeleton3DArray, c.output_topic, 10)
        self._pub_markers = self.create_publisher(MarkerArray, c.markers_topic, 10)
        self._pub_diag = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self._tf = TransformBroadcaster(self) if c.publish_tf else None
        self._measurements = MeasurementPublisher.from_config(self, c) if c.publish_measurements else None

    def _create_inputs(self) -> None:
        c = self.config
        qos = sensor_qos(c.qos_reliability)
        self._depth_in, self._pose_in = SimpleFilter(), SimpleFilter()
        self._sync = ApproximateTimeSynchronizer([self._depth_in, self._pose_in], c.sync_queue_size, c.sync_slop)
        self._sync.registerCallback(self._on_pair)
        self.create_subscription(CameraInfo, c.camera_info_topic, self._on_info, qos)
        self.create_subscription(Image, c.depth_topic, lambda m: self._on_input("depth", self._depth_in, m), qos)
        self.create_subscription(Skeleton2DArray, c.pose_topic, lambda m: self._on_input("pose", self._pose_in, m), qos)

    # --- executor thread ----------------------------------------------------------------------
    def _on_info(self, msg: CameraInfo) -> None:
        self._info = msg

    def _on_input(self, topic: str, sink: SimpleFilter, msg: Any) -> None:
        """Feed the synchroniser. A stamp older than the topic's last one means the source restarted
        (a bag looping): the queued messages now look newest, so the queue bound would evict every
        new message instead of them; the synchroniser starts over."""
        stamp = stamp_ns(msg.header.stamp)
        last = self._last_stamp.get(topic, stamp)
        if stamp < last:
            reset_synchronizer(self._sync)
            self._last_stamp.clear()
            self._skip("time_jump", f"{topic} stamp went back by {(last - stamp) / 1e9:.3f} s")
        self._last_stamp[topic] = stamp
        if topic == "depth":
            self.stats.add_input()
        sink.signalMessage(msg)

    def _on_pair(self, depth: Image, pose: Skeleton2DArray) -> None:
        self._worker.submit(_Pair(depth, pose, time.perf_counter()))

    # --- refiner thread -----------------------------------------------------------------------
    def _refine(self, pair: _Pair) -> None:
        try:
            frame = prepare_frame(pair.depth, pair.pose, self._info, self.layout)
            self._publish(pair.depth.header, frame.body_ids, self._run_pipeline(frame))
            self.stats.add_published((time.perf_counter() - pair.synced_at) * 1e3)
        except SkipFrame as skip:
            self._skip(skip.reason, str(skip))
        except Exception as exc:  # noqa: BLE001 - one bad frame must never stop the node
            self._skip("error", f"{type(exc).__name__}: {exc}")

    def _run_pipeline(self, frame: Frame) -> PoseState:
        n = len(frame.body_ids)
        if n == 0:   # nobody in view: an empty result, without running the stages on an empty batch
            return PoseState(frame.uv, np.empty((0, NUM_JOINTS, 3)), frame.confidence)
        depth = np.broadcast_to(frame.depth_m, (n, *frame.depth_m.shape))
        return self.pipeline.run(depth, frame.uv, frame.confidence, frame.camera)

    def _publish(self, header: Header, body_ids: list[str], state: PoseState) -> None:
        self._pub_skeletons.publish(CODEC.skeleton3d_array(header, body_ids, state.joints, state.confidence))
        labels = [body_label(b, i) for i, b in enumerate(body_ids)]
        if self._tf is not None and labels:
            self._tf.sendTransform(skeleton_transforms(header, labels, state.joints))
        if self._pub_markers.get_subscription_count() > 0:
            self._pub_markers.publish(skeleton_markers(header, labels, state.joints, self.config.marker_lifetime))
        if self._measurements is not None:
            for label, joints in zip(labels, state.joints):
                self._measurements.update(label, joints, header.stamp, header.frame_id)

    def _skip(self, reason: str, detail: str) -> None:
        self.stats.add_skip(reason)
        self._warner.warn(reason, detail)

    # --- diagnostics --------------------------------------------------------------------------
    def _publish_diagnostics(self) -> None:
        snap = self.stats.snapshot()
        header = Header(stamp=self.get_clock().now().to_msg())
        self._pub_diag.publish(diagnostic_array(header, f"{self.get_name()}: refinement",
                                                self.get_fully_qualified_name(), snap, self._skipped_at_last_diag))
        self._skipped_at_last_diag = snap["frames_skipped"]

    def destroy_node(self) -> None:
        self._worker.close()
        super().destroy_node()


def main(args: list[str] | None = None) -> int:
    """``ros2 run refinet_ros refine_node [--ros-args --params-file refinet.yaml ...]``."""
    rclpy.init(args=args)
    try:
        node = RefineNode()
    except ConfigError as exc:
        print(f"refine_node: configuration error: {exc}", file=sys.stderr)
        rclpy.try_shutdown()
        return 2
    try:
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
