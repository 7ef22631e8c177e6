"""The compiled ensemble: explicit files in, the stack's own forecasts out.

Small stacks (300 rows x 12 features with holes, 20 trees, 3 time blocks) are exported, loaded
back and compared with `MetaLearner.predict_proba` on new rows that have holes of their own,
a row with nothing known and a market price of 0. The forest and the logistic layer are
compared to float rounding, the boosters to their float32 precision.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.isotonic import IsotonicRegression

import models.compiled
from models import LightGBMModel, MetaLearner, RandomForestModel, XGBoostModel
from models.base import BaseModel, expand_to_classes
from models.calibration import Calibration, apply_calibrators
from models.compiled import CalibrationMaps, export_ensemble, load_ensemble
from models.meta_learner import time_ordered_folds

MARKET = ["mkt_h", "mkt_d", "mkt_a"]
FEATURES = [f"x{i}" for i in range(9)] + MARKET
N_TREES = 20

pytestmark = pytest.mark.filterwarnings("ignore:Some inputs do not have OOB scores")


def matches(n_rows: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Features with 10 % holes, de-margined market prices, outcomes leaning on both."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(n_rows, 9)), columns=FEATURES[:9])
    market = rng.dirichlet([4.5, 2.5, 3.0], size=n_rows)
    for k, name in enumerate(MARKET):
        X[name] = market[:, k]
    y = (rng.random(n_rows)[:, None] > np.cumsum(market, axis=1)).sum(axis=1)
    y = np.where(X["x0"] > 1.0, 0, y)  # something for the trees to find beyond the market
    return X.mask(rng.random(X.shape) < 0.1), y


def new_rows() -> pd.DataFrame:
    """Unseen rows, columns in another order plus one the stack never saw."""
    X, _ = matches(120, seed=7)
    X.iloc[0] = np.nan  # nothing known: medians, base rates, default branches
    X.loc[X.index[1], "mkt_d"] = 0.0  # an unusable price
    return X.assign(unused=1.0)[["unused", *reversed(FEATURES)]]


def forest() -> RandomForestModel:
    return RandomForestModel(n_estimators=N_TREES, n_jobs=1)


def xgboost(anchored: bool = False) -> XGBoostModel:
    return XGBoostModel(n_estimators=N_TREES, n_jobs=1, base_margin_columns=_market(anchored))


def lightgbm(anchored: bool = False) -> LightGBMModel:
    return LightGBMModel(
        n_estimators=N_TREES, min_child_samples=10, n_jobs=1, base_margin_columns=_market(anchored)
    )


def _market(anchored: bool) -> list[str] | None:
    return MARKET if anchored else None


STACKS = {
    "three_models": lambda: ([forest(), xgboost(), lightgbm()], "none"),
    "market_member_tied": lambda: (
        [forest(), xgboost(True), lightgbm(True)],
        "none",
        {"market": True, "tied_weights": True},
    ),
    "market_member_full": lambda: ([lightgbm(True)], "sigmoid", {"market": True}),
    "anchored_isotonic": lambda: ([forest(), xgboost(True), lightgbm(True)], "isotonic"),
    "two_anchored_sigmoid": lambda: ([lightgbm(True), xgboost(True)], "sigmoid"),
    "repeated_kind": lambda: ([lightgbm(), forest(), lightgbm(True)], "isotonic"),
}


@pytest.fixture(scope="module", params=list(STACKS))
def exported(request, tmp_path_factory) -> tuple[MetaLearner, models.compiled.CompiledEnsemble]:
    base_models, calibration, *options = STACKS[request.param]()
    X, y = matches(300, seed=1)
    extra = {"market_columns": MARKET, **options[0]} if options else {}
    stack = MetaLearner(base_models, n_folds=3, calibration=calibration, **extra).fit(X, y)
    directory = export_ensemble(stack, tmp_path_factory.mktemp(request.param) / "ensemble")
    return stack, load_ensemble(directory)


@pytest.fixture(scope="module")
def plain(tmp_path_factory) -> tuple[MetaLearner, Path]:
    X, y = matches(300, seed=1)
    stack = MetaLearner([forest(), xgboost(), lightgbm()], n_folds=3).fit(X, y)
    return stack, export_ensemble(stack, tmp_path_factory.mktemp("plain"))


def test_compiled_ensemble_forecasts_what_the_stack_forecasts(exported) -> None:
    stack, ensemble = exported
    X = new_rows()
    probs = ensemble.predict_proba(X)
    np.testing.assert_allclose(probs, stack.predict_proba(X), rtol=0, atol=1e-6)
    assert np.allclose(probs.sum(axis=1), 1.0)


def test_the_market_member_and_its_unpriced_layer_travel_with_the_ensemble(exported) -> None:
    stack, ensemble = exported
    X = new_rows()
    unpriced = X["mkt_h"].isna() | X["mkt_d"].isna() | X["mkt_a"].isna() | (X["mkt_d"] <= 0)
    assert 0 < unpriced.sum() < len(X)  # both layers are exercised by new_rows
    if not stack.market:
        assert ensemble.market_columns is None
        return
    assert ensemble.market_columns == MARKET
    assert stack.member_names_[0] == "market"
    for row in range(3):  # one row at a time: the serving path, priced and unpriced rows
        np.testing.assert_allclose(
            ensemble.predict_one(X[ensemble.feature_names].to_numpy()[row]),
            stack.predict_proba(X.iloc[[row]])[0],
            rtol=0,
            atol=1e-6,
        )


def test_every_base_model_is_rebuilt(exported) -> None:
    stack, ensemble = exported
    X = new_rows()
    forecasts = ensemble.predict_base(X)
    assert list(forecasts) == ensemble.base_model_names == stack.base_model_names_
    for name, model in zip(stack.base_model_names_, stack.base_models_, strict=True):
        tolerance = 1e-9 if model.model_name == "random_forest" else 1e-6  # boosters: float32
        np.testing.assert_allclose(forecasts[name], model.predict_proba(X), atol=tolerance)


def test_logistic_layer_and_calibration_match_scikit_learn(exported) -> None:
    stack, ensemble = exported
    features = stack.create_meta_features(new_rows()).to_numpy()
    features = features[np.isfinite(features).all(axis=1)]  # the priced rows' layer
    layer = stack.meta_model_
    expected = expand_to_classes(layer.predict_proba(features), layer.classes_)
    expected = apply_calibrators(stack.calibrators_, expected)
    got = ensemble.calibration.apply(ensemble.logistic.predict(features))
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-9)
    assert ensemble.calibration.method == Calibration(stack.calibration)


def test_predict_one_is_a_row_of_predict_proba(exported) -> None:
    _, ensemble = exported
    X = new_rows()
    values = X[ensemble.feature_names].to_numpy()
    probs = ensemble.predict_proba(X)
    np.testing.assert_array_equal(ensemble.predict_proba(values), probs)
    for i in (0, 1, 2, 50):
        np.testing.assert_allclose(ensemble.predict_one(values[i]), probs[i], atol=1e-12)


def test_lightgbm_single_row_path_is_booster_predict(exported) -> None:
    """One row goes through LightGBM's single-row C API; it must equal Booster.predict."""
    _, ensemble = exported
    values = new_rows()[ensemble.feature_names].to_numpy()
    members = [
        (member, columns)
        for member, columns in zip(ensemble.members, ensemble.member_columns, strict=True)
        if isinstance(member, models.compiled.CompiledLightGBM)
    ]
    assert members
    for member, columns in members:
        rows = values if columns is None else values[:, columns]
        raw = member.margin is not None
        expected = member.booster.predict(rows.astype(np.float32), raw_score=raw, num_threads=1)
        for i in (0, 1, 2, 50, 1, 0):  # NaNs, a zero price, plain rows; the set-up is reused
            got = member._predict_row(rows[i].astype(np.float32))
            np.testing.assert_array_equal(got, expected[i])
        np.testing.assert_array_equal(member.predict(rows[3:4]), member.predict(rows)[3:4])


