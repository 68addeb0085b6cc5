"""sensor_msgs/Image <-> numpy: cv_bridge when installed, else a built-in twin for depth encodings.

Only what a depth node needs: single-channel 16UC1/mono16 and 32FC1 images, honouring ``step``
(row padding) and ``is_bigendian``. Any failure surfaces as :class:`ImageConversionError`, so the
caller handles one exception type whichever implementation runs.
"""
from __future__ import annotations

import numpy as np
from sensor_msgs.msg import Image

from ...core.depth import SUPPORTED_ENCODINGS


class ImageConversionError(ValueError):
    """The image cannot be turned into an array (unknown encoding, short or inconsistent buffer)."""


_DTYPES = {"16UC1": np.dtype(np.uint16), "mono16": np.dtype(np.uint16), "32FC1": np.dtype(np.float32)}

try:
    from cv_bridge import CvBridge, CvBridgeError
    HAVE_CV_BRIDGE = True
    _BRIDGE = CvBridge()

    def _to_array(msg: Image) -> np.ndarray:
        try:
            return np.asarray(_BRIDGE.imgmsg_to_cv2(msg, desired_encoding="passthrough"))
        except (CvBridgeError, TypeError, ValueError) as exc:
            raise ImageConversionError(str(exc)) from exc

    def _to_msg(array: np.ndarray, encoding: str) -> Image:
        return _BRIDGE.cv2_to_imgmsg(array, encoding=encoding)

except ImportError:
    HAVE_CV_BRIDGE = False

    def _to_array(msg: Image) -> np.ndarray:
        dtype = _DTYPES[msg.encoding].newbyteorder(">" if msg.is_bigendian else "<")
        row = msg.width * dtype.itemsize
        if msg.step < row or len(msg.data) < msg.step * msg.height:
            raise ImageConversionError(f"{msg.width}x{msg.height} {msg.encoding} image needs step >= {row} and "
                                       f"{msg.step * msg.height} bytes; got step {msg.step}, {len(msg.data)} bytes")
        rows = np.frombuffer(msg.data, np.uint8, msg.step * msg.height).reshape(msg.height, msg.step)
        return rows[:, :row].view(dtype).astype(dtype.newbyteorder("="))

    def _to_msg(array: np.ndarray, encoding: str) -> Image:
        array = np.ascontiguousarray(array, dtype=_DTYPES[encoding])
        h, w = array.shape
        return Image(height=h, width=w, encoding=encoding, is_bigendian=0, step=w * array.itemsize,
                     data=array.tobytes())


def image_to_array(msg: Image) -> np.ndarray:
    """A depth image's pixels as (H, W) uint16 or float32, in the message's own units."""
    if msg.encoding not in _DTYPES:
        raise ImageConversionError(f"unsupported depth encoding {msg.encoding!r}; "
                                   f"expected one of {SUPPORTED_ENCODINGS}")
    return _to_array(msg)


def array_to_image(array: np.ndarray, encoding: str) -> Image:
    """(H, W) raw depth -> sensor_msgs/Image (header left for the caller to fill)."""
    if encoding not in _DTYPES:
        raise ImageConversionError(f"unsupported depth encoding {encoding!r}; expected one of {SUPPORTED_ENCODINGS}")
    return _to_msg(array, encoding)


__all__ = ["HAVE_CV_BRIDGE", "ImageConversionError", "array_to_image", "image_to_array"]
