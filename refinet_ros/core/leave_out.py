"""Held-out bookkeeping of the detector leave-out benchmark (``refinet bench detectors``).

A refinement model may claim to generalise to a 2D detector only if that detector's family was
not part of its training input. Each weights file has a JSON training record next to it
(``{view}_{module}.json``) whose ``data.detector_families`` lists the families its 2D input came
from (e.g. ``["random", "labels"]``). Pure functions: no torch, no ROS, no argparse.
"""
from __future__ import annotations

from typing import Mapping, Sequence

#: The key path of the training families in a weights record.
FAMILIES_KEY = ("data", "detector_families")
#: Records written before ``data.detector_families`` existed: those weights (the older shipped
#: ones) were trained on the simulated OpenPose-like detector's keypoints and on the labels' own
#: keypoints, so a record without the key is read as exactly these two families.
LEGACY_FAMILIES = ("openpose", "labels")


def training_families(record: Mapping | None) -> tuple[str, ...]:
    """The 2D families a model was trained on, from its JSON record.

    A record without ``data.detector_families`` predates the key: :data:`LEGACY_FAMILIES`.
    No record at all (``None``: a weights file without its JSON) is read the same way, the
    conservative choice for the weights this project has produced. A key that is present
    but not a list of names is an error, not a guess."""
    if record is None:
        return LEGACY_FAMILIES
    if not isinstance(record, Mapping):
        raise ValueError(f"a weights record is a JSON object, not {type(record).__name__}")
    data = record.get(FAMILIES_KEY[0])
    if not isinstance(data, Mapping) or FAMILIES_KEY[1] not in data:
        return LEGACY_FAMILIES
    families = data[FAMILIES_KEY[1]]
    if isinstance(families, str) or not isinstance(families, Sequence) or \
            not all(isinstance(f, str) and f.strip() for f in families):
        raise ValueError(f"{'.'.join(FAMILIES_KEY)} must be a list of family names, not {families!r}")
    return tuple(dict.fromkeys(f.strip().lower() for f in families))


def family_source(record: Mapping | None) -> str:
    """Where :func:`training_families` got its answer: "record", "legacy" (a record without the
    key) or "missing" (no record)."""
    if record is None:
        return "missing"
    data = record.get(FAMILIES_KEY[0]) if isinstance(record, Mapping) else None
    return "record" if isinstance(data, Mapping) and FAMILIES_KEY[1] in data else "legacy"


def leaked(families_in_test: Sequence[str], records: Mapping[str, Mapping | None]) -> dict[str, dict[str, bool]]:
    """{test family: {model: True if the model was trained on that family}} for every family
    and every model in `records` ({model name: its JSON record or None}). A family is held out
    of all the models when every value of its entry is False (see :func:`held_out`)."""
    trained = {model: set(training_families(rec)) for model, rec in records.items()}
    return {family: {model: family.strip().lower() in fams for model, fams in trained.items()}
            for family in families_in_test}


def held_out(leaks: Mapping[str, Mapping[str, bool]]) -> dict[str, bool]:
    """{family: True when no model saw it in training} from :func:`leaked`'s answer."""
    return {family: not any(by_model.values()) for family, by_model in leaks.items()}
