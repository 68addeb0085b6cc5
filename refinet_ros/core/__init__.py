"""Pure core: geometry, data, metrics, models, pipeline and training. Never imports ROS."""
