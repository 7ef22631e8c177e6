"""One schema for every stage's settings, checked once when the configs are loaded.

The shipped `configs/*.yaml` are the schema: every key they hold is allowed, with the type of
its shipped value — a number (int and float alike, never a bool), a string, a bool, a list, or a
mapping whose keys are checked in turn; null allows any type. What the files cannot show is
written as data below: mappings whose keys are the user's (clubs, books, leagues), optional keys
absent from the files, values of more than one type, and sections that take another stage's
settings. A typo or a wrong type then fails before any flow starts, in one line that names the
key's path (`validate_config`), instead of a traceback deep in the stage that reads it, or a
default silently used in its place.
"""

from __future__ import annotations

import difflib
import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml

#: The configs shipped with the code: what the code reads, so what a user may set.
SHIPPED_CONFIGS = Path(__file__).resolve().parents[1] / "configs"


class ConfigError(ValueError):
    """A config that names an unknown key or gives a value of the wrong type (one line)."""


class Kind(StrEnum):
    """A YAML value's type, as the message names it."""

    NUMBER = "a number"
    STRING = "a string"
    BOOL = "true or false"
    LIST = "a list"
    MAPPING = "a mapping"
    NULL = "null"


@dataclass(frozen=True)
class Leaf:
    """A value of one of `kinds` (none: any value). A MAPPING leaf's keys are not checked."""

    kinds: tuple[Kind, ...] = ()


@dataclass(frozen=True)
class Fields:
    """A mapping of settings: only these keys, each of its node (none is required)."""

    fields: Mapping[str, Node]


@dataclass(frozen=True)
class Entries:
    """A mapping of the user's data (clubs, books): any key, each value of `value`."""

    value: Node


Node = Leaf | Fields | Entries

ANY = Leaf()
NUMBER, STRING, BOOL, LIST = (
    Leaf((kind,)) for kind in (Kind.NUMBER, Kind.STRING, Kind.BOOL, Kind.LIST)
)


def _or_null(kind: Kind) -> Leaf:
    return Leaf((kind, Kind.NULL))


# --- what the shipped files cannot show -------------------------------------------------------
# Paths are dotted from the stage; `*` stands for every key of the mapping above it.

#: Mappings whose keys are data, not settings: any key is taken, and each value must be of the
#: type the shipped values share (any type when they differ).
OPEN_MAPPINGS: tuple[str, ...] = (
    "aliases.teams",  # football-data's club name -> its other names
    "sources.leagues",  # league code -> each source's key for it
    "sources.the-odds-api.bookmakers",  # The Odds API's book key -> ours
    "sources.no_public_api",  # setting -> why it has no public API behind it
    "staking.commission",  # book -> its share of net winnings
)

#: Keys the code reads that the shipped files leave out (their defaults are in the code).
OPTIONAL_KEYS: dict[str, Node] = {
    "data.synthetic.leagues": LIST,  # [{code, n_teams, tier, country}, ...]
    "data.synthetic.promotion_places": NUMBER,
    "train.models.*.n_jobs": NUMBER,  # a model's own, over train's n_jobs
    "train.models.*.random_state": _or_null(Kind.NUMBER),
    "train.models.lightgbm.min_split_gain": NUMBER,
    "train.stacking.random_state": _or_null(Kind.NUMBER),
    "train.stacking.market_columns": LIST,
    "train.task_runner.n_workers": NUMBER,  # kind: dask
    "train.task_runner.threads_per_worker": NUMBER,
    "train.task_runner.address": STRING,
}

#: Values of more than one type: the shipped value shows only one of them.
UNIONS: dict[str, Leaf] = {
    "backtest.retrain_every": Leaf((Kind.STRING, Kind.NUMBER)),  # season, or every N days
    "backtest.windows_at_once": Leaf((Kind.STRING, Kind.NUMBER)),  # all, or N
    "data.http.retry_delay_s": Leaf((Kind.LIST, Kind.NUMBER)),  # per retry, or one delay
    "features.form.ewm_halflife": _or_null(Kind.NUMBER),  # null: no EWM
    "features.market.disagreement_books": _or_null(Kind.LIST),  # null: every book
    "serving.reload_url": _or_null(Kind.STRING),
    "serving.odds_url": _or_null(Kind.STRING),
    "serving.edge.implied_method": _or_null(Kind.STRING),  # null: staking's
    "serving.sentry.environment": _or_null(Kind.STRING),
    "serving.tracking.expire_after_kickoff_h": _or_null(Kind.NUMBER),
    "sources.betfair.locale": _or_null(Kind.STRING),
    "sources.leagues.*.betfair": Leaf((Kind.STRING, Kind.NUMBER)),  # an id, quoted or not
    "train.random_state": _or_null(Kind.NUMBER),
    "train.models.random_forest.max_depth": _or_null(Kind.NUMBER),
    "train.models.random_forest.max_features": Leaf((Kind.STRING, Kind.NUMBER, Kind.NULL)),
    "train.models.random_forest.class_weight": Leaf((Kind.STRING, Kind.MAPPING, Kind.NULL)),
    "train.models.xgboost.base_margin_columns": _or_null(Kind.LIST),  # null: constant start
    "train.models.xgboost.early_stopping_rounds": _or_null(Kind.NUMBER),
    "train.models.lightgbm.base_margin_columns": _or_null(Kind.LIST),
    "train.models.lightgbm.early_stopping_rounds": _or_null(Kind.NUMBER),
    "train.models.lightgbm.col_wise": _or_null(Kind.BOOL),  # null: LightGBM times both
    "train.stacking.members": _or_null(Kind.LIST),  # null: every model, no market
}

