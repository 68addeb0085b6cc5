"""Seams to ROS libraries that a pip-installed rclpy lacks (message_filters, tf2_ros, cv_bridge).

Each module imports the real library when it is importable (a ROS distro install) and otherwise
provides a small built-in equivalent with the same behaviour, so the node has one code path.
"""
