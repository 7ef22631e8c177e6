"""The estimators: the BaseModel contract, learning on learnable data, and honest stacking.

Small data (1,500 training rows x 20 features) and 50 trees keep the module fast. The data
come from an ordered-logit league whose true probabilities are known, so "learns something"
is checked against the base-rate forecast rather than a magic number.
"""

from __future__ import annotations

import doctest
from pathlib import Path
from typing import ClassVar

import numpy as np
import pandas as pd
import pytest
import yaml
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier

import models.anchoring
import models.base
import models.meta_learner
from models import (
    BaseModel,
    LightGBMModel,
    MetaLearner,
    RandomForestModel,
    XGBoostModel,
    build_base_models,
    build_meta_learner,
    time_ordered_folds,
)
from models.meta_learner import fit_and_forecast, log_prob_features
from sabiscore.evaluation import log_loss

TRAIN_CONFIG = Path(__file__).resolve().parents[2] / "configs" / "train.yaml"
N_TRAIN, N_TEST, N_FEATURES = 1500, 1000, 20
BASE_MODEL_TYPES = (RandomForestModel, XGBoostModel, LightGBMModel)
SMALL = {"n_estimators": 50, "n_jobs": 1}

# A forest of a few trees leaves some rows without an out-of-bag vote; that is expected here.
pytestmark = pytest.mark.filterwarnings("ignore:Some inputs do not have OOB scores")


