"""The stature model file: one uncompressed ``.npz`` of plain arrays and a JSON header, no Python objects.

Why this format: loading must not run code from the file (a model saved as Python objects runs
whatever it holds when loaded), and must not trust it either. The header (array ``header``, a
JSON string) names the format, its version, the model's joint source, view, feature order and
training counts, and each regressor's kind; the arrays ``<regressor>.<field>`` hold that kind's
parameters (see :mod:`.stature_regressors`). :func:`read` accepts exactly that: anything else is
a ValueError naming the file and what is wrong; a file that cannot be read at all is the OSError
of reading it.
"""
from __future__ import annotations

import io
import json
import zipfile
import zlib
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from .stature_regressors import KINDS, Predictor

FORMAT = "refinet-stature-model"
VERSION = 1
HEADER = "header"
#: Header fields besides format/version/regressors, with their JSON types.
FIELDS: dict[str, type] = {"source": str, "view": str, "features": list, "train_people": int, "train_frames": int}
#: What a damaged zip member or .npy header raises inside numpy and zipfile.
_DAMAGE = (ValueError, EOFError, OSError, KeyError, MemoryError, zipfile.BadZipFile, zlib.error)


def write(path: Path, meta: Mapping[str, Any], regressors: Mapping[str, Predictor]) -> Path:
    """Write `regressors` (each one of the :data:`.stature_regressors.KINDS`) with the `meta` fields."""
    header = {"format": FORMAT, "version": VERSION, **{key: meta[key] for key in FIELDS},
              "regressors": {name: type(model).KIND for name, model in regressors.items()}}
    arrays = {f"{name}.{field}": value for name, model in regressors.items() for field, value in model.arrays().items()}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as out:        # a file object: np.savez would append .npz to a path
        np.savez(out, **{HEADER: np.array(json.dumps(header))}, **arrays)
    return path


def read(path: Path, features: Sequence[str]) -> tuple[dict[str, Any], dict[str, Predictor]]:
    """(header, {name: predictor}) of a file :func:`write` made for the given feature order."""
    path = Path(path)
    arrays = _arrays(path, path.read_bytes())
    header = _header(path, arrays.pop(HEADER, None), features)
    expected = {f"{name}.{field}" for name, kind in header["regressors"].items() for field in KINDS[kind].FIELDS}
    missing, extra = sorted(expected - set(arrays)), sorted(set(arrays) - expected)
    if missing or extra:
        raise ValueError(f"{path}: arrays do not match the header's regressors "
                         f"(missing {missing or 'none'}, unexpected {extra or 'none'})")
    regressors = {}
    for name, kind in header["regressors"].items():
        fields = {field: arrays[f"{name}.{field}"] for field in KINDS[kind].FIELDS}
        try:
            regressors[name] = KINDS[kind].from_arrays(fields, len(features))
        except ValueError as exc:
            raise ValueError(f"{path}: regressor '{name}': {exc}") from None
    return header, regressors


def _arrays(path: Path, data: bytes) -> dict[str, np.ndarray]:
    """Every array of an uncompressed npz (object arrays refused); anything else is a ValueError.
    Compressed members are refused unread, so a small file cannot inflate to gigabytes."""
    if not data.startswith(b"PK\x03\x04"):
        raise ValueError(f"{path}: not a stature model file (expected a .npz archive; "
                         "old .pkl models are no longer loaded: retrain with `refinet anthropometry train`)")
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            members = npz.zip.infolist()
            arrays = {key: npz[key] for key in npz.files} if all(map(_plain, members)) else {}
    except _DAMAGE as exc:
        raise ValueError(f"{path}: corrupt stature model file ({type(exc).__name__}: {exc})") from None
    odd = [m.filename for m in members if not _plain(m)]
    odd += [key for key, value in arrays.items() if not isinstance(value, np.ndarray)]
    if odd:
        raise ValueError(f"{path}: member {odd[0]} is not an uncompressed .npy array: not a stature model file")
    return arrays


def _plain(member: zipfile.ZipInfo) -> bool:
    return member.compress_type == zipfile.ZIP_STORED and member.filename.endswith(".npy")


def _header(path: Path, raw: np.ndarray | None, features: Sequence[str]) -> dict[str, Any]:
    """The parsed header, checked field by field."""
    if raw is None or raw.dtype.kind != "U" or raw.ndim != 0:
        raise ValueError(f"{path}: no '{HEADER}' string array: not a stature model file")
    try:
        header = json.loads(str(raw))
    except ValueError as exc:
        raise ValueError(f"{path}: '{HEADER}' is not JSON ({exc})") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise ValueError(f"{path}: not a {FORMAT} file")
    unknown = sorted(set(header) - {"format", "version", "regressors", *FIELDS})
    if unknown:
        raise ValueError(f"{path}: unknown header field(s) {unknown}")
    if header.get("version") != VERSION:
        raise ValueError(f"{path}: {FORMAT} version {header.get('version')!r}, this code reads version {VERSION}")
    for key, kind in FIELDS.items():
        value = header.get(key)
        if not isinstance(value, kind) or isinstance(value, bool) or (kind is int and value < 0):
            raise ValueError(f"{path}: header field '{key}' is {value!r}, expected a {kind.__name__}")
    if header["features"] != list(features):
        raise ValueError(f"{path}: trained on features {header['features']}, this code computes {list(features)}")
    regs = header.get("regressors")
    if not isinstance(regs, dict) or not regs or any(kind not in KINDS for kind in regs.values()):
        raise ValueError(f"{path}: header field 'regressors' is {regs!r}, expected {{name: kind}} "
                         f"with kinds from {sorted(KINDS)}")
    return header
