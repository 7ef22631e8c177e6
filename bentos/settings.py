"""The service's settings: `configs/serving.yaml` and `configs/staking.yaml`, plus the
environment for what must not live in a file (the API token, the revalidation secret, the
Sentry DSN) and for where things are (data directory, MLflow, the Next.js site).

Read once at start-up by `ServingSettings.from_environment()`; nothing here reads a file or the
environment at import.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from bentos.auth import API_TOKEN_ENV, AuthPolicy
from models.registry import tracking_uri
from sabiscore.config import default_data_dir, load_config, reject_unknown_keys
from sabiscore.odds import ImpliedMethod
from sabiscore.serving_state import ClvSettings
from sabiscore.staking import StakingPolicy

#: Keys of serving.yaml's `edge`. The betting rule itself (min_edge, Kelly, the cap, the sharp
#: check) is configs/staking.yaml's alone, so that the endpoint bets as the backtest measured.
EDGE_KEYS = frozenset({"implied_method", "clv_books", "clv_min_matches"})

#: The development secret of the design; fine on a laptop, refused in production.
DEFAULT_SECRET = "dev-secret-token"
#: Where the environment's name is read, in this order: the design's name, then ours. When
#: both are set they must agree.
ENVIRONMENT_VARIABLES = ("APP_ENV", "SABISCORE_ENV")
#: A browser origin: scheme, host and optional port, nothing after.
ORIGIN = re.compile(r"https?://[A-Za-z0-9.\-\[\]:]+")


class Environment(StrEnum):
    DEVELOPMENT = "development"
    STAGING = "staging"
    PRODUCTION = "production"

    @classmethod
    def parse(cls, name: str) -> Environment:
        """Case and surrounding spaces do not matter; an unknown name is refused rather than
        taken for "not production".

        >>> str(Environment.parse(" Production "))
        'production'
        """
        try:
            return cls(name.strip().lower())
        except ValueError:
            known = ", ".join(e.value for e in cls)
            raise ValueError(f"unknown environment {name!r} (known: {known})") from None


PRODUCTION = Environment.PRODUCTION


def environment_of(environ: Mapping[str, str], configured: str | None) -> Environment:
    """$APP_ENV or $SABISCORE_ENV (refused when they disagree), else serving's `environment`."""
    named = {
        var: Environment.parse(environ[var])
        for var in ENVIRONMENT_VARIABLES
        if (environ.get(var) or "").strip()
    }
    if len(set(named.values())) > 1:
        said = ", ".join(f"{var}={value}" for var, value in named.items())
        raise ValueError(f"the environment is named twice and differently ({said}): set one")
    if named:
        return next(iter(named.values()))
    return Environment.parse(configured or "development")


@dataclass(frozen=True)
class CalibrationThresholds:
    """Holdout ECE bounds of the excellent / good / fair labels (above fair: poor)."""

    excellent: float = 0.02
    good: float = 0.04
    fair: float = 0.07

    def __post_init__(self) -> None:
        if not 0 <= self.excellent < self.good < self.fair:
            raise ValueError(
                "calibration_status thresholds must satisfy 0 <= excellent < good < fair; got "
                f"{self.excellent}, {self.good}, {self.fair}"
            )

    def status(self, ece: float | None) -> str:
        """The label of a holdout ECE; unknown (None or NaN) is poor: nothing vouches for it.

        >>> CalibrationThresholds().status(0.03)
        'good'
        """
        if ece is None or ece != ece:
            return "poor"
        for label in ("excellent", "good", "fair"):
            if ece <= getattr(self, label):
                return label
        return "poor"


@dataclass(frozen=True)
class RevalidationSettings:
    """Where and how the Next.js site is told to rebuild a match page."""

    next_url: str | None
    secret: str = field(repr=False)  # never in a repr, a log line or an error message
    endpoint: str = "/api/revalidate"
    path_template: str = "/match/{match_id}"
    timeout_s: float = 5.0
    retries: int = 3
    backoff_s: float = 0.5
    debounce_s: float = 0.1
    max_in_flight: int = 4
    max_pending: int = 1000

    def __post_init__(self) -> None:
        if self.timeout_s <= 0 or self.retries < 0 or self.backoff_s < 0 or self.debounce_s < 0:
            raise ValueError(
                "revalidation: timeout_s > 0, retries >= 0, backoff_s >= 0 and "
                "debounce_s >= 0 are required"
            )
        if not _positive_int(self.max_in_flight) or not _positive_int(self.max_pending):
            raise ValueError(
                "revalidation: max_in_flight and max_pending must be integers >= 1, got "
                f"{self.max_in_flight!r} and {self.max_pending!r}"
            )

    @property
    def url(self) -> str | None:
        return f"{self.next_url.rstrip('/')}{self.endpoint}" if self.next_url else None


def _positive_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


