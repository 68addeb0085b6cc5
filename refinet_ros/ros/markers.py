"""RViz markers of refined skeletons: one sphere list of joints and one line list of limbs per body.

Marker ids and colours derive from the body label, so a tracked person keeps the same colour and
the same markers (replaced, not duplicated) from frame to frame; a short lifetime clears people
who left without any bookkeeping here.
"""
from __future__ import annotations

import zlib
from typing import Sequence

import numpy as np
from builtin_interfaces.msg import Duration
from geometry_msgs.msg import Point
from std_msgs.msg import ColorRGBA, Header
from visualization_msgs.msg import Marker, MarkerArray

from ..core.joints import LIMBS
from ..stamps import seconds_ns, stamp_msg

JOINT_DIAMETER_M = 0.05
LIMB_WIDTH_M = 0.02
#: Distinct, colour-blind-friendly hues (Okabe-Ito).
PALETTE = ((0.90, 0.62, 0.0), (0.34, 0.71, 0.91), (0.0, 0.62, 0.45), (0.94, 0.89, 0.26),
           (0.0, 0.45, 0.70), (0.84, 0.37, 0.0), (0.80, 0.47, 0.65))


def body_colour(label: str) -> ColorRGBA:
    r, g, b = PALETTE[zlib.crc32(label.encode()) % len(PALETTE)]
    return ColorRGBA(r=r, g=g, b=b, a=1.0)


def _marker(header: Header, ns: str, label: str, kind: int, width: float, points: list[Point],
            lifetime: Duration) -> Marker:
    m = Marker(header=header, ns=ns, id=zlib.crc32(label.encode()) & 0x7FFFFFFF, type=kind, action=Marker.ADD,
               points=points, color=body_colour(label), lifetime=lifetime)
    m.pose.orientation.w = 1.0
    m.scale.x = m.scale.y = m.scale.z = width
    return m


def skeleton_markers(header: Header, labels: Sequence[str], joints: np.ndarray, lifetime_s: float) -> MarkerArray:
    """(N, 15, 3) joints (NaN = missing) -> MarkerArray; missing joints and their limbs are left out."""
    lifetime = stamp_msg(Duration, seconds_ns(lifetime_s))
    markers = []
    for label, body in zip(labels, joints):
        valid = np.isfinite(body).all(-1)
        pts = [Point(x=float(x), y=float(y), z=float(z)) for x, y, z in body[valid]]
        limbs = [Point(x=float(x), y=float(y), z=float(z))
                 for a, b in LIMBS if valid[a] and valid[b] for x, y, z in body[[a, b]]]
        markers.append(_marker(header, "refinet/joints", label, Marker.SPHERE_LIST, JOINT_DIAMETER_M, pts, lifetime))
        markers.append(_marker(header, "refinet/limbs", label, Marker.LINE_LIST, LIMB_WIDTH_M, limbs, lifetime))
    return MarkerArray(markers=markers)
