"""`refinet bench detectors`: the held-out bookkeeping, the chained stage rows and a tiny end-to-end run."""
import argparse
import json

import numpy as np
import pytest

from refinet_ros.cli import main
from refinet_ros.commands.bench_detectors import LABELS, ROWS, chained_rows, parse_families
from refinet_ros.core.leave_out import LEGACY_FAMILIES, family_source, held_out, leaked, training_families
from refinet_ros.core.weights import DEFAULT_WEIGHTS_DIR

FRAMES = 30


# --------------------------------------------------------------------------- bookkeeping
def test_a_family_in_a_record_is_reported_as_leaked():
    records = {"A": {"data": {"detector_families": ["random", "labels"]}},
               "B": {"data": {"detector_families": ["random", "labels", "Gauss"]}}}
    leaks = leaked(["gauss", "labels", "coco"], records)
    assert leaks["gauss"] == {"A": False, "B": True}
    assert leaks["labels"] == {"A": True, "B": True}
    assert held_out(leaks) == {"gauss": False, "labels": False, "coco": True}


def test_a_record_without_the_key_counts_as_openpose_and_labels():
    old = {"module": "B", "data": {"train_frames": 14629, "upstream_variants": ["baseline", "labels:baseline"]}}
    assert training_families(old) == LEGACY_FAMILIES == ("openpose", "labels")
    assert training_families({"module": "B"}) == LEGACY_FAMILIES and family_source(old) == "legacy"
    assert training_families(None) == LEGACY_FAMILIES and family_source(None) == "missing"
    leaks = leaked(["openpose", "labels", "hrnet"], {"A": old, "B": None})
    assert leaks == {"openpose": {"A": True, "B": True}, "labels": {"A": True, "B": True},
                     "hrnet": {"A": False, "B": False}}


def test_a_family_never_in_training_is_held_out():
    records = {m: {"data": {"detector_families": ["random", "labels"]}} for m in "ABC"}
    assert family_source(records["A"]) == "record"
    leaks = leaked(["openpose", "hrnet", "gauss", "noisy", "coco", "random_conf"], records)
    assert all(held_out(leaks).values())
    assert held_out(leaked(["random"], records)) == {"random": False}


@pytest.mark.parametrize("bad", ["random", [1, 2], ["random", ""], None])
def test_a_malformed_families_key_is_an_error(bad):
    with pytest.raises(ValueError, match="detector_families"):
        training_families({"data": {"detector_families": bad}})


def test_every_shipped_record_names_its_families():
    for path in sorted(DEFAULT_WEIGHTS_DIR.glob("*.json")):
        fams = training_families(json.loads(path.read_text()))
        assert fams and all(isinstance(f, str) for f in fams), path


def test_families_argument():
    assert parse_families("gauss, coco") == ("gauss", "coco", LABELS)
    assert parse_families("labels,coco,coco") == ("coco", LABELS)
    with pytest.raises(argparse.ArgumentTypeError, match="nope"):
        parse_families("gauss,nope")


# --------------------------------------------------------------------------- chaining and the command
@pytest.fixture(scope="module")
def untrained(tmp_path_factory):
    """Side-view weights of untrained models (zero last layer: every stage is the identity)."""
    from refinet_ros.core.models import MODELS
    from refinet_ros.core.models.common import save_weights
    out = tmp_path_factory.mktemp("weights")
    for name, model in MODELS.items():
        save_weights(out / f"side_{name}.pt", name, model(), preset=0)
    return out


