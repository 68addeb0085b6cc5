"""The rosbags typestore for our bags: ROS 2 Kilted's standard messages plus refinet_ros/msg.

The custom types are parsed from the package's own .msg files (``refinet_ros/data/msg``, a link to
the repository's ``msg/`` that setup.py ships as package data), so the definitions a bag embeds are
exactly the ones rosidl generates the ROS code from; ``ros2 bag play`` / ``info`` then need nothing
beyond an install of refinet_ros. The pose inputs of other packages that ``bag refine`` reads
(yolo_msgs, hri_msgs: ``refinet_ros/data/interfaces/<package>``, links to the stand-ins' published
definitions) are registered too.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from rosbags.typesys import Stores, get_types_from_msg, get_typestore
from rosbags.typesys.store import Typestore

MSG_DIR = Path(__file__).resolve().parents[1] / "data" / "msg"
INTERFACES_DIR = MSG_DIR.parent / "interfaces"
PACKAGE = "refinet_ros"
#: Other packages' interfaces that bag refine reads (--pose-input yolo / hri).
OTHER_PACKAGES = ("yolo_msgs", "hri_msgs")


def custom_types(msg_dir: Path = MSG_DIR, package: str = PACKAGE) -> dict:
    """Parse trees of every ``<package>/msg/*`` type in `msg_dir`, keyed by full type name."""
    files = sorted(Path(msg_dir).glob("*.msg"))
    if not files:
        raise FileNotFoundError(f"no .msg files in {msg_dir}: the {package} message definitions are not installed")
    types: dict = {}
    for path in files:
        types.update(get_types_from_msg(path.read_text(), f"{package}/msg/{path.stem}"))
    return types


@lru_cache(maxsize=1)
def typestore() -> Typestore:
    """The shared typestore (built once: parsing and code generation take ~0.1 s)."""
    store = get_typestore(Stores.ROS2_KILTED)
    store.register(custom_types())
    for package in OTHER_PACKAGES:
        store.register(custom_types(INTERFACES_DIR / package, package))
    return store
