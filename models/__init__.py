"""SabiScore's estimators: three base models and the time-ordered stacking meta-learner.

Build them from the `train` stage config (configs/train.yaml):

    from sabiscore.config import load_config
    stack = build_meta_learner(load_config()["train"])
    stack.fit(X, y)            # X: float DataFrame in time order, y: 0/1/2 = H/D/A
    stack.predict_proba(X_new) # columns H, D, A

The models (and scikit-learn) are imported only when built, xgboost and lightgbm only when a
model is fitted, so importing this package (and `models.registry`) stays cheap.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from models.base import BaseModel
    from models.meta_learner import MetaLearner

__all__ = [
    "BASE_MODELS",
    "CLASS_NAMES",
    "BaseModel",
    "LightGBMModel",
    "MetaLearner",
    "RandomForestModel",
    "XGBoostModel",
    "build_base_models",
    "build_meta_learner",
    "stack_members",
    "time_ordered_folds",
]

#: Each model's class, by its name in `train.models` (module, class): imported when built.
MODEL_CLASSES: dict[str, tuple[str, str]] = {
    "random_forest": ("models.random_forest", "RandomForestModel"),
    "xgboost": ("models.xgboost_model", "XGBoostModel"),
    "lightgbm": ("models.lightgbm_model", "LightGBMModel"),
}
#: The names this package exports, by the module that defines them: imported on first use,
#: so that importing `models.registry` or `models.tracking` (the ingest flow, the command
#: line's registry commands) does not import scikit-learn (~2 s).
_LAZY: dict[str, str] = {
    "CLASS_NAMES": "models.base",
    "BaseModel": "models.base",
    "MetaLearner": "models.meta_learner",
    "time_ordered_folds": "models.meta_learner",
    **{cls: module for module, cls in MODEL_CLASSES.values()},
}
#: The name of the market in `stacking.members`: the sharp line's de-margined opening
#: probabilities, the one member that is not a model.
MARKET = "market"


def _model_classes() -> dict[str, type[BaseModel]]:
    return {
        key: getattr(importlib.import_module(module), cls)
        for key, (module, cls) in MODEL_CLASSES.items()
    }


def __getattr__(name: str) -> Any:
    if name == "BASE_MODELS":
        return _model_classes()
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'models' has no attribute {name!r}")


def _train_section(config: Mapping[str, Any]) -> Mapping[str, Any]:
    """Accept the train stage itself or the whole `load_config()` mapping."""
    return config["train"] if "models" not in config and "train" in config else config


def stack_members(config: Mapping[str, Any]) -> list[str]:
    """The forecasters pooled by the stack (`stacking.members`; default: every model of
    `models:`, no market), each a model of `models:` or "market"."""
    train = _train_section(config)
    models = list(train.get("models") or {})
    members = (train.get("stacking") or {}).get("members")
    if members is None:
        return models
    unknown = [m for m in members if m != MARKET and m not in models]
    if unknown:
        raise ValueError(
            f"stacking.members names {unknown}, not among the models {models} or {MARKET!r}"
        )
    if not [m for m in members if m != MARKET]:
        raise ValueError("stacking.members needs at least one model beside the market")
    return list(members)


def build_base_models(config: Mapping[str, Any]) -> list[BaseModel]:
    """One unfitted model per member of the stack (`stack_members`), in the config's order.

    The top-level `random_state` and `n_jobs` apply to every model unless it sets its own;
    an unknown model name or hyperparameter raises, so a typo cannot pass silently.
    """
    train = _train_section(config)
    shared = {key: train[key] for key in ("random_state", "n_jobs") if key in train}
    unknown = [name for name in (train.get("models") or {}) if name not in MODEL_CLASSES]
    if unknown:
        raise ValueError(f"unknown model {unknown[0]!r}; expected one of {sorted(MODEL_CLASSES)}")
    chosen = [name for name in stack_members(train) if name != MARKET]
    classes = _model_classes()
    models = [classes[name](**{**shared, **(train["models"][name] or {})}) for name in chosen]
    if not models:
        raise ValueError("the train config lists no models")
    return models


def build_meta_learner(config: Mapping[str, Any]) -> MetaLearner:
    """The stack of `build_base_models(config)` with the `stacking:` settings."""
    train = _train_section(config)
    stacking = dict(train.get("stacking") or {})
    stacking.setdefault("random_state", train.get("random_state", 42))
    stacking["market"] = MARKET in stack_members(train)
    stacking.pop("members", None)
    from models.meta_learner import MetaLearner

    return MetaLearner(build_base_models(train), **stacking)
