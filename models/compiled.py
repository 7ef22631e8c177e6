"""The fitted stack as explicit files, and a fast predictor rebuilt from them.

Why not pickle: a pickled stack is only readable by the same versions of every library, can run
code when loaded, and says nothing about what the model is. `export_ensemble` writes each part
in a format that states its content: a JSON manifest (feature names, class order, each base
model's learned state, the logistic layer, the calibration maps, free-form metadata), the random
forest as flat NumPy arrays, XGBoost's own UBJSON (its trees are read into flat arrays at
load) and LightGBM's own text model.

Why compile the forest: scikit-learn's `predict_proba` on one row costs 8-30 ms (input checks,
a thread pool per call, one Python call per tree). Here all trees are packed into one set of
node arrays and walked together, one depth level per NumPy step, so a row costs about as many
NumPy calls as the trees are deep.

`load_ensemble(...).predict_proba(X)` reproduces `MetaLearner.predict_proba(X)`: the forest
and the logistic layer to float rounding (1e-9), the boosters as they predict in the stack
(float32 inside; XGBoost's trees are walked here like the forest's, its margins bit for bit,
its softmax in float64: ~1e-7 from XGBoost's float32 one). `predict_one` is the serving path
for a single row: no pandas at all.
"""

from __future__ import annotations

import ctypes
import json
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, Self

import numpy as np
import pandas as pd
from scipy.special import expit
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression

from models.anchoring import _MIN_PROB as _MIN_MARKET_PROB
from models.base import CLASS_NAMES, N_CLASSES, BaseModel, expand_to_classes
from models.calibration import _EPS, Calibration, _logit
from models.meta_learner import MetaLearner, log_prob_features, normalised_market
from sabiscore.odds import softmax

FORMAT = "sabiscore.compiled-ensemble"
FORMAT_VERSION = 2  # 2: the market as a member (its columns, a second layer for unpriced rows)
_READABLE_VERSIONS = (1, 2)
MANIFEST = "ensemble.json"

_LEAF = -1  # sklearn.tree._tree.TREE_LEAF: the child index of a leaf
_CHUNK_ROWS = 2048  # forest rows walked at once: bounds the (trees x rows) node arrays


# --- the parts of a compiled ensemble --------------------------------------------------------


class CompiledModel(Protocol):
    """A base model rebuilt from its files: float64 rows in its own feature order, (n, 3) out."""

    def predict(self, values: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True)
class MarketMargin:
    """A booster's starting scores: log market probabilities, base rates where unpriced.

    The array twin of `models.anchoring.market_margin`, for rows that never become a DataFrame.
    """

    columns: np.ndarray  # positions of the H/D/A market columns in the model's features
    fallback: np.ndarray  # (3,) log base rates of the training labels

    def __call__(self, values: np.ndarray) -> np.ndarray:
        probs = values[:, self.columns]
        usable = np.all(np.isfinite(probs) & (probs > 0), axis=1)
        margin = np.log(np.clip(np.where(usable[:, None], probs, 1.0), _MIN_MARKET_PROB, None))
        margin[~usable] = self.fallback
        return margin


