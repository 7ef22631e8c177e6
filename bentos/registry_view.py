"""`GET /models`: the registry as a person checks what they are trusting — the champion and the
recent versions with their holdout scores beside the market's on the same matches, the gate's
verdict, and the champion's reliability curves (from its training run's `tables/
reliability.csv`; a refit's are those of the version it refits, which was judged on them)."""

from __future__ import annotations

import math
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from bentos.schemas import (
    Calibration,
    MarketScores,
    ModelsReport,
    RegisteredVersion,
    ReliabilityPoint,
    Scores,
)
from models.registry import Promotion

RELIABILITY_ARTIFACT = "tables/reliability.csv"
SCORES = ("log_loss", "rps", "brier", "ece")


def _number(value: Any) -> float | None:
    """A finite float, else None.

    >>> _number(0.5), _number(float("nan")), _number(None)
    (0.5, None, None)
    """
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def version_view(
    info: Any, aliases: list[str], metrics: Mapping[str, float], forecaster: str
) -> RegisteredVersion:
    """One registry version (`ModelRegistry.info`), its aliases and holdout figures."""
    tags = info.tags
    promotion = Promotion.from_tags(tags)  # a champion promoted by hand reads as promoted
    market = {k: _number(metrics.get(f"market_{k}")) for k in SCORES}
    low, high = _number(metrics.get("clv_low")), _number(metrics.get("clv_high"))
    return RegisteredVersion(
        version=info.version,
        semver=tags.get("semver"),
        aliases=sorted(aliases),
        registered_at=tags.get("registered_at"),
        trained_through=tags.get("data.trained_through"),
        refit_of=tags.get("refit_of"),
        archived=tags.get("archived") == "true",
        promoted=promotion.promoted,
        promotion_reason=promotion.reason,
        holdout=Scores(n=metrics.get("n"), **{k: _number(metrics.get(k)) for k in SCORES}),
        market=MarketScores(forecaster=forecaster, n=metrics.get("n"), **market)
        if any(v is not None for v in market.values())
        else None,
        clv_mean=_number(metrics.get("clv_mean")),
        clv_ci=[low, high] if low is not None and high is not None else None,
    )


def reliability_of(table: pd.DataFrame, version: str) -> Calibration:
    """The logged reliability table (`tasks.train.reliability_table`) as curves per forecaster."""
    curves: dict[str, list[ReliabilityPoint]] = {}
    for row in table.to_dict("records"):
        point = ReliabilityPoint.model_validate(
            {
                "class": row["class"],
                "bin": int(row["bin"]),
                "count": int(row["count"]),
                "mean_predicted": float(row["mean_predicted"]),
                "observed": float(row["observed"]),
            }
        )
        curves.setdefault(str(row["forecaster"]), []).append(point)
    return Calibration(version=version, curves=curves)


class RegistryView:
    """Reads the registry for `GET /models`; the champion's curves are read once per version."""

    def __init__(self, registry: Any, forecaster: str) -> None:
        self.registry = registry
        self.forecaster = forecaster
        self._curves: dict[str, Calibration | None] = {}

    def report(self, limit: int) -> ModelsReport:
        registry = self.registry
        versions = sorted(registry.versions(), key=lambda v: int(v.version), reverse=True)
        champion = registry.champion()
        aliases = registry.aliases()
        views = [
            version_view(
                registry.info(v),
                aliases.get(str(v.version), []),
                registry.holdout_metrics(v),
                self.forecaster,
            )
            for v in versions[:limit]
        ]
        calibration = None
        if champion is not None:
            calibration = self._calibration(champion)
        return ModelsReport(
            model_name=registry.name,
            champion=None if champion is None else str(champion.version),
            versions=views,
            calibration=calibration,
        )

    def _calibration(self, champion: Any) -> Calibration | None:
        key = str(champion.version)
        if key not in self._curves:
            judged = champion
            if champion.tags.get("refit_of"):  # its curves are the judged version's
                judged = self.registry.client.get_model_version(
                    self.registry.name, champion.tags["refit_of"]
                )
            self._curves[key] = self._read_curves(judged)
        return self._curves[key]

    def _read_curves(self, version: Any) -> Calibration | None:
        """The version's run's reliability table; None when the run logged none (older runs)."""
        import mlflow
        from mlflow.exceptions import MlflowException

        with tempfile.TemporaryDirectory() as tmp:
            try:
                local = mlflow.artifacts.download_artifacts(
                    run_id=version.run_id,
                    artifact_path=RELIABILITY_ARTIFACT,
                    dst_path=tmp,
                    tracking_uri=self.registry.tracking_uri,
                )
            except (MlflowException, OSError):
                return None
            return reliability_of(pd.read_csv(Path(local)), str(version.version))
