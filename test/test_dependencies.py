"""Every third-party module refinet_ros imports is declared where each install route reads it.

The ROS route installs what package.xml names (rosdep keys); the pip route what setup.py's
install_requires and requirements.txt name. A module imported anywhere in refinet_ros/, at the top
of a file or inside a function, must have an entry in DECLARED below, and that entry must be in
package.xml and in the pip files. A new import without a declaration fails here.
"""
from __future__ import annotations

import ast
import re
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: module -> (package.xml key, pip requirement that provides it, note). A pip entry of None marks an
#: optional import behind a seam with a built-in fallback (refinet_ros/ros/compat/) or a package the
#: Makefile builds itself; ROS interfaces bundled in the rclpy wheel name that wheel. A package.xml
#: key of None marks the interfaces of an optional pose input: whoever runs that detector has them,
#: and rosdep must not fail for a user who does not (yolo_msgs is not released to the ROS index).
DECLARED: dict[str, tuple[str | None, str | None, str]] = {
    "numpy": ("python3-numpy", "numpy", ""),
    "h5py": ("python3-h5py", "h5py", ""),
    "scipy": ("python3-scipy", "scipy", "skeleton matching (Hungarian method)"),
    "cv2": ("python3-opencv", "opencv-python-headless", "lens distortion (core/distortion.py)"),
    "yaml": ("python3-yaml", "PyYAML", ""),
    "tqdm": ("python3-tqdm", "tqdm", ""),
    "matplotlib": ("python3-matplotlib", "matplotlib", ""),
    "torch": ("python3-torch", "torch", "rosdep installs the distro's (CPU) build"),
    "sklearn": ("python3-sklearn", "scikit-learn", "stature regressors (fitting only)"),
    "rosbags": ("python3-rosbags-pip", "rosbags", "bag tools"),
    "rclpy": ("rclpy", "ros-kilted-rclpy", ""),
    "builtin_interfaces": ("builtin_interfaces", "ros-kilted-rclpy", "bundled in the rclpy wheel"),
    "rcl_interfaces": ("rcl_interfaces", "ros-kilted-rclpy", "bundled in the rclpy wheel"),
    "rosgraph_msgs": ("rosgraph_msgs", "ros-kilted-rclpy", "bundled in the rclpy wheel"),
    "std_msgs": ("std_msgs", "ros-kilted-std-msgs", ""),
    "geometry_msgs": ("geometry_msgs", "ros-kilted-geometry-msgs", ""),
    "sensor_msgs": ("sensor_msgs", "ros-kilted-sensor-msgs", ""),
    "visualization_msgs": ("visualization_msgs", "ros-kilted-visualization-msgs", ""),
    "diagnostic_msgs": ("diagnostic_msgs", "ros-kilted-diagnostic-msgs", ""),
    "tf2_msgs": ("tf2_msgs", None, "pip route: stand-in built from third_party/tf2_msgs"),
    "composition_interfaces": ("composition_interfaces", None,
                               "pip route: stand-in built from third_party/composition_interfaces"),
    "lifecycle_msgs": ("lifecycle_msgs", "ros-kilted-rclpy", "bundled in the rclpy wheel"),
    "message_filters": ("message_filters", None, "optional: ros/compat/sync.py fallback"),
    "tf2_ros": ("tf2_ros", None, "optional: ros/compat/tf.py fallback"),
    "cv_bridge": ("cv_bridge", None, "optional: ros/compat/image.py fallback"),
    "yolo_msgs": (None, None, "pose_input yolo only: yolo_ros's; pip route: stand-in from third_party/yolo_msgs"),
    "hri_msgs": (None, None, "pose_input hri only: ROS4HRI's; pip route: stand-in from third_party/hri_msgs"),
}
#: install_requires holds the pure core's needs only: no ROS package (it runs without ROS).
ROS_KEYS = {key for key, pip, _ in DECLARED.values() if key and not key.startswith("python3-")}


def imported_modules(package: Path) -> dict[str, list[str]]:
    """Top-level module -> files importing it (absolute imports, anywhere in the file)."""
    found: dict[str, list[str]] = {}
    for path in sorted(package.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module] if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module
                     else [])
            for name in names:
                found.setdefault(name.split(".")[0], []).append(str(path.relative_to(package.parent)))
    return found


def third_party(modules: dict[str, list[str]]) -> dict[str, list[str]]:
    return {m: f for m, f in modules.items() if m not in sys.stdlib_module_names and m != "refinet_ros"}


def package_xml_keys() -> set[str]:
    root = ET.parse(ROOT / "package.xml").getroot()
    return {e.text.strip() for tag in ("depend", "exec_depend") for e in root.iter(tag)}


def pip_names(text: str) -> set[str]:
    return {re.split(r"[\s=<>;\[!~]", line.strip(), maxsplit=1)[0].lower()
            for line in text.splitlines() if line.strip() and not line.strip().startswith("#")}


def install_requires() -> set[str]:
    tree = ast.parse((ROOT / "setup.py").read_text())
    call = next(n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "id", "") == "setup")
    value = next(k.value for k in call.keywords if k.arg == "install_requires")
    return pip_names("\n".join(ast.literal_eval(value)))


def undeclared(modules: dict[str, list[str]]) -> list[str]:
    """Problems: modules without a DECLARED entry, or whose entry is missing from a route's files."""
    xml_keys, reqs, core = package_xml_keys(), pip_names((ROOT / "requirements.txt").read_text()), install_requires()
    problems = []
    for module, files in sorted(third_party(modules).items()):
        if module not in DECLARED:
            problems.append(f"{module} (imported in {files[0]}) has no entry in DECLARED")
            continue
        key, pip, _ = DECLARED[module]
        if key is not None and key not in xml_keys:
            problems.append(f"{module}: package.xml lacks <exec_depend>{key}</exec_depend>")
        if pip is not None and pip.lower() not in reqs:
            problems.append(f"{module}: requirements.txt lacks {pip}")
        if pip is not None and key and key.startswith("python3-") and pip.lower() not in core:
            problems.append(f"{module}: setup.py install_requires lacks {pip}")
    return problems


def test_every_imported_module_is_declared_for_both_routes():
    assert undeclared(imported_modules(ROOT / "refinet_ros")) == []


def test_install_requires_holds_no_ros_package():
    assert not {k.lower() for k in ROS_KEYS} & install_requires()


def test_an_undeclared_import_fails(tmp_path):
    pkg = tmp_path / "refinet_ros"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "sub" / "mod.py").write_text("import os\n\ndef f():\n    import pandas.io\n    from zmq import Context\n")
    problems = undeclared(imported_modules(pkg))
    assert [p.split()[0] for p in problems] == ["pandas", "zmq"] and "refinet_ros/sub/mod.py" in problems[0]


@pytest.mark.parametrize("module", ["torch", "sklearn", "rosbags"])
def test_the_keys_that_were_missing_are_declared(module):
    assert DECLARED[module][0] in package_xml_keys()
