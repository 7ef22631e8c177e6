"""The MLflow model registry adapter: one registered model, versions moved by aliases.

The whole ensemble is one MLflow model (a pyfunc: feature rows in, H/D/A probabilities out).
`champion` is what the service serves; `challenger` marks the latest candidate the gate kept out.
Stages are deprecated in MLflow 3 and not used. Every version carries the few tags a person
reads on the MLflow model page: its semantic version, the hashes it is numbered by, the git
commit, its leagues and last training match, and how it was promoted (by the gate or by hand,
by whom, when, why), and a description that says it in words: what it trained on, its holdout
log loss beside the market's, and how it was promoted (`version_description`). The numbers a
person compares are metrics of its training run, where the runs table and charts compare them:
its scores on the gate's holdout (`holdout_*`, linked to the logged model) and the figures the
gate held it to (`gate_*`; the market tolerance, a setting, is the parameter
`gate_market_tolerance`).

Writes that read-then-change the registry (numbering a semantic version, moving `champion`) hold
a file lock when the store is a local SQLite file, so that two pipelines running at once
neither lose a version nor crown two champions. A tracking server serialises by itself.

A registration is several MLflow calls and none of them can be undone by a process that is
killed, so a version is created with a `registration.pending` tag naming its process
(`host:pid`) and loses it once the gate's alias has moved — the alias is the commit point. A
pending version without an alias is invisible to every reader here (`versions`,
`compare_models`, `promote_to_production`; the service reads only `champion`); the semantic
numbering counts it while its process lives, and the next registration deletes it once its
process is gone. One whose alias moved is complete and only loses the tag.

A refit (`register_refit`) is the promoted version's configuration trained again on every
played match, the gate's holdout included: a patch of its semantic version, tagged `refit_of`
with the gate's decision of the version it refits (whose holdout scores are its own), served
in that version's place (`promote_refit`) and replacing what that version replaced, so that a
rollback goes to the champion before them both.
"""

from __future__ import annotations

import fcntl
import getpass
import json
import os
import socket
import subprocess
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

import pandas as pd

from sabiscore.faults import Stage, fault_point
from sabiscore.promotion import Decision, TrainedVersion, next_semver, refit_semver

DEFAULT_MODEL_NAME = "sabiscore-ensemble"
CHAMPION = "champion"
CHALLENGER = "challenger"
ENTRY_POINT = Path(__file__).with_name("pyfunc_entry.py")
METRIC_PREFIX = "holdout."  # the holdout scores as version tags, in stores before run metrics
HOLDOUT_METRIC = "holdout_"  # a training run's scores on the gate's holdout
GATE_METRIC = "gate_"  # the figures the gate held the version to, on its run
COUNTS = ("n", "bets", "clv_bets")
#: Data tags a person reads on the model page; the rest of what a version saw (seasons, rows)
#: is its run's: the datasets it logged, its parameters and metrics.
DATA_TAGS = ("leagues", "trained_through")
PENDING = "registration.pending"  # host:pid of the process still registering the version
REFIT_OF = "refit_of"  # on a refit: the version the gate judged, whose configuration it refits
TRAINED_THROUGH = "data.trained_through"  # kick-off of the version's last training match
CARRIED = (METRIC_PREFIX, "promotion.")
#: The serving state (sabiscore/serving_state.py): embedded in the model's files at
#: registration (`<ensemble>/serving/`), then updated as runs of its own whose id the version's
#: tag names; `STATE_HISTORY` is the digest of the history the newest one was built from.
EMBEDDED_STATE = "serving"
STATE_RUN = "serving_state.run_id"
STATE_HISTORY = "serving_state.history"
STATE_ARTIFACT = "serving_state"  # a refit's tags taken from the version it refits
_REQUIREMENTS = ("mlflow", "numpy", "pandas", "scikit-learn", "xgboost", "lightgbm")
#: Starts the paragraph of a version's description that each promotion rewrites.
PROMOTION_NOTE = "**Promotion:** "


@dataclass(frozen=True)
class Candidate:
    """What registering a trained ensemble needs; the ensemble is exported to `ensemble_dir`."""

    ensemble_dir: Path
    input_example: pd.DataFrame
    output_example: pd.DataFrame
    holdout_metrics: Mapping[str, float]
    holdout_id: str
    feature_hash: str
    params_hash: str
    data: Mapping[str, Any] = field(default_factory=dict)
    holdout_predictions: pd.DataFrame | None = None  # match_id x H/D/A, logged with the run
    state_history: str | None = None  # digest of the serving state inside ensemble_dir


