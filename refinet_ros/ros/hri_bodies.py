"""ROS4HRI bodies as one pose message per image stamp (pose_input: hri).

hri_body_detect and its peers publish the list of tracked bodies on ``<prefix>/tracked``
(hri_msgs/IdsList) and each body's 2D skeleton on its own topic, ``<prefix>/<id>/skeleton2d``
(hri_msgs/Skeleton2D), all stamped with the image they came from (REP-155). The node needs the
people of one image together. :class:`HriBodiesInput` follows the tracked list (a subscription per
listed body, dropped when the body leaves the list) and gathers the skeletons of each stamp into a
:class:`~refinet_ros.pose_messages.HriBodies`, handed on when every tracked body has reported for
that stamp, or when a newer stamp shows that the missing ones will not. A tracked list with no ids
hands on an empty frame for its stamp (nobody in view is a result too).
"""
from __future__ import annotations

import re
from typing import Any, Callable

from ..pose_messages import BodyGatherer, HriBodies
from ..stamps import stamp_ns
#: A ROS4HRI id makes a topic name: letters, digits and underscores.
_ID = re.compile(r"^[A-Za-z0-9_]+$")


class HriBodiesInput:
    """Subscriptions that follow ``<prefix>/tracked`` and emit one HriBodies per stamp.

    `subscribe(msg_type, topic, callback)` returns a subscription and `unsubscribe(sub)` drops it
    (the node's own, so that QoS problems and losses are counted like any input)."""

    def __init__(self, prefix: str, subscribe: Callable[[type, str, Callable[[Any], None]], Any],
                 unsubscribe: Callable[[Any], None], emit: Callable[[HriBodies], None],
                 warn: Callable[[str, str], None]) -> None:
        from hri_msgs.msg import IdsList, Skeleton2D     # the real package or the stand-in (make venv)
        self._prefix = prefix.rstrip("/")
        self._skeleton_type = Skeleton2D
        self._subscribe, self._unsubscribe, self._emit, self._warn = subscribe, unsubscribe, emit, warn
        self._bodies: dict[str, Any] = {}                  # id -> subscription
        self._gatherer = BodyGatherer()
        self._tracked_sub = subscribe(IdsList, f"{self._prefix}/tracked", self._on_tracked)

    @property
    def tracked_topic(self) -> str:
        return f"{self._prefix}/tracked"

    def close(self) -> None:
        for sub in [self._tracked_sub, *self._bodies.values()]:
            self._unsubscribe(sub)
        self._bodies.clear()

    def _on_tracked(self, msg: Any) -> None:
        ids = []
        for body in msg.ids:
            if _ID.match(body):
                ids.append(body)
            else:
                self._warn("hri_id", f"body id {body!r} on {self.tracked_topic} cannot name a topic; ignored")
        for gone in set(self._bodies) - set(ids):
            self._unsubscribe(self._bodies.pop(gone))
        for body in ids:
            if body not in self._bodies:
                self._bodies[body] = self._subscribe(self._skeleton_type, f"{self._prefix}/{body}/skeleton2d",
                                                     lambda m, b=body: self._on_skeleton(b, m))
        if not ids and stamp_ns(msg.header.stamp):
            self._emit(HriBodies(msg.header, ()))
        self._flush_complete()

    def _on_skeleton(self, body: str, msg: Any) -> None:
        for bodies in self._gatherer.add(body, msg):
            self._emit(bodies)
        self._flush_complete()

    def _flush_complete(self) -> None:
        for bodies in self._gatherer.complete(set(self._bodies)):
            self._emit(bodies)


__all__ = ["HriBodiesInput"]
