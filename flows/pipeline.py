"""The whole job, hands-off: ingest (GX-validated) → features → train → evaluate → register →
gate → promote or keep → after a promotion, refit on every played match and serve the refit →
notify the serving layer. Scheduled by `prefect.yaml`."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from prefect import flow

from flows.ingest import ingest_flow
from flows.run_names import pipeline_run_name
from flows.train import refit_ensemble, train_ensemble
from sabiscore.config import default_data_dir, load_config
from sabiscore.promotion import PromotionPolicy
from tasks.ledger import publish_ledger
from tasks.registry import (
    RefitResult,
    assess_holdout,
    export_candidate,
    export_refit,
    gate,
    notify_serving,
    open_registry,
    publish_decision,
    refit_failed,
    register_candidate,
    register_refit,
    registered_semver,
    serve_refit,
    served_lineage,
    workdir,
)

if TYPE_CHECKING:  # the flow talks to the registry through tasks.registry only
    from models.registry import ModelRegistry
    from models.training import TrainingOutcome


def reload_url(config: dict) -> str | None:
    return os.environ.get("SABISCORE_RELOAD_URL") or config.get("serving", {}).get("reload_url")


def refit_and_serve(
    registry: ModelRegistry, outcome: TrainingOutcome, data_dir: Path, judged: str
) -> RefitResult:
    """The promoted configuration on every played match, registered and served in place of
    version `judged`. Any failure leaves `judged` champion and says why; it never fails the run."""
    out = workdir()
    registered = None
    try:
        refit = refit_ensemble(outcome, str(data_dir), judged)
        candidate = export_refit(outcome, refit, judged, out, data_dir)
        registered = register_refit(registry, candidate, refit.run_id, judged)
        return serve_refit(registry, registered, judged)
    except Exception as error:  # the promotion stands; the reason is reported
        return refit_failed(registry, judged, registered, error)
    finally:
        shutil.rmtree(out, ignore_errors=True)


@flow(name="pipeline", flow_run_name=pipeline_run_name, log_prints=True)
def pipeline_flow(
    sources: list[str] | None = None,
    data_dir: str | None = None,
    config_path: str | None = None,
    leagues: list[str] | None = None,
    test_seasons: list[str] | None = None,
    train_seasons: list[str] | None = None,
) -> dict:
    """Ingest the configured sources, train, and let the gate decide on the new model.

    Args:
        sources: Files, folders, globs, URLs, `synthetic` or `football-data`, as for
            `sabiscore ingest`. Empty: `default_sources` of configs/data.yaml (the synthetic
            league only into a store that holds no real league).
        data_dir: The data store, e.g. /srv/sabiscore/data. Empty: $SABISCORE_DATA_DIR, else
            data/ in the project.
        config_path: A YAML file overriding configs/*.yaml ({stage: {...}}). Empty: the shipped
            configs.
        leagues: Train on these league codes only, e.g. ["E0", "SP1"]. Empty: every league in
            the store.
        test_seasons: The held-out season(s) the gate judges, e.g. ["2023-2024"]. Empty: the
            last season in the store.
        train_seasons: The seasons the model learns from, e.g. ["2021-2022", "2022-2023"].
            Empty: every season before the test.
    """
    # The deployments' run forms send "" and [] for what is left empty: the defaults.
    sources, data_dir, config_path, leagues, test_seasons, train_seasons = (
        value or None
        for value in (sources, data_dir, config_path, leagues, test_seasons, train_seasons)
    )
    config = load_config(config_path)
    root = Path(data_dir) if data_dir else default_data_dir()
    ingested = ingest_flow(sources=sources, data_dir=str(root), config_path=config_path)
    outcome = train_ensemble(
        str(root), config_path, leagues, test_seasons, train_seasons=train_seasons
    )
    registry = open_registry(root)
    out = workdir()
    try:
        candidate, scores, probs = export_candidate(outcome, out, root)
        market, bets = assess_holdout(outcome, candidate)
        version = register_candidate(registry, candidate, outcome.summary["run_id"], market, bets)
        decision, champion = gate(registry, outcome, candidate, scores, market, probs, version)
    finally:
        shutil.rmtree(out, ignore_errors=True)
    refit = None
    if decision.promote and PromotionPolicy.from_dict(config["promotion"]).refit.enabled:
        refit = refit_and_serve(registry, outcome, root, version)
    lineage = served_lineage(registry)
    champion_version = lineage["champion_version"]
    semver = registered_semver(registry, version)
    holdout = {"candidate": scores, "champion": champion, "market": market}
    publish_decision(version, semver, decision, holdout, champion_version, bets, refit)
    notified = notify_serving(
        reload_url(config) if decision.promote else None,
        {"model": registry.name, "version": champion_version},
        config.get("serving", {}).get("reload_timeout_s", 60),
    )
    ledger = publish_ledger(str(root), config_path, registry.tracking_uri)  # after the ingest
    return {
        "ingested": {k: ingested[k] for k in ("files", "matches", "quarantined") if k in ingested},
        "training": {k: v for k, v in outcome.summary.items() if k != "per_league"},
        "model_name": registry.name,
        "registered_version": version,
        "semver": semver,
        "promoted": decision.promote,
        "reason": decision.reason,
        **lineage,  # champion_version, served_version (after a promotion, its refit), ...
        "refit": refit.__dict__ if refit is not None else None,  # this run's, after a promotion
        "gate": {k: getattr(decision, k) for k in ("ece_bound", "market_gap", "market_tolerance")},
        "holdout": {name: s.__dict__ for name, s in holdout.items() if s is not None},
        "holdout_bets": {**bets.to_dict(), "informational": True},  # not a promotion criterion
        "notified": notified,
        "ledger": {k: ledger[k] for k in ("suggested", "settled", "open")},
        "tracking_uri": registry.tracking_uri,
    }