def league(n_rows: int, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Features, outcomes 0/1/2 and true probabilities; x00..x04 carry the signal."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_rows, N_FEATURES))
    strength = X[:, :5] @ np.array([0.9, -0.7, 0.6, 0.5, -0.4]) + 0.4 * X[:, 0] * X[:, 1]
    p_home = 1 / (1 + np.exp(-(strength - 0.2)))
    p_not_away = 1 / (1 + np.exp(-(strength + 0.8)))
    truth = np.column_stack([p_home, p_not_away - p_home, 1 - p_not_away])
    y = (rng.random(n_rows)[:, None] > np.cumsum(truth, axis=1)).sum(axis=1)
    columns = [f"x{i:02d}" for i in range(N_FEATURES)]
    return pd.DataFrame(X, columns=columns), y, truth


def base_rate_log_loss(y_train: np.ndarray, y_test: np.ndarray) -> float:
    frequencies = np.bincount(y_train, minlength=3) / len(y_train)
    return log_loss(np.tile(frequencies, (len(y_test), 1)), y_test)


def small(model_type: type[BaseModel], **params: object) -> BaseModel:
    return model_type().build(**{**SMALL, **params})


@pytest.fixture(scope="module")
def data() -> tuple[pd.DataFrame, np.ndarray, pd.DataFrame, np.ndarray]:
    X, y, _ = league(N_TRAIN + N_TEST)
    return X.iloc[:N_TRAIN], y[:N_TRAIN], X.iloc[N_TRAIN:], y[N_TRAIN:]


@pytest.fixture(scope="module")
def fitted(data) -> dict[type, BaseModel]:
    X, y, _, _ = data
    return {model_type: small(model_type).fit(X, y) for model_type in BASE_MODEL_TYPES}


@pytest.fixture(scope="module")
def stack(data) -> MetaLearner:
    X, y, _, _ = data
    base = [small(model_type) for model_type in BASE_MODEL_TYPES]
    return MetaLearner(base, n_folds=5, n_jobs=2).fit(X, y)


# --- the contract -------------------------------------------------------------------------


@pytest.mark.parametrize("model_type", BASE_MODEL_TYPES)
def test_fit_returns_self_and_records_how_it_was_trained(model_type, data) -> None:
    X, y, _, _ = data
    model = small(model_type, n_estimators=10)
    assert model.fit(X.iloc[:300], y[:300]) is model
    assert model.train(X.iloc[:300], y[:300]) is model
    meta = model.training_metadata_
    assert (meta["n_rows"], meta["n_features"]) == (300, N_FEATURES)
    assert meta["params"]["n_estimators"] == 10 and meta["seconds"] >= 0
    assert model.model_name == meta["model_name"]


@pytest.mark.parametrize("model_type", BASE_MODEL_TYPES)
def test_build_overrides_hyperparameters_and_rejects_unknown_ones(model_type) -> None:
    model = model_type()
    assert model.build(n_estimators=7) is model and model.n_estimators == 7
    with pytest.raises(ValueError, match="Invalid parameter"):
        model.build(n_trees=7)


def test_probabilities_are_rows_of_three_in_home_draw_away_order(fitted, stack, data) -> None:
    _, _, X_test, _ = data
    for model in [*fitted.values(), stack]:
        probs = model.predict_proba(X_test)
        assert probs.shape == (N_TEST, 3)
        assert np.all(probs >= 0) and np.allclose(probs.sum(axis=1), 1.0)
        assert np.array_equal(model.predict(X_test), probs.argmax(axis=1))


@pytest.mark.parametrize("model_type", BASE_MODEL_TYPES)
def test_column_order_follows_the_labels(model_type, data) -> None:
    X, _, X_test, _ = data
    by_x00 = np.digitize(X["x00"], [-0.5, 0.5])  # 0 below -0.5, 1 between, 2 above 0.5
    probs = small(model_type, n_estimators=20).fit(X, by_x00).predict_proba(X_test)
    clear = np.abs(X_test["x00"].to_numpy()) > 1.5
    assert np.array_equal(probs[clear].argmax(axis=1), np.digitize(X_test["x00"][clear], [0]) * 2)


@pytest.mark.parametrize("model_type", BASE_MODEL_TYPES)
def test_three_columns_even_when_a_class_never_occurred(model_type, data) -> None:
    X, y, X_test, _ = data
    no_draws = np.where(y == 1, 0, y)
    probs = small(model_type, n_estimators=20).fit(X, no_draws).predict_proba(X_test)
    assert probs.shape == (N_TEST, 3)
    assert np.allclose(probs.sum(axis=1), 1.0)
    assert probs[:, 1].max() < 0.05


def test_feature_importance_is_sorted_and_named(fitted, stack) -> None:
    for model in fitted.values():
        top = model.get_feature_importance(top_n=5)
        assert len(top) == 5 and set(top.index) <= set(model.feature_names_in_)
        assert top.is_monotonic_decreasing
        assert top.index[0] in {"x00", "x01"}  # the strongest signals
        assert model.get_feature_importance(None).sum() == pytest.approx(1.0)
    meta = stack.get_feature_importance(None)
    assert len(meta) == 9 and meta.index[0].split("_log_p_")[0] in stack.base_model_names_


class FixedForecast(BaseModel):
    """Test double: the same H/D/A forecast for every match."""

    model_name = "fixed"

    def __init__(self, probs: tuple[float, float, float] = (0.5, 0.3, 0.2)) -> None:
        self.probs = probs

    def _fit(self, X: pd.DataFrame, y: np.ndarray) -> None:
        pass

    def _predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        return np.tile(self.probs, (len(X), 1))

    def _importances(self) -> np.ndarray:
        return np.zeros(self.n_features_in_)


def test_evaluate_scores_by_hand() -> None:
    X = pd.DataFrame({"x": [0.0, 1.0]})
    scores = FixedForecast().fit(X, [0, 1]).evaluate(X, [0, 1])
    assert set(scores) == {"accuracy", "brier", "log_loss", "rps"}
    assert scores["accuracy"] == 0.5
    assert scores["brier"] == pytest.approx((0.38 + 0.78) / 2)  # sum over the three classes
    assert scores["log_loss"] == pytest.approx(-(np.log(0.5) + np.log(0.3)) / 2)
    assert scores["rps"] == pytest.approx(0.145)


def test_inputs_are_checked(fitted, data) -> None:
    X, y, X_test, _ = data
    model = fitted[LightGBMModel]
    with pytest.raises(ValueError, match="0/1/2"):
        small(LightGBMModel).fit(X, np.where(y == 2, 3, y))
    with pytest.raises(TypeError, match="DataFrame"):
        small(LightGBMModel).fit(X.to_numpy(), y)
    with pytest.raises(KeyError, match="training features"):
        model.predict_proba(X_test.drop(columns="x03"))
    shuffled = X_test[X_test.columns[::-1]]
    assert np.allclose(model.predict_proba(shuffled), model.predict_proba(X_test))


@pytest.mark.parametrize("module", [models.anchoring, models.base, models.meta_learner])
def test_docstring_examples(module) -> None:
    assert doctest.testmod(module).failed == 0


# --- learning -----------------------------------------------------------------------------


@pytest.mark.parametrize("model_type", BASE_MODEL_TYPES)
def test_each_base_model_beats_the_base_rate(model_type, fitted, data) -> None:
    _, y, X_test, y_test = data
    model_loss = fitted[model_type].evaluate(X_test, y_test)["log_loss"]
    assert model_loss < base_rate_log_loss(y, y_test) - 0.03


def test_stack_beats_the_base_rate_and_shows_its_value(stack, fitted, data) -> None:
    _, y, X_test, y_test = data
    stack_loss = stack.evaluate(X_test, y_test)["log_loss"]
    assert stack_loss < base_rate_log_loss(y, y_test) - 0.05
    best_base = min(model.evaluate(X_test, y_test)["log_loss"] for model in fitted.values())
    assert stack_loss < best_base + 0.01
    scores = stack.oof_scores_
    assert set(scores) == {*stack.base_model_names_, "stack", "base_rate"}
    assert scores["stack"] < scores["base_rate"]
    assert set(stack.oof_ece_) == set(scores)


def test_base_model_weights_name_every_model_and_sum_to_one(stack) -> None:
    weights = stack.get_base_model_weights()
    assert list(weights) == ["random_forest", "xgboost", "lightgbm"]
    assert sum(weights.values()) == pytest.approx(1.0)
    assert all(weight > 0 for weight in weights.values())


def test_stack_timings_and_refits(stack, data) -> None:
    X, _, X_test, _ = data
    assert [len(stack.timings_[name]["folds"]) for name in stack.base_model_names_] == [4] * 3
    assert all(model.training_metadata_["n_rows"] == N_TRAIN for model in stack.base_models_)
    assert not hasattr(stack.base_models[0], "training_metadata_")
    features = stack.create_meta_features(X_test)
    assert features.shape == (N_TEST, 9) and np.all(features.to_numpy() <= 0)


# --- honest stacking ----------------------------------------------------------------------


class OneNearestNeighbour(BaseModel):
    """Deliberately overfitting: perfect on its training rows, near chance off them."""

    model_name = "one_nn"

    def __init__(self, confidence: float = 0.98) -> None:
        self.confidence = confidence

    def _fit(self, X: pd.DataFrame, y: np.ndarray) -> None:
        self.knn_ = KNeighborsClassifier(n_neighbors=1).fit(X.to_numpy(), y)

    def _predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        nearest = self.knn_.predict(X.to_numpy())
        probs = np.full((len(X), 3), (1 - self.confidence) / 2)
        probs[np.arange(len(X)), nearest] = self.confidence
        return probs

    def _importances(self) -> np.ndarray:
        return np.ones(self.n_features_in_)


def test_meta_learner_learns_only_from_out_of_fold_forecasts(data) -> None:
    X, y, X_test, y_test = data
    cheat, honest = OneNearestNeighbour(), small(LightGBMModel)
    stack = MetaLearner([cheat, honest], n_folds=5).fit(X, y)
    weights = stack.get_base_model_weights()
    assert weights["one_nn"] < 0.2 < 0.8 < weights["lightgbm"]
    # The same logistic layer on in-sample forecasts trusts the overfitted model instead:
    in_sample = [model.fit(X, y).predict_proba(X) for model in (cheat, honest)]
    naive = LogisticRegression().fit(log_prob_features(in_sample), y)
    naive_mass = np.abs(naive.coef_).reshape(3, 2, 3).sum(axis=(0, 2))
    assert naive_mass[0] / naive_mass.sum() > 0.5
    assert stack.evaluate(X_test, y_test)["log_loss"] < base_rate_log_loss(y, y_test)


def test_stacking_base_models_fitted_elsewhere_gives_the_same_stack(data) -> None:
    X, y, X_test, _ = data
    base = small(LightGBMModel, n_estimators=20)
    whole = MetaLearner([base], n_folds=4).fit(X, y)
    folds = time_ordered_folds(len(X), 4)
    oof = np.vstack([fit_and_forecast(base, X, y, f.train, f.predict)[1] for f in folds])
    refit, _ = fit_and_forecast(base, X, y, np.arange(len(X)), None)
    parts = MetaLearner([base], n_folds=4).fit_from_forecasts(X, y, [refit], [oof])
    assert np.array_equal(parts.predict_proba(X_test), whole.predict_proba(X_test))
    assert parts.oof_scores_ == whole.oof_scores_
    with pytest.raises(ValueError, match="blocks 1"):
        MetaLearner([base], n_folds=5).fit_from_forecasts(X, y, [refit], [oof])


def test_folds_expand_forward_in_time() -> None:
    folds = time_ordered_folds(100, 5)
    assert [len(fold.predict) for fold in folds] == [20, 20, 20, 20]  # block 0 only trains
    for fold in folds:
        assert np.array_equal(fold.train, np.arange(fold.predict[0]))
        assert fold.train.max() < fold.predict.min()
    assert np.array_equal(np.concatenate([fold.predict for fold in folds]), np.arange(20, 100))
    with pytest.raises(ValueError, match="at least 2"):
        time_ordered_folds(100, 1)


def test_folds_follow_order_and_never_split_a_kickoff_time() -> None:
    kickoff = np.repeat(np.arange(25), 4)  # four matches per time slot
    shuffled = np.random.default_rng(3).permutation(100)
    folds = time_ordered_folds(100, 3, order=kickoff[shuffled])
    for fold in folds:
        train_times, predict_times = kickoff[shuffled][fold.train], kickoff[shuffled][fold.predict]
        assert train_times.max() < predict_times.min()


class RecordingModel(BaseModel):
    """Test double remembering which rows (by index label) each copy trained on and forecast."""

    model_name = "recorder"
    log: ClassVar[list[tuple[str, np.ndarray]]] = []

    def __init__(self, random_state: int = 0) -> None:
        self.random_state = random_state

    def _fit(self, X: pd.DataFrame, y: np.ndarray) -> None:
        RecordingModel.log.append(("fit", X.index.to_numpy()))
        self.rates_ = (np.bincount(y, minlength=3) + 1) / (len(y) + 3)

    def _predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        RecordingModel.log.append(("predict", X.index.to_numpy()))
        return np.tile(self.rates_, (len(X), 1))

    def _importances(self) -> np.ndarray:
        return np.ones(self.n_features_in_)


def test_no_fold_trains_on_rows_after_its_forecast_block(data) -> None:
    X, y, _, _ = data
    kickoff = pd.Series(np.repeat(np.arange(N_TRAIN // 3), 3), index=X.index)
    shuffled = np.random.default_rng(5).permutation(N_TRAIN)
    RecordingModel.log.clear()
    MetaLearner([RecordingModel()], n_folds=5).fit(
        X.iloc[shuffled], y[shuffled], order=kickoff.iloc[shuffled].to_numpy()
    )
    fits = [rows for kind, rows in RecordingModel.log if kind == "fit"]
    predictions = [rows for kind, rows in RecordingModel.log if kind == "predict"]
    assert len(fits) == 5 and sorted(len(rows) for rows in fits)[-1] == N_TRAIN  # 4 + refit
    fold_fits = [rows for rows in fits if len(rows) < N_TRAIN]
    for train, forecast in zip(fold_fits, predictions, strict=True):
        assert kickoff.loc[train].max() < kickoff.loc[forecast].min()
        assert not set(train) & set(forecast)


# --- determinism, missing values, market anchoring, configuration -------------------------


def test_same_random_state_same_forecasts(fitted, data) -> None:
    X, y, X_test, _ = data
    for model_type, model in fitted.items():
        again = small(model_type).fit(X, y)
        assert np.array_equal(again.predict_proba(X_test), model.predict_proba(X_test))
    reseeded = small(RandomForestModel, random_state=7).fit(X, y).predict_proba(X_test)
    assert not np.allclose(reseeded, fitted[RandomForestModel].predict_proba(X_test))


def test_stack_is_deterministic_whatever_the_threads(data) -> None:
    X, y, X_test, _ = data
    stacks = [
        MetaLearner([small(t, n_estimators=15) for t in BASE_MODEL_TYPES], n_jobs=n_jobs)
        for n_jobs in (1, 2)
    ]
    first, second = (stack.fit(X.iloc[:600], y[:600]).predict_proba(X_test) for stack in stacks)
    assert np.array_equal(first, second)


def test_missing_values_are_handled_inside_every_model(data) -> None:
    X, y, X_test, y_test = data
    rng = np.random.default_rng(11)
    holes = X.mask(rng.random(X.shape) < 0.1).assign(x19=np.nan)
    test_holes = X_test.mask(rng.random(X_test.shape) < 0.1)
    for model_type in BASE_MODEL_TYPES:
        model = small(model_type, n_estimators=20).fit(holes, y)
        probs = model.predict_proba(test_holes)
        assert np.all(np.isfinite(probs)) and np.allclose(probs.sum(axis=1), 1.0)
    forest = small(RandomForestModel, n_estimators=20).fit(holes, y)
    assert np.allclose(forest.medians_[:-1], holes.iloc[:, :-1].median().to_numpy())
    assert forest.medians_[-1] == 0.0  # a column with no value at all


MARKET = ["mkt_h", "mkt_d", "mkt_a"]


def with_market(X: pd.DataFrame, truth: np.ndarray) -> pd.DataFrame:
    return X.assign(**{name: truth[:, k] for k, name in enumerate(MARKET)})


@pytest.mark.parametrize("model_type", [XGBoostModel, LightGBMModel])
def test_anchored_boosters_start_from_the_market(model_type) -> None:
    X, y, truth = league(600, seed=2)
    X = with_market(X, truth)
    X.loc[X.index[:5], "mkt_d"] = np.nan  # no price: start from the base rates
    model = small(model_type, n_estimators=2, learning_rate=1e-9, base_margin_columns=MARKET)
    probs = model.fit(X, y).predict_proba(X)
    assert np.allclose(probs[5:], truth[5:], atol=1e-4)
    base_rates = (np.bincount(y, minlength=3) + 1) / (len(y) + 3)
    assert np.allclose(probs[:5], base_rates, atol=1e-4)
    assert model.get_booster_info()["anchored_on"] == MARKET


def test_anchored_booster_starts_where_a_plain_one_must_first_get_to() -> None:
    X, y, truth = league(N_TRAIN + N_TEST, seed=4)
    X = with_market(X, truth)
    train, test = slice(0, N_TRAIN), slice(N_TRAIN, None)
    plain = small(LightGBMModel, n_estimators=10).fit(X[train], y[train])
    anchored = small(LightGBMModel, n_estimators=10, base_margin_columns=MARKET)
    anchored.fit(X[train], y[train])
    plain_loss = plain.evaluate(X[test], y[test])["log_loss"]
    assert anchored.evaluate(X[test], y[test])["log_loss"] < plain_loss - 0.02


@pytest.mark.parametrize("model_type", [XGBoostModel, LightGBMModel])
def test_anchored_boosting_with_zero_rounds_returns_the_market(model_type) -> None:
    X, y, truth = league(400, seed=5)
    X = with_market(X, truth)
    model = small(model_type, n_estimators=0, base_margin_columns=MARKET).fit(X, y)
    np.testing.assert_allclose(model.predict_proba(X), truth, rtol=0, atol=1e-6)


@pytest.mark.parametrize("model_type", [XGBoostModel, LightGBMModel])
def test_a_booster_trained_without_any_price_is_not_anchored_when_served_one(model_type) -> None:
    X, y, truth = league(400, seed=7)
    unpriced = X.assign(**{name: np.nan for name in MARKET})  # files with closing prices only
    model = small(model_type, n_estimators=10, base_margin_columns=MARKET).fit(unpriced, y)
    assert model.get_booster_info()["anchored_on"] is None
    # a served row with a price starts where every training row started: the base rates
    np.testing.assert_allclose(
        model.predict_proba(with_market(X, truth)), model.predict_proba(unpriced), atol=1e-12
    )


@pytest.mark.parametrize("model_type", [XGBoostModel, LightGBMModel])
def test_early_stopping_chooses_the_rounds_on_the_last_rows(model_type) -> None:
    X, y, truth = league(1200, seed=6)
    X = with_market(X, truth)  # the market is the truth: every round after the start overfits
    model = small(
        model_type,
        n_estimators=300,
        learning_rate=0.3,
        base_margin_columns=MARKET,
        early_stopping_rounds=10,
    )
    model.fit(X, y)
    assert 1 <= model.best_rounds_ < 60
    assert model.get_booster_info()["n_rounds"] == model.best_rounds_  # the refit on all rows


def test_the_pooled_stack_reproduces_the_market_when_the_models_know_nothing(
    tmp_path: Path,
) -> None:
    """The embedded synthetic league with every model feature shuffled across matches: the
    models carry no information, the market all there is. The pool stays the market."""
    from sabiscore.evaluation import log_loss as score
    from sabiscore.evaluation import outcome_index
    from sabiscore.features import SHARP_COLUMNS, FeatureConfig, build_features, feature_columns
    from sabiscore.football_data import parse_football_data
    from sabiscore.synthetic import SyntheticConfig, generate_league, write_football_data_csvs

    paths = write_football_data_csvs(generate_league(SyntheticConfig()), tmp_path)
    parsed = [parse_football_data(p.read_bytes(), str(p)) for p in paths]
    matches = pd.concat([p.matches for p in parsed], ignore_index=True)
    odds = pd.concat([p.odds for p in parsed], ignore_index=True)
    features = build_features(matches, odds, FeatureConfig())
    X = features[feature_columns(features)]
    y = outcome_index(matches.set_index("match_id").loc[X.index, "result"])
    rng = np.random.default_rng(8)
    shuffled = {c: X[c].to_numpy()[rng.permutation(len(X))] for c in X if c not in SHARP_COLUMNS}
    X = X.assign(**shuffled)
    half = len(X) // 2
    anchored = {
        "learning_rate": 0.03,
        "n_estimators": 300,
        "early_stopping_rounds": 20,
        "base_margin_columns": list(SHARP_COLUMNS),
    }
    members = [small(LightGBMModel, **anchored), small(XGBoostModel, **anchored)]
    stack = MetaLearner(members, n_folds=3, market=True, tied_weights=True)
    stack.fit(X.iloc[:half], y[:half])
    # Every member starts from the market and finds ~nothing to add: together they weigh ~1
    # (0.90 here: the pool shares the weight out among near copies, and its intercepts correct
    # the synthetic books' home bias). The forecast is the market's, to its quality and within a
    # point or two; the exact case (a penalty that allows no move) is models/pool.py's doctest.
    weights = dict(zip(stack.member_names_, stack.meta_model_.weights_, strict=True))
    assert sum(weights.values()) == pytest.approx(1.0, abs=0.15), weights
    market = X.iloc[half:][list(SHARP_COLUMNS)].to_numpy()
    probs = stack.predict_proba(X.iloc[half:])
    assert np.abs(probs - market).mean() < 0.02
    assert abs(score(probs, y[half:]) - score(market, y[half:])) < 0.001


def test_stack_members_choose_the_models_and_the_market() -> None:
    config = yaml.safe_load(TRAIN_CONFIG.read_text())
    config["stacking"]["members"] = ["market", "lightgbm"]
    assert [m.model_name for m in build_base_models(config)] == ["lightgbm"]
    stack = build_meta_learner({"train": config})
    assert stack.market and len(stack.base_models) == 1
    config["stacking"]["members"] = ["market", "catboost"]
    with pytest.raises(ValueError, match="catboost"):
        build_base_models(config)
    config["stacking"]["members"] = ["market"]
    with pytest.raises(ValueError, match="at least one model"):
        build_base_models(config)


def test_models_are_built_from_the_train_config() -> None:
    config = yaml.safe_load(TRAIN_CONFIG.read_text())
    config["stacking"]["members"] = ["market", "random_forest", "xgboost", "lightgbm"]
    built = build_base_models(config)
    assert [type(model) for model in built] == list(BASE_MODEL_TYPES)
    for model, name in zip(built, ["random_forest", "xgboost", "lightgbm"], strict=True):
        assert model.model_name == name
        assert model.random_state == config["random_state"]
        for key, value in config["models"][name].items():
            assert getattr(model, key) == value
    stack = build_meta_learner({"train": config})
    assert stack.n_folds == config["stacking"]["n_folds"]
    assert stack.calibration == config["stacking"]["calibration"]
    with pytest.raises(ValueError, match="unknown model"):
        build_base_models({"models": {"catboost": {}}})
    with pytest.raises(TypeError):
        build_base_models({"models": {"xgboost": {"n_trees": 5}}})


@pytest.mark.parametrize("method", ["isotonic", "sigmoid"])
def test_optional_calibration_keeps_probabilities_valid(method, data) -> None:
    X, y, X_test, _ = data
    base = [small(LightGBMModel, n_estimators=20)]
    stack = MetaLearner(base, n_folds=4, calibration=method).fit(X, y)
    probs = stack.predict_proba(X_test)
    assert np.all(probs > 0) and np.allclose(probs.sum(axis=1), 1.0)


def test_calibration_needs_a_stack_forecast_to_fit_on(data) -> None:
    X, y, _, _ = data
    with pytest.raises(ValueError, match="n_folds >= 3"):
        MetaLearner([small(LightGBMModel)], n_folds=2, calibration="isotonic").fit(X, y)
    with pytest.raises(ValueError):
        MetaLearner([small(LightGBMModel)], calibration="platt").fit(X, y)


def test_model_specific_reports(fitted) -> None:
    forest = fitted[RandomForestModel]
    assert forest.get_tree_count() == 50
    assert 0.3 < forest.get_oob_score() < 1.0
    xgb_info = fitted[XGBoostModel].get_booster_info()
    assert (xgb_info["n_rounds"], xgb_info["n_trees"]) == (50, 150)
    lgb_info = fitted[LightGBMModel].get_booster_info()
    assert (lgb_info["n_rounds"], lgb_info["n_trees"]) == (50, 150)
    assert 1 <= lgb_info["leaves_min"] <= lgb_info["leaves_mean"] <= lgb_info["leaves_max"] <= 31
