"""Flow-run names that say what ran ("ingest synthetic into data", "pipeline 2026-12-05 E0"), in
place of Prefect's random ones ("academic-lynx"): each flow's `flow_run_name`.

Prefect calls it with no arguments inside the run, where `prefect.runtime.flow_run.parameters`
holds the parameters the run was given: a parameter left out takes its default, and a None
(its default) reads as what the flow does without it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from prefect.runtime import flow_run

from sabiscore.config import default_data_dir


def listed(values: Sequence[str] | None, otherwise: str, most: int = 2) -> str:
    """Names short enough for a run's title: files and folders by their last part, the first
    `most` of them, then how many more; `otherwise` when there are none.

    >>> listed(["data/E0.csv", "https://example.org/mmz4281/2425/SP1.csv", "synthetic"], "-")
    'E0.csv, SP1.csv +1'
    >>> listed(None, "default sources")
    'default sources'
    """
    if not values:
        return otherwise
    names = [Path(str(value)).name or str(value) for value in values]
    shown = ", ".join(names[:most])
    return shown if len(names) <= most else f"{shown} +{len(names) - most}"


def _given() -> dict[str, Any]:
    return dict(flow_run.parameters or {})


def _store(data_dir: str | None) -> str:
    return Path(data_dir).name if data_dir else default_data_dir().name


def _started(with_time: bool = False) -> str:
    """When the run was due (a scheduled run's slot), as a date or a date and UTC time."""
    due = flow_run.scheduled_start_time
    return due.strftime("%Y-%m-%d %H:%M" if with_time else "%Y-%m-%d")


def ingest_run_name() -> str:
    given = _given()
    sources = listed(given.get("sources"), "default sources")
    return f"ingest {sources} into {_store(given.get('data_dir'))}"


def validate_run_name() -> str:
    given = _given()
    sources = listed(given.get("sources"), "stored files")
    return f"validate {sources} in {_store(given.get('data_dir'))}"


def pipeline_run_name() -> str:
    given = _given()
    parts = ["pipeline", _started()]
    if given.get("leagues"):
        parts.append(listed(given["leagues"], "", most=3))
    if given.get("test_seasons"):
        parts.append(f"test {listed(given['test_seasons'], '')}")
    return " ".join(parts)


def odds_refresh_run_name() -> str:
    given = _given()
    live = f" {listed(given['live'], '', most=3)}" if given.get("live") else ""
    return f"odds-refresh {_started(with_time=True)}{live}"


def train_run_name() -> str:
    given = _given()
    leagues = listed(given.get("leagues"), "all leagues", most=3)
    if given.get("partitions"):
        return f"train {leagues} on given partitions"
    return f"train {leagues} test {listed(given.get('test_seasons'), 'last season')}"


def holdout_run_name() -> str:
    given = _given()
    return (
        f"holdout-backtest {listed(given.get('train_sources'), '-')} "
        f"then {listed(given.get('test_sources'), '-')}"
    )


def backtest_run_name() -> str:
    given = _given()
    return f"backtest-bets on {listed(given.get('test_sources'), '-')}"
