"""The stature regressors as plain arrays, predicting with numpy alone.

Why: a model file must be data, never code. A scikit-learn model saved as Python objects runs
whatever the file says when it is loaded, so :mod:`.anthropometry_regression` trains with scikit-learn, exports each
fitted regressor here into float64/int64 arrays (what :mod:`.stature_file` stores), and predicts
from those arrays; no scikit-learn import is needed at predict time. ``from_arrays`` checks every
array (dtype, shape, finite values, tree node ids), so a damaged or crafted file is a ValueError,
never an index error or a traversal that does not end.

Predictions equal scikit-learn's: the trees compare float32 features with the thresholds as
scikit-learn does, AdaBoost takes its weighted median (``AdaBoostRegressor._get_median_predict``),
and kNN is the uniform mean of the k Euclidean nearest training rows.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Protocol

import numpy as np

Arrays = dict[str, np.ndarray]
#: Rows per block of the kNN distance computation (a block holds rows x training rows x features floats).
KNN_BLOCK = 64


class Predictor(Protocol):
    """What StatureModel needs of a regressor: (N, F) finite feature rows -> (N,) stature."""

    def predict(self, x: np.ndarray) -> np.ndarray: ...


def _array(arrays: Mapping[str, np.ndarray], key: str, dtype: type, ndim: int) -> np.ndarray:
    """arrays[key], checked for dtype, dimensions and (floats) finite values."""
    arr = arrays[key]
    if arr.dtype != np.dtype(dtype) or arr.ndim != ndim:
        raise ValueError(f"array '{key}' is {arr.dtype} with {arr.ndim} dimension(s), "
                         f"expected {np.dtype(dtype)} with {ndim}")
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        raise ValueError(f"array '{key}' has NaN/inf values")
    return arr


def _features(arrays: Mapping[str, np.ndarray], key: str, n_features: int) -> np.ndarray:
    arr = _array(arrays, key, np.float64, 1)
    if arr.shape != (n_features,):
        raise ValueError(f"array '{key}' has shape {arr.shape}, expected ({n_features},)")
    return arr


def _scale(arrays: Mapping[str, np.ndarray], n_features: int) -> np.ndarray:
    scale = _features(arrays, "scale", n_features)
    if (scale <= 0).any():
        raise ValueError("array 'scale' has values <= 0")
    return scale


@dataclass(frozen=True)
class Linear:
    """StandardScaler + LinearRegression: ((x - mean) / scale) . coef + intercept."""

    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: np.ndarray   # 0-d

    KIND = "linear"
    FIELDS = ("mean", "scale", "coef", "intercept")

    def predict(self, x: np.ndarray) -> np.ndarray:
        return ((np.asarray(x, np.float64) - self.mean) / self.scale) @ self.coef + self.intercept

    def arrays(self) -> Arrays:
        return {"mean": self.mean, "scale": self.scale, "coef": self.coef, "intercept": self.intercept}

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray], n_features: int) -> "Linear":
        return cls(_features(arrays, "mean", n_features), _scale(arrays, n_features),
                   _features(arrays, "coef", n_features), _array(arrays, "intercept", np.float64, 0))


@dataclass(frozen=True)
class Trees:
    """Regression trees in one set of node arrays (scikit-learn's ``tree_`` layout with node ids
    global to the set): tree t starts at node ``roots[t]``; a leaf has left == right == -1."""

    roots: np.ndarray       # (T,) int64
    left: np.ndarray        # (nodes,) int64
    right: np.ndarray       # (nodes,) int64
    feature: np.ndarray     # (nodes,) int64, ignored at leaves
    threshold: np.ndarray   # (nodes,) float64: go left when x[feature] <= threshold
    value: np.ndarray       # (nodes,) float64, the prediction at a leaf

    FIELDS = ("roots", "left", "right", "feature", "threshold", "value")

    def predict_each(self, x: np.ndarray) -> np.ndarray:
        """(N, F) -> (N, T): every tree's prediction. Features are compared as float32, as
        scikit-learn's trees do; children have larger ids than their parent, so this ends."""
        x32 = np.asarray(x, np.float64).astype(np.float32).astype(np.float64)
        node = np.tile(self.roots, (len(x32), 1))
        rows = np.broadcast_to(np.arange(len(x32))[:, None], node.shape)
        inner = self.left[node] >= 0
        while inner.any():
            at, row = node[inner], rows[inner]
            go_left = x32[row, self.feature[at]] <= self.threshold[at]
            node[inner] = np.where(go_left, self.left[at], self.right[at])
            inner = self.left[node] >= 0
        return self.value[node]

    def arrays(self) -> Arrays:
        return {name: getattr(self, name) for name in self.FIELDS}

    @classmethod
    def from_sklearn(cls, estimators: list) -> "Trees":
        """The fitted DecisionTreeRegressors of an ensemble, renumbered into one node set."""
        trees = [est.tree_ for est in estimators]
        offsets = np.cumsum([0] + [t.node_count for t in trees])
        return cls(offsets[:-1].astype(np.int64),
                   np.concatenate([_global(t.children_left, o) for t, o in zip(trees, offsets)]),
                   np.concatenate([_global(t.children_right, o) for t, o in zip(trees, offsets)]),
                   np.concatenate([t.feature for t in trees]).astype(np.int64),
                   np.concatenate([t.threshold for t in trees]).astype(np.float64),
                   np.concatenate([t.value[:, 0, 0] for t in trees]).astype(np.float64))

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray], n_features: int) -> "Trees":
        roots = _array(arrays, "roots", np.int64, 1)
        nodes = {key: _array(arrays, key, dtype, 1) for key, dtype in (
            ("left", np.int64), ("right", np.int64), ("feature", np.int64),
            ("threshold", np.float64), ("value", np.float64))}
        n = len(nodes["value"])
        if any(len(arr) != n for arr in nodes.values()):
            raise ValueError(f"node arrays differ in length ({', '.join(f'{k} {len(a)}' for k, a in nodes.items())})")
        if not len(roots) or roots[0] != 0 or (np.diff(roots) <= 0).any() or roots[-1] >= n:
            raise ValueError(f"array 'roots' must start at 0 and increase strictly below {n} nodes")
        trees = cls(roots, **nodes)
        trees._check_nodes(n_features)
        return trees

    def _check_nodes(self, n_features: int) -> None:
        """Every inner node's children lie after it in its own tree, and its feature exists."""
        ids = np.arange(len(self.value))
        end = np.append(self.roots[1:], len(ids))[np.searchsorted(self.roots, ids, side="right") - 1]
        leaf = self.left == -1
        if ((self.right == -1) != leaf).any():
            raise ValueError("arrays 'left'/'right' disagree on which nodes are leaves")
        for key in ("left", "right"):
            child = getattr(self, key)[~leaf]
            if ((child <= ids[~leaf]) | (child >= end[~leaf])).any():
                raise ValueError(f"array '{key}' has node ids out of range (a child must follow its parent "
                                 "within its tree)")
        feature = self.feature[~leaf]
        if ((feature < 0) | (feature >= n_features)).any():
            raise ValueError(f"array 'feature' has feature ids out of range 0..{n_features - 1}")