class PromotedBy(StrEnum):
    GATE = "gate"
    HAND = "hand"  # `sabiscore promote VERSION`: the gate is not asked


@dataclass(frozen=True)
class Promotion:
    """How a version came to be champion (or why not), from its `promotion.*` tags.

    `promoted` is whether it was made champion: by the gate, or by hand whatever the gate's
    verdict. A store from before `promotion.by` has the gate's verdict and a reason, "promoted by
    hand" once it was made champion by hand: `by` is read from them.

    >>> legacy = {"promotion.promoted": "false", "promotion.reason": "promoted by hand"}
    >>> Promotion.from_tags(legacy).promoted, Promotion.from_tags(legacy).words()
    (True, 'hand')
    """

    promoted: bool | None  # None: never judged, never promoted
    by: PromotedBy | None = None
    user: str | None = None
    at: str | None = None
    reason: str | None = None

    @classmethod
    def from_tags(cls, tags: Mapping[str, str]) -> Promotion:
        verdict, reason = tags.get("promotion.promoted"), tags.get("promotion.reason")
        by = tags.get("promotion.by")
        if by is None and verdict is not None:
            by = PromotedBy.HAND if reason == "promoted by hand" else PromotedBy.GATE
        promoted = True if by == PromotedBy.HAND else None if verdict is None else verdict == "true"
        return cls(
            promoted,
            PromotedBy(by) if by else None,
            tags.get("promotion.user"),
            tags.get("promotion.at", tags.get("promoted_at")),
            reason,
        )

    def words(self) -> str | None:
        """`gate`, `hand (alice)`: how it was made champion, for a table (None: it was not)."""
        if self.by is None or not self.promoted:
            return None
        by_hand = self.by == PromotedBy.HAND and self.user
        return f"{self.by} ({self.user})" if by_hand else str(self.by)


def trained_words(
    data: Mapping[str, Any], holdout: Mapping[str, float], refit_of: str | None = None
) -> str:
    """What a version trained on and how it scored on the gate's holdout next to the market,
    for its description; a refit's scores are those of the version it refits (`refit_of`).

    >>> data = {"leagues": ["E0"], "train_seasons": ["2021-2022", "2022-2023"], "n_train": 760,
    ...         "trained_through": "2023-05-28 16:30:00", "test_seasons": ["2023-2024"]}
    >>> print(trained_words(data, {"n": 380, "log_loss": 0.9712, "market_log_loss": 0.9655}))
    Trained on E0 2021-2022..2022-2023: 760 matches through 2023-05-28. On the gate's holdout \
(2023-2024, 380 matches) its log loss is 0.9712, the market's 0.9655 (lower is better).
    """
    from models.tracking import season_span

    leagues = ", ".join(data.get("leagues") or ()) or "-"
    seen = (
        f"{leagues} {season_span(data.get('train_seasons') or [])}: "
        f"{data.get('n_train', '?')} matches through {str(data.get('trained_through'))[:10]}"
    )
    if "log_loss" not in holdout:
        scored = "It has no holdout scores."
    else:
        market = holdout.get("market_log_loss")
        versus = (
            f", the market's {market:.4f} (lower is better)"
            if market is not None
            else " (no market prices to compare)"
        )
        scored = f"its log loss is {holdout['log_loss']:.4f}{versus}."
    if refit_of is not None:
        return (
            f"A refit of version {refit_of} on every played match: {seen}. It has no holdout "
            f"of its own; on version {refit_of}'s, {scored.removeprefix('its ')}"
        )
    where = f"{season_span(data.get('test_seasons') or [])}, {holdout.get('n', '?')} matches"
    return f"Trained on {seen}. On the gate's holdout ({where}) {scored}"


def promotion_words(promotion: Promotion) -> str:
    """How a version was promoted (or kept out), for its description.

    >>> promotion_words(Promotion(True, PromotedBy.HAND, "alice", "2026-05-01T09:00:00+00:00",
    ...                           "promoted by hand"))
    'promoted by hand by alice on 2026-05-01: promoted by hand'
    >>> promotion_words(Promotion(None))
    'not judged yet.'
    """
    if promotion.by is None:
        return "not judged yet."
    on = f" on {promotion.at[:10]}" if promotion.at else ""
    reason = f": {promotion.reason}" if promotion.reason else ""
    if promotion.by == PromotedBy.HAND:
        return f"promoted by hand by {promotion.user or 'someone'}{on}{reason}"
    verdict = "promoted by the gate" if promotion.promoted else "kept out by the gate"
    return f"{verdict}{on}{reason}"


