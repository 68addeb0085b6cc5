"""sensor_msgs/Image <-> numpy: cv_bridge when installed, else the message codec's own depth conversion.

Only what a depth node needs: single-channel 16UC1/mono16 and 32FC1 images, honouring ``step``
(row padding) and ``is_bigendian``. Any failure surfaces as :class:`ImageConversionError`, so the
caller handles one exception type whichever implementation runs.
"""
from __future__ import annotations

import numpy as np
from sensor_msgs.msg import Image
from std_msgs.msg import Header

from ...message_codec import ImageConversionError, depth_pixel_dtype, image_pixels
from ..rclpy_codec import CODEC

try:
    from cv_bridge import CvBridge, CvBridgeError
    HAVE_CV_BRIDGE = True
    _BRIDGE = CvBridge()

    def _to_array(msg: Image) -> np.ndarray:
        """cv_bridge, except for big-endian data: its byte swap fails there (AttributeError in
        the versions checked), so those images are decoded by the codec, which swaps correctly."""
        if msg.is_bigendian:
            return image_pixels(msg)
        try:
            return np.asarray(_BRIDGE.imgmsg_to_cv2(msg, desired_encoding="passthrough"))
        except (CvBridgeError, TypeError, ValueError, AttributeError) as exc:
            raise ImageConversionError(str(exc)) from exc

    def _to_msg(array: np.ndarray, encoding: str) -> Image:
        return _BRIDGE.cv2_to_imgmsg(array, encoding=encoding)

except ImportError:
    HAVE_CV_BRIDGE = False
    _to_array = image_pixels

    def _to_msg(array: np.ndarray, encoding: str) -> Image:
        return CODEC.image(Header(), array, encoding)


def image_to_array(msg: Image) -> np.ndarray:
    """A depth image's pixels as (H, W) uint16 or float32, in the message's own units."""
    depth_pixel_dtype(msg.encoding)      # cv_bridge would pass any encoding through
    return _to_array(msg)


def array_to_image(array: np.ndarray, encoding: str) -> Image:
    """(H, W) raw depth -> sensor_msgs/Image (header left for the caller to fill)."""
    depth_pixel_dtype(encoding)
    return _to_msg(array, encoding)


__all__ = ["HAVE_CV_BRIDGE", "ImageConversionError", "array_to_image", "image_to_array"]
