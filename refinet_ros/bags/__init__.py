"""rosbag2 workflows without a ROS runtime: ITOP/synthetic -> bag, offline refinement, scoring.

Everything here reads and writes bags through the ``rosbags`` library, so it runs in a plain
virtualenv and never imports rclpy; replaying a bag into a live ROS graph needs rclpy and is
:mod:`refinet_ros.ros.bag_play`.
"""