#: Keys that moved: their old path -> where the setting now lives (the message says so).
MOVED: dict[str, str] = {
    "sources.betfair.commission": "staking.commission (e.g. betfair_exchange: 0.05)",
    "sources.the-odds-api.commission": "staking.commission (book -> share, as there)",
}

#: Sections that take another section's settings: path -> the path of the settings it takes.
SAME_AS: dict[str, str] = {
    "backtest.train": "train",  # overrides of train.yaml for the backtest's models
    "train-design.features": "features",  # train-design.yaml: the design's settings,
    "train-design.train": "train",  # an override file kept beside the stages
}


# --- checking ---------------------------------------------------------------------------------


def validate_config(
    config: Mapping[str, Any], schema: Node | None = None, origin: str = "config"
) -> None:
    """Refuse the first unknown key or wrong type of `config` ({stage: settings}) against
    `schema` (default: the shipped configs' one); the message starts with `origin`.

    >>> schema = Fields({"data": Fields({"football_data": Fields({"leagues": LIST})})})
    >>> validate_config({"data": {"football_data": {"leagues": ["E0"]}}}, schema)
    >>> validate_config({"dat": {}}, schema)
    Traceback (most recent call last):
    ...
    sabiscore.config_schema.ConfigError: config: unknown key 'dat' (did you mean 'data'?)
    >>> validate_config({"data": {"football_data": {"leagues": "E0"}}}, schema)
    Traceback (most recent call last):
    ...
    sabiscore.config_schema.ConfigError: config: data.football_data.leagues = 'E0': expected a list
    """
    _check(config, shipped_schema() if schema is None else schema, (), origin)


def _check(value: Any, node: Node, path: tuple[str, ...], origin: str) -> None:
    if isinstance(node, Leaf):
        if node.kinds and kind_of(value) not in node.kinds:
            _refuse_type(value, node.kinds, path, origin)
        return
    if not isinstance(value, Mapping):
        _refuse_type(value, (Kind.MAPPING,), path, origin)
    for key, item in value.items():
        if isinstance(node, Entries):
            _check(item, node.value, (*path, str(key)), origin)
        elif key in node.fields:
            _check(item, node.fields[key], (*path, key), origin)
        elif dotted((*path, str(key))) in MOVED:
            moved = dotted((*path, str(key)))
            raise ConfigError(f"{origin}: {moved} has moved to {MOVED[moved]}")
        else:
            raise ConfigError(unknown_key_message(str(key), list(node.fields), path, origin))


def _refuse_type(value: Any, kinds: tuple[Kind, ...], path: tuple[str, ...], origin: str) -> None:
    expected = " or ".join(kinds)
    raise ConfigError(f"{origin}: {dotted(path)} = {shown(value)}: expected {expected}")


def unknown_key_message(key: str, known: list[str], path: tuple[str, ...], origin: str) -> str:
    """The closest allowed key when there is one, else every allowed key.

    >>> unknown_key_message("footbal_data", ["football_data", "http"], ("data",), "config")
    "config: unknown key 'data.footbal_data' (did you mean 'football_data'?)"
    >>> unknown_key_message("zzz", ["form", "elo"], ("features",), "config")
    "config: unknown key 'features.zzz' (known: elo, form)"
    """
    close = difflib.get_close_matches(key, known, n=1)
    hint = f"did you mean {close[0]!r}?" if close else f"known: {', '.join(sorted(known))}"
    return f"{origin}: unknown key {dotted((*path, key))!r} ({hint})"


def kind_of(value: Any) -> Kind | None:
    """The YAML type of a parsed value; None for what YAML alone makes (dates, ...).

    >>> [str(kind_of(value)) for value in (True, 3, 0.5, None)]
    ['true or false', 'a number', 'a number', 'null']
    """
    if value is None:
        return Kind.NULL
    if isinstance(value, bool):
        return Kind.BOOL
    if isinstance(value, int | float):
        return Kind.NUMBER
    if isinstance(value, str):
        return Kind.STRING
    if isinstance(value, list | tuple):
        return Kind.LIST
    if isinstance(value, Mapping):
        return Kind.MAPPING
    return None


_NAME = re.compile(r"[A-Za-z0-9_\-]+")