def test_chained_rows_are_the_independent_pipelines(tmp_path):
    """With weights that move the joints, each chained row equals its own Pipeline run."""
    import torch

    from refinet_ros.commands.synthetic import cached_test_set
    from refinet_ros.core.camera import PinholeCamera
    from refinet_ros.core.itop import DepthFile, read_labels, read_pose2d
    from refinet_ros.core.models import MODELS
    from refinet_ros.core.models.common import save_weights
    from refinet_ros.core.pipeline import Pipeline, parse_stages
    from refinet_ros.core.weights import build_stages, load_stage
    torch.manual_seed(0)
    for name, build in MODELS.items():
        model = build()
        with torch.no_grad():
            for p in model.parameters():
                p.add_(0.02 * torch.randn_like(p))
        save_weights(tmp_path / f"side_{name}.pt", name, model, preset=0)
    paths = cached_test_set("side", 12, 2020, tmp_path / "data", progress=False, detector="noisy")
    labels = read_labels(paths["labels"])
    idx = np.flatnonzero(labels.is_valid)[:8]
    pose2d = read_pose2d(paths["pose2d"], labels.ids[idx])
    with DepthFile(paths["depth_map"]) as depth:
        frames = depth.read(idx)
    camera = PinholeCamera.itop()
    stages = {name: load_stage(name, "side", tmp_path) for name in "ABC"}
    got = chained_rows(stages, frames, pose2d.uv, pose2d.confidence, camera)
    assert list(got) == list(ROWS)
    assert not np.allclose(got["A+B+C"], got["baseline"], equal_nan=True)   # the weights do move the joints
    for row in ROWS:
        want = Pipeline(build_stages(parse_stages(row), "side", tmp_path)).run(frames, pose2d.uv, pose2d.confidence,
                                                                              camera).joints
        np.testing.assert_array_equal(got[row], want, err_msg=row)


def test_bench_detectors_end_to_end(untrained, tmp_path, capsys):
    (untrained / "side_B.json").write_text(json.dumps({"module": "B", "data": {"detector_families":
                                                                                 ["random", "labels", "coco"]}}))
    (untrained / "side_C.json").write_text(json.dumps({"module": "C", "data": {"train_frames": 10}}))
    out = tmp_path / "bench" / "detectors.json"
    assert main(["bench", "detectors", "--frames", str(FRAMES), "--view", "side", "--families", "gauss,coco",
                 "--data", str(tmp_path / "data"), "--weights", str(untrained), "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    result = json.loads(out.read_text())
    assert result["command"] == (f"refinet bench detectors --frames {FRAMES} --seed 2020 --view side "
                                 f"--families gauss,coco --weights {untrained}")
    assert result["seed"] == 2020 and result["frames_per_view"] == FRAMES
    assert result["families"] == ["gauss", "coco", LABELS] and list(result["views"]) == ["side"]
    fams = result["training_families"]["side"]
    assert fams["B"]["families"] == ["random", "labels", "coco"] and fams["B"]["source"] == "record"
    assert fams["C"]["source"] == "legacy" and fams["A"]["source"] == "missing"
    assert fams["A"]["families"] == fams["C"]["families"] == ["openpose", "labels"]

    view = result["views"]["side"]
    assert 0 < view["n_frames"] <= FRAMES and list(view["families"]) == ["gauss", "coco", LABELS]
    for family, cell in view["families"].items():
        assert list(cell["rows"]) == list(ROWS)
        base = cell["rows"]["baseline"]
        assert 0 < base["mAP"] < 1 and base["n_frames"] == view["n_frames"] and len(base["per_joint"]) == 9
        for row in ROWS:   # untrained stages add zero offsets: every row is the baseline, exactly
            assert cell["rows"][row] == base, (family, row)
        checks = cell["checks"]
        assert checks["chain"]["passed"] and checks["chain"]["margin"] == 0.0
        assert checks["chain"]["A+B+C_mAP"] == checks["chain"]["best_single_mAP"] == base["mAP"]
        assert checks["groups"] == {"passed": True, "below": []}
    held = {f: view["families"][f]["checks"]["held_out"] for f in result["families"]}
    assert held["gauss"] == {"held_out": True, "in_training": {"A": False, "B": False, "C": False}, "seen_by": []}
    assert held["coco"]["held_out"] is False and held["coco"]["seen_by"] == ["B"]
    assert held[LABELS]["seen_by"] == ["A", "B", "C"]
    # the detector columns differ in their 2D input only
    assert view["families"]["gauss"]["rows"]["baseline"]["mAP"] != view["families"]["coco"]["rows"]["baseline"]["mAP"]

    assert "side view" in printed and "A+B+C mDE" in printed and "coco (B)" in printed
    md = out.with_suffix(".md").read_text()
    assert "| stages | `gauss` | `coco` * | `labels` * |" in md and md.count("\n| ") == 1 + len(ROWS) + 1
    # a second run reuses the cached sets: same numbers
    assert main(["bench", "detectors", "--frames", str(FRAMES), "--view", "side", "--families", "gauss,coco",
                 "--data", str(tmp_path / "data"), "--weights", str(untrained), "--json", str(out)]) == 0
    assert json.loads(out.read_text())["views"] == result["views"]
