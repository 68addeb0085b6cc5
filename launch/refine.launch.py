"""Refined 3D skeletons from a depth camera and a 2D pose detector.

    ros2 launch refinet_ros refine.launch.py \
        depth:=/camera/depth/image_rect_raw camera_info:=/camera/depth/camera_info \
        pose:=/pose2d/skeletons [config:=my_refinet.yaml] [namespace:=robot1] \
        [use_sim_time:=true] [rviz:=true] [composable:=true] [detector:=depth]

Starts the ``refine_node`` executable with the params file, exactly what the in-process demo
runs (refinet_ros.ros.refine_node.RefineNode); with ``composable:=true`` the same node is loaded
into the package's component container instead (launch_ros's ComposableNodeContainer, talking to
refinet_ros's Python container through composition_interfaces), where other components can join it. Input topics are remapped from the names in the
shipped config/refinet.yaml; ``rviz:=true`` also opens rviz/refinet.rviz (depth cloud, skeleton
markers, TF) with the same namespace and remappings. ``detector:=depth`` detects the 2D poses on
the depth image itself (no pose topic needed); without it the params file's ``detector`` holds.
"""
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.conditions import IfCondition, UnlessCondition
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import ComposableNodeContainer, Node
from launch_ros.descriptions import ComposableNode
from launch_ros.parameter_descriptions import ParameterValue
from launch_ros.substitutions import FindPackageShare

PACKAGE = "refinet_ros"
#: Input topic of config/refinet.yaml -> launch argument that remaps it.
INPUT_REMAPS = {"camera/depth/image_raw": "depth", "camera/depth/camera_info": "camera_info", "pose2d": "pose"}


def generate_launch_description() -> LaunchDescription:
    share = FindPackageShare(PACKAGE)
    arguments = [
        DeclareLaunchArgument("config", default_value=PathJoinSubstitution([share, "config", "refinet.yaml"]),
                              description="refine_node params file (stages, view, weights, device, topics, ...)"),
        DeclareLaunchArgument("namespace", default_value="", description="namespace of the nodes and their topics"),
        DeclareLaunchArgument("depth", default_value="camera/depth/image_raw",
                              description="depth image topic, 16UC1 (mm) or 32FC1 (m)"),
        DeclareLaunchArgument("camera_info", default_value="camera/depth/camera_info",
                              description="camera_info topic of the depth image"),
        DeclareLaunchArgument("pose", default_value="pose2d",
                              description="refinet_ros/Skeleton2DArray topic of the 2D pose detector"),
        DeclareLaunchArgument("use_sim_time", default_value="false", description="use /clock (bag playback)"),
        DeclareLaunchArgument("rviz", default_value="false", description="also open RViz with rviz/refinet.rviz"),
        DeclareLaunchArgument("composable", default_value="false",
                              description="load refine_node into refinet_ros's component container"),
        DeclareLaunchArgument("detector", default_value="",
                              description="topic | depth: where the 2D poses come from (default: the params file's)"),
    ]
    return LaunchDescription(arguments + [OpaqueFunction(function=_nodes)])


def _nodes(context) -> list:
    """The nodes, built once the launch arguments are known (detector:= only overrides when given)."""
    share = FindPackageShare(PACKAGE)
    sim_time = {"use_sim_time": ParameterValue(LaunchConfiguration("use_sim_time"), value_type=bool)}
    remappings = [(topic, LaunchConfiguration(arg)) for topic, arg in INPUT_REMAPS.items()]
    namespace, parameters = LaunchConfiguration("namespace"), [LaunchConfiguration("config"), sim_time]
    detector = LaunchConfiguration("detector").perform(context)
    if detector:
        parameters.append({"detector": detector})
    composable = LaunchConfiguration("composable")
    refine = Node(package=PACKAGE, executable="refine_node", name="refine_node", namespace=namespace,
                  output="screen", parameters=parameters, remappings=remappings, condition=UnlessCondition(composable))
    container = ComposableNodeContainer(
        package=PACKAGE, executable="component_container", name="refinet_container", namespace=namespace,
        output="screen", condition=IfCondition(composable), composable_node_descriptions=[
            ComposableNode(package=PACKAGE, plugin="refinet_ros::RefineNode", name="refine_node",
                           namespace=namespace, parameters=parameters, remappings=remappings)])
    rviz = Node(package="rviz2", executable="rviz2", name="rviz2", namespace=LaunchConfiguration("namespace"),
                arguments=["-d", PathJoinSubstitution([share, "rviz", "refinet.rviz"])],
                parameters=[sim_time], remappings=remappings, condition=IfCondition(LaunchConfiguration("rviz")))
    return [refine, container, rviz]
