"""The shipped params file (config/refinet.yaml), read without ROS.

The node declares its parameters from it (ros/config.py); the offline tools (`refinet bag refine`)
take the same defaults from it, so a bag refined offline sees the same input limits as the node.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

#: The shipped configuration (a copy of config/refinet.yaml inside the Python package).
DEFAULT_CONFIG = Path(__file__).resolve().parent / "data" / "refinet.yaml"
NODE_NAME = "refine_node"


class ConfigError(ValueError):
    """A parameter value the node cannot run with."""


def node_section(document: dict, path: Path | str = "config") -> dict[str, Any]:
    """The ``ros__parameters`` of the refine_node entry of a params-file document."""
    for key, section in (document or {}).items():
        if str(key).rstrip("/").split("/")[-1] == NODE_NAME and isinstance(section, dict):
            return dict(section.get("ros__parameters") or {})
    raise ConfigError(f"{path}: no '{NODE_NAME}: ros__parameters:' section")


def read_node_parameters(path: Path = DEFAULT_CONFIG) -> dict[str, Any]:
    """The refine_node parameters of a params file."""
    return node_section(yaml.safe_load(Path(path).read_text()), path)