def test_rows_are_walked_in_chunks_alike(plain, monkeypatch) -> None:
    stack, directory = plain
    X = new_rows()
    whole = load_ensemble(directory).predict_proba(X)
    monkeypatch.setattr(models.compiled, "_CHUNK_ROWS", 7)
    chunked = load_ensemble(directory).predict_proba(X)
    np.testing.assert_array_equal(chunked, whole)
    # XGBoost's softmax is float32, the compiled one float64 on the same float32 margins
    np.testing.assert_allclose(chunked, stack.predict_proba(X), rtol=0, atol=1e-6)


def test_inputs_are_checked(plain) -> None:
    _, directory = plain
    ensemble = load_ensemble(directory)
    with pytest.raises(KeyError, match="mkt_d"):
        ensemble.predict_proba(new_rows().drop(columns="mkt_d"))
    with pytest.raises(ValueError, match="12 values"):
        ensemble.predict_one(np.zeros(11))
    with pytest.raises(ValueError, match="12 features"):
        ensemble.predict_proba(np.zeros((2, 13)))


def test_the_export_is_explicit_files_without_pickle(plain) -> None:
    _, directory = plain
    names = sorted(path.name for path in directory.iterdir())
    assert names == ["ensemble.json", "lightgbm.txt", "random_forest.npz", "xgboost.ubj"]
    assert not [name for name in names if name.endswith((".pkl", ".pickle", ".joblib"))]
    with np.load(directory / "random_forest.npz", allow_pickle=False) as arrays:
        assert arrays["roots"].shape == (N_TREES,) and arrays["value"].shape[1] == 3
    manifest = json.loads((directory / "ensemble.json").read_text())
    assert manifest["feature_names"] == FEATURES
    assert manifest["classes"] == ["H", "D", "A"]
    assert [entry["kind"] for entry in manifest["base_models"]] == [
        "random_forest",
        "xgboost",
        "lightgbm",
    ]


