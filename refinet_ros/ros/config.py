"""The node's parameters: declared with the shipped YAML's values as defaults, read at configure, validated.

config/refinet.yaml is the one place parameter values live (the package ships it as
refinet_ros/data/refinet.yaml), and its comments are the parameters' descriptions (`ros2 param
describe`); this module says which values are acceptable (ranges, choices). A bad value, a wrong
type or an unknown name is a :class:`ConfigError` when the node configures, never a surprise at
the first frame.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor
from rclpy.exceptions import InvalidParameterTypeException, InvalidParameterValueException
from rclpy.node import Node

from ..config_file import (DEFAULT_CONFIG, NODE_NAME, ConfigError, node_section, parameter_descriptions,
                           read_node_parameters)
from ..core.layouts import LAYOUTS
from ..core.views import VIEWS
from ..core.pipeline import parse_stages
from ..pose_messages import POSE_INPUTS

__all__ = ["DEFAULT_CONFIG", "NODE_NAME", "ConfigError", "NodeConfig", "declare_parameters", "load_defaults",
           "node_section", "read_config", "validate"]

RELIABILITIES = ("best_effort", "reliable")
_DEVICE = re.compile(r"^(cpu|cuda(:\d+)?|mps)$")
#: Values of the `detector` parameter: 2D poses from the pose topic, or detected on the depth image.
DETECTORS = ("topic", "depth")
#: Numeric ranges shown by `ros2 param describe` and enforced when a value is set (from, to, step).
RANGES: dict[str, tuple[float, float, float]] = {
    "torch_threads": (0, 256, 1), "depth_window": (1, 51, 2), "max_bodies": (1, 100, 1),
    "max_full_people": (1, 100, 1),
    "sync_queue_size": (1, 1000, 1), "min_range": (0.0, 100.0, 0.0), "max_range": (0.01, 1000.0, 0.0),
    "sync_slop": (1e-6, 10.0, 0.0), "input_timeout": (0.01, 3600.0, 0.0), "marker_lifetime": (0.001, 3600.0, 0.0),
    "measurement_rate": (0.001, 1000.0, 0.0), "diagnostics_period": (0.01, 3600.0, 0.0),
    "warn_period": (0.01, 3600.0, 0.0), "tf_timeout": (0.0, 10.0, 0.0), "track_gate_m": (0.01, 10.0, 0.0),
    "track_max_missing_s": (0.01, 60.0, 0.0), "one_euro_min_cutoff": (0.001, 1000.0, 0.0),
    "one_euro_beta": (0.0, 1000.0, 0.0), "one_euro_d_cutoff": (0.001, 1000.0, 0.0),
}


@dataclass(frozen=True)
class NodeConfig:
    """Validated parameters of refine_node (field names are the ROS parameter names)."""

    autostart: bool
    view: str
    stages: tuple[str, ...]
    weights_dir: str
    device: str
    int8: bool
    torch_threads: int
    depth_window: int
    min_range: float
    max_range: float
    max_bodies: int
    max_full_people: int
    reduced_stages: tuple[str, ...]
    detector: str
    pose_input: str
    keypoint_layout: str
    hri_prefix: str
    depth_topic: str
    camera_info_topic: str
    pose_topic: str
    pose_camera_info_topic: str
    qos_reliability: str
    sync_slop: float
    sync_queue_size: int
    input_timeout: float
    output_topic: str
    markers_topic: str
    pose2d_topic: str
    marker_lifetime: float
    publish_tf: bool
    target_frame: str
    tf_timeout: float
    tracking: bool
    track_gate_m: float
    track_max_missing_s: float
    smoothing: bool
    one_euro_min_cutoff: float
    one_euro_beta: float
    one_euro_d_cutoff: float
    bodies_topic: str
    publish_measurements: bool
    measurements_topic: str
    measurement_rate: float
    measurement_model: str
    diagnostics_period: float
    warn_period: float


PARAMETER_NAMES: tuple[str, ...] = tuple(f.name for f in fields(NodeConfig))


def load_defaults(path: Path = DEFAULT_CONFIG) -> dict[str, Any]:
    """Parameter values of the shipped YAML; it must name every parameter, and nothing else."""
    values = read_node_parameters(path)
    missing, unknown = set(PARAMETER_NAMES) - set(values), set(values) - set(PARAMETER_NAMES)
    if missing or unknown:
        raise ConfigError(f"{path}: missing parameters {sorted(missing)}, unknown {sorted(unknown)}")
    return values


def descriptor(name: str, default: Any, description: str) -> ParameterDescriptor:
    """The parameter's description from the params file, and its range if it has one."""
    desc = ParameterDescriptor(name=name, description=description)
    if name in RANGES:
        lo, hi, step = RANGES[name]
        if isinstance(default, int):
            desc.integer_range = [IntegerRange(from_value=int(lo), to_value=int(hi), step=int(step))]
        else:
            desc.floating_point_range = [FloatingPointRange(from_value=lo, to_value=hi, step=step)]
    return desc


