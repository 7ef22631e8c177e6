"""Prefect tasks of the pipeline after training: export → register → gate → promote → (refit →
register → serve) → notify."""

from __future__ import annotations

import hashlib
import json
import logging
import math
import tempfile
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from prefect import task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from models.registry import REFIT_OF, TRAINED_THROUGH, Candidate, ModelRegistry, PromotedBy
from models.training import TrainingOutcome
from sabiscore.backtest import BacktestSettings
from sabiscore.evaluation import OUTCOMES, common_matches, market_forecasts, outcome_index, score
from sabiscore.faults import Stage, fault_point
from sabiscore.features import FeatureConfig, build_features
from sabiscore.holdout_bets import HoldoutBets, holdout_bets
from sabiscore.promotion import (
    Decision,
    GateReference,
    HoldoutScores,
    PromotionPolicy,
    champion_reference,
    decide_promotion,
)
from sabiscore.staking import StakingPolicy
from sabiscore.store import DataStore
from tasks.serving import service_failure, service_headers
from tasks.serving_state import export_state

logger = logging.getLogger(__name__)


def digest(value: Any) -> str:
    """A short, stable hash of a JSON-able value (settings, a list of match ids)."""
    text = json.dumps(value, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def model_params(train_settings: dict[str, Any]) -> dict[str, Any]:
    """The settings that change what is learned (not where or how fast it runs)."""
    return {k: v for k, v in train_settings.items() if k not in ("task_runner", "n_jobs")}


def feature_hash(outcome: TrainingOutcome) -> str:
    """The training's feature settings and the columns they gave, as one hash."""
    columns = list(outcome.table.X.columns)
    return digest({"settings": outcome.config["features"], "columns": columns})


def data_seen(
    info: pd.DataFrame, fit_index: pd.Index, test_index: pd.Index, n_holdout: int
) -> dict[str, Any]:
    """What a version trained and was tested on, for its metadata (and its `data.leagues` and
    `data.trained_through` tags)."""
    return {
        "leagues": sorted(info.loc[fit_index, "league"].unique().tolist()),
        "train_seasons": sorted(info.loc[fit_index, "season"].unique().tolist()),
        "test_seasons": sorted(info.loc[test_index, "season"].unique().tolist()),
        "n_train": len(fit_index),
        "n_holdout": n_holdout,
        "trained_through": str(info.loc[fit_index, "kickoff"].max()),
    }


def holdout_index(outcome: TrainingOutcome) -> pd.Index:
    """The gate's holdout: test matches with a result and a forecast from every forecaster."""
    forecasts = {
        name: frame.loc[outcome.test_index] for name, frame in outcome.evaluation.forecasts.items()
    }
    return common_matches(forecasts, outcome.table.info.loc[outcome.test_index, "result"])


def scores_on(name: str, probs: np.ndarray, results: pd.Series, holdout_id: str) -> HoldoutScores:
    s = score(probs, outcome_index(results))
    return HoldoutScores(name, holdout_id, s.n, s.log_loss, s.brier, s.rps, s.ece)


@task(name="export-candidate", cache_policy=NO_CACHE)
def export_candidate(
    outcome: TrainingOutcome, out: Path, data_dir: Path
) -> tuple[Candidate, HoldoutScores, np.ndarray]:
    """The trained stack as explicit files, with everything the registry tags it with."""
    from models.compiled import export_ensemble

    index = holdout_index(outcome)
    holdout_id = digest(list(index))
    results = outcome.table.info.loc[index, "result"]
    probs = outcome.evaluation.forecasts["ensemble"].loc[index, list(OUTCOMES)].to_numpy()
    scores = scores_on("candidate", probs, results, holdout_id)
    hashed = feature_hash(outcome)
    data = data_seen(outcome.table.info, outcome.fit_index, outcome.test_index, len(index))
    metadata = {"features": outcome.config["features"], "feature_hash": hashed, **data}
    ensemble_dir = export_ensemble(outcome.stack, out / "ensemble", metadata)
    state = export_state(DataStore(data_dir), ensemble_dir, metadata, outcome.config)
    example = outcome.table.X.loc[index[:5]]
    candidate = Candidate(
        ensemble_dir=ensemble_dir,
        input_example=example,
        output_example=pd.DataFrame(probs[:5], columns=list(OUTCOMES)),
        holdout_metrics={
            k: v for k, v in asdict(scores).items() if k in ("n", "log_loss", "brier", "rps", "ece")
        },
        holdout_id=holdout_id,
        feature_hash=hashed,
        params_hash=digest(model_params(outcome.config["train"])),
        data=data,
        holdout_predictions=pd.DataFrame(probs, index=index, columns=list(OUTCOMES)),
        state_history=state,
    )
    return candidate, scores, probs


@task(name="assess-holdout", cache_policy=NO_CACHE)
def assess_holdout(
    outcome: TrainingOutcome, candidate: Candidate
) -> tuple[HoldoutScores, HoldoutBets]:
    """The gate's market on the candidate's holdout matches, and the bets the candidate would
    have placed there (reported beside the decision, never part of it)."""
    policy = PromotionPolicy.from_dict(outcome.config["promotion"])
    market = market_scores(outcome, candidate, policy.market.forecaster)
    bets = holdout_bets(
        candidate.holdout_predictions,
        outcome.table.market,
        outcome.table.info.loc[candidate.holdout_predictions.index],
        BacktestSettings.from_dict(outcome.config.get("backtest")),
        StakingPolicy.from_dict(outcome.config["staking"]),
    )
    return market, bets


def market_scores(outcome: TrainingOutcome, candidate: Candidate, forecaster: str) -> HoldoutScores:
    """The market forecaster on the candidate's holdout matches: scored when it prices every
    one of them, else only how many it prices (`n`, scores None)."""
    index = candidate.holdout_predictions.index
    forecasts = outcome.evaluation.forecasts
    if forecaster not in forecasts:  # not among the evaluation's: de-margined the same way
        method = outcome.config["evaluation"]["implied_method"]
        forecasts = market_forecasts(outcome.table.market, method, [forecaster])
    probs = forecasts[forecaster].loc[index, list(OUTCOMES)]
    priced = int(probs.notna().all(axis=1).sum())
    if priced < len(index):
        print(f"the market ({forecaster}) prices {priced} of the {len(index)} holdout matches")
        return HoldoutScores(forecaster, candidate.holdout_id, priced, None, None, None, None)
    results = outcome.table.info.loc[index, "result"]
    return scores_on(forecaster, probs.to_numpy(), results, candidate.holdout_id)


def holdout_figures(market: HoldoutScores, bets: HoldoutBets) -> dict[str, float]:
    """Holdout figures beside the candidate's own (`holdout_*` metrics of its run): the
    market's scores, the bets' CLV."""
    tags = {
        f"market_{k}": getattr(market, k)
        for k in ("log_loss", "brier", "rps", "ece")
        if getattr(market, k) is not None
    }
    return {**tags, **bets.tags()}


@task(name="register-candidate", cache_policy=NO_CACHE)
def register_candidate(
    registry: ModelRegistry,
    candidate: Candidate,
    run_id: str,
    market: HoldoutScores,
    bets: HoldoutBets,
) -> str:
    metrics = {**candidate.holdout_metrics, **holdout_figures(market, bets)}
    version = registry.register_model(replace(candidate, holdout_metrics=metrics), run_id)
    print(f"registered {registry.name} version {version.version} ({version.tags['semver']})")
    return str(version.version)


def champion_features(ensemble: Any, outcome: TrainingOutcome, index: pd.Index) -> pd.DataFrame:
    """The holdout's features as the champion computes them (its own feature settings)."""
    if ensemble.metadata.get("feature_hash") == feature_hash(outcome):
        return outcome.table.X.loc[index]
    settings = FeatureConfig.from_dict(ensemble.metadata["features"])
    return build_features(outcome.matches, outcome.odds, settings).loc[index]


@task(name="score-champion", cache_policy=NO_CACHE)
def score_champion(
    registry: ModelRegistry, outcome: TrainingOutcome, candidate: Candidate
) -> tuple[HoldoutScores | None, GateReference | None]:
    """The champion re-scored on the candidate's holdout matches (None when there is none),
    or the version it refits when the champion is a refit that trained on them
    (`champion_reference`), and which version that was.

    One that trained on any of those matches is not comparable: its holdout id says so.
    """
    champion = registry.champion()
    if champion is None:
        return None, None
    index = candidate.holdout_predictions.index
    holdout_start = str(outcome.table.info.loc[index, "kickoff"].min())
    reference = champion_reference(registry.trained_version(champion), holdout_start)
    ensemble = registry.load_ensemble(reference.version)
    through = ensemble.metadata.get("trained_through")
    holdout_id = reference.holdout_id(candidate.holdout_id, through)
    probs = ensemble.predict_proba(champion_features(ensemble, outcome, index))
    results = outcome.table.info.loc[index, "result"]
    stand_in = reference.version != str(champion.version)
    name = f"version {reference.version}, for the champion (its refit)" if stand_in else "champion"
    return scores_on(name, probs, results, holdout_id), reference


@task(name="apply-decision", cache_policy=NO_CACHE)
def apply_decision(registry: ModelRegistry, version: str, decision: Decision) -> str | None:
    """Promote (alias `champion`) or keep out (alias `challenger`); tags carry the reason and
    say the gate decided.

    The alias is the registration's commit point: only then is the version marked complete.
    """
    registry.record_decision(version, decision)
    fault_point(Stage.DECIDED)
    if decision.promote:
        registry.promote_to_production(version, decision.reason, by=PromotedBy.GATE)
    else:
        registry.set_challenger(version)
    fault_point(Stage.ALIAS_MOVED)
    registry.complete_registration(version)
    champion = registry.champion()
    return str(champion.version) if champion is not None else None


def gate(
    registry: ModelRegistry,
    outcome: TrainingOutcome,
    candidate: Candidate,
    candidate_scores: HoldoutScores,
    market: HoldoutScores,
    probs: np.ndarray,
    version: str,
) -> tuple[Decision, HoldoutScores | None]:
    """Champion scores, decision and its application under one registry lock, so that two
    pipelines finishing together compare against the champion that is really in place."""
    policy = PromotionPolicy.from_dict(outcome.config["promotion"])
    with registry.lock():
        champion, reference = score_champion(registry, outcome, candidate)
        note = reference.note if reference is not None else None
        decision = decide_promotion(candidate_scores, champion, market, policy, probs, note)
        apply_decision(registry, version, decision)
    return decision, champion


@dataclass(frozen=True)
class RefitResult:
    """What became of the refit of a promoted version: served, or why not."""

    refit_of: str  # the version the gate promoted
    version: str | None = None  # the refit, now champion (None: it failed)
    semver: str | None = None
    trained_through: str | None = None  # kick-off of its last training match
    error: str | None = None  # why it failed: the champion is as the gate left it

    def __post_init__(self) -> None:
        if (self.version is None) == (self.error is None):
            raise ValueError("a refit is either served (a version) or failed (an error)")


@task(name="export-refit", cache_policy=NO_CACHE)
def export_refit(
    outcome: TrainingOutcome, refit: Any, refit_of: str, out: Path, data_dir: Path
) -> Candidate:
    """The refit as explicit files, described by the data it saw. Its holdout figures are
    those of `refit_of`, which the registry carries over: it has none of its own."""
    from models.compiled import export_ensemble

    data = data_seen(outcome.table.info, refit.fit_index, pd.Index([]), 0)
    metadata = {
        "features": outcome.config["features"],
        "feature_hash": feature_hash(outcome),
        **data,
        "refit_of": refit_of,
    }
    example = outcome.table.X.loc[refit.fit_index[-5:]]
    ensemble_dir = export_ensemble(refit.stack, out / "ensemble", metadata)
    state = export_state(DataStore(data_dir), ensemble_dir, metadata, outcome.config)
    return Candidate(
        ensemble_dir=ensemble_dir,
        input_example=example,
        output_example=pd.DataFrame(refit.stack.predict_proba(example), columns=list(OUTCOMES)),
        holdout_metrics={},
        holdout_id="",  # the registry carries over the one of `refit_of`
        feature_hash=feature_hash(outcome),
        params_hash=digest(model_params(outcome.config["train"])),
        data=data,
        state_history=state,
    )


@task(name="register-refit", cache_policy=NO_CACHE)
def register_refit(registry: ModelRegistry, candidate: Candidate, run_id: str, judged: str) -> str:
    version = registry.register_refit(candidate, run_id, judged)
    print(
        f"registered {registry.name} version {version.version} ({version.tags['semver']}), "
        f"a refit of version {judged}"
    )
    return str(version.version)


@task(name="serve-refit", cache_policy=NO_CACHE)
def serve_refit(registry: ModelRegistry, version: str, judged: str) -> RefitResult:
    """The refit becomes champion in place of the version the gate promoted."""
    registry.promote_refit(version, judged)
    served = registry.client.get_model_version(registry.name, version)
    through = served.tags.get(TRAINED_THROUGH)
    print(
        f"champion now version {version}, the refit of version {judged} on every played match "
        f"through {through}"
    )
    return RefitResult(judged, version, served.tags.get("semver"), through)


def open_registry(data_dir: Path) -> ModelRegistry:
    """The model registry of this data directory's MLflow store (or `$MLFLOW_TRACKING_URI`)."""
    from models.tracking import tracking_uri

    return ModelRegistry(tracking_uri(data_dir))


def registered_semver(registry: ModelRegistry, version: str) -> str:
    """The semantic version the registry numbered `version` with."""
    return registry.info(registry.client.get_model_version(registry.name, version)).semver


def served_lineage(registry: ModelRegistry) -> dict[str, str | None]:
    """What the service now serves, read back from the registry rather than assumed: the
    champion (after a promotion, its refit) and, for a refit, the version it refits and its
    last training match."""
    champion = registry.champion()
    version = str(champion.version) if champion is not None else None
    served = dict(champion.tags) if champion is not None else {}
    return {
        "champion_version": version,
        "served_version": version,
        "refit_of": served.get(REFIT_OF),
        "trained_through": served.get(TRAINED_THROUGH),
    }


def refit_failed(
    registry: ModelRegistry, judged: str, registered: str | None, error: Exception
) -> RefitResult:
    """A refit that failed: the champion is as the gate left it (the promoted version, unless
    another pipeline promoted since); a version the refit registered without an alias is
    deleted."""
    logger.warning("the refit of version %s failed", judged, exc_info=error)
    if registered is not None:
        try:
            registry.discard_registration(registered)
        except Exception:  # the next registration deletes it once this process is gone
            logger.warning("could not delete version %s", registered, exc_info=True)
    why = f"{type(error).__name__}: {error}"
    print(
        f"warning: the refit of version {judged} failed ({why}); the champion is as the gate "
        "left it"
    )
    return RefitResult(judged, error=why)


@task(name="publish-decision", cache_policy=NO_CACHE)
def publish_decision(
    version: str,
    semver: str,
    decision: Decision,
    scores: dict[str, HoldoutScores | None],
    champion_version: str | None,
    bets: HoldoutBets,
    refit: RefitResult | None = None,
) -> str:
    champion = (
        f"version {champion_version}"
        if champion_version
        else "none: no model has passed the gate yet, nothing is served"
    )
    if refit is not None:
        champion = f"{champion} ({refit_words(refit)})"
    lines = [
        f"# Promotion gate: version {version} ({semver})",
        "",
        f"**{'promoted' if decision.promote else 'kept out (challenger)'}** — {decision.reason}",
        "",
        f"Champion now: {champion}",
        "",
        "| on the holdout | n | log loss | Brier (sum of 3) | RPS | calibration error |",
        "|---|---|---|---|---|---|",
    ]
    for name, s in scores.items():
        if s is not None and s.complete():
            lines.append(
                f"| {name} | {s.n} | {s.log_loss:.4f} | {s.brier:.4f} | {s.rps:.4f} | {s.ece:.4f} |"
            )
    lines += ["", *gate_lines(decision), "", *bets_lines(bets)]
    markdown = "\n".join(lines)
    create_markdown_artifact(
        markdown,
        key="promotion-decision",
        description="The gate's decision on the new version, and why",
    )
    return markdown


def refit_words(refit: RefitResult) -> str:
    """The served version's lineage, in words."""
    if refit.error is not None:
        return f"not the refit of version {refit.refit_of}, which failed: {refit.error}"
    return (
        f"{refit.semver}, a refit of version {refit.refit_of} on every played match through "
        f"{refit.trained_through}; the holdout scores are version {refit.refit_of}'s"
    )


def gate_lines(decision: Decision) -> list[str]:
    """The figures the candidate was held to, in words."""
    lines = []
    if decision.market_gap is not None:
        held = (
            f"tolerance {decision.market_tolerance}"
            if decision.market_tolerance is not None
            else "not required"
        )
        lines.append(f"- log loss against the market: {decision.market_gap:+.4f} ({held})")
    if decision.ece_bound is not None:
        lines.append(f"- calibration error bound: {decision.ece_bound:.4f}")
    return lines


def bets_lines(bets: HoldoutBets) -> list[str]:
    """The candidate's bets on the holdout: informational, not a promotion criterion."""
    return [
        "## The candidate's bets on the holdout (informational, not a promotion criterion)",
        "",
        f"At the opening prices of {bets.bookmaker} ({bets.priced} holdout matches priced), "
        "staked by configs/staking.yaml; closing-line value against the de-margined Pinnacle "
        "close; percentile bootstrap intervals over bets (configs/backtest.yaml).",
        "",
        "| bets | turnover | yield [CI] | CLV [CI] | bets with a close |",
        "|---:|---:|---:|---:|---:|",
        f"| {bets.bets} | {bets.turnover:.3f} | {percent(bets.yield_, bets.yield_ci)} | "
        f"{percent(bets.clv_mean, bets.clv_ci)} | {bets.clv_bets} |",
    ]


def percent(value: float, ci: tuple[float, float]) -> str:
    """+1.23% [-0.40%, +2.90%]; a dash without bets."""
    if math.isnan(value):
        return "–"
    return f"{value:+.2%} [{ci[0]:+.2%}, {ci[1]:+.2%}]"


@task(name="notify-serving", cache_policy=NO_CACHE)
def notify_serving(url: str | None, payload: dict[str, Any], timeout_s: float = 5.0) -> bool:
    """Tell the service to reload its champion, with its API token when $SABISCORE_API_TOKEN
    is set. A failure is logged and never fails the run."""
    if not url:
        return False
    import httpx

    try:
        response = httpx.post(url, json=payload, headers=service_headers(), timeout=timeout_s)
        response.raise_for_status()
    except httpx.HTTPError as error:
        why = service_failure(error)
        logger.warning("could not notify the serving layer at %s: %s", url, why)
        print(f"warning: could not notify the serving layer at {url}: {why}")
        return False
    print(f"notified the serving layer at {url}")
    return True


def workdir() -> Path:
    return Path(tempfile.mkdtemp(prefix="sabiscore-candidate-"))
