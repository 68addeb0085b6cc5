"""The shipped params file (config/refinet.yaml), read without ROS.

The node declares its parameters from it (ros/config.py); the offline tools (`refinet bag refine`)
take the same defaults from it, so a bag refined offline sees the same input limits as the node.
"""
from __future__ import annotations

import re
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


_PARAM_LINE = re.compile(r"^(?P<indent>\s+)(?P<name>\w+):[^#]*(#\s?(?P<doc>.*))?$")
_COMMENT_LINE = re.compile(r"^\s+#\s?(?P<doc>.*)$")


def parameter_descriptions(path: Path = DEFAULT_CONFIG) -> dict[str, str]:
    """Each parameter's description: its trailing comment in the params file, plus the comment lines
    indented under it (what `ros2 param describe` then shows)."""
    docs: dict[str, list[str]] = {}
    current = None
    for line in Path(path).read_text().splitlines():
        param = _PARAM_LINE.match(line)
        if param and param["name"] != "ros__parameters" and len(param["indent"]) >= 4:
            current = param["name"]
            docs[current] = [param["doc"].strip()] if param["doc"] else []
            continue
        comment = _COMMENT_LINE.match(line)
        indented = comment and current and len(line) - len(line.lstrip()) > 4
        if indented:
            docs[current].append(comment["doc"].strip())
        else:
            current = None
    return {name: " ".join(parts) for name, parts in docs.items()}
