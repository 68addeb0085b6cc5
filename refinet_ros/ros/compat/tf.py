"""TF: tf2_ros's TransformBroadcaster, Buffer and TransformListener when installed, else built-in twins.

The built-in broadcaster publishes what tf2_ros does: tf2_msgs/TFMessage on ``/tf`` with tf2_ros's
dynamic-broadcaster QoS (reliable, volatile, depth 100), so RViz and tf2 listeners see no difference.
The built-in listener subscribes to ``/tf`` and ``/tf_static`` (transient local) with tf2_ros's QoS,
and the built-in buffer answers lookups with tf2's semantics (core.transforms.FrameTree: one parent
per frame, interpolation at the asked time, an error rather than extrapolation), including the
bounded wait of ``lookup_transform(..., timeout)`` and the async lookups. Upstream's own
tf2_ros_py/test/test_buffer.py runs against both (test/ros_real/test_libraries_real.py).
"""
from __future__ import annotations

from typing import Iterable

from geometry_msgs.msg import TransformStamped
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

try:
    from tf2_ros import Buffer, TransformBroadcaster, TransformException, TransformListener
    HAVE_TF2_ROS = True
except ImportError:
    HAVE_TF2_ROS = False
    from .builtin_tf import Buffer, TransformException, TransformListener
    from tf2_msgs.msg import TFMessage

    TF_QOS = QoSProfile(depth=100, history=HistoryPolicy.KEEP_LAST, reliability=ReliabilityPolicy.RELIABLE,
                        durability=DurabilityPolicy.VOLATILE)

    class TransformBroadcaster:  # type: ignore[no-redef]
        """tf2_ros.TransformBroadcaster(node): sendTransform(one or a list of TransformStamped)."""

        def __init__(self, node: Node, qos: QoSProfile | int = TF_QOS) -> None:
            self.pub_tf = node.create_publisher(TFMessage, "/tf", qos)

        def sendTransform(self, transform: TransformStamped | Iterable[TransformStamped]) -> None:  # noqa: N802
            transforms = [transform] if isinstance(transform, TransformStamped) else list(transform)
            self.pub_tf.publish(TFMessage(transforms=transforms))


__all__ = ["HAVE_TF2_ROS", "Buffer", "TransformBroadcaster", "TransformException", "TransformListener"]