def declare_parameters(node: Node, defaults_path: Path = DEFAULT_CONFIG) -> list[str]:
    """Declare every parameter on `node` (overrides from --params-file/launch apply) and return the
    problems: an override of the wrong type or out of range is declared with its default instead and
    reported, so that configure can fail with the reason while `ros2 param` still works."""
    defaults, docs = load_defaults(defaults_path), parameter_descriptions(defaults_path)
    problems = []
    for name in PARAMETER_NAMES:
        desc = descriptor(name, defaults[name], docs.get(name, ""))
        try:
            node.declare_parameter(name, defaults[name], desc)
        except InvalidParameterTypeException as exc:
            problems.append(f"parameter {name}: {exc} (expected {type(defaults[name]).__name__}, "
                            f"like {defaults[name]!r})")
            node.declare_parameter(name, defaults[name], desc, ignore_override=True)
        except InvalidParameterValueException:
            lo, hi, step = RANGES[name]
            given = getattr(node, "_parameter_overrides", {})[name].value
            problems.append(f"parameter {name}={given!r}: expected a value from {lo:g} to {hi:g}"
                            + (f" in steps of {step:g} from {lo:g}" if step else ""))
            node.declare_parameter(name, defaults[name], desc, ignore_override=True)
    return problems


def read_config(node: Node) -> NodeConfig:
    """The declared parameters' current values, validated (a ConfigError names the first problem)."""
    _reject_unknown_overrides(node)
    return validate({name: node.get_parameter(name).value for name in PARAMETER_NAMES})


def _reject_unknown_overrides(node: Node) -> None:
    """A misspelt name in a params file would otherwise be ignored and its default used silently."""
    overrides = getattr(node, "_parameter_overrides", {})   # rclpy keeps no public accessor
    unknown = sorted(name for name in overrides if not node.has_parameter(name))
    if unknown:
        raise ConfigError(f"unknown parameter(s) {unknown}; refine_node declares {', '.join(PARAMETER_NAMES)}")


def validate(values: dict[str, Any]) -> NodeConfig:
    """Check every value; the first problem is a ConfigError naming the parameter and the choices."""
    def need(ok: bool, name: str, expected: str) -> None:
        if not ok:
            raise ConfigError(f"parameter {name}={values[name]!r}: expected {expected}")

    need(values["view"] in VIEWS, "view", " or ".join(VIEWS))
    try:
        stages = parse_stages(values["stages"])
    except ValueError as exc:
        raise ConfigError(f"parameter stages={values['stages']!r}: {exc}") from None
    try:
        reduced = parse_stages(values["reduced_stages"])
    except ValueError as exc:
        raise ConfigError(f"parameter reduced_stages={values['reduced_stages']!r}: {exc}") from None
    reduced = tuple(s for s in reduced if s in stages)       # only stages that are loaded
    need(values["keypoint_layout"] in LAYOUTS, "keypoint_layout", " | ".join(LAYOUTS))
    need(values["detector"] in DETECTORS, "detector", " | ".join(DETECTORS))
    need(values["pose_input"] in POSE_INPUTS, "pose_input", " | ".join(POSE_INPUTS))
    need(values["hri_prefix"].startswith("/") and len(values["hri_prefix"].strip("/")) > 0, "hri_prefix",
         "an absolute namespace such as /humans/bodies")
    need(bool(_DEVICE.match(values["device"])), "device", "cpu, cuda, cuda:N or mps")
    need(values["weights_dir"] == "" or Path(values["weights_dir"]).is_dir(), "weights_dir",
         "an existing folder, or '' for the shipped weights")
    need(not values["int8"] or values["device"] == "cpu", "int8", "false unless device is cpu")
    need(values["torch_threads"] >= 0, "torch_threads", "an integer >= 0 (0 = torch's default)")
    need(values["depth_window"] >= 1 and values["depth_window"] % 2 == 1, "depth_window", "an odd number >= 1")
    need(0 <= values["min_range"] < values["max_range"] < float("inf"), "min_range",
         f"0 <= min_range < max_range (max_range={values['max_range']!r}), both finite metres")
    need(values["max_bodies"] >= 1, "max_bodies", "an integer >= 1")
    for topic in ("depth_topic", "camera_info_topic", "pose_topic", "output_topic", "markers_topic",
                  "pose2d_topic", "measurements_topic", "bodies_topic"):
        need(bool(values[topic].strip()), topic, "a topic name")
    need(values["qos_reliability"] in RELIABILITIES, "qos_reliability", " or ".join(RELIABILITIES))
    need(values["sync_slop"] > 0, "sync_slop", "seconds > 0")
    need(values["sync_queue_size"] >= 1, "sync_queue_size", "an integer >= 1")
    for name in ("marker_lifetime", "diagnostics_period", "warn_period", "input_timeout"):
        need(values[name] > 0, name, "seconds > 0")
    need(values["measurement_rate"] > 0, "measurement_rate", "Hz > 0")
    need(0 <= values["tf_timeout"] <= 10, "tf_timeout", "seconds in [0, 10]")
    need(not values["smoothing"] or values["tracking"], "smoothing", "false unless tracking is true (it smooths "
                                                                     "tracks)")
    for name in ("track_gate_m", "track_max_missing_s", "one_euro_min_cutoff", "one_euro_d_cutoff"):
        need(values[name] > 0, name, "a number > 0")
    need(values["one_euro_beta"] >= 0, "one_euro_beta", "a number >= 0")
    need(values["target_frame"] == values["target_frame"].strip().lstrip("/"), "target_frame",
         "a frame id without spaces or a leading '/', or '' for the optical frame")
    need(values["measurement_model"] == "" or Path(values["measurement_model"]).is_file(), "measurement_model",
         "a model file from `refinet anthropometry train`, or '' for the joint-chain height")
    return NodeConfig(**{**values, "stages": stages, "reduced_stages": reduced})