def _global(children: np.ndarray, offset: int) -> np.ndarray:
    """A tree's child ids shifted by the tree's first node id; leaves keep -1."""
    return np.where(children >= 0, children + offset, -1).astype(np.int64)


@dataclass(frozen=True)
class MeanTrees:
    """RandomForestRegressor: the mean of its trees."""

    trees: Trees

    KIND = "mean_trees"
    FIELDS = Trees.FIELDS

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.trees.predict_each(x).mean(axis=1)

    def arrays(self) -> Arrays:
        return self.trees.arrays()

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray], n_features: int) -> "MeanTrees":
        return cls(Trees.from_arrays(arrays, n_features))


@dataclass(frozen=True)
class WeightedMedianTrees:
    """AdaBoostRegressor: per row, the tree prediction at which the cumulative weight of the sorted
    predictions first reaches half the total (scikit-learn's ``_get_median_predict``). All-zero
    weights are valid: boosting that stops at its first tree keeps that tree with weight 0."""

    trees: Trees
    weights: np.ndarray     # (T,) estimator_weights_

    KIND = "weighted_median_trees"
    FIELDS = (*Trees.FIELDS, "weights")

    def predict(self, x: np.ndarray) -> np.ndarray:
        each = self.trees.predict_each(x)
        order = np.argsort(each, axis=1)
        cdf = np.cumsum(self.weights[order], axis=1)
        median = (cdf >= 0.5 * cdf[:, -1:]).argmax(axis=1)
        rows = np.arange(len(each))
        return each[rows, order[rows, median]]

    def arrays(self) -> Arrays:
        return {**self.trees.arrays(), "weights": self.weights}

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray], n_features: int) -> "WeightedMedianTrees":
        trees = Trees.from_arrays(arrays, n_features)
        weights = _array(arrays, "weights", np.float64, 1)
        if weights.shape != trees.roots.shape or (weights < 0).any():
            raise ValueError(f"array 'weights' must hold {len(trees.roots)} weights >= 0")
        return cls(trees, weights)


