"""The bag layout contract: topic names, their message types, frames and metadata keys.

Every bag tool (and the README's commands) relies on these names; nothing else hard-codes them.
"""
from __future__ import annotations

from ..stamps import NS_PER_S

IMAGE = "sensor_msgs/msg/Image"
CAMERA_INFO = "sensor_msgs/msg/CameraInfo"
SKELETON2D_ARRAY = "refinet_ros/msg/Skeleton2DArray"
SKELETON3D_ARRAY = "refinet_ros/msg/Skeleton3DArray"
YOLO_DETECTIONS = "yolo_msgs/msg/DetectionArray"
HRI_SKELETON2D = "hri_msgs/msg/Skeleton2D"
#: The pose topic's message type for each pose input (hri has one topic per body: HRI_SKELETON2D).
POSE_TYPES = {"skeleton2d": SKELETON2D_ARRAY, "yolo": YOLO_DETECTIONS}

DEPTH_TOPIC = "/camera/depth/image_raw"
CAMERA_INFO_TOPIC = "/camera/depth/camera_info"
POSE2D_TOPIC = "/pose2d"
GT_TOPIC = "/gt/skeletons"
REFINED_TOPIC = "/refinet/skeletons"

#: What a recording written by ``bag from-itop`` / ``bag synth`` holds, in per-frame write order.
RECORDING_TOPICS: dict[str, str] = {
    CAMERA_INFO_TOPIC: CAMERA_INFO,
    DEPTH_TOPIC: IMAGE,
    POSE2D_TOPIC: SKELETON2D_ARRAY,
    GT_TOPIC: SKELETON3D_ARRAY,
}
#: What ``bag refine`` needs from its input.
REFINE_INPUTS: dict[str, str] = {
    DEPTH_TOPIC: IMAGE,
    CAMERA_INFO_TOPIC: CAMERA_INFO,
    POSE2D_TOPIC: SKELETON2D_ARRAY,
}

#: REP-103 optical frame of the depth camera (x right, y down, z forward).
OPTICAL_FRAME = "camera_depth_optical_frame"
#: Recordings are stamped at the ITOP / Xtion frame rate.
FPS = 30
#: Stamps of converted recordings start here (2020-01-01T00:00:00Z), not at 0: tools treat 0 as unset.
EPOCH_NS = 1_577_836_800 * NS_PER_S

#: metadata.yaml custom_data keys.
META_VIEW = "refinet.view"
META_SOURCE = "refinet.source"
META_STAGES = "refinet.stages"
