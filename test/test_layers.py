"""The package's layers only import downwards: core < shared message/config helpers < bags < ros < commands < cli.

The pure core (numpy/torch) must stay importable without ROS, rosbags or the CLI, the bag tools
without rclpy, and the node shell without the command line; an import that runs back up a layer
(at the top of a file or inside a function) fails here. Below the ROS layer nothing needs a ROS
runtime (rclpy, ROS message packages), and the core neither reads bags nor parses arguments.
"""
from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "refinet_ros"
#: First name under refinet_ros -> layer; a module may import its own layer and the ones below.
LAYERS = {
    "__init__": 0, "core": 0,
    "message_codec": 1, "stamps": 1, "config_file": 1,      # ROS-free helpers of the message and config formats
    "frame_input": 1,                                       # the one input path of the node and bag refine
    "pose_messages": 1,                                     # the 2D pose inputs (ours, yolo_msgs, hri_msgs), ROS-free
    "bags": 2,                                              # rosbag2 tools on `rosbags`, no rclpy
    "msg": 3, "ros": 3,                                     # rclpy, the generated messages, the node shell
    "commands": 4,
    "cli": 5,
}
#: What the core must not import: argument parsing belongs to commands/, bag reading to bags/.
CORE_FORBIDDEN = ("argparse", "rosbags")
#: Modules of a ROS runtime besides ROS message/interface packages (``*_msgs``, ``*_interfaces``).
ROS_RUNTIME = ("rclpy", "tf2_ros", "message_filters", "cv_bridge")


def needs_ros(top: str) -> bool:
    return top in ROS_RUNTIME or top.endswith(("_msgs", "_interfaces"))


def module_name(path: Path, package: Path) -> str:
    parts = path.relative_to(package.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path, package: Path) -> list[tuple[int, str]]:
    """(line, absolute module name) of every import in the file, relative ones resolved."""
    name = module_name(path, package)
    is_package = path.name == "__init__.py"
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                found.append((node.lineno, node.module))
                continue
            parts = name.split(".")
            base = parts[:len(parts) - node.level + (1 if is_package else 0)]
            if node.module:
                found.append((node.lineno, ".".join([*base, node.module])))
            else:                                   # `from .. import x`: x is a module of base
                found += [(node.lineno, ".".join([*base, alias.name])) for alias in node.names]
    return found


def layer_of(module: str) -> str:
    """The layer name of an absolute refinet_ros module name."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def violations(package: Path) -> list[str]:
    problems = []
    for path in sorted(package.rglob("*.py")):
        rel = path.relative_to(package)
        own = rel.parts[0] if len(rel.parts) > 1 else rel.stem
        where = path.relative_to(package.parent)
        if own not in LAYERS:
            problems.append(f"{where}: {own!r} has no layer in LAYERS")
            continue
        for line, module in imports(path, package):
            top = module.split(".")[0]
            if own == "core" and top in CORE_FORBIDDEN:
                problems.append(f"{where}:{line}: the core imports {module}")
            if LAYERS[own] < LAYERS["ros"] and needs_ros(top):
                problems.append(f"{where}:{line}: {own} imports {module}, which needs a ROS runtime")
            if top != package.name:
                continue
            target = layer_of(module)
            if target not in LAYERS:
                problems.append(f"{where}:{line}: imports {module}, whose {target!r} has no layer in LAYERS")
            elif LAYERS[target] > LAYERS[own]:
                problems.append(f"{where}:{line}: {own} imports {module} from the higher layer {target}")
    return problems


def test_no_module_imports_from_a_higher_layer_and_the_core_parses_no_arguments():
    assert violations(PACKAGE) == []


def test_an_upward_import_inside_a_function_fails(tmp_path):
    pkg = tmp_path / "refinet_ros"
    for folder in ("core", "bags", "ros", "commands"):
        (pkg / folder).mkdir(parents=True)
        (pkg / folder / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("")
    (pkg / "core" / "a.py").write_text("import numpy\n\ndef f():\n    from ..ros import node\n    import argparse\n")
    (pkg / "bags" / "b.py").write_text("from ..core import a\nfrom refinet_ros.commands.c import run\n\n"
                                       "def play():\n    import rclpy\n    from std_msgs.msg import Header\n")
    (pkg / "ros" / "node.py").write_text("from ..bags import b\n\ndef g():\n    from .. import cli\n")
    (pkg / "commands" / "c.py").write_text("from ..ros.node import g\nfrom . import d\n")
    (pkg / "cli.py").write_text("from .commands import c\n")
    (pkg / "extra.py").write_text("")
    assert violations(pkg) == [
        "refinet_ros/bags/b.py:2: bags imports refinet_ros.commands.c from the higher layer commands",
        "refinet_ros/bags/b.py:5: bags imports rclpy, which needs a ROS runtime",
        "refinet_ros/bags/b.py:6: bags imports std_msgs.msg, which needs a ROS runtime",
        "refinet_ros/core/a.py:4: core imports refinet_ros.ros from the higher layer ros",
        "refinet_ros/core/a.py:5: the core imports argparse",
        "refinet_ros/extra.py: 'extra' has no layer in LAYERS",
        "refinet_ros/ros/node.py:4: ros imports refinet_ros.cli from the higher layer cli",
    ]