def version_description(trained: str, promotion: Promotion) -> str:
    """A version's description: what it trained on and scored (`trained_words`), then its
    promotion in a paragraph of its own, which each promotion rewrites."""
    return "\n\n".join(
        part for part in (trained, f"{PROMOTION_NOTE}{promotion_words(promotion)}") if part
    )


def os_user() -> str:
    """Who runs this process, for the promotion record."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name, no passwd entry (a bare container)
        return "unknown"


@dataclass(frozen=True)
class VersionInfo:
    version: str
    semver: str
    aliases: tuple[str, ...]
    tags: Mapping[str, str]


def git_commit(cwd: Path | None = None) -> str:
    """The checkout's commit (with `-dirty` when it has changes), or "unknown" outside git."""
    cwd = cwd or Path(__file__).resolve().parent
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=cwd,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{commit}-dirty" if dirty else commit


def tracking_uri(data_dir: Path) -> str:
    """`$MLFLOW_TRACKING_URI` (a server) when set, else a SQLite file in the data directory."""
    return (
        os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{Path(data_dir).resolve()}/mlflow.db"
    )


def point_mlflow_at(uri: str) -> None:
    """Set MLflow's global tracking URI without touching `$MLFLOW_TRACKING_URI`.

    `mlflow.set_tracking_uri` also writes the environment variable, which would make every
    later `tracking_uri(data_dir)` in this process answer with the first store it used (the
    variable means "the user chose a server"). So the variable is put back as it was.
    """
    import mlflow

    before = os.environ.get("MLFLOW_TRACKING_URI")
    mlflow.set_tracking_uri(uri)
    if before is None:
        os.environ.pop("MLFLOW_TRACKING_URI", None)
    else:
        os.environ["MLFLOW_TRACKING_URI"] = before


def this_process() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def process_is_gone(owner: str) -> bool:
    """True when `owner` (host:pid) ran on this host and no longer runs; another host's
    process cannot be asked, so it is never taken for gone."""
    host, _, pid = owner.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        return False
    return False


def _requirements() -> list[str]:
    from importlib.metadata import version

    return [f"{name}=={version(name)}" for name in _REQUIREMENTS]


