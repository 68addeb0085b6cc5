"""Opening, checking and atomically writing rosbag2 directories.

Every failure a user can cause (not a bag, corrupt or truncated storage, a missing topic, a topic of
the wrong type, messages out of order) becomes a :class:`BagError` naming the bag and what is wrong.
A bag being written lives in a hidden temporary directory next to its destination and is renamed into
place only when complete, so an interrupted or failed run never leaves a bag that looks finished.
The temporary directory's name holds the writer's pid, so one left by a killed run (SIGKILL skips
the cleanup) is removed by the next write to the same destination, and a live writer's is not.
"""
from __future__ import annotations

import os
import re
import shutil
import struct
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Collection, Iterable, Iterator

import yaml
from rosbags.interfaces import Connection
from rosbags.rosbag2 import Reader, ReaderError, StoragePlugin, Writer, WriterError
from rosbags.serde import SerdeError

from ..stamps import stamp_ns
from .typestore import typestore

STORAGES = {"mcap": StoragePlugin.MCAP, "sqlite3": StoragePlugin.SQLITE3}
#: Name ending of the hidden directory a bag is written in before it is renamed into place.
PARTIAL_SUFFIX = ".partial"
#: Errors rosbags (and the storage libraries under it) raise for damaged files.
_DAMAGE = (ReaderError, SerdeError, struct.error, EOFError, ValueError, KeyError, IndexError)


class BagError(ValueError):
    """A bag cannot be used; the message names the bag and the problem."""


@contextmanager
def open_bag(path: Path) -> Iterator[Reader]:
    """An open Reader; a missing, corrupt or truncated bag is a BagError."""
    path = Path(path)
    _metadata_file(path)
    try:
        reader = Reader(path)
        reader.open()
    except (*_DAMAGE, OSError) as exc:
        raise BagError(f"{path}: corrupt or truncated bag ({exc})") from exc
    try:
        yield reader
    finally:
        reader.close()


def _metadata_file(path: Path) -> Path:
    if not (path / "metadata.yaml").is_file():
        raise BagError(f"{path}: not a rosbag2 directory (no metadata.yaml)")
    return path / "metadata.yaml"


def custom_data(path: Path) -> dict[str, str]:
    """metadata.yaml's custom_data (where our tools record the view, source and stages)."""
    meta = _metadata_file(Path(path))
    try:
        info = yaml.safe_load(meta.read_text())["rosbag2_bagfile_information"]
        return dict(info.get("custom_data") or {})
    except (OSError, yaml.YAMLError, KeyError, TypeError, AttributeError, ValueError) as exc:
        raise BagError(f"{path}: not a readable rosbag2 metadata.yaml ({type(exc).__name__}: {exc})") from exc


def require_topics(reader: Reader, wanted: dict[str, str]) -> dict[str, Connection]:
    """The connection of each wanted topic, checked for presence and message type."""
    by_topic = {c.topic: c for c in reader.connections}
    found = {}
    for topic, msgtype in wanted.items():
        conn = by_topic.get(topic)
        if conn is None:
            raise BagError(f"{reader.path}: missing topic {topic} ({msgtype}); the bag has "
                           f"{', '.join(sorted(by_topic)) or 'no topics'}")
        if conn.msgtype != msgtype:
            raise BagError(f"{reader.path}: topic {topic} has type {conn.msgtype}, expected {msgtype}")
        found[topic] = conn
    return found


