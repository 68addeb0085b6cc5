"""The main loop of this package's executables: init, spin, and a shutdown that loses nothing.

rclpy's own signal handler would shut the context down at once, while a node's worker thread may
still be publishing ("publisher's context is invalid"). Here SIGINT and SIGTERM end the spin, the
nodes are destroyed (each stops its threads first), and only then is the context shut down; a
second signal meanwhile (ros2 launch forwards Ctrl-C to a process that got it from the terminal
too), and one after the clean-up, is ignored.
"""
from __future__ import annotations

import signal
import sys
from typing import Callable, Sequence

import rclpy
from rclpy.executors import Executor, ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node
from rclpy.signals import SignalHandlerOptions

from ..config_file import ConfigError

#: A signal is handled when the main thread runs Python again, and a wait with nothing to wake it
#: would hold it forever: the executor waits at most this long at a time.
WAKE_S = 0.25


def spin_nodes(create: Callable[[Executor], Sequence[Node]], args: list[str] | None = None,
               name: str | None = None) -> int:
    """Run the nodes `create` makes until SIGINT/SIGTERM; exit code 2 on a ConfigError."""
    rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    stopping: list[int] = []

    def interrupt(signum: int, _frame: object) -> None:
        """The first signal ends the spin; from then on SIGINT/SIGTERM are ignored, set before raising,
        so a second one can neither interrupt the clean-up nor, arriving after it, kill the exit."""
        for sig in previous:
            signal.signal(sig, signal.SIG_IGN)
        stopping.append(signum)
        raise KeyboardInterrupt

    for sig in previous:
        signal.signal(sig, interrupt)
    executor = SingleThreadedExecutor()
    nodes: list[Node] = []
    try:
        nodes = list(create(executor))
        for node in nodes:
            executor.add_node(node)
        while executor.context.ok():
            executor.spin_once(timeout_sec=WAKE_S)
    except ConfigError as exc:
        print(f"{name or sys.argv[0]}: configuration error: {exc}", file=sys.stderr)
        return 2
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        for sig in previous:
            signal.signal(sig, signal.SIG_IGN)
        for node in reversed(nodes):
            node.destroy_node()
        executor.shutdown()
        rclpy.try_shutdown()
        if not stopping:                          # a signal ends the process: it stays ignored to the exit
            for sig, handler in previous.items():  # otherwise ignored signals would reach child processes
                signal.signal(sig, handler)
    return 0