@dataclass(frozen=True)
class CompiledForest:
    """A random forest as flat node arrays, all trees walked together.

    Node i owns two slots, 2i (x <= threshold: go left) and 2i + 1 (go right); the walk holds
    each tree's current slot pair `2i`, and `child_slot[2i + went_right]` is the child's pair.
    Leaves lead back to themselves, so after `depth` steps every tree stands on its leaf
    whatever its own depth. x is rounded to float32 and compared in float64, exactly as
    scikit-learn's trees compare float32 inputs to float64 thresholds.
    """

    medians: np.ndarray  # (n_features,) float32: what a missing value becomes
    roots: np.ndarray  # (n_trees,) slot pair of each tree's root
    child_slot: np.ndarray  # (2 n_nodes,) slot pair of the left / right child
    feature: np.ndarray  # (2 n_nodes,) feature tested at the node (0 at leaves, never used)
    threshold: np.ndarray  # (2 n_nodes,) float64
    value: np.ndarray  # (n_nodes, 3) class probabilities H/D/A of each node
    depth: int  # the deepest tree's depth: the number of steps of the walk

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray], medians: Sequence[float]) -> Self:
        """Rebuild from `pack_forest`'s arrays (leaves marked by child -1)."""
        left = np.asarray(arrays["children_left"], dtype=np.intp)
        right = np.asarray(arrays["children_right"], dtype=np.intp)
        value = np.asarray(arrays["value"], dtype=np.float64)
        n_nodes = len(left)
        if right.shape != (n_nodes,) or value.shape != (n_nodes, N_CLASSES):
            raise ValueError("forest arrays disagree on the number of nodes")
        is_leaf = left == _LEAF
        own = np.arange(n_nodes)
        children = np.column_stack([np.where(is_leaf, own, left), np.where(is_leaf, own, right)])
        feature = np.where(is_leaf, 0, np.asarray(arrays["feature"], dtype=np.intp))
        return cls(
            medians=np.asarray(medians, dtype=np.float64).astype(np.float32),
            roots=2 * np.asarray(arrays["roots"], dtype=np.intp),
            child_slot=2 * children.ravel(),
            feature=np.repeat(feature, 2),
            threshold=np.repeat(np.asarray(arrays["threshold"], dtype=np.float64), 2),
            value=value,
            depth=int(arrays["depth"]),
        )

    def predict(self, values: np.ndarray) -> np.ndarray:
        """Mean leaf probabilities over the trees, as RandomForestClassifier.predict_proba."""
        filled = np.where(np.isnan(values), self.medians, values.astype(np.float32))
        if len(filled) == 1:
            return self._predict_row(filled[0].astype(np.float64))[None, :]
        chunks = range(0, len(filled), _CHUNK_ROWS)
        return np.vstack([self._predict_rows(filled[i : i + _CHUNK_ROWS]) for i in chunks])

    def _predict_row(self, x: np.ndarray) -> np.ndarray:
        slot = self.roots
        for _ in range(self.depth):
            slot = self.child_slot[slot + (x[self.feature[slot]] > self.threshold[slot])]
        return self.value[slot // 2].sum(axis=0) / len(self.roots)

    def _predict_rows(self, rows: np.ndarray) -> np.ndarray:
        n_rows, n_features = rows.shape
        flat = rows.astype(np.float64).ravel()
        starts = np.arange(n_rows) * n_features
        slot = np.repeat(self.roots[:, None], n_rows, axis=1)  # (n_trees, n_rows)
        for _ in range(self.depth):
            went_right = flat[self.feature[slot] + starts] > self.threshold[slot]
            slot = self.child_slot[slot + went_right]
        return self.value[slot // 2].sum(axis=0) / len(self.roots)


@dataclass(frozen=True)
class CompiledXGBoost:
    """An XGBoost multi:softprob booster as flat node arrays, walked like `CompiledForest`.

    The arrays are read at load from the booster's own JSON (the UBJSON file stays the stored
    model). Node i owns three slots: 3i (x < threshold: go left), 3i + 1 (x >= threshold: go
    right) and 3i + 2 (x missing: the node's default branch); a step adds `x >= threshold`
    (False for NaN) and 2 for NaN. Leaves lead back to themselves. x and the thresholds are
    float32 as in XGBoost, and each class's margin is summed in float32 in XGBoost's order:
    the start (the booster's base score, or the market margin, which replaces it), then the
    class's trees one by one. So the margins equal `inplace_predict(predict_type="margin")`
    bit for bit; the softmax is taken in float64 (XGBoost's float32 one differs by ~1e-7).
    `inplace_predict` costs ~0.5 ms a row before walking any tree; this walk ~depth NumPy steps.
    """

    base_score: np.ndarray  # (3,) float32 starting margin of each class
    roots: np.ndarray  # (n_trees,) slot triple of each tree's root
    child_slot: np.ndarray  # (3 n_nodes,) slot triple of the left / right / default child
    feature: np.ndarray  # (3 n_nodes,) feature tested at the node (0 at leaves, never used)
    threshold: np.ndarray  # (3 n_nodes,) float32
    leaf: np.ndarray  # (n_nodes,) float32 leaf value (0 at split nodes, never used)
    class_trees: np.ndarray  # (n_rounds, 3) tree indices of each class, in boosting order
    depth: int  # the deepest tree's depth: the number of steps of the walk
    margin: MarketMargin | None

    @classmethod
    def from_booster(cls, booster: Any, margin: MarketMargin | None) -> Self:
        """Read the trees and base score out of `booster.save_raw("json")`."""
        learner = json.loads(bytes(booster.save_raw("json")))["learner"]
        params = learner["learner_model_param"]
        objective = learner["objective"]["name"]
        if objective != "multi:softprob" or int(params["num_class"]) != N_CLASSES:
            classes = params["num_class"]
            raise ValueError(f"cannot compile a {objective} booster of {classes} classes")
        model = learner["gradient_booster"]["model"]
        trees = model["trees"]
        cats = model.get("cats") or {}
        if any(cats.values()) or any(any(tree["split_type"]) for tree in trees):
            raise ValueError("cannot compile categorical splits")
        if any(int(tree["tree_param"]["size_leaf_vector"]) > 1 for tree in trees):
            raise ValueError("cannot compile multi-output trees")
        # 3.x: "[m_H,m_D,m_A]" margins; older files: one number for every class
        base = np.array(params["base_score"].strip("[]").split(","), dtype=np.float32)
        tree_class = np.asarray(model["tree_info"], dtype=np.intp)
        counts = np.bincount(tree_class, minlength=N_CLASSES)
        if len(counts) != N_CLASSES or len(set(counts)) != 1:
            raise ValueError(f"trees per class {counts.tolist()} are not one per class a round")
        sizes = np.array([len(tree["left_children"]) for tree in trees], dtype=np.intp)
        offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.intp)
        left = np.concatenate([tree["left_children"] for tree in trees]).astype(np.intp)
        right = np.concatenate([tree["right_children"] for tree in trees]).astype(np.intp)
        node_offset = np.repeat(offsets, sizes)
        is_leaf = left == -1
        own = np.arange(len(left))
        left = np.where(is_leaf, own, left + node_offset)
        right = np.where(is_leaf, own, right + node_offset)
        default_left = np.concatenate([tree["default_left"] for tree in trees]).astype(bool)
        children = np.column_stack([left, right, np.where(default_left, left, right)])
        feature = np.concatenate([tree["split_indices"] for tree in trees]).astype(np.intp)
        condition = np.concatenate([tree["split_conditions"] for tree in trees])
        condition = np.asarray(condition, dtype=np.float64).astype(np.float32)
        return cls(
            base_score=np.broadcast_to(base, (N_CLASSES,)).copy(),
            roots=3 * offsets,
            child_slot=3 * children.ravel(),
            feature=np.repeat(np.where(is_leaf, 0, feature), 3),
            threshold=np.repeat(np.where(is_leaf, np.float32(0), condition), 3),
            leaf=np.where(is_leaf, condition, np.float32(0)),
            class_trees=np.column_stack(
                [np.flatnonzero(tree_class == k) for k in range(N_CLASSES)]
            ),
            depth=max(_tree_depth(tree["left_children"], tree["right_children"]) for tree in trees),
            margin=margin,
        )

    def predict(self, values: np.ndarray) -> np.ndarray:
        """softmax of the float32 margins, as the booster's `inplace_predict` (to ~1e-7)."""
        return softmax(self.margins(values).astype(np.float64))

    def margins(self, values: np.ndarray) -> np.ndarray:
        """(n, 3) float32 margins, as `inplace_predict(predict_type="margin")` bit for bit."""
        rows = values.astype(np.float32)
        if self.margin is None:
            start = np.broadcast_to(self.base_score, (len(rows), N_CLASSES))
        else:
            start = self.margin(values).astype(np.float32)  # replaces the base score
        if len(rows) == 1:
            leaves = self._walk_row(rows[0])[:, None]
        else:
            chunks = range(0, len(rows), _CHUNK_ROWS)
            leaves = np.hstack([self._walk_rows(rows[i : i + _CHUNK_ROWS]) for i in chunks])
        terms = np.concatenate([start.T[None], leaves[self.class_trees]])  # (1 + rounds, 3, n)
        return np.cumsum(terms, axis=0, dtype=np.float32)[-1].T  # in order, in float32

    def _walk_row(self, x: np.ndarray) -> np.ndarray:
        """Leaf value of each tree for one float32 row."""
        missing = 2 * np.isnan(x)
        slot = self.roots
        for _ in range(self.depth):
            f = self.feature[slot]
            slot = self.child_slot[slot + (x[f] >= self.threshold[slot]) + missing[f]]
        return self.leaf[slot // 3]

    def _walk_rows(self, rows: np.ndarray) -> np.ndarray:
        """(n_trees, n_rows) leaf values."""
        n_rows, n_features = rows.shape
        flat = rows.ravel()
        missing = 2 * np.isnan(flat)
        starts = np.arange(n_rows) * n_features
        slot = np.repeat(self.roots[:, None], n_rows, axis=1)
        for _ in range(self.depth):
            f = self.feature[slot] + starts
            slot = self.child_slot[slot + (flat[f] >= self.threshold[slot]) + missing[f]]
        return self.leaf[slot // 3]


def _tree_depth(left: Sequence[int], right: Sequence[int]) -> int:
    """Edges on the longest root-to-leaf path of one tree (0 for a lone leaf)."""
    depth, level = 0, [0]
    while True:
        level = [c for node in level for c in (left[node], right[node]) if c != -1]
        if not level:
            return depth
        depth += 1


@dataclass(frozen=True)
class CompiledLightGBM:
    """A LightGBM booster loaded from its text model; the market margin is added back here.

    One row (the serving path) goes through LightGBM's own single-row C API
    (`LGBM_BoosterPredictForMatSingleRowFast`, set up once): the same prediction as
    `Booster.predict`, without its Python-side checks and conversions on every call.
    """

    booster: Any  # lightgbm.Booster
    margin: MarketMargin | None

    def __post_init__(self) -> None:
        object.__setattr__(self, "_single_row", None)
        object.__setattr__(self, "_lock", threading.Lock())

    def predict(self, values: np.ndarray) -> np.ndarray:
        rows = values.astype(np.float32)
        if len(rows) == 1:
            scores = self._predict_row(rows[0])[None, :]
        else:
            scores = self.booster.predict(rows, raw_score=self.margin is not None, num_threads=1)
        return scores if self.margin is None else softmax(scores + self.margin(values))

    def _predict_row(self, row: np.ndarray) -> np.ndarray:
        """Probabilities (raw scores when there is a market margin) of one float32 row."""
        row = np.ascontiguousarray(row, dtype=np.float32)
        out = np.empty(N_CLASSES, dtype=np.float64)
        out_len = ctypes.c_int64(0)
        with self._lock:  # a FastConfig serves one call at a time
            fast = self._single_row or self._init_single_row(len(row))
            _check_lightgbm(
                fast.lib.LGBM_BoosterPredictForMatSingleRowFast(
                    fast.handle,
                    row.ctypes.data_as(ctypes.c_void_p),
                    ctypes.byref(out_len),
                    out.ctypes.data_as(ctypes.POINTER(ctypes.c_double)),
                )
            )
        if out_len.value != N_CLASSES:
            raise ValueError(f"LightGBM returned {out_len.value} scores for one row")
        return out

    def _init_single_row(self, n_features: int) -> _FastConfig:
        from lightgbm.basic import _LIB

        raw_score = self.margin is not None
        handle = ctypes.c_void_p()
        _check_lightgbm(
            _LIB.LGBM_BoosterPredictForMatSingleRowFastInit(
                self.booster._handle,
                ctypes.c_int(_LGBM_PREDICT_RAW_SCORE if raw_score else _LGBM_PREDICT_NORMAL),
                ctypes.c_int(0),  # start iteration
                ctypes.c_int(-1),  # every iteration
                ctypes.c_int(_LGBM_DTYPE_FLOAT32),
                ctypes.c_int32(n_features),
                ctypes.c_char_p(b"num_threads=1"),
                ctypes.byref(handle),
            )
        )
        fast = _FastConfig(_LIB, handle)
        object.__setattr__(self, "_single_row", fast)
        return fast


_LGBM_PREDICT_NORMAL, _LGBM_PREDICT_RAW_SCORE, _LGBM_DTYPE_FLOAT32 = 0, 1, 0


class _FastConfig:
    """A LightGBM FastConfigHandle, freed with its owner."""

    def __init__(self, lib: Any, handle: ctypes.c_void_p) -> None:
        self.lib, self.handle = lib, handle

    def __del__(self) -> None:
        if self.handle:
            self.lib.LGBM_FastConfigFree(self.handle)
            self.handle = None


def _check_lightgbm(code: int) -> None:
    if code != 0:
        from lightgbm.basic import _LIB

        raise RuntimeError(f"LightGBM: {_LIB.LGBM_GetLastError().decode('utf-8')}")


@dataclass(frozen=True)
class LogisticLayer:
    """The stack's multinomial logistic regression on log-probabilities, as plain arrays."""

    coef: np.ndarray  # (n_classes_seen, n_meta_features); one row when only two classes
    intercept: np.ndarray
    classes: np.ndarray  # labels the layer saw, placed into H/D/A columns

    @classmethod
    def from_estimator(cls, model: LogisticRegression) -> Self:
        return cls(model.coef_, model.intercept_, np.asarray(model.classes_, dtype=int))

    @classmethod
    def from_json(cls, state: Mapping[str, Any]) -> Self:
        return cls(
            np.asarray(state["coef"], dtype=np.float64),
            np.asarray(state["intercept"], dtype=np.float64),
            np.asarray(state["classes"], dtype=int),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "coef": self.coef.tolist(),
            "intercept": self.intercept.tolist(),
            "classes": self.classes.tolist(),
        }

    def predict(self, features: np.ndarray) -> np.ndarray:
        """H/D/A probabilities, as `expand_to_classes(LogisticRegression.predict_proba(...))`."""
        decision = features @ self.coef.T + self.intercept
        if len(self.classes) <= 2:  # scikit-learn's binary case: one score, expit
            positive = expit(decision[:, 0])
            probs = np.column_stack([1 - positive, positive])
        else:
            probs = softmax(decision)
        return expand_to_classes(probs, self.classes)


@dataclass(frozen=True)
class CalibrationMaps:
    """The one-vs-rest maps of `models.calibration`, one per class, without scikit-learn.

    Isotonic: piecewise-linear through the points (x, y), flat beyond the end points, which is
    what `IsotonicRegression(out_of_bounds="clip").predict` computes. Sigmoid: the 1-D logistic
    regression on the logit, expit(coef * logit(p) + intercept).
    """

    method: Calibration
    maps: tuple[dict[str, np.ndarray], ...]  # isotonic: x, y; sigmoid: coef, intercept

    @classmethod
    def from_calibrators(cls, calibrators: list | None) -> Self:
        """Read the maps out of `MetaLearner.calibrators_` (None: no calibration)."""
        if calibrators is None:
            return cls(Calibration.NONE, ())
        if all(isinstance(c, IsotonicRegression) for c in calibrators):
            maps = [{"x": c.X_thresholds_, "y": c.y_thresholds_} for c in calibrators]
            return cls(Calibration.ISOTONIC, tuple(maps))
        if all(isinstance(c, LogisticRegression) for c in calibrators):
            maps = [{"coef": c.coef_[0, 0], "intercept": c.intercept_[0]} for c in calibrators]
            return cls(Calibration.SIGMOID, tuple(maps))
        raise ValueError(f"cannot export calibrators {[type(c).__name__ for c in calibrators]}")

    @classmethod
    def from_json(cls, state: Mapping[str, Any]) -> Self:
        maps = (
            {key: np.asarray(value, dtype=np.float64) for key, value in params.items()}
            for params in state["maps"]
        )
        return cls(Calibration(state["method"]), tuple(maps))

    def to_json(self) -> dict[str, Any]:
        maps = [{key: np.asarray(v).tolist() for key, v in params.items()} for params in self.maps]
        return {"method": self.method.value, "maps": maps}

    def apply(self, probs: np.ndarray) -> np.ndarray:
        """Map each class's probability, then renormalise, as `apply_calibrators` does."""
        if self.method is Calibration.NONE:
            return probs
        mapped = np.column_stack([self._map(k, probs[:, k]) for k in range(N_CLASSES)]) + _EPS
        return mapped / mapped.sum(axis=1, keepdims=True)

    def _map(self, k: int, p: np.ndarray) -> np.ndarray:
        params = self.maps[k]
        if self.method is Calibration.ISOTONIC:
            return np.interp(p, params["x"], params["y"])
        return expit(_logit(p)[:, 0] * params["coef"] + params["intercept"])


# --- the ensemble ----------------------------------------------------------------------------


class CompiledEnsemble:
    """The stack rebuilt from files: base models, logistic layer, optional calibration."""

    def __init__(
        self,
        feature_names: list[str],
        base_model_names: list[str],
        members: list[CompiledModel],
        member_columns: list[np.ndarray | None],
        logistic: LogisticLayer,
        calibration: CalibrationMaps,
        metadata: dict[str, Any],
        market_columns: list[str] | None = None,
        logistic_no_market: LogisticLayer | None = None,
    ) -> None:
        self.feature_names = feature_names
        self._feature_index = pd.Index(feature_names)
        self.base_model_names = base_model_names
        self.members = members
        self.member_columns = member_columns  # None: the member reads every feature in order
        self.logistic = logistic
        self.calibration = calibration
        self.metadata = metadata
        # the market member: where its columns sit among the features, and the models-only
        # layer for rows without an opening price (both None when the market is not a member)
        self.market_columns = market_columns
        self._market_positions = (
            None if market_columns is None else self._feature_index.get_indexer(market_columns)
        )
        self.logistic_no_market = logistic_no_market

    def predict_proba(self, X: pd.DataFrame | np.ndarray) -> np.ndarray:
        """(n, 3) probabilities H/D/A; a DataFrame's columns are matched by name, an array's
        columns must already be in `feature_names` order."""
        values = self._values(X)
        return self._stack(self._base_forecasts(values), values)

    def predict_base(self, X: pd.DataFrame | np.ndarray) -> dict[str, np.ndarray]:
        """Each base model's (n, 3) forecast, keyed by its name in the stack."""
        forecasts = self._base_forecasts(self._values(X))
        return dict(zip(self.base_model_names, forecasts, strict=True))

    def predict_one(self, values: np.ndarray) -> np.ndarray:
        """(3,) probabilities for one row of `len(feature_names)` values in feature order.

        The serving path: no pandas, NaN for a missing value.
        """
        row = np.asarray(values, dtype=np.float64)
        if row.shape != (len(self.feature_names),):
            raise ValueError(f"expected {len(self.feature_names)} values, got shape {row.shape}")
        return self._stack(self._base_forecasts(row[None, :]), row[None, :])[0]

    def _values(self, X: pd.DataFrame | np.ndarray) -> np.ndarray:
        if isinstance(X, pd.DataFrame):
            if not X.columns.equals(self._feature_index):  # selecting 220 columns costs ~1 ms
                missing = [name for name in self.feature_names if name not in X.columns]
                if missing:
                    raise KeyError(f"X lacks {len(missing)} features of the ensemble: {missing}")
                X = X[self.feature_names]
            return X.to_numpy(dtype=np.float64, na_value=np.nan)
        values = np.asarray(X, dtype=np.float64)
        if values.ndim != 2 or values.shape[1] != len(self.feature_names):
            raise ValueError(
                f"expected rows of {len(self.feature_names)} features, got shape {values.shape}"
            )
        return values

    def _base_forecasts(self, values: np.ndarray) -> list[np.ndarray]:
        return [
            member.predict(values if columns is None else values[:, columns])
            for member, columns in zip(self.members, self.member_columns, strict=True)
        ]

    def _stack(self, forecasts: list[np.ndarray], values: np.ndarray) -> np.ndarray:
        if self._market_positions is None:
            return self.calibration.apply(self.logistic.predict(log_prob_features(forecasts)))
        market = normalised_market(values[:, self._market_positions])
        quoted = np.isfinite(market).all(axis=1)
        if quoted.all():  # the serving path: one priced row, no masking
            probs = self.logistic.predict(log_prob_features([market, *forecasts]))
        else:
            assert self.logistic_no_market is not None
            probs = self.logistic_no_market.predict(log_prob_features(forecasts))
            if quoted.any():
                pooled = log_prob_features([market[quoted], *[f[quoted] for f in forecasts]])
                probs[quoted] = self.logistic.predict(pooled)
        return self.calibration.apply(probs)


# --- export ----------------------------------------------------------------------------------


def pack_forest(forest: Any) -> dict[str, np.ndarray]:
    """A fitted RandomForestClassifier's trees as flat arrays, node indices global.

    `value` holds each node's class probabilities in H/D/A columns. scikit-learn >= 1.4 stores
    them as fractions already (kept bit for bit); older versions stored weighted counts, which
    are normalised here as their `predict_proba` did.
    """
    trees = [estimator.tree_ for estimator in forest.estimators_]
    sizes = np.array([tree.node_count for tree in trees])
    roots = np.concatenate([[0], np.cumsum(sizes)[:-1]])

    def offset(children: np.ndarray, root: int) -> np.ndarray:
        return np.where(children == _LEAF, _LEAF, children + root)

    values = np.vstack([tree.value[:, 0, :] for tree in trees])
    totals = values.sum(axis=1, keepdims=True)
    if not np.allclose(totals[totals > 0], 1.0):
        values = values / np.where(totals == 0.0, 1.0, totals)
    return {
        "roots": roots.astype(np.int64),
        "children_left": np.concatenate(
            [offset(t.children_left, r) for t, r in zip(trees, roots, strict=True)]
        ),
        "children_right": np.concatenate(
            [offset(t.children_right, r) for t, r in zip(trees, roots, strict=True)]
        ),
        "feature": np.concatenate([tree.feature for tree in trees]),
        "threshold": np.concatenate([tree.threshold for tree in trees]),
        "value": expand_to_classes(values, forest.classes_),
        "depth": np.array(max(tree.max_depth for tree in trees)),
    }


def _export_random_forest(model: BaseModel, directory: Path, name: str) -> dict[str, Any]:
    file = f"{name}.npz"
    np.savez(directory / file, **pack_forest(model.estimator_))
    return {"file": file, "medians": model.medians_.tolist()}


def _anchor_state(model: BaseModel) -> dict[str, Any]:
    return {
        "margin_columns": model.margin_columns_,
        "fallback_margin": np.asarray(model.fallback_margin_, dtype=float).tolist(),
    }


def _export_xgboost(model: BaseModel, directory: Path, name: str) -> dict[str, Any]:
    file = f"{name}.ubj"
    model.booster_.save_model(str(directory / file))
    return {"file": file, **_anchor_state(model)}


def _export_lightgbm(model: BaseModel, directory: Path, name: str) -> dict[str, Any]:
    file = f"{name}.txt"
    model.booster_.save_model(str(directory / file))
    return {"file": file, **_anchor_state(model)}


_EXPORTERS = {
    "random_forest": _export_random_forest,
    "xgboost": _export_xgboost,
    "lightgbm": _export_lightgbm,
}


def export_ensemble(
    stack: MetaLearner, directory: Path, metadata: dict[str, Any] | None = None
) -> Path:
    """Write a fitted stack to `directory` (created if needed); returns the directory.

    `metadata` must be JSON-serialisable; it is stored as given and returned by
    `load_ensemble(...).metadata`. The manifest is written last, so a directory without
    `ensemble.json` is an unfinished export.
    """
    if not hasattr(stack, "meta_model_"):
        raise ValueError("export_ensemble needs a fitted MetaLearner")
    feature_names = stack.feature_names_in_.tolist()
    members = list(zip(stack.base_model_names_, stack.base_models_, strict=True))
    for name, model in members:  # check everything before writing anything
        if model.model_name not in _EXPORTERS:
            raise ValueError(
                f"cannot export base model {name!r} of kind {model.model_name!r}; "
                f"exportable kinds: {sorted(_EXPORTERS)}"
            )
        unknown = [f for f in model.feature_names_in_ if f not in feature_names]
        if unknown:
            raise ValueError(f"base model {name!r} uses features the stack lacks: {unknown}")
    logistic = LogisticLayer.from_estimator(stack.meta_model_).to_json()
    no_market = getattr(stack, "meta_model_no_market_", None)
    market_member = None
    if no_market is not None:
        market_member = {
            "columns": list(stack.market_columns),
            "meta_model_no_market": LogisticLayer.from_estimator(no_market).to_json(),
            "note": "the market's de-margined opening line is a member of the pooled layer; "
            "matches without any opening price are forecast by the models alone, with a "
            "layer fitted separately on them (meta_model_no_market)",
        }
    calibration = CalibrationMaps.from_calibrators(stack.calibrators_).to_json()
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    entries = [
        {
            "name": name,
            "kind": model.model_name,
            "features": model.feature_names_in_.tolist(),
            **_EXPORTERS[model.model_name](model, directory, name),
        }
        for name, model in members
    ]
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "feature_names": feature_names,
        "classes": list(CLASS_NAMES),
        "base_models": entries,
        "meta_model": logistic,
        "market_member": market_member,
        "calibration": calibration,
        "metadata": dict(metadata or {}),
    }
    text = json.dumps(manifest, indent=1, allow_nan=False)
    (directory / MANIFEST).write_text(text, encoding="utf-8")
    return directory


# --- load ------------------------------------------------------------------------------------


def _margin(entry: Mapping[str, Any]) -> MarketMargin | None:
    columns = entry.get("margin_columns")
    if columns is None:
        return None
    positions = np.array([entry["features"].index(column) for column in columns])
    return MarketMargin(positions, np.asarray(entry["fallback_margin"], dtype=np.float64))


def _load_random_forest(entry: Mapping[str, Any], directory: Path) -> CompiledModel:
    with np.load(directory / entry["file"], allow_pickle=False) as arrays:
        return CompiledForest.from_arrays(arrays, entry["medians"])


def _load_xgboost(entry: Mapping[str, Any], directory: Path) -> CompiledModel:
    import xgboost as xgb

    booster = xgb.Booster(model_file=str(directory / entry["file"]))
    return CompiledXGBoost.from_booster(booster, _margin(entry))


def _load_lightgbm(entry: Mapping[str, Any], directory: Path) -> CompiledModel:
    import lightgbm as lgb

    booster = lgb.Booster(model_file=str(directory / entry["file"]))
    return CompiledLightGBM(booster, _margin(entry))


_LOADERS = {
    "random_forest": _load_random_forest,
    "xgboost": _load_xgboost,
    "lightgbm": _load_lightgbm,
}


def _read_manifest(directory: Path) -> dict[str, Any]:
    manifest = json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
    if manifest.get("format") != FORMAT or manifest.get("format_version") not in _READABLE_VERSIONS:
        raise ValueError(
            f"{directory / MANIFEST} is not a {FORMAT} version {FORMAT_VERSION} manifest "
            f"(format {manifest.get('format')!r}, version {manifest.get('format_version')!r})"
        )
    if manifest["classes"] != list(CLASS_NAMES):
        raise ValueError(f"class order {manifest['classes']} is not {list(CLASS_NAMES)}")
    return manifest


def _columns(features: list[str], ensemble_features: list[str]) -> np.ndarray | None:
    """Where a member's features sit among the ensemble's (None: all of them, in order)."""
    if features == ensemble_features:
        return None
    return np.array([ensemble_features.index(name) for name in features])


def read_metadata(directory: Path) -> dict[str, Any]:
    """The metadata `export_ensemble` wrote to `directory` (leagues, features, ...), without
    reading its parts."""
    return _read_manifest(Path(directory))["metadata"]


def load_ensemble(directory: Path) -> CompiledEnsemble:
    """Rebuild the ensemble that `export_ensemble` wrote to `directory`."""
    directory = Path(directory)
    manifest = _read_manifest(directory)
    feature_names = manifest["feature_names"]
    members, columns = [], []
    for entry in manifest["base_models"]:
        loader = _LOADERS.get(entry["kind"])
        if loader is None:
            raise ValueError(f"base model {entry['name']!r} has unknown kind {entry['kind']!r}")
        members.append(loader(entry, directory))
        columns.append(_columns(entry["features"], feature_names))
    market_member = manifest.get("market_member")
    return CompiledEnsemble(
        feature_names=feature_names,
        base_model_names=[entry["name"] for entry in manifest["base_models"]],
        members=members,
        member_columns=columns,
        logistic=LogisticLayer.from_json(manifest["meta_model"]),
        calibration=CalibrationMaps.from_json(manifest["calibration"]),
        metadata=manifest["metadata"],
        market_columns=None if market_member is None else market_member["columns"],
        logistic_no_market=None
        if market_member is None
        else LogisticLayer.from_json(market_member["meta_model_no_market"]),
    )
