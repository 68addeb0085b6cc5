"""The stand-in interface packages (third_party/) declare exactly the published definitions.

A stand-in whose fields differ in name, type or order has another type hash, and a real yolo_ros or
hri_body_detect graph would not connect to the node. Each stand-in .msg is compared with the
upstream file kept in test/data/interfaces (comments and layout aside), and so are the Python
classes that were built from it, where they are importable.
"""
from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PUBLISHED = ROOT / "test" / "data" / "interfaces"
STANDINS = ("yolo_msgs", "hri_msgs")
#: rosidl's Python type names of the primitive .msg types.
PY_TYPES = {"float64": "double", "float32": "float", "uint8": "uint8", "int32": "int32", "string": "string"}


def declarations(path: Path) -> tuple[list[tuple[str, str]], list[tuple[str, str, str]]]:
    """(fields as (type, name), constants as (type, name, value)) of a .msg file, in order."""
    fields, constants = [], []
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        kind, rest = line.split(None, 1)
        if "=" in rest:
            name, value = (s.strip() for s in rest.split("=", 1))
            constants.append((kind, name, value))
        else:
            fields.append((kind, rest.strip()))
    return fields, constants


def message_names(package: str) -> list[str]:
    return sorted(p.stem for p in (PUBLISHED / package).glob("*.msg"))


@pytest.mark.parametrize("package", STANDINS)
def test_stand_in_declares_every_published_message_field_by_field(package):
    ours = sorted(p.stem for p in (ROOT / "third_party" / package / "msg").glob("*.msg"))
    assert ours == message_names(package)
    for name in ours:
        assert declarations(ROOT / "third_party" / package / "msg" / f"{name}.msg") == \
            declarations(PUBLISHED / package / f"{name}.msg"), name


def test_the_parser_sees_a_changed_field():
    """The comparison is not vacuous: one renamed field and one reordered pair are told apart."""
    published = declarations(PUBLISHED / "yolo_msgs" / "KeyPoint2D.msg")[0]
    assert published == [("int32", "id"), ("yolo_msgs/Point2D", "point"), ("float64", "score")]
    assert declarations(PUBLISHED / "hri_msgs" / "Skeleton2D.msg")[1][-1] == ("uint8", "RIGHT_EAR", "17")


def _python_type(kind: str, package: str) -> str:
    """rosidl's get_fields_and_field_types() spelling of a .msg type."""
    match = re.fullmatch(r"([\w/]+)(\[(\d*)\])?", kind)
    base, array, size = match.group(1), match.group(2), match.group(3)
    base = PY_TYPES.get(base, base if "/" in base else f"{package}/{base}")
    if not array:
        return base
    return f"{base}[{size}]" if size else f"sequence<{base}>"


@pytest.mark.parametrize("package", STANDINS)
def test_the_built_messages_have_the_published_fields(package):
    """What was built and is imported (the stand-in, or the real package in a ROS install)."""
    module = pytest.importorskip(f"{package}.msg", reason="messages not built (make venv builds them)")
    for name in message_names(package):
        cls = getattr(module, name)
        fields, constants = declarations(PUBLISHED / package / f"{name}.msg")
        assert list(cls.get_fields_and_field_types().items()) == \
            [(n, _python_type(k, package)) for k, n in fields], name
        for _, const, value in constants:
            assert getattr(cls, const) == int(value), (name, const)
    importlib.import_module(package)
