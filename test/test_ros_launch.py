"""launch/refine.launch.py, executed against a recording stand-in of launch / launch_ros (they are
not pip-installable), then checked against the real node: every launch configuration is declared,
every parameter passed is declared by refine_node, the remaps name the node's real input topics,
and the RViz config shows those topics.
"""
from __future__ import annotations

import importlib.util
import os
import sys
import types
from pathlib import Path

import pytest
import yaml

rclpy = pytest.importorskip("rclpy")

from rclpy.parameter import Parameter  # noqa: E402

from refinet_ros.ros.config import DEFAULT_CONFIG, NODE_NAME, load_defaults, node_section  # noqa: E402
from refinet_ros.ros.refine_node import RefineNode  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DOMAIN_ID = 1 + (os.getpid() + 83) % 100
INPUT_TOPIC_PARAMS = ("depth_topic", "camera_info_topic", "pose_topic")


class Recorded:
    """Any launch entity or substitution: keeps its positional and keyword arguments."""

    def __init__(self, *args, **kwargs) -> None:
        self.args, self.kwargs = args, kwargs


class LaunchConfiguration(Recorded):
    """Also evaluates itself in an OpaqueFunction's context (here a dict of the given arguments)."""

    def perform(self, context: dict) -> str:
        return context.get(self.args[0], "")


def _shim() -> dict[str, types.ModuleType]:
    names = {
        "launch": ["LaunchDescription"], "launch.actions": ["DeclareLaunchArgument", "OpaqueFunction"],
        "launch.conditions": ["IfCondition", "UnlessCondition"],
        "launch.substitutions": ["LaunchConfiguration", "PathJoinSubstitution"],
        "launch_ros": [], "launch_ros.actions": ["Node", "ComposableNodeContainer"],
        "launch_ros.descriptions": ["ComposableNode"], "launch_ros.parameter_descriptions": ["ParameterValue"],
        "launch_ros.substitutions": ["FindPackageShare"],
    }
    modules = {}
    for module, classes in names.items():
        modules[module] = types.ModuleType(module)
        for cls in classes:
            setattr(modules[module], cls, type(cls, (Recorded,), {}))
    modules["launch.substitutions"].LaunchConfiguration = LaunchConfiguration
    return modules


def _entities(description, given: dict) -> list:
    """The launch entities, OpaqueFunctions run with the given launch arguments."""
    out = []
    for e in description.args[0]:
        out += e.kwargs["function"](given) if type(e).__name__ == "OpaqueFunction" else [e]
    return out


