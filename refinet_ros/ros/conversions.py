"""Old name of :mod:`.rclpy_codec`, kept only while refine_node.py and compat/image.py import CODEC from here."""
from .rclpy_codec import CODEC  # noqa: F401
