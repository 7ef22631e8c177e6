"""Train on one set of files, evaluate on another never seen: `sabiscore backtest`."""

from __future__ import annotations

from prefect import flow

from flows.ingest import ingest_flow
from flows.run_names import holdout_run_name
from flows.train import train_flow
from sabiscore.splits import ingested_partitions


@flow(name="holdout-backtest", flow_run_name=holdout_run_name, log_prints=True)
def holdout_flow(
    train_sources: list[str],
    test_sources: list[str],
    data_dir: str | None = None,
    config_path: str | None = None,
) -> dict:
    """Ingest both sets; train on the first; score models and market on the second."""
    trained_on = ingest_flow(sources=train_sources, data_dir=data_dir, config_path=config_path)
    tested_on = ingest_flow(sources=test_sources, data_dir=data_dir, config_path=config_path)
    partitions = ingested_partitions(trained_on, tested_on)
    result = train_flow(data_dir=data_dir, config_path=config_path, partitions=partitions)
    return {**result, "partitions": partitions}
