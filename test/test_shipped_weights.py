"""The shipped weights reproduce the recorded benchmark numbers (bench/ablation.json, 'smoke' set)."""
import json
from pathlib import Path

import pytest

from refinet_ros.commands.bench import ablation_rows
from refinet_ros.commands.synthetic import cached_test_set

BENCH = Path(__file__).resolve().parents[1] / "bench" / "ablation.json"


@pytest.fixture(scope="module")
def smoke_data(tmp_path_factory) -> Path:
    """One cache for the module: each view's smoke set is generated once, for both keypoint sources."""
    return tmp_path_factory.mktemp("smoke")


@pytest.mark.parametrize("keypoints", ["detector", "labels"])
@pytest.mark.parametrize("view", ["side", "top"])
def test_shipped_weights_reproduce_recorded_numbers(view, keypoints, smoke_data):
    """From the simulated detector's keypoints and from the labels' (confidence 1) alike."""
    recorded = json.loads(BENCH.read_text())
    smoke = recorded["smoke"]
    paths = cached_test_set(view, smoke["frames_per_view"], recorded["seed"], smoke_data, progress=False)
    rows = {r["name"]: r for r in ablation_rows(view, paths, ("none", "A,B,C"), progress=False, keypoints=keypoints)}
    expected_rows = smoke["views" if keypoints == "detector" else "label_keypoints"][view]
    for name, expected in expected_rows.items():
        assert rows[name]["mAP"] == pytest.approx(expected["mAP"], abs=0.01), name
        assert rows[name]["mDE_cm"] == pytest.approx(expected["mDE_cm"], abs=0.3), name
    # and the refinement is what the README claims it is: better than the baseline
    assert rows["A+B+C"]["mAP"] > rows["baseline"]["mAP"]


@pytest.mark.parametrize("view", ["side", "top"])
def test_int8_costs_under_two_points(view, smoke_data):
    """`--int8` trades exactness for speed; it may not cost more than the issue allows a smaller net."""
    recorded = json.loads(BENCH.read_text())
    paths = cached_test_set(view, recorded["smoke"]["frames_per_view"], recorded["seed"], smoke_data, progress=False)
    exact, fast = (ablation_rows(view, paths, ("A,B,C",), progress=False, int8=int8)[0] for int8 in (False, True))
    assert fast["mAP"] >= exact["mAP"] - 0.02 and fast["mDE_cm"] <= exact["mDE_cm"] + 1.0


def test_shipped_weights_are_small_fp16_files():
    from refinet_ros.core.models import MODELS
    from refinet_ros.core.models.common import load_weights
    from refinet_ros.core.weights import DEFAULT_WEIGHTS_DIR

    files = sorted(DEFAULT_WEIGHTS_DIR.glob("*.pt"))
    assert {f.name for f in files} == {f"{v}_{m}.pt" for v in ("side", "top") for m in "ABC"}
    assert sum(f.stat().st_size for f in files) <= 20 * 2**20
    for f in files:
        assert f.with_suffix(".json").is_file(), f"{f} has no training record"
        name, model, _ = load_weights(f, MODELS)
        assert f.name.endswith(f"_{name}.pt")
