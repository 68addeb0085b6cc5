"""Detector randomisation: a skeleton model trained briefly on the random detector family improves a
detector family it never saw, and the leave-out bookkeeping of its record says it never saw it."""
import pytest
import torch

from refinet_ros.core.leave_out import leaked, training_families
from refinet_ros.core.metrics import evaluate
from refinet_ros.core.pipeline import Pipeline
from refinet_ros.core.weights import load_stage
from refinet_ros.core.synth.detector import EVAL_FAMILIES, RANDOM_FAMILY
from refinet_ros.core.synth.generate import generate_split
from refinet_ros.core.training import train_module
from refinet_ros.core.training_data import frames_from_synth


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    torch.manual_seed(0)
    out = tmp_path_factory.mktemp("weights") / "side_B.pt"
    train = frames_from_synth(generate_split("side", "train", 320, seed=5, detector_profile=RANDOM_FAMILY))
    val = frames_from_synth(generate_split("side", "test", 40, seed=6, detector_profile=RANDOM_FAMILY))
    record = train_module("B", "side", train, val, epochs=40, batch=64, lr=2e-3, seed=0, device="cpu",
                          out_path=out, progress=False, model_config=dict(width=256), preset=0)
    return out, record


@pytest.mark.parametrize("family", ["coco", "gauss"])
def test_briefly_trained_b_improves_a_held_out_family(trained, family):
    out, record = trained
    test = generate_split("side", "test", 60, seed=9, detector_profile=family)
    ok = test.is_valid
    before = Pipeline().run(test.depth_m[ok], test.keypoints[ok], test.confidence[ok], test.camera)
    after = Pipeline([load_stage("B", "side", out.parent)]).run(test.depth_m[ok], test.keypoints[ok],
                                                                 test.confidence[ok], test.camera)
    m0, m1 = evaluate(before.joints, test.joints[ok]), evaluate(after.joints, test.joints[ok])
    assert m1["mDE_cm"] < 0.85 * m0["mDE_cm"] and m1["mAP"] > m0["mAP"], (m0["mAP"], m1["mAP"])


def test_the_record_says_which_families_were_trained_on(trained):
    _, record = trained
    assert training_families(record) == ("labels", RANDOM_FAMILY)
    report = leaked(EVAL_FAMILIES, {"B": record})
    assert not any(report[f]["B"] for f in EVAL_FAMILIES)
    assert leaked((RANDOM_FAMILY,), {"B": record})[RANDOM_FAMILY]["B"]