def dotted(path: tuple[str, ...]) -> str:
    """A key's path as a user would write it; a key with spaces or dots in brackets.

    >>> dotted(("validation", "screen", "chunk_rows")), dotted(("aliases", "teams", "Man City"))
    ('validation.screen.chunk_rows', "aliases.teams['Man City']")
    """
    text = ""
    for key in path:
        text += (f".{key}" if text else key) if _NAME.fullmatch(key) else f"[{key!r}]"
    return text


def shown(value: Any, width: int = 60) -> str:
    """A value as the message shows it: YAML's null, true and false; long values cut.

    >>> shown("lots"), shown(None), shown(False), shown(list(range(30)), width=12)
    ("'lots'", 'null', 'false', '[0, 1, 2,...')
    """
    if value is None or isinstance(value, bool):
        return yaml.safe_dump(value).split("\n")[0]
    text = repr(value)
    return text if len(text) <= width else text[: width - 3] + "..."


# --- the schema -------------------------------------------------------------------------------


@functools.cache
def shipped_schema() -> Fields:
    """The schema of the configs shipped in `configs/` (read once, on the first call)."""
    return schema_of(
        {path.stem: read_yaml(path) or {} for path in sorted(SHIPPED_CONFIGS.glob("*.yaml"))}
    )


def read_yaml(path: Path) -> Any:
    """A YAML file's content (libyaml's parser where installed: ten times faster); broken
    YAML is a ConfigError of one line, with where it broke."""
    try:
        return yaml.load(path.read_text(), Loader=_SAFE_LOADER)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise ConfigError(f"{path}: not valid YAML: {problem}{where}") from None


_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def schema_of(example: Mapping[str, Any]) -> Fields:
    """The schema a complete config shows, with the exceptions above applied (each path they
    name must be in `example`).

    >>> shipped_schema().fields["staking"].fields["commission"]
    Entries(value=Leaf(kinds=(<Kind.NUMBER: 'a number'>,)))
    >>> schema_of({"staking": {"min_edge": 0.02}})
    Traceback (most recent call last):
    ...
    LookupError: config schema: the shipped configs hold no key 'backtest'
    """
    schema = derived(example)
    for path, leaf in UNIONS.items():
        schema = _replace(schema, path, lambda _, leaf=leaf: leaf)
    for path, node in OPTIONAL_KEYS.items():
        parent, _, key = path.rpartition(".")
        schema = _replace(schema, parent, lambda old, key=key, node=node: _with(old, key, node))
    for path in OPEN_MAPPINGS:
        schema = _replace(schema, path, _opened)
    for path, source in SAME_AS.items():
        settings = _at(schema, source)
        schema = _replace(schema, path, lambda _, settings=settings: settings)
    if not isinstance(schema, Fields):
        raise TypeError("config schema: the shipped configs are not a mapping of stages")
    return schema


def derived(value: Any) -> Node:
    """The node a shipped value stands for: its keys, or its type (null: any type).

    >>> derived({"n_folds": 3, "address": None}).fields
    {'n_folds': Leaf(kinds=(<Kind.NUMBER: 'a number'>,)), 'address': Leaf(kinds=())}
    """
    if isinstance(value, Mapping):
        return Fields({str(key): derived(item) for key, item in value.items()})
    kind = kind_of(value)
    return ANY if kind is None or kind is Kind.NULL else Leaf((kind,))


def _opened(node: Node) -> Entries:
    """A mapping of settings turned into one of data: any key, of the values' shared node."""
    values = list(_fields(node).values())
    shared = values[0] if values and all(v == values[0] for v in values) else ANY
    return Entries(shared)


def _with(node: Node, key: str, child: Node) -> Fields:
    if key in _fields(node):
        raise LookupError(f"config schema: the optional key {key!r} is in the shipped configs")
    return Fields({**_fields(node), key: child})


def _at(node: Node, path: str) -> Node:
    walked = ""
    for key in path.split("."):
        walked += key
        node = _fields(node, key, walked)[key]
        walked += "."
    return node


def _replace(node: Node, path: str, change: Any, walked: str = "") -> Node:
    """`node` with the node at dotted `path` (`*`: every key there) replaced by `change(old)`."""
    if not path:
        return change(node)
    key, _, rest = path.partition(".")
    fields = _fields(node, key, walked + key)
    keys = list(fields) if key == "*" else [key]
    changed = {k: _replace(fields[k], rest, change, f"{walked}{k}.") for k in keys}
    return Fields({**fields, **changed})


def _fields(node: Node, key: str = "*", where: str = "") -> Mapping[str, Node]:
    """The keys of a mapping of settings, `key` among them (`*`: any): a path the shipped
    configs do not hold is a mistake in the tables above, refused when the schema is built."""
    if not isinstance(node, Fields) or (key != "*" and key not in node.fields):
        raise LookupError(f"config schema: the shipped configs hold no key {where!r}")
    return node.fields
