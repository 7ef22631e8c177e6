"""Time-based splits: nothing from the future may train what is tested on the past."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd


@dataclass(frozen=True)
class SeasonSplit:
    """Train seasons, then a validation season (stacking, promotion gate), then a test season."""

    train: tuple[str, ...]
    validation: tuple[str, ...]
    test: tuple[str, ...]

    def __post_init__(self) -> None:
        if not self.train or not self.test:
            raise ValueError("a split needs at least one train season and one test season")
        ordered = [*self.train, *self.validation, *self.test]
        if len(set(ordered)) != len(ordered):
            raise ValueError(f"a season appears in two parts of the split: {ordered}")
        if max(self.train) >= min([*self.validation, *self.test]):
            raise ValueError("train seasons must all come before validation and test seasons")
        if self.validation and max(self.validation) >= min(self.test):
            raise ValueError("validation seasons must come before the test seasons")

    def part_of(self, season: str) -> str | None:
        for name in ("train", "validation", "test"):
            if season in getattr(self, name):
                return name
        return None


def season_split(
    seasons: Sequence[str],
    test: Sequence[str] | None = None,
    validation: Sequence[str] | None = None,
    n_validation: int = 1,
    fitted: Sequence[str] | None = None,
) -> SeasonSplit:
    """Default: the last season is the test, the one before it validation, the rest train.

    `fitted`: the seasons the model learns from (train and validation), when not all the
    seasons before the test.

    >>> seasons = ["2019-2020", "2020-2021", "2021-2022", "2022-2023"]
    >>> season_split(seasons)
    SeasonSplit(train=('2019-2020', '2020-2021'), validation=('2021-2022',), test=('2022-2023',))
    >>> season_split(seasons, fitted=["2020-2021", "2021-2022"])
    SeasonSplit(train=('2020-2021',), validation=('2021-2022',), test=('2022-2023',))
    >>> season_split(seasons, test=["2021-2022"], fitted=["2022-2023"])
    Traceback (most recent call last):
    ...
    ValueError: training seasons must come before the test seasons (2021-2022): 2022-2023
    """
    ordered = sorted(set(seasons))
    test = tuple(sorted(test)) if test else tuple(ordered[-1:])
    late = sorted(s for s in fitted or () if s >= min(test))
    if late:
        raise ValueError(
            f"training seasons must come before the test seasons "
            f"({', '.join(test)}): {', '.join(late)}"
        )
    earlier = [s for s in ordered if s < min(test) and (not fitted or s in fitted)]
    if validation is None:
        validation = earlier[-n_validation:] if n_validation and len(earlier) > 1 else []
    validation = tuple(sorted(validation))
    cutoff = min(validation) if validation else min(test)
    train = tuple(s for s in earlier if s < cutoff)
    return SeasonSplit(train=train, validation=validation, test=test)


def choose_rows(
    info: pd.DataFrame,
    test_seasons: list[str] | None,
    validation_seasons: list[str] | None,
    partitions: dict[str, list[str]] | None,
    fitted_seasons: list[str] | None = None,
) -> tuple[pd.Series, pd.Series, dict[str, list[str]]]:
    """Training and test rows: by explicit league/season partitions, else by a season split
    (`fitted_seasons`: the seasons learnt from, default all before the test)."""
    played = info["status"] == "played"
    if partitions:
        key = info["league"].astype(str) + "/" + info["season"].astype(str)
        described = {"train": partitions["train"], "validation": [], "test": partitions["test"]}
        return (
            played & key.isin(partitions["train"]),
            played & key.isin(partitions["test"]),
            described,
        )
    split: SeasonSplit = season_split(
        info.loc[played, "season"].unique(), test_seasons, validation_seasons, fitted=fitted_seasons
    )
    fit = played & info["season"].isin([*split.train, *split.validation])
    test = played & info["season"].isin(split.test)
    return fit, test, {k: list(v) for k, v in split.__dict__.items()}


def ingested_partitions(
    trained_on: Mapping[str, Any], tested_on: Mapping[str, Any]
) -> dict[str, list[str]]:
    """The league-seasons two ingest summaries stored, as train and test sets; an error when
    they overlap, since a model would then be tested on matches it trained on.

    >>> one = {"per_file": [{"partitions": ["E0/2019-2020", "E0/2019-2020:fixtures"]}]}
    >>> two = {"per_file": [{"partitions": ["E0/2020-2021"]}]}
    >>> ingested_partitions(one, two)
    {'train': ['E0/2019-2020'], 'test': ['E0/2020-2021']}
    >>> ingested_partitions(one, one)
    Traceback (most recent call last):
    ...
    ValueError: train and test share league-seasons: ['E0/2019-2020']
    """
    partitions = {"train": _results_partitions(trained_on), "test": _results_partitions(tested_on)}
    overlap = set(partitions["train"]) & set(partitions["test"])
    if overlap:
        raise ValueError(f"train and test share league-seasons: {sorted(overlap)}")
    return partitions


def _results_partitions(summary: Mapping[str, Any]) -> list[str]:
    """The results partitions of an ingest summary (`league/season`, no `:kind` suffix)."""
    return sorted({p for r in summary["per_file"] for p in r["partitions"] if ":" not in p})