def read_messages(reader: Reader, connections: Iterable[Connection],
                  decode: Collection[str]) -> Iterator[tuple[Connection, int, Any, memoryview]]:
    """(connection, log time ns, message, raw CDR) in log-time order; the message is decoded only for
    the topics in `decode` (None for the others, which may be of types we do not know).

    Storage damage found while reading is a BagError, and so is a header stamp that goes backwards
    on a decoded topic: refinement and evaluation pair messages by stamp, which needs them in order."""
    store = typestore()
    last: dict[str, int] = {}
    try:
        for conn, t, raw in reader.messages(list(connections)):
            msg = store.deserialize_cdr(raw, conn.msgtype) if conn.topic in decode else None
            stamp = _stamp(msg)
            if stamp is not None:
                if stamp < last.get(conn.topic, stamp):
                    raise BagError(f"{reader.path}: messages out of order on {conn.topic}: header stamp "
                                   f"{stamp} ns comes after {last[conn.topic]} ns")
                last[conn.topic] = stamp
            yield conn, t, msg, raw
    except BagError:
        raise
    except _DAMAGE as exc:
        raise BagError(f"{reader.path}: corrupt or truncated bag ({type(exc).__name__}: {exc})") from exc


def _stamp(msg: Any) -> int | None:
    hdr = getattr(msg, "header", None)
    return None if hdr is None else stamp_ns(hdr.stamp)


@contextmanager
def new_bag(out: Path, storage: str = "mcap", metadata: dict[str, str] | None = None) -> Iterator[Writer]:
    """A Writer for a new bag at `out`, which appears only if the block completes without error."""
    out = Path(out)
    if out.exists():
        raise BagError(f"{out}: already exists; remove it or choose another output")
    if storage not in STORAGES:
        raise BagError(f"unknown storage {storage!r}; choose from {', '.join(STORAGES)}")
    out.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_partials(out)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.{os.getpid()}.", suffix=PARTIAL_SUFFIX, dir=out.parent))
    writer = Writer(tmp / out.name, version=9, storage_plugin=STORAGES[storage])
    try:
        writer.open()
        for key, value in (metadata or {}).items():
            writer.set_custom_data(key, value)
        yield writer
        writer.close()
        os.rename(tmp / out.name, out)
    except WriterError as exc:
        raise BagError(f"{out}: cannot write the bag ({exc})") from exc
    finally:
        if writer.storage is not None:
            writer.abort()
        shutil.rmtree(tmp, ignore_errors=True)


def remove_stale_partials(out: Path) -> list[Path]:
    """Remove the temporary directories of earlier writes to `out` whose writer process is gone
    (``.<name>.<pid>.<random>.partial``, as :func:`new_bag` names them); returns what was removed."""
    pattern = re.compile(rf"\.{re.escape(out.name)}\.(\d+)\.[a-z0-9_]+{re.escape(PARTIAL_SUFFIX)}")
    stale = [p for p in out.parent.iterdir()
             if (m := pattern.fullmatch(p.name)) and p.is_dir() and not p.is_symlink() and not _alive(int(m[1]))]
    for path in stale:
        shutil.rmtree(path, ignore_errors=True)
    removed = [p for p in stale if not p.exists()]
    if removed:
        print(f"removed {len(removed)} temporary folder(s) left by killed writes of {out}: "
              f"{', '.join(p.name for p in removed)}", file=sys.stderr)
    return removed


def _alive(pid: int) -> bool:
    """Whether process `pid` exists; another user's process counts (its folder is not ours to judge)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except (OverflowError, OSError):      # not a pid this system can have
        return False
    return True


def add_connection(writer: Writer, topic: str, msgtype: str) -> Connection:
    """A connection whose embedded definition comes from our typestore (ROS 2 Kilted + msg/)."""
    return writer.add_connection(topic, msgtype, typestore=typestore())


def copy_connection(writer: Writer, conn: Connection) -> Connection:
    """The same topic in another bag, keeping the recorded definition, hash and QoS where present."""
    if conn.msgdef.data and conn.digest:
        return writer.add_connection(conn.topic, conn.msgtype, msgdef=conn.msgdef.data, rihs01=conn.digest,
                                     offered_qos_profiles=conn.ext.offered_qos_profiles)
    return writer.add_connection(conn.topic, conn.msgtype, typestore=typestore(),
                                 offered_qos_profiles=conn.ext.offered_qos_profiles)
