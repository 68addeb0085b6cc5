"""Reader and writer for the ITOP dataset's h5 layout, and for external 2D-prediction files.

Layout (see shared/itop_format.md): ``*_depth_map.h5`` holds ``id`` and ``data`` (float16 metres,
0 = no reading); ``*_labels.h5`` holds ``id``, ``is_valid``, ``visible_joints``,
``image_coordinates``, ``real_world_coordinates`` (Y up) and ``segmentation``.
In memory, joints are in the REP-103 optical frame and missing depth is NaN.
Every format problem raises :class:`ItopFormatError` naming the file and the key, including
numbers in the wrong unit: millimetres read as metres would score as a silent mAP of 0.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import h5py
import numpy as np

from .camera import itop_to_optical
from .depth import from_itop_depth, to_itop_depth
from .joints import NUM_JOINTS
from .views import VIEWS

_VIEW_RE = re.compile(rf"ITOP_({'|'.join(VIEWS)})_", re.IGNORECASE)
#: A median depth beyond this many "metres" is millimetres (ITOP's Xtion reads to ~8 m).
MAX_PLAUSIBLE_M = 20.0
#: Frames of a depth file whose readings are checked for the unit when it is opened.
UNIT_SAMPLE_FRAMES = 8
#: dtype kinds that hold numbers: bool, int, uint, float.
_NUMERIC = "biuf"
#: Group of a labels file holding every person of multi-person frames (README: Multi-person files).
PEOPLE_GROUP = "people"


class ItopFormatError(ValueError):
    """A file does not follow the ITOP layout; the message names the file and the key."""


@dataclass
class ItopLabels:
    """Per-frame labels, in the optical frame (y down), metres."""

    ids: np.ndarray                      # (N,) str
    is_valid: np.ndarray                 # (N,) bool
    visible: np.ndarray                  # (N, 15) bool
    uv: np.ndarray                       # (N, 15, 2) pixels
    joints: np.ndarray                   # (N, 15, 3) optical frame, metres
    segmentation: np.ndarray | None = None  # (N, H, W) int8, -1 = background

    def __len__(self) -> int:
        return len(self.ids)

    def subset(self, index: np.ndarray) -> "ItopLabels":
        seg = None if self.segmentation is None else self.segmentation[index]
        return ItopLabels(self.ids[index], self.is_valid[index], self.visible[index],
                          self.uv[index], self.joints[index], seg)


@dataclass
class PeopleLabels:
    """Every person of multi-person frames: P slots per frame, slot 0 is the ITOP-layout person."""

    ids: np.ndarray          # (N,) str, the labels file's frame ids
    track_id: np.ndarray     # (N, P) int, -1 = nobody in the slot; a track id is one person
    present: np.ndarray      # (N, P) bool: torso in the image and the body partly seen
    visible: np.ndarray      # (N, P, 15) bool
    uv: np.ndarray           # (N, P, 15, 2) pixels, NaN when empty
    joints: np.ndarray       # (N, P, 15, 3) optical frame, metres, NaN when empty


@dataclass
class Pose2D:
    """2D keypoints from a detector, aligned to a labels file's frame order."""

    uv: np.ndarray           # (N, 15, 2), NaN = missing
    confidence: np.ndarray   # (N, 15) in [0, 1]


def infer_view(path: str | Path) -> str | None:
    """'side' or 'top' from an ITOP-style file name (ITOP_side_* / ITOP_top_*), else None."""
    match = _VIEW_RE.search(Path(path).name)
    return match.group(1).lower() if match else None


def _decode_ids(raw: np.ndarray) -> np.ndarray:
    return np.array([i.decode() if isinstance(i, bytes) else str(i) for i in raw], dtype=object).astype(str)


def _open(path: Path) -> h5py.File:
    if not path.is_file():
        raise ItopFormatError(f"{path}: no such file")
    try:
        return h5py.File(path, "r")
    except OSError as exc:
        raise ItopFormatError(f"{path}: not a readable HDF5 file ({exc})") from exc


def _dataset(h5: h5py.File, path: Path, key: str, shape_tail: tuple[int, ...] | None, n: int | None,
             numeric: bool = True) -> h5py.Dataset:
    """The dataset `key`, checked for presence, for shape (N, *shape_tail) and (unless `numeric`
    is False, as for 'id') for holding numbers."""
    if key not in h5:
        raise ItopFormatError(f"{path}: missing key '{key}' (have {sorted(h5.keys())})")
    ds = h5[key]
    if not isinstance(ds, h5py.Dataset):
        raise ItopFormatError(f"{path}: key '{key}' is not a dataset")
    if numeric:
        _require_numbers(path, key, ds.dtype)
    if shape_tail is not None and tuple(ds.shape[1:]) != shape_tail:
        raise ItopFormatError(f"{path}: key '{key}' has shape {ds.shape}, "
                              f"expected (N, {', '.join(map(str, shape_tail))})")
    if n is not None and ds.shape[0] != n:
        raise ItopFormatError(f"{path}: key '{key}' has {ds.shape[0]} entries but 'id' has {n}")
    return ds


