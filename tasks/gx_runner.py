"""Run the validation suites of `configs/validation.yaml` with Great Expectations 1.x.

A thin adapter: it builds an ephemeral GX context, runs one checkpoint per table and turns
GX's results into `sabiscore.quality.Failure` records. Deciding what a failure costs is the
domain's job (`sabiscore.quality.apply_failures`).
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from sabiscore.quality import Failure

log = logging.getLogger(__name__)


class TableValidationError(RuntimeError):
    """The table is not of the expected shape at all (a table-level expectation failed)."""


@dataclass(frozen=True)
class SuiteRun:
    failures: tuple[Failure, ...]
    evaluated: int
    successful: int
    docs_index: Path | None


def _quiet_gx() -> None:
    """GX prints a progress bar per validation; keep stdout for our own summary."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    logging.getLogger("great_expectations").setLevel(logging.WARNING)


def build_suite(gx: Any, name: str, spec: Sequence[Mapping[str, Any]]) -> Any:
    """A GX ExpectationSuite from our YAML entries (type, kwargs, level, reason)."""
    from great_expectations.expectations.expectation_configuration import (
        ExpectationConfiguration,
    )

    suite = gx.ExpectationSuite(name=name)
    for entry in spec:
        suite.add_expectation_configuration(
            ExpectationConfiguration(
                type=entry["type"],
                kwargs=dict(entry["kwargs"]),
                meta={"level": entry["level"], "reason": entry["reason"]},
            )
        )
    return suite


def referenced_columns(spec: Sequence[Mapping[str, Any]], available: Sequence[str]) -> list[str]:
    """The columns a suite reads. GX copies whole frames for row conditions: pass no more."""
    text = " ".join(str(value) for entry in spec for value in entry["kwargs"].values())
    words = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", text))
    return [column for column in available if column in words]


def run_suites(
    frames: Mapping[str, pd.DataFrame],
    suites: Mapping[str, Sequence[Mapping[str, Any]]],
    docs_dir: Path | None = None,
) -> SuiteRun:
    """Validate each frame with the suite of the same name; return every failure found."""
    _quiet_gx()
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    if docs_dir is not None:
        context.add_data_docs_site(
            site_name="sabiscore_local",
            site_config={
                "class_name": "SiteBuilder",
                "store_backend": {
                    "class_name": "TupleFilesystemStoreBackend",
                    "base_directory": str(docs_dir),
                },
                "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
            },
        )
    source = context.data_sources.add_pandas("sabiscore")
    failures: list[Failure] = []
    evaluated = successful = 0
    for name, frame in frames.items():
        frame = frame[referenced_columns(suites[name], frame.columns)]
        asset = source.add_dataframe_asset(name)
        batch = asset.add_batch_definition_whole_dataframe(f"{name}_all")
        suite = context.suites.add(build_suite(gx, f"football_data_{name}", suites[name]))
        definition = context.validation_definitions.add(
            gx.ValidationDefinition(name=f"validate_{name}", data=batch, suite=suite)
        )
        actions = []
        if docs_dir is not None:
            actions.append(gx.checkpoint.UpdateDataDocsAction(name="update_data_docs"))
        checkpoint = context.checkpoints.add(
            gx.Checkpoint(
                name=f"checkpoint_{name}",
                validation_definitions=[definition],
                actions=actions,
                result_format={"result_format": "COMPLETE"},
            )
        )
        outcome = checkpoint.run(batch_parameters={"dataframe": frame})
        for result in outcome.run_results.values():
            evaluated += result.statistics["evaluated_expectations"]
            successful += result.statistics["successful_expectations"]
            failures.extend(_failures(result))
    index = docs_dir / "index.html" if docs_dir is not None else None
    return SuiteRun(tuple(failures), evaluated, successful, index)


def _failures(validation_result: Any) -> list[Failure]:
    found = []
    for result in validation_result.results:
        config = result.expectation_config
        if result.exception_info and result.exception_info.get("raised_exception"):
            message = result.exception_info.get("exception_message")
            raise TableValidationError(f"{config.type} could not run: {message}")
        if result.success:
            continue
        level = config.meta["level"]
        column = config.kwargs.get("column") or config.kwargs.get("column_A", "")
        if level == "table":
            raise TableValidationError(f"{config.meta['reason']} ({config.type})")
        index = tuple(result.result.get("unexpected_index_list") or ())
        found.append(Failure(config.type, column, config.meta["reason"], level, index))
    return found