@dataclass(frozen=True)
class Neighbours:
    """StandardScaler + KNeighborsRegressor (uniform weights, Euclidean): the mean stature of the
    k training rows nearest to the scaled row."""

    mean: np.ndarray
    scale: np.ndarray
    x: np.ndarray           # (M, F) scaled training rows
    y: np.ndarray           # (M,) their stature
    k: np.ndarray           # 0-d int64

    KIND = "neighbours"
    FIELDS = ("mean", "scale", "x", "y", "k")

    def predict(self, x: np.ndarray) -> np.ndarray:
        z = (np.asarray(x, np.float64) - self.mean) / self.scale
        k = int(self.k)
        out = np.empty(len(z))
        for start in range(0, len(z), KNN_BLOCK):
            block = z[start:start + KNN_BLOCK]
            dist = ((block[:, None, :] - self.x[None]) ** 2).sum(-1)
            nearest = np.argpartition(dist, k - 1, axis=1)[:, :k]
            out[start:start + KNN_BLOCK] = self.y[nearest].mean(axis=1)
        return out

    def arrays(self) -> Arrays:
        return {"mean": self.mean, "scale": self.scale, "x": self.x, "y": self.y, "k": self.k}

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray], n_features: int) -> "Neighbours":
        x, y, k = (_array(arrays, "x", np.float64, 2), _array(arrays, "y", np.float64, 1),
                   _array(arrays, "k", np.int64, 0))
        if x.shape[1] != n_features or len(y) != len(x):
            raise ValueError(f"arrays 'x' {x.shape} and 'y' {y.shape} must be (M, {n_features}) and (M,)")
        if not 1 <= k <= len(y):
            raise ValueError(f"array 'k' is {int(k)}, expected 1..{len(y)} (the training rows)")
        return cls(_features(arrays, "mean", n_features), _scale(arrays, n_features), x, y, k)


#: Each predictor class under the kind name the model file records.
KINDS: dict[str, type] = {cls.KIND: cls for cls in (Linear, MeanTrees, WeightedMedianTrees, Neighbours)}


def from_sklearn(model: object) -> Predictor:
    """The numpy predictor of one fitted regressor of :func:`.anthropometry_regression.make_regressors`."""
    from sklearn.ensemble import AdaBoostRegressor, RandomForestRegressor
    from sklearn.linear_model import LinearRegression
    from sklearn.neighbors import KNeighborsRegressor
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler
    if isinstance(model, RandomForestRegressor):
        return MeanTrees(Trees.from_sklearn(model.estimators_))
    if isinstance(model, AdaBoostRegressor):
        n = len(model.estimators_)     # boosting may stop early; later weights are unused zeros
        weights = model.estimator_weights_[:n].astype(np.float64)
        return WeightedMedianTrees(Trees.from_sklearn(model.estimators_), weights)
    if isinstance(model, Pipeline) and len(model.steps) == 2 and isinstance(model[0], StandardScaler):
        scaler, last = model[0], model[-1]
        if isinstance(last, LinearRegression):
            return Linear(scaler.mean_, scaler.scale_, last.coef_.astype(np.float64),
                          np.array(last.intercept_, np.float64))
        if (isinstance(last, KNeighborsRegressor) and last.weights == "uniform"
                and last.effective_metric_ == "euclidean"):
            return Neighbours(scaler.mean_, scaler.scale_, np.asarray(last._fit_X, np.float64),
                              np.asarray(last._y, np.float64), np.array(last.n_neighbors, np.int64))
    raise ValueError(f"cannot export {model!r} as arrays (not one of make_regressors' four families)")
