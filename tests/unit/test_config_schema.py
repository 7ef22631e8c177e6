"""One schema for every config (sabiscore/config_schema.py): typos and wrong types fail up front,
in one line naming the key's path."""

from __future__ import annotations

import inspect
from dataclasses import fields
from pathlib import Path

import pytest
import yaml

from sabiscore.config import PROJECT_ROOT, ConfigError, load_config
from sabiscore.config_schema import Fields, Node, shipped_schema, validate_config


def refused(config: dict) -> str:
    with pytest.raises(ConfigError) as raised:
        validate_config(config)
    return str(raised.value)


def test_a_typo_of_a_stage_is_refused_with_the_closest_stage() -> None:
    assert refused({"dat": {}}) == "config: unknown key 'dat' (did you mean 'data'?)"


def test_a_nested_typo_names_its_path_and_the_closest_key_there() -> None:
    assert refused({"data": {"footbal_data": {}}}) == (
        "config: unknown key 'data.footbal_data' (did you mean 'football_data'?)"
    )
    assert refused({"backtest": {"train": {"stacking": {"n_fold": 3}}}}) == (
        "config: unknown key 'backtest.train.stacking.n_fold' (did you mean 'n_folds'?)"
    )


def test_an_unknown_key_without_a_close_one_lists_the_keys_allowed_there() -> None:
    assert refused({"validation": {"screen": {"max_bad_share": 0.1}}}) == (
        "config: unknown key 'validation.screen.max_bad_share' "
        "(known: chunk_rows, quarantine_sample_rows)"
    )


def test_a_wrong_type_names_the_path_the_value_and_the_type_expected() -> None:
    assert refused({"validation": {"max_bad_share": "lots"}}) == (
        "config: validation.max_bad_share = 'lots': expected a number"
    )
    assert refused({"validation": {"max_bad_share": True}}) == (
        "config: validation.max_bad_share = true: expected a number"
    )  # a bool is no number
    assert refused({"features": {"market": {"enabled": "yes"}}}) == (
        "config: features.market.enabled = 'yes': expected true or false"
    )


def test_int_and_float_are_both_numbers() -> None:
    validate_config({"validation": {"max_bad_share": 1, "screen": {"chunk_rows": 2500.0}}})


def test_a_list_where_a_mapping_is_expected_is_refused() -> None:
    assert refused({"data": {"football_data": ["E0"]}}) == (
        "config: data.football_data = ['E0']: expected a mapping"
    )
    assert refused({"features": {"form": None}}) == (
        "config: features.form = null: expected a mapping"
    )


def test_open_mappings_take_new_keys_and_check_their_values() -> None:
    validate_config(
        {
            "aliases": {"teams": {"New Club": ["Newco FC"]}},
            "staking": {"commission": {"smarkets": 0.02}},
            "sources": {
                "leagues": {
                    "N1": {"the-odds-api": "soccer_netherlands_eredivisie", "betfair": 9404054}
                }
            },  # an id quoted or not
        }
    )
    assert refused({"aliases": {"teams": {"Man City": "Manchester City"}}}) == (
        "config: aliases.teams['Man City'] = 'Manchester City': expected a list"
    )
    assert refused({"sources": {"leagues": {"N1": {"betfiar": "9404054"}}}}) == (
        "config: unknown key 'sources.leagues.N1.betfiar' (did you mean 'betfair'?)"
    )


def test_optional_keys_and_unions_beyond_the_shipped_values() -> None:
    validate_config(
        {
            "data": {"synthetic": {"promotion_places": 2}, "http": {"retry_delay_s": 5}},
            "features": {"form": {"ewm_halflife": None}},
            "train": {
                "models": {"lightgbm": {"n_jobs": 2, "col_wise": None}},
                "task_runner": {"kind": "dask", "address": "tcp://scheduler:8786"},
            },
            "backtest": {"retrain_every": 20, "windows_at_once": 2},
        }
    )
    assert refused({"features": {"form": {"ewm_halflife": "five"}}}) == (
        "config: features.form.ewm_halflife = 'five': expected a number or null"
    )


