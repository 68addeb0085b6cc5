"""The ROS 2 face of refinet_ros: the refine node, its message conversions, markers, TF and tools.

Imports rclpy and the generated messages; the pure core (refinet_ros.core) never imports this.
"""
