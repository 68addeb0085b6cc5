"""Seams to ROS libraries that a pip-installed rclpy lacks (message_filters, tf2_ros, cv_bridge).

Each module imports the real library when it is importable (a ROS distro install) and otherwise
provides a small built-in equivalent with the same behaviour, so the node has one code path.
"""


def implementations() -> str:
    """Which implementation each seam uses, for the start-up log (e.g. 'message_filters: real, ...')."""
    from .image import HAVE_CV_BRIDGE
    from .sync import HAVE_MESSAGE_FILTERS
    from .tf import HAVE_TF2_ROS
    seams = (("message_filters", HAVE_MESSAGE_FILTERS), ("tf2_ros", HAVE_TF2_ROS), ("cv_bridge", HAVE_CV_BRIDGE))
    return ", ".join(f"{name}: {'real' if real else 'built-in'}" for name, real in seams)