def test_metadata_travels_with_the_ensemble(plain, tmp_path) -> None:
    stack, _ = plain
    metadata = {"run_id": "abc123", "log_loss": 0.9871, "seasons": [2021, 2022], "tags": {"a": 1}}
    ensemble = load_ensemble(export_ensemble(stack, tmp_path / "ensemble", metadata))
    assert ensemble.metadata == metadata
    assert load_ensemble(export_ensemble(stack, tmp_path / "bare")).metadata == {}


def test_a_newer_format_is_refused(plain, tmp_path) -> None:
    _, directory = plain
    copy = Path(shutil.copytree(directory, tmp_path / "copy"))
    manifest = json.loads((copy / "ensemble.json").read_text())
    (copy / "ensemble.json").write_text(json.dumps({**manifest, "format_version": 99}))
    with pytest.raises(ValueError, match="version 99"):
        load_ensemble(copy)


class Climatology(BaseModel):
    """A model kind the export does not know."""

    model_name = "climatology"

    def _fit(self, X: pd.DataFrame, y: np.ndarray) -> None:
        self.rates_ = np.bincount(y, minlength=3) / len(y)

    def _predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        return np.tile(self.rates_, (len(X), 1))

    def _importances(self) -> np.ndarray:
        return np.zeros(self.n_features_in_)


def test_a_model_kind_it_cannot_export_is_named(tmp_path) -> None:
    X, y = matches(300, seed=1)
    stack = MetaLearner([lightgbm(), Climatology()], n_folds=2).fit(X, y)
    with pytest.raises(ValueError, match="'climatology'"):
        export_ensemble(stack, tmp_path / "ensemble")
    assert not (tmp_path / "ensemble").exists()  # checked before anything is written


def test_isotonic_map_is_interpolation_clipped_at_the_ends() -> None:
    rng = np.random.default_rng(3)
    p_train = rng.uniform(0.2, 0.7, size=400)
    calibrators = [
        IsotonicRegression(y_min=0, y_max=1, out_of_bounds="clip").fit(
            p_train, rng.random(400) < p_train ** (k + 1)
        )
        for k in range(3)
    ]
    thresholds = calibrators[0].X_thresholds_
    p = np.concatenate([np.linspace(0.0, 1.0, 101), thresholds, [0.2, 0.7]])
    probs = np.column_stack([p, p[::-1], np.roll(p, 7)])  # below, within and above the range
    maps = CalibrationMaps.from_json(CalibrationMaps.from_calibrators(calibrators).to_json())
    np.testing.assert_allclose(maps.apply(probs), apply_calibrators(calibrators, probs), atol=1e-12)
    for k, calibrator in enumerate(calibrators):
        np.testing.assert_allclose(maps._map(k, p), calibrator.predict(p), atol=1e-12)