def test_a_setting_that_moved_names_its_new_place() -> None:
    assert refused({"sources": {"betfair": {"commission": 0.02}}}) == (
        "config: sources.betfair.commission has moved to staking.commission "
        "(e.g. betfair_exchange: 0.05)"
    )
    assert refused({"sources": {"the-odds-api": {"commission": {"matchbook": 0.02}}}}) == (
        "config: sources.the-odds-api.commission has moved to staking.commission "
        "(book -> share, as there)"
    )


def test_the_shipped_configs_pass() -> None:
    validate_config(load_config())
    design = load_config(PROJECT_ROOT / "configs" / "train-design.yaml")
    assert design["train"]["models"]["xgboost"]["base_margin_columns"] is None


def test_a_bad_override_file_is_a_config_error_naming_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"train": {"stacking": {"n_folds": "three"}}}))
    with pytest.raises(ConfigError) as raised:
        load_config(bad)
    assert str(raised.value) == f"{bad}: train.stacking.n_folds = 'three': expected a number"
    assert isinstance(raised.value, ValueError)  # the command line's one line, exit 2
    bad.write_text("train:\n  stacking: {n_folds: 3\n")
    with pytest.raises(ConfigError, match=r"bad.yaml: not valid YAML: .* \(line 3, column 1\)$"):
        load_config(bad)
    bad.write_text("- train\n")
    with pytest.raises(ConfigError, match="expected a mapping of stage -> settings"):
        load_config(bad)


def test_a_stage_file_of_another_config_folder_is_checked_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for shipped in (PROJECT_ROOT / "configs").glob("*.yaml"):
        (tmp_path / shipped.name).write_text(shipped.read_text())
    (tmp_path / "staking.yaml").write_text("min_edg: 0.03\n")
    monkeypatch.setenv("SABISCORE_CONFIG_DIR", str(tmp_path))
    with pytest.raises(ConfigError) as raised:
        load_config()
    assert str(raised.value) == (
        f"{tmp_path / 'staking.yaml'}: unknown key 'staking.min_edg' (did you mean 'min_edge'?)"
    )


def _at(path: str) -> Node:
    node: Node = shipped_schema()
    for key in path.split("."):
        assert isinstance(node, Fields), path
        node = node.fields[key]
    return node


def _settings_classes() -> dict[str, type]:
    from sabiscore.backtest import BacktestSettings
    from sabiscore.betfair import BetfairSettings
    from sabiscore.features.config import _FAMILY_CONFIGS, FeatureConfig
    from sabiscore.guards import ReplaceGuards
    from sabiscore.odds_api import OddsApiSettings
    from sabiscore.promotion import MarketRule, PromotionPolicy, RefitRule
    from sabiscore.quality import ScreenSettings
    from sabiscore.staking import StakingPolicy, TierThresholds
    from sabiscore.synthetic import SyntheticConfig

    return {
        "features": FeatureConfig,
        **{f"features.{name}": cls for name, (cls, _) in _FAMILY_CONFIGS.items()},
        "staking": StakingPolicy,
        "staking.tiers": TierThresholds,
        "promotion": PromotionPolicy,
        "promotion.market": MarketRule,
        "promotion.refit": RefitRule,
        "backtest": BacktestSettings,
        "validation.guards": ReplaceGuards,
        "validation.screen": ScreenSettings,
        "data.synthetic": SyntheticConfig,
        "sources.betfair": BetfairSettings,
        "sources.the-odds-api": OddsApiSettings,
    }


@pytest.mark.parametrize("path", sorted(_settings_classes()))
def test_the_schema_allows_the_fields_of_each_settings_class(path: str) -> None:
    """The shipped YAML (with the optional keys) and the code's settings name the same keys, so
    neither a key the code reads is refused nor one it ignores let through."""
    node = _at(path)
    assert isinstance(node, Fields)
    assert set(node.fields) == {f.name for f in fields(_settings_classes()[path])}


def test_the_schema_allows_the_parameters_of_each_model() -> None:
    from models import BASE_MODELS
    from models.meta_learner import MetaLearner

    for name, cls in BASE_MODELS.items():
        node = _at(f"train.models.{name}")
        assert isinstance(node, Fields)
        assert set(node.fields) == set(inspect.signature(cls).parameters), name
    stacking = _at("train.stacking")
    assert isinstance(stacking, Fields)  # members decides `market`; the models come from above
    assert set(stacking.fields) - {"members"} == (
        set(inspect.signature(MetaLearner).parameters) - {"base_models", "market"}
    )