def _require_numbers(path: Path, key: str, dtype: np.dtype) -> None:
    if dtype.kind not in _NUMERIC:
        text = h5py.check_string_dtype(dtype) is not None or dtype.kind in "SUO"
        raise ItopFormatError(f"{path}: key '{key}' holds {'text' if text else 'non-numbers'} ({dtype}), "
                              "expected numbers")


def _require_metres(path: Path, key: str, magnitudes: np.ndarray) -> None:
    """Valid distances whose median is beyond :data:`MAX_PLAUSIBLE_M` are millimetres."""
    median = float(np.median(magnitudes)) if magnitudes.size else 0.0
    if median > MAX_PLAUSIBLE_M:
        raise ItopFormatError(f"{path}: key '{key}' has a median distance of {median:g}, expected metres "
                              "(looks like millimetres: divide by 1000)")


def _read_ids(h5: h5py.File, path: Path) -> np.ndarray:
    ids = _dataset(h5, path, "id", (), None, numeric=False)
    return _decode_ids(ids[()])


def read_labels(path: str | Path, with_segmentation: bool = False) -> ItopLabels:
    """Read an ITOP ``*_labels.h5``. Valid frames must have finite coordinates."""
    path = Path(path)
    with _open(path) as h5:
        ids = _read_ids(h5, path)
        n = len(ids)
        is_valid = _dataset(h5, path, "is_valid", (), n)[()].astype(bool)
        visible = _dataset(h5, path, "visible_joints", (NUM_JOINTS,), n)[()].astype(bool)
        uv = _dataset(h5, path, "image_coordinates", (NUM_JOINTS, 2), n)[()].astype(np.float64)
        world = _dataset(h5, path, "real_world_coordinates", (NUM_JOINTS, 3), n)[()].astype(np.float64)
        seg = None
        if with_segmentation:
            seg_ds = _dataset(h5, path, "segmentation", None, n)
            if seg_ds.ndim != 3:
                raise ItopFormatError(f"{path}: key 'segmentation' has shape {seg_ds.shape}, expected (N, H, W)")
            seg = seg_ds[()].astype(np.int8)
    for key, arr in (("real_world_coordinates", world), ("image_coordinates", uv)):
        bad = ~np.isfinite(arr[is_valid]).all(axis=(1, 2))
        if bad.any():
            first = ids[is_valid][bad][0]
            raise ItopFormatError(f"{path}: key '{key}' has NaN/inf in {int(bad.sum())} valid frame(s), "
                                  f"first id {first}")
    _require_metres(path, "real_world_coordinates", np.abs(world[is_valid][..., 2]))   # ITOP z: distance ahead
    return ItopLabels(ids, is_valid, visible, uv, itop_to_optical(world), seg)


#: Frames per contiguous read of :meth:`DepthFile.read` (a float16 320x240 block is 40 MB).
READ_BLOCK = 256
#: Read a block as a slice when it spans at most this many frames per wanted frame.
SLICE_DENSITY = 8


