"""Build the refinement stages of a pipeline from the shipped weights files.

Weights are per view (``{view}_{A|B|C}.pt``): the side and top views see bodies so differently
(occlusion of the legs from above) that the reference trains one set per view.
torch is imported only when a stage is loaded, so the CLI stays quick for the baseline.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from .itop import infer_view
from .pipeline import Pipeline, parse_stages
from .views import check_view

if TYPE_CHECKING:
    from .models.common import TorchStage
    from .models.depth_detector import DepthDetector

#: Weights shipped with the package (refinet_ros/data/weights).
DEFAULT_WEIGHTS_DIR = Path(__file__).resolve().parents[1] / "data" / "weights"


def weights_path(weights_dir: Path, view: str, name: str) -> Path:
    return Path(weights_dir) / f"{view}_{name}.pt"


def read_record(weights_file: Path) -> dict | None:
    """The JSON training record next to a weights file (``{view}_{module}.json``), None when there is none;
    a record that is not a JSON object is a ValueError naming the file."""
    path = Path(weights_file).with_suffix(".json")
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text())
    except ValueError as exc:
        raise ValueError(f"{path}: not a JSON weights record ({exc})") from None
    if not isinstance(record, dict):
        raise ValueError(f"{path}: a weights record is a JSON object, not {type(record).__name__}")
    return record


def file_digest(path: Path) -> str:
    """sha256 of a file, read in chunks (data files are GBs): what a training record names its inputs by."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def load_stage(name: str, view: str, weights_dir: Path | None = None, device: str = "cpu",
               int8: bool = False) -> TorchStage:
    """One stage from ``{weights_dir}/{view}_{name}.pt``; a missing file is a clear error.
    `int8` runs the stage's Linear layers in int8 (CPU only)."""
    from .models import MODELS, STAGES
    from .models.common import fold_batchnorm, load_weights, quantize_linear

    path = weights_path(weights_dir or DEFAULT_WEIGHTS_DIR, view, name)
    if not path.is_file():
        raise FileNotFoundError(f"no weights for stage {name} ({view} view): {path} does not exist; "
                                f"train them with `refinet train --module {name} --view {view} --out {path.parent}`")
    loaded, model, _ = load_weights(path, MODELS)
    if loaded != name:
        raise ValueError(f"{path}: holds module {loaded}, expected {name}")
    model = fold_batchnorm(model)
    if int8:
        if not str(device).startswith("cpu"):
            raise ValueError(f"int8 inference is a CPU option; device is {device!r}")
        model = quantize_linear(model)
    return STAGES[name](model, device)


def load_detector(view: str, weights_dir: Path | None = None, device: str = "cpu") -> DepthDetector:
    """The depth-image 2D detector of a view from ``{weights_dir}/{view}_detector.pt``."""
    from .models.common import fold_batchnorm, load_weights
    from .models.depth_detector import DepthDetector, DepthPoseNet

    path = weights_path(weights_dir or DEFAULT_WEIGHTS_DIR, check_view(view), "detector")
    if not path.is_file():
        raise FileNotFoundError(f"no depth-detector weights for the {view} view: {path} does not exist; train them "
                                f"with `refinet train --module detector --view {view} --out {path.parent}`")
    loaded, model, _ = load_weights(path, {"detector": DepthPoseNet})
    if loaded != "detector":
        raise ValueError(f"{path}: holds module {loaded}, expected the detector")
    return DepthDetector(fold_batchnorm(model), device)


def build_stages(names: Sequence[str], view: str, weights_dir: Path | None = None,
                 device: str = "cpu", int8: bool = False) -> list[TorchStage]:
    """Stages in A -> B -> C order for the given view, whatever order `names` lists them in."""
    check_view(view)
    return [load_stage(name, view, weights_dir, device, int8) for name in parse_stages(names)]


def resolve_view(view: str | None, *paths: Path) -> str:
    """The explicit view, else the one the ITOP file names agree on; a ValueError naming the files otherwise."""
    if view:
        return check_view(view)
    inferred = {infer_view(p) for p in paths} - {None}
    if len(inferred) != 1:
        raise ValueError(f"cannot infer the view (side/top) from {', '.join(str(p) for p in paths) or 'no file'}; "
                         "pass --view side|top")
    return inferred.pop()


def build_pipeline(stages: Sequence[str], view: str | None, paths: Sequence[Path] = (), int8: bool = False,
                   weights_dir: Path | None = None) -> Pipeline:
    """The pipeline of `stages`: the baseline needs no view; refinement stages load the weights of the
    view (given, or inferred from the ITOP names of `paths`)."""
    if not parse_stages(stages):
        return Pipeline()
    return Pipeline(build_stages(stages, resolve_view(view, *paths), weights_dir, int8=int8))
