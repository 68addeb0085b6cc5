"""Refined 3D skeletons from a depth camera and a 2D pose detector.

    ros2 launch refinet_ros refine.launch.py \
        depth:=/camera/depth/image_rect_raw camera_info:=/camera/depth/camera_info \
        pose:=/pose2d/skeletons [config:=my_refinet.yaml] [namespace:=robot1] \
        [use_sim_time:=true] [rviz:=true] [composable:=true] [detector:=depth]
    ros2 launch refinet_ros refine.launch.py camera:=realsense pose_input:=yolo pose:=/yolo/detections \
        target_frame:=base_link

``camera:=`` picks the depth and camera_info topics of a common driver (the depth registered to the
colour image where the driver offers it, so that a colour detector's keypoints fit it); ``depth:=``
and ``camera_info:=`` override them. ``pose_input:=``, ``target_frame:=`` and ``detector:=``
override the params file only when given.

Starts the ``refine_node`` executable with the params file, exactly what the in-process demo
runs (refinet_ros.ros.refine_node.RefineNode); with ``composable:=true`` the same node is loaded
into the package's component container instead (launch_ros's ComposableNodeContainer, talking to
refinet_ros's Python container through composition_interfaces), where other components can join
it. Input topics are remapped from the names in the shipped config/refinet.yaml; ``rviz:=true``
also opens rviz/refinet.rviz (depth cloud, skeleton markers, TF) with the same namespace and
remappings. ``detector:=depth`` detects the 2D poses on the depth image itself (no pose topic
needed).
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
#: camera:= presets -> the depth and camera_info topics of that driver (registered to colour where offered).
CAMERAS = {
    "itop": {"depth": "camera/depth/image_raw", "camera_info": "camera/depth/camera_info"},
    # realsense2_camera 4.x with align_depth.enable:=true
    "realsense": {"depth": "/camera/camera/aligned_depth_to_color/image_raw",
                  "camera_info": "/camera/camera/aligned_depth_to_color/camera_info"},
    # Azure_Kinect_ROS_Driver (also Orbbec's Femto wrapper in its Azure-compatible mode)
    "azure": {"depth": "/depth_to_rgb/image_raw", "camera_info": "/depth_to_rgb/camera_info"},
    # zed-ros2-wrapper: depth registered to the left colour camera
    "zed": {"depth": "/zed/zed_node/depth/depth_registered", "camera_info": "/zed/zed_node/depth/camera_info"},
}
#: Launch arguments that override the params file's parameter of the same name only when given.
OVERRIDES = ("detector", "pose_input", "target_frame")


def generate_launch_description() -> LaunchDescription:
    share = FindPackageShare(PACKAGE)
    arguments = [
        DeclareLaunchArgument("config", default_value=PathJoinSubstitution([share, "config", "refinet.yaml"]),
                              description="refine_node params file (stages, view, weights, device, topics, ...)"),
        DeclareLaunchArgument("namespace", default_value="", description="namespace of the nodes and their topics"),
        DeclareLaunchArgument("camera", default_value="itop", choices=list(CAMERAS),
                              description="driver preset of the depth and camera_info topics: " + ", ".join(
                                  f"{k} ({v['depth']})" for k, v in CAMERAS.items())),
        DeclareLaunchArgument("depth", default_value="",
                              description="depth image topic, 16UC1 (mm) or 32FC1 (m) (default: the camera preset's)"),
        DeclareLaunchArgument("camera_info", default_value="",
                              description="camera_info topic of the depth image (default: the camera preset's)"),
        DeclareLaunchArgument("pose", default_value="pose2d",
                              description="topic of the 2D pose detector (Skeleton2DArray, or DetectionArray with "
                                          "pose_input:=yolo)"),
        DeclareLaunchArgument("pose_input", default_value="",
                              description="skeleton2d | yolo | hri: the pose messages (default: the params file's)"),
        DeclareLaunchArgument("target_frame", default_value="",
                              description="frame of the output skeletons, e.g. base_link (default: the params "
                                          "file's; its default is the depth optical frame)"),
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
    preset = CAMERAS[LaunchConfiguration("camera").perform(context) or "itop"]
    given = {arg: LaunchConfiguration(arg).perform(context) for arg in INPUT_REMAPS.values()}
    remappings = [(topic, given[arg] or preset.get(arg, topic)) for topic, arg in INPUT_REMAPS.items()]
    namespace, parameters = LaunchConfiguration("namespace"), [LaunchConfiguration("config"), sim_time]
    overrides = {name: LaunchConfiguration(name).perform(context) for name in OVERRIDES}
    if any(overrides.values()):
        parameters.append({name: value for name, value in overrides.items() if value})
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