def test_predict_one_walks_a_deep_forest_on_220_features(tmp_path) -> None:
    rng = np.random.default_rng(5)
    X = pd.DataFrame(rng.normal(size=(600, 220)), columns=[f"f{i:03d}" for i in range(220)])
    y = rng.integers(0, 3, size=600)
    X = X.mask(rng.random(X.shape) < 0.05)
    deep = RandomForestModel(
        n_estimators=200, max_depth=10, min_samples_split=2, min_samples_leaf=1, oob_score=False
    ).fit(X, y)
    oof_rows = time_ordered_folds(len(X), 2)[0].predict
    stack = MetaLearner([deep], n_folds=2).fit_from_forecasts(
        X, y, [deep], [deep.predict_proba(X.iloc[oof_rows])]
    )
    ensemble = load_ensemble(export_ensemble(stack, tmp_path / "ensemble"))
    compiled_forest = ensemble.members[0]
    assert compiled_forest.depth == 10 and len(compiled_forest.roots) == 200
    rows = X.iloc[:5]
    expected = stack.predict_proba(rows)
    for i, values in enumerate(rows.to_numpy()):
        np.testing.assert_allclose(ensemble.predict_one(values), expected[i], rtol=0, atol=1e-9)


def _xgboost_rows(compiled: models.compiled.CompiledXGBoost, X: pd.DataFrame) -> np.ndarray:
    """New rows with holes, plus rows exactly on split thresholds and float64 values that
    round onto a threshold in float32 (XGBoost compares float32 x < float32 threshold)."""
    values = X.to_numpy(dtype=np.float64)
    rng = np.random.default_rng(11)
    splits = np.flatnonzero(compiled.child_slot[0::3] != 3 * np.arange(len(compiled.leaf)))
    edge = []
    for node in rng.choice(splits, size=min(60, len(splits)), replace=False):
        feature, threshold = compiled.feature[3 * node], float(compiled.threshold[3 * node])
        for value in (threshold, np.nextafter(threshold, -np.inf), np.nextafter(threshold, np.inf)):
            row = values[rng.integers(len(values))].copy()
            row[feature] = value  # the float64 neighbours round back onto the threshold
            edge.append(row)
    return np.vstack([values, edge])


def _check_xgboost(model: XGBoostModel, compiled, values: np.ndarray) -> None:
    margin = None if compiled.margin is None else compiled.margin(values)
    rows = values.astype(np.float32)
    expected = model.booster_.inplace_predict(rows, predict_type="margin", base_margin=margin)
    np.testing.assert_array_equal(compiled.margins(values), expected)  # bit for bit
    probs = model.booster_.inplace_predict(rows, base_margin=margin)
    np.testing.assert_allclose(compiled.predict(values), probs, rtol=0, atol=1e-6)
    for i in (0, 1, 2, len(values) - 1):  # the one-row walk is the many-row walk
        np.testing.assert_array_equal(compiled.margins(values[i : i + 1]), expected[i : i + 1])


@pytest.mark.parametrize("anchored", [False, True])
def test_xgboost_walk_is_the_boosters_own_prediction(anchored, tmp_path) -> None:
    X, y = matches(300, seed=1)
    stack = MetaLearner([xgboost(anchored)], n_folds=2).fit(X, y)
    compiled = load_ensemble(export_ensemble(stack, tmp_path / "ensemble")).members[0]
    assert isinstance(compiled, models.compiled.CompiledXGBoost)
    values = _xgboost_rows(compiled, new_rows()[FEATURES])
    assert np.isnan(values).any() and np.all(np.isnan(values[0]))
    _check_xgboost(stack.base_models_[0], compiled, values)


def test_xgboost_walk_of_the_default_booster_on_220_features(tmp_path) -> None:
    rng = np.random.default_rng(5)
    X = pd.DataFrame(rng.normal(size=(600, 220)), columns=[f"f{i:03d}" for i in range(220)])
    y = rng.integers(0, 3, size=600)
    X = X.mask(rng.random(X.shape) < 0.05)
    model = XGBoostModel(max_bin=32, n_jobs=1).fit(X, y)  # configs/train.yaml: 200 x depth 6
    oof_rows = time_ordered_folds(len(X), 2)[0].predict
    stack = MetaLearner([model], n_folds=2).fit_from_forecasts(
        X, y, [model], [model.predict_proba(X.iloc[oof_rows])]
    )
    ensemble = load_ensemble(export_ensemble(stack, tmp_path / "ensemble"))
    compiled = ensemble.members[0]
    assert compiled.depth == 6 and compiled.class_trees.shape == (200, 3)
    values = _xgboost_rows(compiled, X.iloc[:100])
    _check_xgboost(model, compiled, values)
    expected = stack.predict_proba(X.iloc[:5])
    for i, row in enumerate(X.iloc[:5].to_numpy()):
        np.testing.assert_allclose(ensemble.predict_one(row), expected[i], rtol=0, atol=1e-9)