class ModelRegistry:
    """The design's registry operations on MLflow 3 aliases."""

    def __init__(
        self, tracking_uri: str, name: str = DEFAULT_MODEL_NAME, client: Any | None = None
    ) -> None:
        """`client`: MLflow's (the default), or one answering the same calls, such as
        `models.sqlite_registry.SqliteClient`, whose `error` it raises where MLflow's raises
        an `MlflowException`."""
        self.tracking_uri = tracking_uri
        self.name = name
        self._held = 0  # re-entrant: promote inside the gate's lock must not wait for itself
        if client is not None:
            self.client, self.error = client, client.error
            return
        from mlflow import MlflowClient
        from mlflow.exceptions import MlflowException

        self.error: type[Exception] = MlflowException  # what is not there, among others
        with self.lock():  # the first client on a fresh SQLite file creates its tables
            self.client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)

    def _transaction(self) -> AbstractContextManager[Any]:
        """One transaction on a client that has them (the SQLite one); MLflow's client commits
        each call by itself."""
        begin = getattr(self.client, "transaction", None)
        return begin() if begin is not None else nullcontext()

    # --- locking ------------------------------------------------------------------------------

    @contextmanager
    def lock(self) -> Iterator[None]:
        """An exclusive lock beside a SQLite store; nothing for a tracking server."""
        if not self.tracking_uri.startswith("sqlite:///") or self._held:
            self._held += 1
            try:
                yield
            finally:
                self._held -= 1
            return
        path = Path(self.tracking_uri.removeprefix("sqlite:///") + ".lock")
        path.parent.mkdir(parents=True, exist_ok=True)  # a store not made yet (`serve` on it)
        with path.open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            self._held += 1
            try:
                yield
            finally:
                self._held -= 1
                fcntl.flock(handle, fcntl.LOCK_UN)

    # --- reading ------------------------------------------------------------------------------

    def _ensure_registered_model(self) -> None:
        try:
            self.client.get_registered_model(self.name)
        except self.error:
            self.client.create_registered_model(
                self.name, description="SabiScore stacked ensemble: H/D/A probabilities."
            )

    def versions(self) -> list[Any]:
        """Every complete version of the model, oldest first (not one still being registered,
        nor one a killed registration left)."""
        aliased = set(self.aliases())
        return [
            v for v in self._all_versions() if PENDING not in v.tags or str(v.version) in aliased
        ]

    def _all_versions(self) -> list[Any]:
        found = self.client.search_model_versions(f"name = '{self.name}'")
        return sorted(found, key=lambda v: int(v.version))

    def aliases(self) -> dict[str, list[str]]:
        """version -> its aliases (a search of versions does not fill them in)."""
        try:
            model = self.client.get_registered_model(self.name)
        except self.error:
            return {}
        found: dict[str, list[str]] = {}
        for alias, number in model.aliases.items():
            found.setdefault(str(number), []).append(alias)
        return found

    def version_by_alias(self, alias: str) -> Any | None:
        try:
            return self.client.get_model_version_by_alias(self.name, alias)
        except self.error:
            return None

    def champion(self) -> Any | None:
        return self.version_by_alias(CHAMPION)

    def info(self, version: Any) -> VersionInfo:
        return VersionInfo(
            version=str(version.version),
            semver=version.tags.get("semver", "?"),
            aliases=tuple(version.aliases or ()),
            tags=dict(version.tags),
        )

    def trained_version(self, version: Any) -> TrainedVersion:
        """What the gate needs to know of a version: its last training match and, for a
        refit, the same of the version it refits (None if that one was deleted)."""
        judged = None
        if version.tags.get(REFIT_OF):
            try:
                parent = self.client.get_model_version(self.name, version.tags[REFIT_OF])
            except self.error:
                parent = None
            if parent is not None:
                judged = TrainedVersion(str(parent.version), parent.tags.get(TRAINED_THROUGH))
        return TrainedVersion(str(version.version), version.tags.get(TRAINED_THROUGH), judged)

    def holdout_metrics(self, version: Any) -> dict[str, float]:
        """The version's scores on the gate's holdout: its run's `holdout_*` metrics (a
        refit's are those of the version it refits, judged on them), or its `holdout.*` tags in
        a store from before run metrics."""
        metrics = {
            key.removeprefix(METRIC_PREFIX): float(value)
            for key, value in version.tags.items()
            if key.startswith(METRIC_PREFIX)
        }
        if not metrics:
            metrics = self._run_metrics(self._judged(version), HOLDOUT_METRIC)
        return {k: int(v) if k in COUNTS else v for k, v in metrics.items()}

    def _judged(self, version: Any) -> Any | None:
        """The version the gate judged for `version`: itself, or the one a refit refits."""
        if not version.tags.get(REFIT_OF):
            return version
        try:
            return self.client.get_model_version(self.name, version.tags[REFIT_OF])
        except self.error:  # deleted
            return None

    def _run_metrics(self, version: Any | None, prefix: str) -> dict[str, float]:
        if version is None or not version.run_id:
            return {}
        try:
            found = self.client.get_run(version.run_id).data.metrics
        except self.error:  # its run was deleted
            return {}
        return {k.removeprefix(prefix): v for k, v in found.items() if k.startswith(prefix)}

    def promotion(self, version: Any) -> Promotion:
        return Promotion.from_tags(version.tags)

    # --- the design's operations --------------------------------------------------------------

    def register_model(self, candidate: Candidate, run_id: str) -> Any:
        """Log the ensemble as a pyfunc in `run_id`, register it, and tag the new version."""

        def semver(numbered: list[Any]) -> str:
            latest = numbered[-1] if numbered else None
            return next_semver(
                latest.tags.get("semver") if latest else None,
                latest.tags.get("feature_hash") if latest else None,
                latest.tags.get("params_hash") if latest else None,
                candidate.feature_hash,
                candidate.params_hash,
            )

        trained = trained_words(candidate.data, candidate.holdout_metrics)
        return self._register(candidate, run_id, semver, {}, trained)

    def register_refit(self, candidate: Candidate, run_id: str, judged: str) -> Any:
        """Register `candidate`, a refit of version `judged`, like a model: a patch of its
        semantic version, tagged `refit_of`, with its holdout id and the gate's decision carried
        over (the refit has no holdout of its own: its scores are those of `judged`,
        `holdout_metrics`) and a reason that says so."""
        parent = self.client.get_model_version(self.name, str(judged))
        carried = {k: v for k, v in parent.tags.items() if k.startswith(CARRIED)}
        candidate = replace(
            candidate, holdout_metrics={}, holdout_id=parent.tags.get("holdout_id", "none")
        )
        through = candidate.data.get("trained_through")
        reason = (
            f"a refit of version {judged} ({parent.tags.get('semver', '?')}) on every played "
            f"match through {through}; the gate on version {judged}: "
            f"{parent.tags.get('promotion.reason', 'no reason recorded')}"
        )
        tags = {**carried, REFIT_OF: str(judged), "promotion.reason": reason}

        def semver(numbered: list[Any]) -> str:
            taken = [v.tags.get("semver", "?") for v in numbered]
            return refit_semver(parent.tags["semver"], taken)

        trained = trained_words(candidate.data, self.holdout_metrics(parent), str(judged))
        return self._register(candidate, run_id, semver, tags, trained)

    def _register(
        self,
        candidate: Candidate,
        run_id: str,
        semver_of: Callable[[list[Any]], str],
        extra_tags: Mapping[str, str],
        trained: str,
    ) -> Any:
        """Log, number (`semver_of` every version, pending ones included), tag and describe
        (`trained`: what it trained on and scored) a version."""
        import mlflow
        from mlflow.models import infer_signature

        point_mlflow_at(self.tracking_uri)
        signature = infer_signature(candidate.input_example, candidate.output_example)
        with self.lock():
            self._ensure_registered_model()
            self.clear_interrupted()
            semver = semver_of(self._all_versions())  # a live registration's pending included
            with mlflow.start_run(run_id=run_id):
                logged = mlflow.pyfunc.log_model(
                    name="ensemble",
                    python_model=str(ENTRY_POINT),
                    artifacts={"ensemble": str(candidate.ensemble_dir)},
                    signature=signature,
                    input_example=candidate.input_example,
                    pip_requirements=_requirements(),
                    metadata={"semver": semver, "holdout_id": candidate.holdout_id},
                )
            self._describe_run(run_id, semver, candidate.holdout_metrics, logged.model_id)
            fault_point(Stage.MODEL_LOGGED)
            tags = {**self._tags(candidate, semver), **extra_tags}
            version = self.client.create_model_version(
                self.name,
                logged.model_uri,
                run_id=run_id,
                tags={**tags, PENDING: this_process()},
                description=version_description(trained, Promotion.from_tags(tags)),
                model_id=logged.model_id,  # a tracking server insists on it
            )
            fault_point(Stage.VERSION_CREATED)
        if candidate.holdout_predictions is not None:
            with tempfile.TemporaryDirectory() as tmp:
                path = Path(tmp) / "predictions.csv"
                candidate.holdout_predictions.to_csv(path, index_label="match_id")
                self.client.log_artifact(run_id, str(path), artifact_path="holdout")
        return self.client.get_model_version(self.name, version.version)

    def _describe_run(
        self, run_id: str, semver: str, holdout: Mapping[str, float], model_id: str
    ) -> None:
        """The run's name gains the version's semantic version; its holdout scores become
        metrics of the run and of the logged model."""
        from mlflow.entities import Metric

        name = self.client.get_run(run_id).info.run_name or "run"
        if not name.endswith(f" v{semver}"):
            self.client.update_run(run_id, name=f"{name} v{semver}")
        stamp = int(datetime.now(UTC).timestamp() * 1000)
        metrics = [
            Metric(f"{HOLDOUT_METRIC}{k}", float(v), stamp, 0, model_id=model_id)
            for k, v in holdout.items()
        ]
        if metrics:
            self.client.log_batch(run_id, metrics=metrics)

    def complete_registration(self, version: str) -> None:
        """The version's alias has moved: it is complete, for every reader."""
        self.client.delete_model_version_tag(self.name, str(version), PENDING)

    def discard_registration(self, version: str) -> bool:
        """Delete a version this process registered and no alias reached (a step after its
        registration failed), rather than leave it to the next registration once this process
        is gone. Returns whether it was deleted."""
        with self.lock():
            target = self.client.get_model_version(self.name, str(version))
            if target.tags.get(PENDING) != this_process() or str(version) in self.aliases():
                return False
            self.client.delete_model_version(self.name, str(version))
        return True

    def clear_interrupted(self) -> list[str]:
        """Settle the versions of registrations whose process is gone: one whose alias moved
        is complete (its tag goes), any other is deleted (MLflow never reuses its number).
        Returns the versions deleted."""
        aliased = self.aliases()
        deleted = []
        for version in self._all_versions():
            owner = version.tags.get(PENDING)
            if owner is None or not process_is_gone(owner):
                continue
            if str(version.version) in aliased:
                self.complete_registration(version.version)
                continue
            self.client.delete_model_version(self.name, version.version)
            deleted.append(str(version.version))
            print(f"deleted version {version.version}: its registration ({owner}) was killed")
        return deleted

    def _tags(self, candidate: Candidate, semver: str) -> dict[str, str]:
        tags = {
            "semver": semver,
            "holdout_id": candidate.holdout_id,
            "feature_hash": candidate.feature_hash,
            "params_hash": candidate.params_hash,
            "git_commit": git_commit(),
            "registered_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        tags.update(
            {
                f"data.{k}": v if isinstance(v, str) else json.dumps(v)
                for k, v in candidate.data.items()
                if k in DATA_TAGS
            }
        )
        if candidate.state_history:
            tags[STATE_HISTORY] = candidate.state_history
        return tags

    def record_decision(self, version: str, decision: Decision) -> None:
        """The gate's verdict and reason as tags (and in the description); what it measured and
        held the version to as `gate_*` metrics of its run (the ECE bound, sized by the market's
        ECE on the holdout, and the gap to the market), and its setting, the market tolerance,
        as the run's parameter `gate_market_tolerance`."""
        from mlflow.entities import Metric, Param

        self.client.set_model_version_tag(
            self.name, version, "promotion.promoted", str(decision.promote).lower()
        )
        self.client.set_model_version_tag(self.name, version, "promotion.by", PromotedBy.GATE)
        self.client.set_model_version_tag(self.name, version, "promotion.reason", decision.reason)
        target = self.client.get_model_version(self.name, str(version))
        stamp = int(datetime.now(UTC).timestamp() * 1000)
        metrics = [
            Metric(f"{GATE_METRIC}{name}", float(getattr(decision, name)), stamp, 0)
            for name in ("ece_bound", "market_gap")
            if getattr(decision, name) is not None
        ]
        params = (
            [Param(f"{GATE_METRIC}market_tolerance", str(decision.market_tolerance))]
            if decision.market_tolerance is not None
            else []
        )
        if (metrics or params) and target.run_id:
            self.client.log_batch(target.run_id, metrics=metrics, params=params)
        self._describe_promotion(target)

    def _describe_promotion(self, target: Any) -> None:
        """The promotion paragraph of the version's description, from its `promotion.*` tags
        now (what it trained on stays)."""
        trained = (target.description or "").split(f"\n\n{PROMOTION_NOTE}")[0]
        trained = "" if trained.startswith(PROMOTION_NOTE) else trained
        text = version_description(trained, Promotion.from_tags(target.tags))
        self.client.update_model_version(self.name, str(target.version), description=text)

    def promote_to_production(
        self, version: str, reason: str = "promoted by hand", by: PromotedBy = PromotedBy.HAND
    ) -> str | None:
        """Move `champion` to `version` (remembering the one it replaces); returns that one.

        The version's tags record how (`promotion.by`: the gate, or by hand), who (the OS user)
        and when; promoted by hand, its reason keeps the gate's verdict beside it. On a client
        with transactions (the SQLite one) the whole move is one."""
        with self.lock(), self._transaction():
            target = self.client.get_model_version(self.name, str(version))
            if target.tags.get("archived") == "true":
                raise ValueError(f"version {version} is archived; it cannot become champion")
            owner = target.tags.get(PENDING)
            if owner is not None and owner != this_process() and not target.aliases:
                raise ValueError(f"version {version} is not registered completely ({owner})")
            previous = self.champion()
            if previous is not None and str(previous.version) == str(target.version):
                return str(previous.version)
            # every tag first, the alias last: a kill in between leaves the champion as it was
            if previous is not None:
                self.client.set_model_version_tag(
                    self.name, target.version, "previous_champion", str(previous.version)
                )
            record = self._promotion_tags(target, reason, PromotedBy(by))
            for key, value in record.items():
                self.client.set_model_version_tag(self.name, target.version, key, value)
            self.client.set_registered_model_alias(self.name, CHAMPION, target.version)
            if CHALLENGER in (target.aliases or []):
                self.client.delete_registered_model_alias(self.name, CHALLENGER)
            self._describe_promotion(self.client.get_model_version(self.name, str(version)))
        return str(previous.version) if previous is not None else None

    @staticmethod
    def _promotion_tags(target: Any, reason: str, by: PromotedBy) -> dict[str, str]:
        """`promotion.*` tags of a version made champion now: promoted, by what, whom, when."""
        earlier = Promotion.from_tags(target.tags)
        if by == PromotedBy.HAND and earlier.reason:
            if earlier.by == PromotedBy.GATE:
                verdict = "promoted it" if earlier.promoted else "kept it out"
                reason = f"{reason}; the gate had {verdict}: {earlier.reason}"
            elif earlier.reason.startswith(reason):  # by hand again: the gate's verdict stays
                reason = earlier.reason
        return {
            "promotion.promoted": "true",
            "promotion.by": str(by),
            "promotion.user": os_user(),
            "promotion.at": datetime.now(UTC).isoformat(timespec="seconds"),
            "promotion.reason": reason,
        }

    def promote_refit(self, version: str, judged: str) -> str | None:
        """Serve `version`, a refit of `judged`, in its place: `champion` moves only while
        `judged` still holds it (another pipeline may have promoted since the gate), and the refit
        replaces the champion `judged` replaced, so a rollback skips the judged version that was
        champion only as the gate's commit point. Returns that previous champion (None: none)."""
        with self.lock():
            current = self.champion()
            if current is None or str(current.version) != str(judged):
                now = f"version {current.version}" if current is not None else "none"
                raise ValueError(
                    f"version {judged} is no longer the champion (now {now}): its "
                    f"refit, version {version}, is not served"
                )
            target = self.client.get_model_version(self.name, str(version))
            if target.tags.get(REFIT_OF) != str(judged):
                raise ValueError(f"version {version} is not a refit of version {judged}")
            previous = current.tags.get("previous_champion")
            if previous:
                self.client.set_model_version_tag(
                    self.name, target.version, "previous_champion", previous
                )
            # its promotion.* tags are those of `judged`, carried at registration: the gate's
            self.client.set_registered_model_alias(self.name, CHAMPION, target.version)
            self.complete_registration(target.version)
        return previous or None

    def set_challenger(self, version: str) -> None:
        self.client.set_registered_model_alias(self.name, CHALLENGER, str(version))

    def rollback(self) -> tuple[str, str]:
        """Move `champion` back to the champion it replaced, at once (in one transaction on a
        client that has them). Returns (from, to)."""
        with self.lock(), self._transaction():
            current = self.champion()
            if current is None:
                raise ValueError(f"{self.name} has no champion to roll back")
            previous = current.tags.get("previous_champion")
            if not previous:
                refit = current.tags.get(REFIT_OF)
                what = f" (a refit of version {refit})" if refit else ""
                raise ValueError(
                    f"version {current.version}{what} was the first champion: "
                    "nothing to roll back to"
                )
            self.client.set_registered_model_alias(self.name, CHAMPION, previous)
            stamp = datetime.now(UTC).isoformat(timespec="seconds")
            self.client.set_model_version_tag(self.name, current.version, "rolled_back_at", stamp)
        return str(current.version), previous

    def archive_model(self, version: str) -> None:
        """Take a version out of use: its aliases go, a tag says it is archived."""
        with self.lock():
            target = self.client.get_model_version(self.name, str(version))
            if CHAMPION in (target.aliases or []):
                raise ValueError(
                    f"version {version} is the champion: promote another or roll back first"
                )
            for alias in target.aliases or []:
                self.client.delete_registered_model_alias(self.name, alias)
            self.client.set_model_version_tag(self.name, target.version, "archived", "true")

    def model_uri(self, alias_or_version: str = CHAMPION) -> str:
        if alias_or_version.isdigit():
            return f"models:/{self.name}/{alias_or_version}"
        return f"models:/{self.name}@{alias_or_version}"

    def get_production_model(self) -> tuple[Any, Any]:
        """(the champion's model version, its loaded pyfunc)."""
        import mlflow

        champion = self.champion()
        if champion is None:
            raise ValueError(f"{self.name} has no champion yet: run `sabiscore pipeline`")
        point_mlflow_at(self.tracking_uri)
        return champion, mlflow.pyfunc.load_model(self.model_uri(CHAMPION))

    def load_ensemble(self, alias_or_version: str = CHAMPION) -> Any:
        """The compiled ensemble inside a version (no pyfunc wrapper): for fast serving.

        Its parts are read into memory, so the downloaded copy is removed at once.
        """
        import mlflow

        from models.compiled import load_ensemble

        point_mlflow_at(self.tracking_uri)
        with tempfile.TemporaryDirectory(prefix="sabiscore-model-") as tmp:
            local = mlflow.artifacts.download_artifacts(
                artifact_uri=self.model_uri(alias_or_version), dst_path=tmp
            )
            return load_ensemble(Path(local) / "artifacts" / "ensemble")

    def ensemble_metadata(self, alias_or_version: str = CHAMPION) -> dict[str, Any]:
        """The metadata of a version's ensemble (leagues, feature settings), downloading its
        manifest alone, not its parts."""
        import mlflow

        from models.compiled import MANIFEST, read_metadata

        point_mlflow_at(self.tracking_uri)
        with tempfile.TemporaryDirectory(prefix="sabiscore-model-") as tmp:
            mlflow.artifacts.download_artifacts(
                artifact_uri=f"{self.model_uri(alias_or_version)}/artifacts/ensemble/{MANIFEST}",
                dst_path=tmp,
            )
            return read_metadata(Path(tmp) / "artifacts" / "ensemble")

    def load_served(self, version: Any) -> tuple[Any, Any, str | None]:
        """What the service serves of `version` (a ModelVersion): its compiled ensemble, its
        newest serving state (`ServingState`; None for a version registered without one) and
        where that state came from (the state run's id, "embedded", or None)."""
        import mlflow

        from models.compiled import load_ensemble
        from sabiscore.features import FeatureConfig
        from sabiscore.serving_state import ServingState

        os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # no log noise
        point_mlflow_at(self.tracking_uri)
        with tempfile.TemporaryDirectory(prefix="sabiscore-model-") as tmp:
            local = Path(
                mlflow.artifacts.download_artifacts(
                    artifact_uri=self.model_uri(str(version.version)), dst_path=tmp
                )
            )
            ensemble = load_ensemble(local / "artifacts" / "ensemble")
            features = FeatureConfig.from_dict(ensemble.metadata.get("features"))
            run_id = version.tags.get(STATE_RUN)
            if run_id:
                published = mlflow.artifacts.download_artifacts(
                    run_id=run_id,
                    artifact_path=STATE_ARTIFACT,
                    dst_path=str(Path(tmp) / "state"),
                    tracking_uri=self.tracking_uri,
                )
                return ensemble, ServingState.load(Path(published), features), run_id
            embedded = local / "artifacts" / "ensemble" / EMBEDDED_STATE
            if embedded.is_dir():
                return ensemble, ServingState.load(embedded, features), "embedded"
            return ensemble, None, None

    def state_history(self, version: str) -> str | None:
        """The history digest of the version's newest serving state (None: none recorded)."""
        return self.client.get_model_version(self.name, str(version)).tags.get(STATE_HISTORY)

    def record_state(self, version: str, run_id: str | None, history: str) -> None:
        """The version's newest serving state is `run_id`'s (None: the embedded one)."""
        if run_id is not None:
            self.client.set_model_version_tag(self.name, str(version), STATE_RUN, run_id)
        self.client.set_model_version_tag(self.name, str(version), STATE_HISTORY, history)

    def compare_models(self) -> pd.DataFrame:
        """Versions x holdout metrics, with semantic version, aliases and how each was promoted
        (`promoted`: made champion, by the gate or by hand; `by`: which, and who)."""
        versions = self.versions()
        if not versions:
            return pd.DataFrame()
        rows = []
        aliases = self.aliases()
        for version in versions:
            tags = version.tags
            promotion = Promotion.from_tags(tags)
            rows.append(
                {
                    "version": int(version.version),
                    "semver": tags.get("semver"),
                    "aliases": ",".join(sorted(aliases.get(str(version.version), []))),
                    **{k: v for k, v in self.holdout_metrics(version).items()},
                    "promoted": promotion.promoted,
                    "by": promotion.words(),
                    "refit_of": tags.get(REFIT_OF),
                    "archived": tags.get("archived") == "true",
                    "registered_at": tags.get("registered_at"),
                    "reason": tags.get("promotion.reason"),
                }
            )
        return pd.DataFrame(rows)