class DepthFile:
    """Lazy reader of an ITOP ``*_depth_map.h5``: the real test split is 1.6 GB, so frames are read on demand."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._h5 = _open(self.path)
        try:
            self.ids = _read_ids(self._h5, self.path)
            self._data = _dataset(self._h5, self.path, "data", None, len(self.ids))
            if self._data.ndim != 3:
                raise ItopFormatError(f"{self.path}: key 'data' has shape {self._data.shape}, expected (N, H, W)")
            self._check_unit()
        except ItopFormatError:
            self._h5.close()
            raise

    def _check_unit(self) -> None:
        """Depth must be float metres: integers (a driver's 16UC1 millimetres) or float readings of
        millimetre size, checked on a few frames spread over the file, are an ItopFormatError."""
        if self._data.dtype.kind != "f":
            hint = " (integers look like millimetres)" if self._data.dtype.kind in "iu" else ""
            raise ItopFormatError(f"{self.path}: key 'data' is {self._data.dtype}, expected float16/float32 "
                                  f"metres{hint}")
        sample = np.unique(np.linspace(0, len(self) - 1, min(len(self), UNIT_SAMPLE_FRAMES)).astype(np.int64))
        frames = from_itop_depth(self._data[sample]) if len(sample) else np.empty(0)
        _require_metres(self.path, "data", frames[np.isfinite(frames)])

    @property
    def shape(self) -> tuple[int, int]:
        """(height, width) of one frame."""
        return tuple(self._data.shape[1:])  # type: ignore[return-value]

    def __len__(self) -> int:
        return len(self.ids)

    def read(self, index: np.ndarray | slice) -> np.ndarray:
        """Frames as float32 metres with NaN for no reading, in the order of `index` (any order, repeats allowed).

        An index array is read per block of READ_BLOCK frames: as one contiguous slice when the wanted
        frames are dense in it, since h5py's point selection costs ~10x a sliced frame (both decompress).
        """
        if isinstance(index, slice):
            return from_itop_depth(self._data[index])
        index = np.asarray(index, dtype=np.int64)
        out = np.empty((len(index), *self.shape), dtype=np.float32)
        for block in np.unique(index // READ_BLOCK):
            sel = np.flatnonzero(index // READ_BLOCK == block)
            wanted = np.unique(index[sel])
            lo, hi = wanted[0], wanted[-1] + 1
            if hi - lo <= SLICE_DENSITY * len(wanted):
                out[sel] = from_itop_depth(self._data[lo:hi])[index[sel] - lo]
            else:
                out[sel] = from_itop_depth(self._data[wanted])[np.searchsorted(wanted, index[sel])]
        return out

    def batches(self, index: np.ndarray, batch_size: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(positions within `index`, depth) chunks in file order, so each chunk is a few contiguous reads."""
        order = np.argsort(index, kind="stable")
        for start in range(0, len(index), batch_size):
            pos = order[start:start + batch_size]
            yield pos, self.read(np.asarray(index)[pos])

    def close(self) -> None:
        self._h5.close()

    def __enter__(self) -> "DepthFile":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def check_pair(depth: DepthFile, labels: ItopLabels, labels_path: str | Path) -> None:
    """The depth and labels files must list the same ids in the same order."""
    if len(depth.ids) != len(labels.ids) or not np.array_equal(depth.ids, labels.ids):
        mismatch = np.flatnonzero(depth.ids[:len(labels.ids)] != labels.ids[:len(depth.ids)])
        where = f"first mismatch at index {mismatch[0]}" if len(mismatch) else "different lengths"
        raise ItopFormatError(f"{labels_path}: key 'id' does not match {depth.path} "
                              f"({len(labels.ids)} vs {len(depth.ids)} ids, {where})")


def read_people(path: str | Path) -> PeopleLabels | None:
    """The per-person layout of a labels file, or None for a single-person (plain ITOP) file."""
    path = Path(path)
    with _open(path) as h5:
        if PEOPLE_GROUP not in h5:
            return None
        ids = _read_ids(h5, path)
        g, n = h5[PEOPLE_GROUP], len(ids)
        track = _dataset(g, path, "track_id", None, n)[()].astype(np.int64)
        if track.ndim != 2:
            raise ItopFormatError(f"{path}: key '{PEOPLE_GROUP}/track_id' has shape {track.shape}, expected (N, P)")
        slots = track.shape[1]
        read = lambda key, tail: _dataset(g, path, key, (slots, *tail), n)[()]   # noqa: E731
        return PeopleLabels(ids, track, read("present", ()).astype(bool),
                            read("visible_joints", (NUM_JOINTS,)).astype(bool),
                            read("image_coordinates", (NUM_JOINTS, 2)).astype(np.float64),
                            itop_to_optical(read("real_world_coordinates", (NUM_JOINTS, 3))))


def read_pose2d(path: str | Path, ids: np.ndarray) -> Pose2D:
    """Read an external 2D-predictions ``.npz`` (ids, keypoints N x 15 x 2, optional confidence N x 15).

    Predictions are re-ordered to `ids`; every id must be present (a score over part of the frames
    would not be comparable). A NaN keypoint is allowed only as a declared missing joint
    (confidence 0); anything else is an error, so that garbage is not silently scored.
    """
    pose2d, covered = match_pose2d(path, ids)
    if not covered.all():
        missing = np.asarray(ids)[~covered]
        raise ItopFormatError(f"{path}: key 'ids' lacks {len(missing)} id(s) of the labels file, "
                              f"e.g. {[str(i) for i in missing[:3]]}")
    return pose2d


def match_pose2d(path: str | Path, ids: np.ndarray) -> tuple[Pose2D, np.ndarray]:
    """(predictions re-ordered to `ids`, (len(ids),) bool: the id has a prediction). Rows of ids
    without one are NaN with confidence 0. Training uses this and leaves those frames out; a file
    that covers none of `ids` is an error (it belongs to other data)."""
    path = Path(path)
    if not path.is_file():
        raise ItopFormatError(f"{path}: no such file")
    try:
        npz = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise ItopFormatError(f"{path}: not a readable .npz file ({exc})") from exc
    with npz:
        for key in ("ids", "keypoints"):
            if key not in npz.files:
                raise ItopFormatError(f"{path}: missing key '{key}' (have {sorted(npz.files)})")
        file_ids = _decode_ids(npz["ids"])
        kp = _npz_numbers(npz, path, "keypoints")
        conf = _npz_numbers(npz, path, "confidence") if "confidence" in npz.files else None
    n = len(file_ids)
    if kp.shape != (n, NUM_JOINTS, 2):
        raise ItopFormatError(f"{path}: key 'keypoints' has shape {kp.shape}, expected ({n}, {NUM_JOINTS}, 2)")
    if conf is None:
        conf = np.ones((n, NUM_JOINTS))
    elif conf.shape != (n, NUM_JOINTS):
        raise ItopFormatError(f"{path}: key 'confidence' has shape {conf.shape}, expected ({n}, {NUM_JOINTS})")
    if not np.isfinite(conf).all():
        raise ItopFormatError(f"{path}: key 'confidence' has NaN/inf values")
    undeclared = ~np.isfinite(kp).all(-1) & (conf > 0)
    if undeclared.any():
        raise ItopFormatError(f"{path}: key 'keypoints' has {int(undeclared.sum())} NaN/inf keypoint(s) "
                              "with confidence > 0 (mark a missing joint with confidence 0)")
    lookup = {i: k for k, i in enumerate(file_ids)}
    if len(lookup) != n:
        raise ItopFormatError(f"{path}: key 'ids' has duplicate ids")
    order = np.array([lookup.get(i, -1) for i in ids], dtype=np.int64)
    covered = order >= 0
    if len(ids) and not covered.any():
        raise ItopFormatError(f"{path}: key 'ids' covers none of the {len(ids)} frame(s) of the labels file "
                              f"(its ids look like {[str(i) for i in file_ids[:2]]}, the labels' like "
                              f"{[str(i) for i in np.asarray(ids)[:2]]})")
    uv = np.full((len(ids), NUM_JOINTS, 2), np.nan)
    confidence = np.zeros((len(ids), NUM_JOINTS))
    uv[covered] = kp[order[covered]]
    confidence[covered] = np.clip(conf[order[covered]], 0.0, 1.0)
    uv[~np.isfinite(uv).all(-1)] = np.nan
    return Pose2D(uv, confidence), covered


def _npz_numbers(npz: np.lib.npyio.NpzFile, path: Path, key: str) -> np.ndarray:
    arr = npz[key]
    _require_numbers(path, key, arr.dtype)
    return arr.astype(np.float64)


def _encode_ids(ids: np.ndarray) -> np.ndarray:
    return np.array([str(i).encode() for i in ids], dtype="S")


def write_itop(prefix: str | Path, depth_m: np.ndarray, labels: ItopLabels) -> tuple[Path, Path]:
    """Write ``{prefix}_depth_map.h5`` and ``{prefix}_labels.h5`` in the real ITOP layout."""
    prefix = Path(prefix)
    prefix.parent.mkdir(parents=True, exist_ok=True)
    depth_path = prefix.with_name(prefix.name + "_depth_map.h5")
    labels_path = prefix.with_name(prefix.name + "_labels.h5")
    n = len(labels.ids)
    if depth_m.shape[0] != n:
        raise ValueError(f"depth has {depth_m.shape[0]} frames but labels have {n}")
    ids = _encode_ids(labels.ids)
    with h5py.File(depth_path, "w") as h5:
        h5.create_dataset("id", data=ids)
        h5.create_dataset("data", data=to_itop_depth(depth_m), compression="gzip", compression_opts=1,
                          chunks=(1, *depth_m.shape[1:]))
    seg = labels.segmentation
    if seg is None:
        seg = np.full(depth_m.shape, -1, dtype=np.int8)
    with h5py.File(labels_path, "w") as h5:
        h5.create_dataset("id", data=ids)
        h5.create_dataset("is_valid", data=labels.is_valid.astype(np.uint8))
        h5.create_dataset("visible_joints", data=labels.visible.astype(np.uint8))
        h5.create_dataset("image_coordinates", data=labels.uv.astype(np.float32))
        h5.create_dataset("real_world_coordinates", data=itop_to_optical(labels.joints).astype(np.float32))
        h5.create_dataset("segmentation", data=seg.astype(np.int8), compression="gzip", compression_opts=1,
                          chunks=(1, *seg.shape[1:]))
    return depth_path, labels_path


def write_pose2d(path: str | Path, ids: np.ndarray, keypoints: np.ndarray, confidence: np.ndarray,
                 **extra: np.ndarray) -> Path:
    """Write a 2D-predictions ``.npz`` that :func:`read_pose2d` reads back (`extra` arrays are stored
    alongside; the reader ignores them)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, ids=_encode_ids(ids), keypoints=np.asarray(keypoints, dtype=np.float32),
                        confidence=np.asarray(confidence, dtype=np.float32), **extra)
    return path
