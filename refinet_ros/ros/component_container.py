"""A Python component container: composes rclpy nodes into one process and one executor.

rclpy ships no container, but ROS 2 composition is a service protocol, not a C++ API:
``ros2 component load`` and launch_ros's ``ComposableNodeContainer`` / ``LoadComposableNodes`` call
``~/_container/load_node``, ``unload_node`` and ``list_nodes`` (composition_interfaces) on whatever
node serves them. This one loads node classes named ``module:Class``
(``refinet_ros.ros.refine_node:RefineNode``; ``refinet_ros::RefineNode`` is an alias), with the
request's name, namespace, parameters, remaps and log level, and spins them all in its executor.

Loading imports code named in a request, so only classes from the packages in the container's
``allowed_packages`` parameter (default: refinet_ros) that are rclpy nodes can be loaded.
"""
from __future__ import annotations

import importlib
import sys
from typing import Any

from composition_interfaces.srv import ListNodes, LoadNode, UnloadNode
from rcl_interfaces.msg import ParameterDescriptor
from rclpy.executors import Executor
from rclpy.node import Node
from rclpy.parameter import Parameter

from .process import spin_nodes

CONTAINER_NAME = "refinet_container"
#: rclcpp-style plugin names of this package's components.
ALIASES = {"refinet_ros::RefineNode": "refinet_ros.ros.refine_node:RefineNode"}
#: rcl_interfaces/Log levels (LoadNode.log_level) -> --log-level names; 0 = unset.
LOG_LEVELS = {10: "debug", 20: "info", 30: "warn", 40: "error", 50: "fatal"}


class LoadError(ValueError):
    """A load request that cannot be served; the text goes back in the response."""


def resolve_plugin(package: str, plugin: str, allowed: list[str]) -> type[Node]:
    """The node class of a ``module:Class`` plugin name in one of the allowed packages."""
    target = ALIASES.get(plugin, plugin)
    module_name, sep, class_name = target.partition(":")
    if not sep or not class_name:
        raise LoadError(f"plugin {plugin!r}: expected 'module:Class' (e.g. {next(iter(ALIASES.values()))})")
    top = module_name.split(".")[0]
    if top != package or package not in allowed:
        raise LoadError(f"plugin {plugin!r} of package {package!r}: only classes of the packages "
                        f"{allowed} (the container's allowed_packages) can be loaded")
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError) as exc:
        raise LoadError(f"plugin {plugin!r}: {type(exc).__name__}: {exc}") from None
    if not (isinstance(cls, type) and issubclass(cls, Node)):
        raise LoadError(f"plugin {plugin!r} is not an rclpy Node class")
    return cls


def node_arguments(request: LoadNode.Request) -> dict[str, Any]:
    """Node constructor keywords for a request. The container's own command-line arguments (its
    name remap, for one) must not apply to the nodes it loads: use_global_arguments=False."""
    cli = ["--ros-args"] + [arg for rule in request.remap_rules for arg in ("-r", rule)]
    if request.log_level:
        cli += ["--log-level", LOG_LEVELS.get(request.log_level, str(request.log_level))]
    kwargs: dict[str, Any] = {"cli_args": cli, "use_global_arguments": False,
                              "parameter_overrides": [Parameter.from_parameter_msg(p) for p in request.parameters]}
    if request.node_namespace:
        kwargs["namespace"] = request.node_namespace
    if request.node_name:
        kwargs["node_name"] = request.node_name
    return kwargs


class ComponentContainer(Node):
    """Serves composition_interfaces' services; loaded nodes join `executor`."""

    def __init__(self, executor: Executor, node_name: str = CONTAINER_NAME, **node_kwargs: Any) -> None:
        super().__init__(node_name, **node_kwargs)
        self.declare_parameter("allowed_packages", ["refinet_ros"], ParameterDescriptor(
            description="packages whose node classes load_node may import", read_only=True))
        self._executor = executor
        self._nodes: dict[int, Node] = {}
        self._next_id = 1
        self.create_service(LoadNode, "~/_container/load_node", self._load)
        self.create_service(UnloadNode, "~/_container/unload_node", self._unload)
        self.create_service(ListNodes, "~/_container/list_nodes", self._list)

    def _load(self, request: LoadNode.Request, response: LoadNode.Response) -> LoadNode.Response:
        allowed = list(self.get_parameter("allowed_packages").value)
        ignored = [p.name for p in request.extra_arguments if p.name != "use_intra_process_comms"]
        try:
            cls = resolve_plugin(request.package_name, request.plugin_name, allowed)
            node = cls(**node_arguments(request), context=self.context)
        except (LoadError, ValueError, TypeError) as exc:      # ConfigError is a ValueError
            response.success, response.error_message = False, str(exc)
            self.get_logger().error(f"cannot load {request.plugin_name}: {exc}")
            return response
        if ignored:
            self.get_logger().warning(f"extra arguments {ignored} are not supported and were ignored")
        uid, self._next_id = self._next_id, self._next_id + 1
        self._nodes[uid] = node
        self._executor.add_node(node)
        response.success, response.unique_id = True, uid
        response.full_node_name = node.get_fully_qualified_name()
        self.get_logger().info(f"loaded {response.full_node_name} ({request.plugin_name}) as {uid}")
        return response

    def _unload(self, request: UnloadNode.Request, response: UnloadNode.Response) -> UnloadNode.Response:
        node = self._nodes.pop(request.unique_id, None)
        if node is None:
            response.success, response.error_message = False, f"no node with unique id {request.unique_id}"
            return response
        self._executor.remove_node(node)
        node.destroy_node()
        response.success = True
        return response

    def _list(self, request: ListNodes.Request, response: ListNodes.Response) -> ListNodes.Response:
        response.unique_ids = list(self._nodes)
        response.full_node_names = [n.get_fully_qualified_name() for n in self._nodes.values()]
        return response

    def destroy_node(self) -> None:
        """Loaded nodes first: each stops its own threads before the process goes."""
        for uid in reversed(list(self._nodes)):
            self._nodes.pop(uid).destroy_node()
        super().destroy_node()


def main(args: list[str] | None = None) -> int:
    """``ros2 run refinet_ros component_container``; launch_ros starts it with ``-r __node:=NAME``."""
    return spin_nodes(lambda executor: [ComponentContainer(executor)], args)


if __name__ == "__main__":
    sys.exit(main())
