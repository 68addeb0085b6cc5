"""A stand-in depth camera and 2D detector: replays a synthetic ITOP-style sequence at a fixed rate.

Per frame it publishes what a real setup would: a 16UC1 depth image (millimetres, 0 = no reading),
its camera_info, and the simulated detector's Skeleton2DArray (every person in view on a multi-person
sequence), all with the same fresh stamp (no
Skeleton2DArray when the node detects on the depth image itself, ``detector: depth``). The
stamp of every frame sent is recorded, so a scorer can find the ground truth of an output.
"""
from __future__ import annotations

from typing import Any

from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import Header

from ...core.depth import encode_depth
from ...core.synth.generate import SynthSet
from ...msg import Skeleton2DArray
from ...stamps import stamp_ns
from ..compat.image import array_to_image
from ..config import NodeConfig
from ..rclpy_codec import CODEC

FRAME_ID = "camera_depth_optical_frame"
DEPTH_ENCODING = "16UC1"


class SequencePlayer(Node):
    """Publishes ``n_frames`` frames of `seq` (looping over it) at `rate_hz`, then stops."""

    def __init__(self, seq: SynthSet, config: NodeConfig, n_frames: int, rate_hz: float = 30.0,
                 node_name: str = "refinet_player", **node_kwargs: Any) -> None:
        super().__init__(node_name, **node_kwargs)
        self.seq = seq
        self.n_frames = n_frames
        self.sent: dict[int, int] = {}          # stamp (ns) -> index into seq
        qos = QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE)   # also reaches best-effort readers
        self._pub_depth = self.create_publisher(Image, config.depth_topic, qos)
        self._pub_info = self.create_publisher(CameraInfo, config.camera_info_topic, qos)
        self._pub_pose = (self.create_publisher(Skeleton2DArray, config.pose_topic, qos) if config.detector == "topic"
                          else None)
        self._depth_raw = encode_depth(seq.depth_m, DEPTH_ENCODING)
        self._timer = self.create_timer(1.0 / rate_hz, self._tick)

    @property
    def done(self) -> bool:
        return len(self.sent) >= self.n_frames

    def subscribers_ready(self) -> bool:
        return min(p.get_subscription_count() for p in (self._pub_depth, self._pub_info, self._pub_pose)
                   if p is not None) > 0

    def _tick(self) -> None:
        if self.done:
            self._timer.cancel()
            return
        if not self.subscribers_ready():
            return
        i = len(self.sent) % len(self.seq)
        header = Header(stamp=self.get_clock().now().to_msg(), frame_id=FRAME_ID)
        self.sent[stamp_ns(header.stamp)] = i
        self.publish_frame(header, i)

    def publish_frame(self, header: Header, i: int) -> None:
        """Frame `i` of the sequence with the given header (camera_info first, as drivers do)."""
        self._pub_info.publish(CODEC.camera_info(header, self.seq.camera))
        depth = array_to_image(self._depth_raw[i], DEPTH_ENCODING)
        depth.header = header
        self._pub_depth.publish(depth)
        if self._pub_pose is None:
            return
        people = self.seq.people
        if people is None:
            ids, keypoints, confidence = [f"s{int(self.seq.subject[i]):02d}"], self.seq.keypoints[i][None], \
                self.seq.confidence[i][None]
        else:                                   # every person in view, ids from the sequence's tracks
            here = people.present[i]
            ids = [f"b{int(t)}" for t in people.track_id[i][here]]
            keypoints, confidence = people.keypoints[i][here], people.confidence[i][here]
        self._pub_pose.publish(CODEC.skeleton2d_array(header, ids, keypoints, confidence))
