"""Train on one set of files, evaluate on another never seen: `sabiscore backtest`."""

from __future__ import annotations

from prefect import flow

from flows.ingest import ingest_flow
from flows.train import train_flow


def _results_partitions(summary: dict) -> list[str]:
    return sorted({p for r in summary["per_file"] for p in r["partitions"] if ":" not in p})


def ingest_partitions(
    train_sources: list[str], test_sources: list[str], data_dir: str | None, config_path: str | None
) -> dict[str, list[str]]:
    """Ingest both sets of files; their league-seasons, which must not overlap."""
    trained_on = ingest_flow(sources=train_sources, data_dir=data_dir, config_path=config_path)
    tested_on = ingest_flow(sources=test_sources, data_dir=data_dir, config_path=config_path)
    partitions = {"train": _results_partitions(trained_on), "test": _results_partitions(tested_on)}
    overlap = set(partitions["train"]) & set(partitions["test"])
    if overlap:
        raise ValueError(f"train and test share league-seasons: {sorted(overlap)}")
    return partitions


@flow(name="holdout-backtest", log_prints=True)
def holdout_flow(
    train_sources: list[str],
    test_sources: list[str],
    data_dir: str | None = None,
    config_path: str | None = None,
) -> dict:
    """Ingest both sets; train on the first; score models and market on the second."""
    partitions = ingest_partitions(train_sources, test_sources, data_dir, config_path)
    result = train_flow(data_dir=data_dir, config_path=config_path, partitions=partitions)
    return {**result, "partitions": partitions}