@pytest.fixture(scope="module")
def launch():
    saved = {name: sys.modules.get(name) for name in _shim()}
    sys.modules.update(_shim())
    try:
        spec = importlib.util.spec_from_file_location("refine_launch", REPO / "launch" / "refine.launch.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        description = module.generate_launch_description()
        entities = _entities(description, {})
        variants = {f"{k}:={v}": _entities(description, {k: v}) for k, v in
                    (("detector", "depth"), ("camera", "realsense"), ("camera", "zed"))}
        variants["robot"] = _entities(description, ROBOT)
    finally:
        for name, mod in saved.items():
            if mod is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = mod
    arguments = {e.args[0]: e.kwargs for e in entities if type(e).__name__ == "DeclareLaunchArgument"}
    nodes = {e.kwargs["executable"]: e for e in entities if type(e).__name__ in ("Node", "ComposableNodeContainer")}
    for name, variant in variants.items():
        nodes[name] = next(e for e in variant if e.kwargs.get("executable") == "refine_node")
    return arguments, nodes


#: The launch arguments of a robot setup (what the README's "On a robot" lines pass).
ROBOT = {"namespace": "robot1", "depth": "/cam/depth/image_rect_raw", "camera_info": "/cam/depth/camera_info",
         "pose": "/detector/skeletons", "use_sim_time": "true", "pose_input": "yolo", "target_frame": "base_link"}


def _walk(obj):
    yield obj
    children = (list(obj.args) + list(obj.kwargs.values()) if isinstance(obj, Recorded)
                else obj if isinstance(obj, (list, tuple)) else obj.values() if isinstance(obj, dict) else [])
    for child in children:
        yield from _walk(child)


def resolve(obj, arguments: dict, given: dict | None = None):
    """Evaluate a substitution the way launch would (the package share is the source tree)."""
    kind = type(obj).__name__
    if kind == "LaunchConfiguration":
        name = obj.args[0]
        return (given or {}).get(name, resolve(arguments[name]["default_value"], arguments, given))
    if kind == "PathJoinSubstitution":
        return str(Path(*[resolve(p, arguments, given) for p in obj.args[0]]))
    if kind == "FindPackageShare":
        assert obj.args[0] == "refinet_ros"
        return str(REPO)
    if kind == "ParameterValue":
        return obj.kwargs["value_type"](resolve(obj.args[0], arguments, given) == "true")
    return obj


def test_every_launch_configuration_is_a_declared_argument(launch):
    arguments, nodes = launch
    used = {o.args[0] for node in nodes.values() for o in _walk(node) if type(o).__name__ == "LaunchConfiguration"}
    assert used <= set(arguments), f"undeclared: {used - set(arguments)}"
    assert {"config", "namespace", "use_sim_time", "rviz", "depth", "camera_info", "pose"} <= set(arguments)
    assert all(a.get("description") for a in arguments.values())


def test_camera_presets_remap_the_drivers_registered_depth(launch):
    arguments, nodes = launch
    remaps = {name: dict(nodes[name].kwargs["remappings"])
              for name in ("refine_node", "camera:=realsense", "camera:=zed")}
    assert remaps["refine_node"]["camera/depth/image_raw"] == "camera/depth/image_raw"       # itop: the bag topics
    assert remaps["camera:=realsense"]["camera/depth/image_raw"] == "/camera/camera/aligned_depth_to_color/image_raw"
    assert remaps["camera:=zed"]["camera/depth/camera_info"] == "/zed/zed_node/depth/camera_info"
    assert arguments["camera"]["default_value"] == "itop" and "azure" in arguments["camera"]["choices"]
    robot = dict(nodes["robot"].kwargs["remappings"])
    assert robot["camera/depth/image_raw"] == ROBOT["depth"]                                  # depth:= wins


def test_detector_argument_overrides_the_params_file_only_when_given(launch):
    arguments, nodes = launch
    plain, depth = nodes["refine_node"].kwargs["parameters"], nodes["detector:=depth"].kwargs["parameters"]
    assert not any("detector" in p for p in plain if isinstance(p, dict))
    assert depth[-1] == {"detector": "depth"} and len(depth) == len(plain) + 1
    assert arguments["detector"]["default_value"] == ""


def test_it_starts_the_refine_node_executable_with_the_shipped_params_file(launch):
    arguments, nodes = launch
    node = nodes["refine_node"].kwargs
    assert node["package"] == "refinet_ros" and node["name"] == NODE_NAME
    script = (REPO / "scripts" / "refine_node").read_text()
    assert "from refinet_ros.ros.refine_node import main" in script
    files = [resolve(p, arguments) for p in node["parameters"] if not isinstance(p, dict)]
    assert [Path(f).read_text() for f in files] == [DEFAULT_CONFIG.read_text()]   # what the demo loads


def test_every_parameter_passed_is_declared_by_the_node(launch, context):
    arguments, nodes = launch
    passed = set()
    for p in nodes["refine_node"].kwargs["parameters"]:
        p = resolve(p, arguments)
        passed |= set(p) if isinstance(p, dict) else set(node_section(yaml.safe_load(Path(p).read_text()), p))
    node = RefineNode(context=context, parameter_overrides=[Parameter("stages", value="none")])
    try:
        undeclared = sorted(name for name in passed if not node.has_parameter(name))
    finally:
        node.destroy_node()
    assert not undeclared and "use_sim_time" in passed and "stages" in passed


def test_remaps_rename_the_nodes_real_input_topics(launch, context):
    """Run the node the way launch would (params file, namespace, remaps) and look at its subscriptions."""
    arguments, nodes = launch
    given = ROBOT
    kw = nodes["robot"].kwargs
    remaps = [(src, resolve(dst, arguments, given)) for src, dst in kw["remappings"]]
    defaults = load_defaults()
    assert sorted(src for src, _ in remaps) == sorted(defaults[p] for p in INPUT_TOPIC_PARAMS)
    cli = ["--ros-args", "--params-file", resolve(kw["parameters"][0], arguments, given)]
    for p in kw["parameters"][1:]:
        cli += [a for k, v in p.items() for a in ("-p", f"{k}:={str(resolve(v, arguments, given)).lower()}")]
    cli += [a for src, dst in remaps for a in ("-r", f"{src}:={dst}")]
    node = RefineNode(context=context, namespace=resolve(kw["namespace"], arguments, given), cli_args=cli,
                      parameter_overrides=[Parameter("stages", value="none")])
    try:
        topics = {s.topic_name for s in node.subscriptions}
        assert node.get_parameter("use_sim_time").value is True
        assert node.config.pose_input == "yolo" and node.config.target_frame == "base_link"
        assert node.get_fully_qualified_name() == "/robot1/refine_node"
    finally:
        node.destroy_node()
    assert {given["depth"], given["camera_info"], given["pose"]} <= topics


def test_rviz_is_optional_and_shows_the_nodes_topics(launch):
    arguments, nodes = launch
    rviz = nodes["rviz2"].kwargs
    condition = rviz["condition"]
    assert type(condition).__name__ == "IfCondition" and condition.args[0].args[0] == "rviz"
    assert arguments["rviz"]["default_value"] == "false"
    assert rviz["remappings"] == nodes["refine_node"].kwargs["remappings"]
    path = Path(resolve(rviz["arguments"][rviz["arguments"].index("-d") + 1], arguments))
    displays = {d["Class"]: d for d in yaml.safe_load(path.read_text())["Visualization Manager"]["Displays"]}
    defaults = load_defaults()
    assert displays["rviz_default_plugins/MarkerArray"]["Topic"]["Value"] == defaults["markers_topic"]
    assert displays["rviz_default_plugins/DepthCloud"]["Depth Map Topic"] == defaults["depth_topic"]
    assert displays["rviz_default_plugins/TF"]["Enabled"] is True


def test_composable_loads_the_same_node_with_the_same_parameters_and_remaps(launch):
    arguments, nodes = launch
    plain, container = nodes["refine_node"].kwargs, nodes["component_container"].kwargs
    assert arguments["composable"]["default_value"] == "false"
    assert type(plain["condition"]).__name__ == "UnlessCondition" and plain["condition"].args[0].args[0] == "composable"
    assert type(container["condition"]).__name__ == "IfCondition"
    (composed,) = container["composable_node_descriptions"]
    kw = composed.kwargs
    assert kw["plugin"] == "refinet_ros::RefineNode" and kw["name"] == plain["name"] and kw["package"] == "refinet_ros"
    assert kw["parameters"] == plain["parameters"] and kw["remappings"] == plain["remappings"]
    script = (REPO / "scripts" / "component_container").read_text()
    assert "from refinet_ros.ros.component_container import main" in script
    from refinet_ros.ros.component_container import ALIASES, resolve_plugin
    assert resolve_plugin("refinet_ros", kw["plugin"], ["refinet_ros"]) is RefineNode and kw["plugin"] in ALIASES
