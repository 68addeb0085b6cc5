"""Stature from joint-derived features: data from the synthetic generator, the seed's four
regressor families (trained with scikit-learn, kept as numpy arrays: :mod:`.stature_regressors`),
and the seed-style baseline-vs-refined error table.

Why learned: ITOP joints stop at the head centre and the ankle, so the joint-chain height
misses the crown and the sole; people's proportions vary, and the regressors learn the mapping
from bone lengths to the true stature. Subjects are split by person (train: the train-split
subjects of some seeds, test: the test-split subjects of other seeds; different seeds are
different people), so no test person is ever seen in training.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping, Sequence

import numpy as np

from . import stature_file
from .anthropometry import MEASUREMENTS, bone, measure, rolling_estimate, summarise
from .joints import HEAD, L_FOOT, L_HIP, NECK, R_FOOT, R_HIP
from .pipeline import Pipeline
from .stature_regressors import Predictor, from_sklearn

FEATURES: tuple[str, ...] = (*MEASUREMENTS, "neck_head", "hip_width", "head_foot_span")
GT_SOURCE = "gt"
#: Sliding-window length for the temporal estimate, in frames (1 s at the generator's 10 Hz).
DEFAULT_WINDOW = 10
DEFAULT_MIN_FRAMES = 3


# --------------------------------------------------------------------------- features
def features(joints: np.ndarray) -> np.ndarray:
    """(N, 15, 3) -> (N, F) in :data:`FEATURES` order: the measurements, plus the head -> neck and
    hip-width lengths and the straight head -> mid-feet span (near the chain height when upright)."""
    joints = np.asarray(joints, dtype=np.float64)
    mid_feet = 0.5 * (joints[..., R_FOOT, :] + joints[..., L_FOOT, :])
    span = np.linalg.norm(joints[..., HEAD, :] - mid_feet, axis=-1)
    extra = np.stack([bone(joints, HEAD, NECK), bone(joints, R_HIP, L_HIP), span], axis=-1)
    return np.concatenate([measure(joints), extra], axis=-1)


# --------------------------------------------------------------------------- data
@dataclass
class JointSet:
    """Frames of several people in temporal order per person, with 3D joints from several sources."""

    joints: dict[str, np.ndarray]   # source label -> (N, 15, 3); always holds GT_SOURCE
    person: np.ndarray              # (N,) str, unique per real person, e.g. 's200-test-02'
    stature: np.ndarray             # (N,) true stature of the frame's person, metres

    def __len__(self) -> int:
        return len(self.person)

    @staticmethod
    def concat(parts: Sequence["JointSet"]) -> "JointSet":
        sources = set.intersection(*(set(p.joints) for p in parts))
        return JointSet({s: np.concatenate([p.joints[s] for p in parts]) for s in sorted(sources)},
                        np.concatenate([p.person for p in parts]), np.concatenate([p.stature for p in parts]))


def _person_order(subject: np.ndarray, clip: np.ndarray, frame30: np.ndarray) -> np.ndarray:
    """Frames grouped by subject, clips in generation order, frames in time: one stream per person."""
    return np.lexsort((frame30, clip, subject))


def generate_joints(view: str, split: str, seed: int, n_frames: int, stride: int,
                    pipelines: Mapping[str, Pipeline], progress: bool = False) -> JointSet:
    """Render a synthetic split clip by clip and keep only the joints each pipeline produces
    (the depth frames are ~0.3 MB each and are dropped as soon as every pipeline has run)."""
    from .synth.generate import iter_clips
    out: dict[str, list[np.ndarray]] = {s: [] for s in (GT_SOURCE, *pipelines)}
    subject, clip, frame30, stature = [], [], [], []
    for part in iter_clips(view, split, n_frames, seed, stride=stride, progress=progress):
        out[GT_SOURCE].append(part.joints.astype(np.float64))
        for label, pipe in pipelines.items():
            out[label].append(pipe.run(part.depth_m, part.keypoints, part.confidence, part.camera).joints)
        subject.append(part.subject)
        clip.append(part.clip)
        frame30.append(part.frame30)
        stature.append(np.array([part.subjects[s]["stature"] for s in part.subject]))
    subject_a, clip_a, frame_a = np.concatenate(subject), np.concatenate(clip), np.concatenate(frame30)
    order = _person_order(subject_a, clip_a, frame_a)
    person = np.array([f"s{seed}-{split}-{s:02d}" for s in subject_a])
    return JointSet({k: np.concatenate(v)[order] for k, v in out.items()}, person[order],
                    np.concatenate(stature)[order])


def source_key(label: str, weight_files: Sequence[Path]) -> str:
    """Cache key of a joint source: the stage label plus a digest of its weights, so retrained
    weights never reuse stale cached joints."""
    if not weight_files:
        return label
    digest = hashlib.sha1()
    for path in weight_files:
        digest.update(Path(path).read_bytes())
    return f"{label}-{digest.hexdigest()[:10]}"


def cached_joints(cache_dir: Path, view: str, split: str, seed: int, n_frames: int, stride: int,
                  pipelines: Mapping[str, tuple[str, Callable[[], Pipeline]]], progress: bool = False) -> JointSet:
    """:func:`generate_joints` with one .npz per (split, seed, source) under `cache_dir`.
    `pipelines` maps label -> (cache key, factory); pipelines are built only when something is missing."""
    from .synth.cache import cache_name
    stem = cache_name("joints", view, split, seed, n_frames, stride=stride)
    paths = {label: Path(cache_dir) / f"{stem}_{key}.npz" for label, (key, _) in pipelines.items()}
    paths[GT_SOURCE] = Path(cache_dir) / f"{stem}_{GT_SOURCE}.npz"
    missing = [label for label, path in paths.items() if not path.is_file()]
    if missing:
        todo = {label: pipelines[label][1]() for label in missing if label != GT_SOURCE}
        fresh = generate_joints(view, split, seed, n_frames, stride, todo, progress)
        Path(cache_dir).mkdir(parents=True, exist_ok=True)
        for label in missing:
            np.savez_compressed(paths[label], joints=fresh.joints[label], person=fresh.person, stature=fresh.stature)
    loaded = {label: np.load(path) for label, path in paths.items()}
    gt = loaded[GT_SOURCE]
    return JointSet({label: f["joints"] for label, f in loaded.items()}, gt["person"], gt["stature"])


# --------------------------------------------------------------------------- regressors
def make_regressors(seed: int = 0) -> dict[str, object]:
    """The seed's four families. Scaling matters for the distance-based kNN (and is harmless for LR);
    the tree ensembles are scale-free. Sizes stay small: 2 shared CPU cores."""
    from sklearn.ensemble import AdaBoostRegressor, RandomForestRegressor
    from sklearn.linear_model import LinearRegression
    from sklearn.neighbors import KNeighborsRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.tree import DecisionTreeRegressor
    return {
        "LR": make_pipeline(StandardScaler(), LinearRegression()),
        "AdaBoost": AdaBoostRegressor(DecisionTreeRegressor(max_depth=4), n_estimators=100, random_state=seed),
        "RF": RandomForestRegressor(n_estimators=150, min_samples_leaf=5, n_jobs=1, random_state=seed),
        "kNN": make_pipeline(StandardScaler(), KNeighborsRegressor(n_neighbors=25)),
    }


@dataclass
class StatureModel:
    """Fitted regressors for one joint source, as numpy predictors; what `refinet anthropometry
    train` saves (a data-only file, see :mod:`.stature_file`)."""

    source: str                   # 'baseline', 'A+B+C', ... : the joints it was trained on
    view: str
    regressors: dict[str, Predictor]
    train_people: int
    train_frames: int

    def predict(self, joints: np.ndarray, regressor: str) -> np.ndarray:
        """(N, 15, 3) -> (N,) per-frame stature; NaN where a feature is missing (no imputed guess)."""
        return self.predict_features(features(joints), regressor)

    def predict_features(self, x: np.ndarray, regressor: str) -> np.ndarray:
        """(N, F) :func:`features` rows -> (N,) stature; NaN where a feature is missing."""
        ok = np.isfinite(x).all(1)
        out = np.full(len(x), np.nan)
        if ok.any():
            out[ok] = self.regressors[regressor].predict(x[ok])
        return out

    def save(self, path: Path) -> Path:
        meta = {"source": self.source, "view": self.view, "features": list(FEATURES),
                "train_people": self.train_people, "train_frames": self.train_frames}
        return stature_file.write(path, meta, self.regressors)

    @staticmethod
    def load(path: Path) -> "StatureModel":
        """A saved model; bad content is a ValueError naming the file, an unreadable file an OSError."""
        header, regressors = stature_file.read(path, FEATURES)
        return StatureModel(header["source"], header["view"], regressors, header["train_people"],
                            header["train_frames"])


def fit(data: JointSet, source: str, view: str, seed: int = 0) -> StatureModel:
    """Fit every regressor (scikit-learn) on the frames whose features are all present, and keep
    their numpy exports."""
    x = features(data.joints[source])
    ok = np.isfinite(x).all(1)
    if ok.sum() < 10:
        raise ValueError(f"only {int(ok.sum())} complete {source} frames to train on")
    regressors = make_regressors(seed)
    for model in regressors.values():
        model.fit(x[ok], data.stature[ok])
    return StatureModel(source, view, {name: from_sklearn(model) for name, model in regressors.items()},
                        len(np.unique(data.person[ok])), int(ok.sum()))


# --------------------------------------------------------------------------- evaluation
def score(pred: np.ndarray, data: JointSet, window: int = DEFAULT_WINDOW,
          min_frames: int = DEFAULT_MIN_FRAMES) -> dict[str, float]:
    """Seed-style errors of per-frame predictions, in cm.

    For each person the causal sliding-window median of the predictions is the running estimate:
    ``mean_err_cm``/``std_err_cm`` = mean/std of its absolute error over all windows and people;
    ``temporal_std_cm`` = std over time of the running estimate, averaged over people (how much
    the reported height wobbles); ``person_mae_cm`` = error of each person's median over all frames."""
    errs, wobble, person_err = [], [], []
    for person in np.unique(data.person):
        idx = np.flatnonzero(data.person == person)
        truth = data.stature[idx[0]]
        running = rolling_estimate(pred[idx, None], window, min_frames).value[:, 0]
        running = running[np.isfinite(running)]
        if running.size:
            errs.append(np.abs(running - truth))
            wobble.append(running.std())
        person_err.append(abs(summarise(pred[idx, None]).value[0] - truth))
    err = np.concatenate(errs) if errs else np.array([np.nan])
    return {"mean_err_cm": 100 * float(err.mean()), "std_err_cm": 100 * float(err.std()),
            "temporal_std_cm": 100 * float(np.mean(wobble)) if wobble else float("nan"),
            "person_mae_cm": 100 * float(np.nanmean(person_err)),
            "frames_used": float(np.isfinite(pred).mean())}