@dataclass(frozen=True)
class TrackingSettings:
    """serving.yaml's `tracking`: how many posted matches the service keeps, and how long."""

    max_matches: int = 1000
    expire_after_kickoff_h: float | None = 6.0

    def __post_init__(self) -> None:
        if not _positive_int(self.max_matches):
            raise ValueError(
                f"tracking.max_matches must be an integer >= 1, got {self.max_matches!r}"
            )
        hours = self.expire_after_kickoff_h
        if hours is not None and (
            isinstance(hours, bool) or not isinstance(hours, int | float) or hours < 0
        ):
            raise ValueError(
                f"tracking.expire_after_kickoff_h must be null or a number >= 0, got {hours!r}"
            )


@dataclass(frozen=True)
class PushSettings:
    heartbeat_s: float = 15.0
    queue_size: int = 16
    send_timeout_s: float = 5.0
    compression: bool = False

    def __post_init__(self) -> None:
        if self.heartbeat_s <= 0 or self.queue_size < 1 or self.send_timeout_s <= 0:
            raise ValueError("push: heartbeat_s > 0, queue_size >= 1, send_timeout_s > 0")


@dataclass(frozen=True)
class AuthSettings:
    """serving.yaml's `auth`, with the token of $SABISCORE_API_TOKEN."""

    protect_reads: bool = False
    min_secret_length: int = 32
    token: str | None = field(default=None, repr=False)  # never in a repr, a log or an answer

    def __post_init__(self) -> None:
        if not isinstance(self.protect_reads, bool):
            raise ValueError(
                f"auth.protect_reads must be true or false, got {self.protect_reads!r}"
            )
        if (
            isinstance(self.min_secret_length, bool)
            or not isinstance(self.min_secret_length, int)
            or self.min_secret_length < 16
        ):
            raise ValueError(
                "auth.min_secret_length must be an integer >= 16 (a shorter "
                f"secret can be guessed), got {self.min_secret_length!r}"
            )

    @classmethod
    def from_config(cls, auth: Mapping[str, Any], environ: Mapping[str, str]) -> AuthSettings:
        reject_unknown_keys(auth, cls, "serving auth")
        if "token" in auth:
            raise ValueError(
                f"serving auth: the token is read from ${API_TOKEN_ENV} only, never from a file"
            )
        return cls(**auth, token=(environ.get(API_TOKEN_ENV) or "").strip() or None)

    @property
    def policy(self) -> AuthPolicy:
        return AuthPolicy(token=self.token, protect_reads=self.protect_reads)


@dataclass(frozen=True)
class SentrySettings:
    dsn: str | None = field(default=None, repr=False)
    traces_sample_rate: float = 0.1
    environment: str = "development"


@dataclass(frozen=True)
class ServingSettings:
    """Everything the service reads at start-up."""

    data_dir: Path
    tracking_uri: str
    environment: Environment
    model_name: str
    alias: str
    watch_interval_s: float
    calibration: CalibrationThresholds
    max_batch_size: int
    staking: StakingPolicy
    clv_books: tuple[str, ...]
    clv_min_matches: int
    push: PushSettings
    revalidation: RevalidationSettings
    sentry: SentrySettings
    auth: AuthSettings = field(default_factory=AuthSettings)
    tracking: TrackingSettings = field(default_factory=TrackingSettings)
    max_body_bytes: int = 1_048_576
    cors_origins: tuple[str, ...] = ()  # browsers' origins allowed to call (the site's)
    market_forecaster: str = "pinnacle_open"  # the gate's market, named beside its scores

    def __post_init__(self) -> None:
        for origin in self.cors_origins:
            if origin != "*" and not ORIGIN.fullmatch(origin):
                raise ValueError(
                    f"serving cors.allow_origins: {origin!r} is not an origin "
                    "(scheme://host[:port], no path), nor '*'"
                )
        if not _positive_int(self.max_body_bytes):
            raise ValueError(
                f"predict.max_body_bytes must be an integer >= 1, got {self.max_body_bytes!r}"
            )

    @property
    def clv(self) -> ClvSettings:
        """The closing-line model's settings, as the pipeline's serving state reads them."""
        return ClvSettings(self.clv_books, self.clv_min_matches, self.staking.implied_method)

    @classmethod
    def from_config(
        cls, config: Mapping[str, Any], environ: Mapping[str, str], data_dir: Path | None = None
    ) -> ServingSettings:
        """From loaded configs (`load_config()`) and an environment; checks the token and the
        secret (`check_secrets`)."""
        serving = dict(config.get("serving") or {})
        environment = environment_of(environ, serving.get("environment"))
        root = Path(data_dir or environ.get("SABISCORE_DATA_DIR") or default_data_dir())
        model = serving.get("model") or {}
        edge = serving.get("edge") or {}
        check_edge_keys(edge)
        staking = dict(config.get("staking") or {})
        if edge.get("implied_method"):
            staking["implied_method"] = ImpliedMethod(edge["implied_method"])
        sentry = serving.get("sentry") or {}
        clv = ClvSettings.from_config(config)
        settings = cls(
            data_dir=root,
            tracking_uri=environ.get("MLFLOW_TRACKING_URI") or tracking_uri(root),
            environment=environment,
            model_name=model.get("name", "sabiscore-ensemble"),
            alias=model.get("alias", "champion"),
            watch_interval_s=float(model.get("watch_interval_s", 30)),
            calibration=CalibrationThresholds(**(serving.get("calibration_status") or {})),
            max_batch_size=int((serving.get("predict") or {}).get("max_batch_size", 100)),
            staking=StakingPolicy.from_dict(staking),
            clv_books=clv.books,
            clv_min_matches=clv.min_matches,
            push=PushSettings(**(serving.get("push") or {})),
            revalidation=RevalidationSettings(
                next_url=environ.get("NEXT_URL") or None,
                secret=environ.get("REVALIDATE_SECRET") or DEFAULT_SECRET,
                **(serving.get("revalidation") or {}),
            ),
            sentry=SentrySettings(
                dsn=environ.get("SENTRY_DSN") or None,
                traces_sample_rate=float(sentry.get("traces_sample_rate", 0.1)),
                environment=sentry.get("environment") or str(environment),
            ),
            auth=AuthSettings.from_config(serving.get("auth") or {}, environ),
            tracking=_section(TrackingSettings, serving, "tracking"),
            max_body_bytes=(serving.get("predict") or {}).get("max_body_bytes", 1_048_576),
            cors_origins=cors_origins(serving.get("cors") or {}, environ),
            market_forecaster=((config.get("promotion") or {}).get("market") or {}).get(
                "forecaster", "pinnacle_open"
            ),
        )
        check_secrets(settings)
        return settings

    @classmethod
    def from_environment(cls) -> ServingSettings:
        """The settings of a `bentoml serve` process: configs (with `$SABISCORE_CONFIG`, a
        YAML override file, merged on top) and `os.environ`."""
        return cls.from_config(load_config(os.environ.get("SABISCORE_CONFIG")), os.environ)


