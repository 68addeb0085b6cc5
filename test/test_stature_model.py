"""Stature model files: the numpy exports predict exactly like scikit-learn, the file is data only,
and every damaged or crafted file is a ValueError naming it, with nothing run from it."""
from __future__ import annotations

import json
import os
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest

from refinet_ros.cli import main
from refinet_ros.core.anthropometry_regression import FEATURES, StatureModel, make_regressors
from refinet_ros.core.stature_regressors import from_sklearn

F = len(FEATURES)


@pytest.fixture(scope="module")
def fitted():
    """The four scikit-learn families fitted on body-like rows, and held-out rows."""
    rng = np.random.default_rng(3)
    x = rng.normal(0.5, 0.1, size=(400, F))
    y = 1.1 * x[:, 0] + 0.3 * x[:, 4] ** 2 + 0.01 * rng.normal(size=len(x))
    models = make_regressors(seed=1)
    for model in models.values():
        model.fit(x[:300], y[:300])
    return models, x[300:]


@pytest.fixture
def model_file(fitted, tmp_path) -> Path:
    models, _ = fitted
    model = StatureModel("A+B+C", "side", {n: from_sklearn(m) for n, m in models.items()}, 12, 300)
    return model.save(tmp_path / "stature.npz")


def test_exports_predict_like_sklearn(fitted):
    models, held_out = fitted
    for name, model in models.items():
        np.testing.assert_allclose(from_sklearn(model).predict(held_out), model.predict(held_out),
                                   rtol=1e-12, atol=0, err_msg=name)


def test_save_load_round_trip(fitted, model_file):
    models, held_out = fitted
    loaded = StatureModel.load(model_file)
    assert (loaded.source, loaded.view, loaded.train_people, loaded.train_frames) == ("A+B+C", "side", 12, 300)
    assert list(loaded.regressors) == ["LR", "AdaBoost", "RF", "kNN"]
    for name, model in models.items():
        np.testing.assert_allclose(loaded.regressors[name].predict(held_out), model.predict(held_out),
                                   rtol=1e-12, atol=0, err_msg=name)


def test_save_keeps_the_given_file_name(fitted, tmp_path):
    models, _ = fitted
    model = StatureModel("gt", "top", {"LR": from_sklearn(models["LR"])}, 1, 300)
    assert model.save(tmp_path / "m.model") == tmp_path / "m.model" and (tmp_path / "m.model").is_file()