def evaluate_model(model: StatureModel, data: JointSet, window: int = DEFAULT_WINDOW,
                   min_frames: int = DEFAULT_MIN_FRAMES) -> dict[str, dict[str, float]]:
    """{regressor: score} of `model` on `data`'s joints from the model's own source."""
    joints = data.joints[model.source]
    return {name: score(model.predict(joints, name), data, window, min_frames) for name in model.regressors}


def best_regressor(results: Mapping[str, Mapping[str, float]]) -> str:
    """The regressor with the lowest mean error."""
    return min(results, key=lambda name: results[name]["mean_err_cm"])


def format_table(results: Mapping[str, Mapping[str, Mapping[str, float]]], title: str = "") -> str:
    """Seed-style table: per regressor, mean +- std of the absolute height error and the temporal
    std, one column group per joint source (results[source][regressor][metric])."""
    sources = list(results)
    lines = [title] if title else []
    lines += [f"{'':<9}" + "".join(f" | {s:^22}" for s in sources),
              f"{'regressor':<9}" + " | err mean +- std  t-std" * len(sources),
              "-" * (9 + 25 * len(sources))]
    for name in results[sources[0]]:
        cells = (results[s][name] for s in sources)
        lines.append(f"{name:<9}" + "".join(f" | {r['mean_err_cm']:6.2f} +- {r['std_err_cm']:5.2f} "
                                            f"{r['temporal_std_cm']:6.2f}" for r in cells))
    lines.append("(cm; err = |sliding-window estimate - true stature|, t-std = temporal std of the estimate)")
    return "\n".join(lines)


def markdown_table(results: Mapping[str, Mapping[str, Mapping[str, float]]]) -> str:
    """The same comparison as :func:`format_table`, as a Markdown table for the README."""
    sources = list(results)
    head = "| Regressor | " + " | ".join(f"{s} error (cm) | {s} temporal std (cm)" for s in sources) + " |"
    rule = "|---|" + "---:|---:|" * len(sources)
    rows = [f"| {name} | " + " | ".join(f"{results[s][name]['mean_err_cm']:.2f} ± {results[s][name]['std_err_cm']:.2f}"
                                         f" | {results[s][name]['temporal_std_cm']:.2f}" for s in sources) + " |"
            for name in results[sources[0]]]
    return "\n".join([head, rule, *rows])
