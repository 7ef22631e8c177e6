"""Feature settings: one dataclass per family and `FeatureConfig`, from configs/features.yaml."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sabiscore.config import reject_unknown_keys
from sabiscore.odds import ImpliedMethod

#: Family -> prefix of its column names; `feature_columns` recognises features by these.
FAMILY_PREFIXES: dict[str, str] = {
    "form": "form_",
    "elo": "elo_",
    "pi_ratings": "pi_",
    "rest": "rest_",
    "season_stage": "stage_",
    "market": "mkt_",
}

#: Statistics whose `<base>_for` / `<base>_against` form can be computed: base -> the suffix of
#: the canonical `home_<suffix>` / `away_<suffix>` columns.
_STAT_BASES: dict[str, str] = {
    "goals": "goals",
    "shots": "shots",
    "shots_on_target": "shots_on_target",
    "corners": "corners",
    "fouls": "fouls",
    "yellow": "yellow",
    "red": "red",
}

FORM_STATS: tuple[str, ...] = (
    "points",
    "goals_for",
    "goals_against",
    "shots_for",
    "shots_against",
    "shots_on_target_for",
    "shots_on_target_against",
    "corners_for",
    "corners_against",
)

#: Books quoted (open and close) in every season 2012-13 ... 2023-24 of the shared files. A fixed
#: set keeps the spread of opinions comparable between eras: the number of books fell from ten to
#: five or six over those years, and a spread over more books is a different quantity.
_DISAGREEMENT_BOOKS: tuple[str, ...] = (
    "pinnacle",
    "bet365",
    "bwin",
    "interwetten",
    "william_hill",
    "bet_victor",
)


#: The order in which a book's opening line stands for the market (`MarketConfig.sharp_books`):
#: Pinnacle is the sharp book; the market average where Pinnacle is missing; then Bet365.
_SHARP_BOOKS: tuple[str, ...] = ("pinnacle", "market_avg", "bet365")

#: The columns of the market's own forecast (de-margined H/D/A of the sharp chain): the market
#: member of the stack and the starting score of the anchored boosted models read them.
SHARP_COLUMNS: tuple[str, str, str] = ("mkt_sharp_H", "mkt_sharp_D", "mkt_sharp_A")


# --- configuration -------------------------------------------------------------------------


def _from_mapping(cls: type, d: Mapping[str, Any], what: str, tuples: Sequence[str] = ()) -> Any:
    """Build a config dataclass from a mapping; lists become tuples so the result is hashable."""
    reject_unknown_keys(d, cls, what)
    kwargs = {k: tuple(v) if k in tuples and v is not None else v for k, v in d.items()}
    return cls(**kwargs)


@dataclass(frozen=True)
class FormConfig:
    """Recent-form statistics. `windows` in matches; `ewm_halflife` in matches (None: no EWM)."""

    enabled: bool = True
    windows: tuple[int, ...] = (5, 10)
    ewm_halflife: float | None = 5.0
    stats: tuple[str, ...] = FORM_STATS

    def __post_init__(self) -> None:
        if any(int(w) != w or w < 1 for w in self.windows):
            raise ValueError(f"form windows must be positive integers, got {self.windows}")
        if self.ewm_halflife is not None and not self.ewm_halflife > 0:
            raise ValueError(f"ewm_halflife must be > 0 or null, got {self.ewm_halflife}")
        for stat in self.stats:
            _stat_columns(stat)  # raises on an unknown statistic


@dataclass(frozen=True)
class EloConfig:
    """Elo: `k` points per unit of surprise; `home_advantage` in rating points.

    Between seasons each rating moves `season_regression` of the way to the mean of the league's
    teams; a team new to a league starts at the mean of its weakest `newcomer_fraction`.
    """

    enabled: bool = True
    k: float = 20.0
    home_advantage: float = 60.0
    initial: float = 1500.0
    season_regression: float = 0.2
    newcomer_fraction: float = 0.3333

    def __post_init__(self) -> None:
        _check_pool_settings(self.season_regression, self.newcomer_fraction, "elo")
        if self.k <= 0:
            raise ValueError(f"elo k must be > 0, got {self.k}")


@dataclass(frozen=True)
class PiConfig:
    """Pi-ratings: `learning_rate` (lambda), `catch_up_rate` (gamma), and the b, c constants."""

    enabled: bool = True
    learning_rate: float = 0.035
    catch_up_rate: float = 0.7
    b: float = 10.0
    c: float = 3.0
    season_regression: float = 0.0
    newcomer_fraction: float = 0.3333

    def __post_init__(self) -> None:
        _check_pool_settings(self.season_regression, self.newcomer_fraction, "pi_ratings")
        if self.b <= 1 or self.c <= 0:
            raise ValueError(f"pi-ratings need b > 1 and c > 0, got b={self.b}, c={self.c}")


@dataclass(frozen=True)
class RestConfig:
    """Days since each team's previous match, capped at `cap_days` (also the value for a team
    never seen before: it comes back from a break as far as this data knows)."""

    enabled: bool = True
    cap_days: int = 21

    def __post_init__(self) -> None:
        if self.cap_days < 1:
            raise ValueError(f"rest cap_days must be >= 1, got {self.cap_days}")


@dataclass(frozen=True)
class SeasonStageConfig:
    enabled: bool = True


@dataclass(frozen=True)
class MarketConfig:
    """Opening-price features.

    `sharp_books`: the market's own forecast, `mkt_sharp_H/D/A`, is the de-margined line of the
    first of these books that quotes the match (Pinnacle, else the market average, else Bet365)
    and, when none does, the mean de-margined line of the individual books that do. It exists
    whichever books a caller sends, so the model never meets "a different kind of match" only
    because a book is missing. `books` get columns of their own (NaN where unquoted);
    `disagreement` measures how much `disagreement_books` (None: every individual bookmaker
    quoted) differ. `totals`: the de-margined opening over/under 2.5 goals line of the first of
    `sharp_books` quoting it, and its overround (`mkt_ou25_*`), NaN where none does.
    """

    enabled: bool = True
    sharp_books: tuple[str, ...] = _SHARP_BOOKS
    books: tuple[str, ...] = ()
    method: str = ImpliedMethod.MULTIPLICATIVE.value
    disagreement: bool = False
    disagreement_books: tuple[str, ...] | None = _DISAGREEMENT_BOOKS
    totals: bool = False

    def __post_init__(self) -> None:
        ImpliedMethod(self.method)  # raises ValueError on an unknown method
        if not self.sharp_books:
            raise ValueError("sharp_books needs at least one book")
        if self.disagreement_books is not None and len(self.disagreement_books) < 2:
            raise ValueError("disagreement_books needs at least two books (or null for all)")


def _check_pool_settings(regression: float, newcomer_fraction: float, what: str) -> None:
    if not 0.0 <= regression <= 1.0:
        raise ValueError(f"{what} season_regression must be in [0, 1], got {regression}")
    if not 0.0 < newcomer_fraction <= 1.0:
        raise ValueError(f"{what} newcomer_fraction must be in (0, 1], got {newcomer_fraction}")


_FAMILY_CONFIGS: dict[str, tuple[type, tuple[str, ...]]] = {
    "form": (FormConfig, ("windows", "stats")),
    "elo": (EloConfig, ()),
    "pi_ratings": (PiConfig, ()),
    "rest": (RestConfig, ()),
    "season_stage": (SeasonStageConfig, ()),
    "market": (MarketConfig, ("sharp_books", "books", "disagreement_books")),
}


@dataclass(frozen=True)
class FeatureConfig:
    """Which feature families to build and their parameters (see `configs/features.yaml`)."""

    form: FormConfig = field(default_factory=FormConfig)
    elo: EloConfig = field(default_factory=EloConfig)
    pi_ratings: PiConfig = field(default_factory=PiConfig)
    rest: RestConfig = field(default_factory=RestConfig)
    season_stage: SeasonStageConfig = field(default_factory=SeasonStageConfig)
    market: MarketConfig = field(default_factory=MarketConfig)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None) -> FeatureConfig:
        """Build from parsed YAML; unknown keys are an error so a typo cannot fall back to a
        default silently. Missing families or keys take the defaults."""
        d = d or {}
        reject_unknown_keys(d, cls, "features config")
        kwargs = {}
        for name, value in d.items():
            family_cls, tuples = _FAMILY_CONFIGS[name]
            kwargs[name] = _from_mapping(family_cls, value or {}, f"features.{name}", tuples)
        return cls(**kwargs)

    def enabled_families(self) -> list[str]:
        return [name for name in FAMILY_PREFIXES if getattr(self, name).enabled]


def _stat_columns(stat: str) -> tuple[str, str] | None:
    """`shots_for` -> (`shots`, `for`); `points` -> None. Raises on an unknown statistic."""
    if stat == "points":
        return None
    base, _, side = stat.rpartition("_")
    if base not in _STAT_BASES or side not in ("for", "against"):
        known = ["points"] + [f"{b}_{s}" for b in _STAT_BASES for s in ("for", "against")]
        raise ValueError(f"unknown form statistic {stat!r}; known: {known}")
    return _STAT_BASES[base], side
