"""The ROS 2 face of refinet_ros: the refine node, its message conversions, markers and TF; ``bag play``
(:mod:`.bag_play`) and the demo graph (:mod:`.demo`) are the tools that need a live ROS graph.

Imports rclpy and the generated messages; the pure core (refinet_ros.core) never imports this.
"""