class _Touch:
    """Unpickling this runs a shell command that creates a marker file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_a_pickled_file_is_refused_and_runs_nothing(tmp_path):
    marker, crafted = tmp_path / "ran", tmp_path / "stature.npz"
    crafted.write_bytes(pickle.dumps(_Touch(marker)))
    with pytest.raises(ValueError, match=f"{crafted}: not a stature model file"):
        StatureModel.load(crafted)
    assert not marker.exists()


def test_an_object_array_in_the_archive_is_refused_and_runs_nothing(model_file, tmp_path):
    marker = tmp_path / "ran"
    arrays = dict(np.load(model_file))
    arrays["LR.coef"] = np.array([_Touch(marker)], dtype=object)
    with open(model_file, "wb") as out:
        np.savez(out, **arrays)
    with pytest.raises(ValueError, match=f"{model_file}: corrupt stature model file"):
        StatureModel.load(model_file)
    assert not marker.exists()


@pytest.mark.parametrize("damage", ["truncate", "flip"])
def test_a_damaged_file_is_a_value_error(model_file, damage):
    data = bytearray(model_file.read_bytes())
    if damage == "truncate":
        data = data[:len(data) // 2]
    else:
        data[len(data) // 2] ^= 0xFF      # inside an array: the zip CRC no longer matches
    model_file.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=f"{model_file}: corrupt stature model file"):
        StatureModel.load(model_file)


def _rewrite(path: Path, edit) -> None:
    """Apply edit(arrays, header) to a saved model file and write it back as a plain npz."""
    arrays = dict(np.load(path))
    header = json.loads(str(arrays["header"]))
    edit(arrays, header)
    arrays["header"] = np.array(json.dumps(header))
    with open(path, "wb") as out:
        np.savez(out, **arrays)


def _set(key, value):
    return lambda arrays, header: arrays.__setitem__(key, value)


def _set_header(key, value):
    return lambda arrays, header: header.__setitem__(key, value)


def _child_loop(arrays, header):
    left = arrays["RF.left"].copy()
    inner = int(np.flatnonzero(left >= 0)[0])
    left[inner] = inner                              # a node that is its own child: traversal would not end
    arrays["RF.left"] = left


@pytest.mark.parametrize("edit,message", [
    (_set_header("version", 2), "version 2, this code reads version 1"),
    (_set_header("format", "something-else"), "not a refinet-stature-model file"),
    (_set_header("features", ["stature"]), "trained on features"),
    (_set_header("train_frames", "many"), "header field 'train_frames'"),
    (_set_header("regressors", {"LR": "linear", "SVM": "svm"}), "header field 'regressors'"),
    (lambda arrays, header: arrays.pop("kNN.y"), r"missing \['kNN.y'\]"),
    (_set("LR.extra", np.zeros(3)), r"unexpected \['LR.extra'\]"),
    (_set("LR.coef", np.zeros(F, np.float32)), "regressor 'LR': array 'coef' is float32"),
    (_set("LR.coef", np.zeros(F + 1)), r"regressor 'LR': array 'coef' has shape \(11,\)"),
    (_set("LR.mean", np.full(F, np.nan)), "regressor 'LR': array 'mean' has NaN/inf"),
    (_set("kNN.k", np.array(10 ** 6)), "regressor 'kNN': array 'k' is 1000000"),
    (_set("AdaBoost.feature", np.zeros(3, np.int64)), "regressor 'AdaBoost': node arrays differ in length"),
    (_child_loop, "regressor 'RF': array 'left' has node ids out of range"),
])
def test_bad_content_is_a_value_error_naming_the_file(model_file, edit, message):
    _rewrite(model_file, edit)
    with pytest.raises(ValueError, match=message) as exc:
        StatureModel.load(model_file)
    assert str(model_file) in str(exc.value)


def test_tree_feature_out_of_range_is_refused(model_file):
    def edit(arrays, header):
        feature = arrays["AdaBoost.feature"].copy()
        feature[arrays["AdaBoost.left"] >= 0] = F
        arrays["AdaBoost.feature"] = feature
    _rewrite(model_file, edit)
    with pytest.raises(ValueError, match=f"{model_file}: regressor 'AdaBoost': array 'feature' has feature ids"):
        StatureModel.load(model_file)


@pytest.mark.parametrize("archive", ["other npz", "compressed", "text member"])
def test_a_zip_that_is_not_our_format_is_refused(model_file, archive):
    if archive == "other npz":
        np.savez(model_file, weights=np.ones(3))
    elif archive == "compressed":
        np.savez_compressed(model_file, **dict(np.load(model_file)))
    else:
        with zipfile.ZipFile(model_file, "a") as zf:
            zf.writestr("notes.txt", "hello")
    with pytest.raises(ValueError, match=f"{model_file}: "):
        StatureModel.load(model_file)


def test_an_unreadable_file_is_an_os_error(tmp_path):
    with pytest.raises(OSError):
        StatureModel.load(tmp_path / "missing.npz")
    with pytest.raises(OSError):
        StatureModel.load(tmp_path)


def test_eval_never_opens_an_old_model_file(tmp_path, capsys):
    """`anthropometry eval --models` with old .pkl models in the folder: they are ignored (never
    unpickled) with a message, and .npz models are trained in their place."""
    args = ["anthropometry", "eval", "--stages", "none", "--cache", str(tmp_path / "cache"),
            "--models", str(tmp_path / "models"), "--train-seeds", "7", "--test-seeds", "8",
            "--train-frames", "60", "--test-frames", "24", "--stride", "6", "--json", str(tmp_path / "a.json"),
            "--no-progress"]
    marker = tmp_path / "ran"
    (tmp_path / "models").mkdir()
    from refinet_ros.core.synth.cache import cache_name
    names = [f"{cache_name('stature', 'side', 'train', 7, 60, stride=6)}_{source}" for source in ("baseline", "gt")]
    for name in names:
        (tmp_path / "models" / f"{name}.pkl").write_bytes(pickle.dumps(_Touch(marker)))
    assert main(args) == 0
    out = capsys.readouterr().out
    assert not marker.exists()
    assert out.count(".pkl: models of that old format are never loaded") == 2
    for name in names:
        assert StatureModel.load(tmp_path / "models" / f"{name}.npz").view == "side"
    assert main(args) == 0                                   # the second run loads the .npz models
    loads = [out.splitlines(), capsys.readouterr().out.splitlines()]
    assert [sum(line.startswith("loaded ") for line in lines) for lines in loads] == [0, 2]
