"""The ledger's track record published where people look: a Prefect markdown artifact and
MLflow metrics (experiment `sabiscore-ledger`), after each odds refresh and pipeline run."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from models.tracking import CLASSIC_ML, EXPERIMENT_KIND_TAG, NOTE_TAG, artifact_root
from sabiscore.config import load_config
from sabiscore.ledger import track_record
from sabiscore.staking import StakingPolicy

EXPERIMENT = "sabiscore-ledger"
#: The experiment's Description on MLflow's experiment page.
EXPERIMENT_NOTE = (
    "The live track record of SabiScore's suggested bets: one run each time the "
    "odds refresh or the pipeline counts it (`ledger: N suggested, M settled`), "
    "its ledger_* metrics charted across runs."
)


@task(name="publish-ledger", cache_policy=NO_CACHE)
def publish_ledger(
    data_dir: str, config_path: str | None = None, registry_uri: str | None = None
) -> dict[str, Any]:
    """The ledger settled on the store as it is now, published (its metrics in `registry_uri`,
    default $MLFLOW_TRACKING_URI or the data directory's); returns the report."""
    from prefect.artifacts import create_markdown_artifact

    from bentos.bets import ledger_report
    from models.registry import tracking_uri

    policy = StakingPolicy.from_dict(load_config(config_path).get("staking"))
    record, _ = track_record(data_dir, None, policy.sharp_books, policy.implied_method)
    report = ledger_report(record).model_dump(mode="json")
    create_markdown_artifact(
        key="ledger",
        markdown=_ledger_markdown(report),
        description="The live track record of every suggestion",
    )
    chosen = registry_uri or os.environ.get("MLFLOW_TRACKING_URI")
    # The store's own experiment keeps its artifacts in the store, not in the current folder.
    location = None if chosen else artifact_root(Path(data_dir))
    _log_ledger_metrics(chosen or tracking_uri(Path(data_dir)), report, location)
    print(f"ledger: {report['suggested']} suggestion(s), {report['settled']} settled")
    return report


def _ledger_markdown(report: dict[str, Any]) -> str:
    lines = [
        f"**{report['suggested']}** suggestions, **{report['settled']}** settled, "
        f"{report['open']} open.",
        "",
        "| slice | bets | staked | profit | yield [95 %] | CLV [95 %] |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    slices = (
        [("all", report["overall"])]
        + [(f"tier {k}", v) for k, v in report["by_quality"].items()]
        + [(f"version {k}", v) for k, v in report["by_model_version"].items()]
    )
    for name, n in slices:
        if not n.get("bets"):
            continue
        clv = (
            "-"
            if n["clv_mean"] is None
            else (f"{n['clv_mean']:+.2%} [{n['clv_ci'][0]:+.2%}, {n['clv_ci'][1]:+.2%}]")
        )
        lines.append(
            f"| {name} | {n['bets']} | {n['staked']:.2%} | {n['profit']:+.2%} | "
            f"{n['yield']:+.1%} [{n['yield_ci'][0]:+.1%}, {n['yield_ci'][1]:+.1%}] | "
            f"{clv} |"
        )
    return "\n".join(lines)


def _log_ledger_metrics(
    tracking_uri: str, report: dict[str, Any], artifact_location: str | None = None
) -> None:
    """The overall numbers as metrics of one MLflow run, experiment `sabiscore-ledger`, named
    and described for what it counted (the odds refresh and the pipeline both publish it)."""
    import mlflow

    overall = report["overall"]
    metrics = {
        "ledger_suggested": report["suggested"],
        "ledger_settled": report["settled"],
        **{
            f"ledger_{k}": v
            for k, v in overall.items()
            if isinstance(v, int | float) and not isinstance(v, bool)
        },
    }
    client = mlflow.MlflowClient(tracking_uri)
    experiment = client.get_experiment_by_name(EXPERIMENT)
    tags = {EXPERIMENT_KIND_TAG: CLASSIC_ML, NOTE_TAG: EXPERIMENT_NOTE}  # not the GenAI view
    if experiment is None:
        experiment_id = client.create_experiment(
            EXPERIMENT, artifact_location=artifact_location, tags=tags
        )
    else:
        experiment_id = experiment.experiment_id
        for key, value in tags.items():
            if key not in experiment.tags:  # a description a person wrote stays
                client.set_experiment_tag(experiment_id, key, value)
    name = f"ledger: {report['suggested']} suggested, {report['settled']} settled"
    note = (
        "The live track record of every bet suggested (sabiscore bets, GET /value-bets, "
        "the odds refresh), settled on the store's results: ledger_suggested and "
        "ledger_settled count suggestions; the other ledger_* metrics are the settled "
        "bets' numbers (stakes and profit as shares of one bankroll, yield, hit rate, CLV)."
    )
    run = client.create_run(experiment_id, run_name=name, tags={NOTE_TAG: note})
    for name, value in metrics.items():
        client.log_metric(run.info.run_id, name, float(value))
    client.set_terminated(run.info.run_id)