def cors_origins(cors: Mapping[str, Any], environ: Mapping[str, str]) -> tuple[str, ...]:
    """The origins a browser may call the service from: `$SABISCORE_CORS_ORIGINS`
    (comma-separated) when set, else `cors.allow_origins`.

    >>> cors_origins({"allow_origins": ["http://localhost:3001"]}, {})
    ('http://localhost:3001',)
    >>> cors_origins({}, {"SABISCORE_CORS_ORIGINS": " https://a.example, http://b:8080 "})
    ('https://a.example', 'http://b:8080')
    """
    unknown = sorted(set(cors) - {"allow_origins"})
    if unknown:
        raise ValueError(f"unknown serving cors keys: {unknown} (known: ['allow_origins'])")
    text = environ.get("SABISCORE_CORS_ORIGINS")
    if text is not None:
        return tuple(o.strip().rstrip("/") for o in text.split(",") if o.strip())
    origins = cors.get("allow_origins") or []
    if isinstance(origins, str) or not all(isinstance(o, str) for o in origins):
        raise ValueError(f"serving cors.allow_origins must be a list of origins, got {origins!r}")
    return tuple(o.strip().rstrip("/") for o in origins)


def _section(cls: type, serving: Mapping[str, Any], name: str) -> Any:
    """serving's `name` as a `cls`; a key it does not know is refused by name."""
    values = serving.get(name) or {}
    reject_unknown_keys(values, cls, f"serving {name}")
    return cls(**values)


def check_edge_keys(edge: Mapping[str, Any]) -> None:
    """A typo, or a staking setting put under serving's `edge` (say `sharp_books`), would be
    silently ignored: refuse it, and say where the staking settings live."""
    unknown = sorted(set(edge) - EDGE_KEYS)
    if unknown:
        raise ValueError(
            f"unknown serving edge keys: {unknown} (known: {sorted(EDGE_KEYS)}); min_edge, "
            "Kelly, the cap, sharp_books and sharp_tolerance are set in configs/staking.yaml"
        )


def check_secrets(settings: ServingSettings) -> None:
    """Refuse to start where the secrets would not keep anyone out.

    Anywhere: reads protected with no token to protect them by. In production: no API token
    (anyone could push prices and reload), the development revalidation secret (anyone could
    rebuild the site's pages), or either shorter than `auth.min_secret_length`. The message
    names what is wrong, never a secret's value.
    """
    auth = settings.auth
    if auth.protect_reads and auth.token is None:
        raise ValueError(f"auth.protect_reads is true but {API_TOKEN_ENV} is not set")
    if settings.environment is not PRODUCTION:
        return
    minimum, secret = auth.min_secret_length, settings.revalidation.secret
    problems = []
    if auth.token is None:
        problems.append(f"no API token: set {API_TOKEN_ENV}")
    elif len(auth.token) < minimum:
        problems.append(f"{API_TOKEN_ENV} is shorter than {minimum} characters")
    if secret == DEFAULT_SECRET:
        problems.append("the default revalidation secret: set REVALIDATE_SECRET")
    elif len(secret) < minimum:
        problems.append(f"REVALIDATE_SECRET is shorter than {minimum} characters")
    if problems:
        raise ValueError("refusing to start in production with " + "; ".join(problems))
