"""rosbag2 workflows without a ROS runtime: ITOP/synthetic -> bag, offline refinement, evaluation, replay.

Everything here reads and writes bags through the ``rosbags`` library, so it runs in a plain
virtualenv; only :mod:`.play` needs rclpy (imported when it is called), because it publishes into a
live ROS graph.
"""
