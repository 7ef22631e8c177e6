"""A seeded synthetic football world written in the football-data.co.uk CSV layout.

Why it exists: a fresh clone with no network still needs matches to train, evaluate and
serve on. This module invents leagues whose *true* match probabilities are known, so the
rest of the pipeline (ingestion, features, models, value detection) can be checked against
ground truth as well as run end to end.

The world in one paragraph: every team has an attack and a defence rating on the log scale
of expected goals. Ratings differ by tier, drift a little every matchday and change between
seasons (a shock plus partial regression to the tier mean). Goals follow a Poisson model with
the Dixon-Coles low-score adjustment; the same score matrix gives the sampled score and the
true 1X2 and over/under 2.5 probabilities. Bookmakers see the truth through a common noisy
"market view" (noisier at opening than at closing), add their own small noise and a margin.

Nothing runs at import time; everything is driven by a :class:`SyntheticConfig`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sabiscore.config import reject_unknown_keys
from sabiscore.odds import softmax
from sabiscore.outcomes import RESULT_CODES

__all__ = [
    "BOOKMAKERS",
    "BOOKMAKER_MARGINS",
    "FOOTBALL_DATA_COLUMNS",
    "TRUTH_COLUMNS",
    "LeagueSpec",
    "SyntheticConfig",
    "SyntheticLeague",
    "dixon_coles_score_matrix",
    "generate_league",
    "outcome_probabilities",
    "priced_odds",
    "write_football_data_csvs",
    "write_truth",
]

BOOKMAKERS: tuple[str, ...] = ("B365", "BW", "IW", "PS", "WH", "VC")
# Margins (overround) per bookmaker; Pinnacle (PS) is the sharp, low-margin book.
BOOKMAKER_MARGINS: Mapping[str, float] = {
    "B365": 0.050,
    "BW": 0.052,
    "IW": 0.058,
    "PS": 0.025,
    "WH": 0.055,
    "VC": 0.045,
}
_OU_COLUMN_PREFIX: Mapping[str, str] = {"B365": "B365", "PS": "P"}  # books quoted for O/U 2.5

FOOTBALL_DATA_COLUMNS: tuple[str, ...] = tuple(
    "Div,Date,Time,HomeTeam,AwayTeam,FTHG,FTAG,FTR,HTHG,HTAG,HTR,Referee,HS,AS,HST,AST,HF,AF,"
    "HC,AC,HY,AY,HR,AR,B365H,B365D,B365A,BWH,BWD,BWA,IWH,IWD,IWA,PSH,PSD,PSA,WHH,WHD,WHA,"
    "VCH,VCD,VCA,MaxH,MaxD,MaxA,AvgH,AvgD,AvgA,B365>2.5,B365<2.5,P>2.5,P<2.5,Max>2.5,"
    "Max<2.5,Avg>2.5,Avg<2.5,B365CH,B365CD,B365CA,BWCH,BWCD,BWCA,IWCH,IWCD,IWCA,PSCH,PSCD,"
    "PSCA,WHCH,WHCD,WHCA,VCCH,VCCD,VCCA,MaxCH,MaxCD,MaxCA,AvgCH,AvgCD,AvgCA,B365C>2.5,"
    "B365C<2.5,PC>2.5,PC<2.5,MaxC>2.5,MaxC<2.5,AvgC>2.5,AvgC<2.5".split(",")
)
TRUTH_COLUMNS: tuple[str, ...] = (
    "Div",
    "Season",
    "Date",
    "HomeTeam",
    "AwayTeam",
    "p_home",
    "p_draw",
    "p_away",
    "exp_home_goals",
    "exp_away_goals",
)

# --- the world's constants (log scale of expected goals unless stated) -----------------
_MAX_GOALS = 10  # score matrix covers 0..10 goals per side
_DC_RHO = -0.08  # Dixon-Coles low-score dependence
_BASE_LOG_RATE = np.log(1.12)  # away-side expected goals between equal teams
_LEAGUE_RATE_SD = 0.03  # leagues differ a little in scoring
_HOME_ADVANTAGE = 0.28
_HOME_ADVANTAGE_SD = 0.03
_TIER_GAP = 0.25  # each tier down is this much weaker in attack and defence
_QUALITY_SD = 0.28  # shared part of a team's attack and defence
_STYLE_SD = 0.10  # attack/defence specific part
_MATCHDAY_DRIFT_SD = 0.012  # random walk per matchday (form, injuries)
_SEASON_SHOCK_SD = 0.19  # summer transfers, manager changes: moves attack and defence together
_SEASON_STYLE_SHOCK_SD = 0.05  # ... and each on its own
_SEASON_REGRESSION = 0.20  # share of the gap to the tier mean closed each summer
_RATING_SPAN = 0.7  # soft bound on |rating - tier mean|: no runaway super-teams
# Market: a shared noisy view of the truth on the log-probability scale.
_OPEN_VIEW_SD = 0.14
_CLOSE_PULL = 0.60  # share of the opening error corrected by kick-off
_CLOSE_VIEW_SD = 0.03  # new noise arriving before kick-off
_BOOK_VIEW_SD = 0.03
_LONGSHOT_BIAS = 0.5  # weight of the power-method margin (the rest is multiplicative)
_MIN_PRICE = 1.02
_HALF_TIME_SHARE = 0.45  # probability a full-time goal was scored before the break

_SATURDAY_KICKOFFS = ("12:30", "15:00", "17:30", "20:00")
_SATURDAY_KICKOFF_P = (0.15, 0.55, 0.20, 0.10)
_MIDWEEK_KICKOFFS = ("19:45", "20:00")
_MIDWEEK_KICKOFF_P = (0.6, 0.4)
_REFEREES_PER_COUNTRY = 20

_PLACES: tuple[str, ...] = (
    "Ashford",
    "Kelham",
    "Barrowby",
    "Calderwick",
    "Dunmore",
    "Eastholme",
    "Fenwick",
    "Garnet Bay",
    "Hollinsby",
    "Ingleford",
    "Jarrowdale",
    "Kirkmoor",
    "Langhurst",
    "Millbridge",
    "Northcote",
    "Oakhampton",
    "Pellingham",
    "Queensferry",
    "Rothwick",
    "Saltmarsh",
    "Thornbury",
    "Upperton",
    "Vantley",
    "Westerhall",
    "Yarborough",
    "Aldwych Vale",
    "Brackenfield",
    "Cressington",
    "Dalesworth",
    "Elmstead",
    "Farrowby",
    "Glenhaven",
    "Harlowick",
    "Ivybridge",
    "Kettleby",
    "Lowestead",
    "Marlbury",
    "Netherfield",
    "Otterhaven",
    "Penrose",
    "Redcastle",
    "Stonebury",
    "Tilbrook",
    "Wexcombe",
    "Amberley",
    "Blackmere",
    "Coldstream",
    "Drayford",
    "Easterby",
    "Foxhollow",
    "Greywell",
    "Hatherleigh",
    "Ironbridge",
    "Kingsmead",
    "Linthorpe",
    "Moorcroft",
    "Newbold",
    "Oldcastle",
    "Portlow",
    "Ravensby",
    "Sheldwick",
    "Thistlebury",
    "Underhill",
    "Wraxford",
    "Ashbury",
    "Bramhope",
    "Carrick Mills",
    "Dovecot",
    "Eldermoor",
    "Fairhaven",
    "Goldthorpe",
    "Hawksmoor",
    "Knaresby",
    "Larkfield",
    "Merriton",
    "Norbridge",
    "Oxley",
    "Pendleby",
    "Rushmere",
    "Silverdale",
    "Tanfield",
    "Wickersley",
    "Yelverton",
    "Brindlecombe",
    "Crowhurst",
    "Dunstable Heath",
    "Emberton",
    "Fulwell",
    "Grantley",
    "Holmbrook",
    "Kilnsey",
    "Lydford",
    "Mossley Vale",
    "Northam",
    "Pickerton",
    "Stavely",
)
_SUFFIXES: tuple[str, ...] = (
    "United",
    "City",
    "Rovers",
    "Town",
    "Athletic",
    "Albion",
    "Wanderers",
    "County",
    "Rangers",
    "Borough",
    "Villa",
    "Harriers",
    "Orient",
    "Argyle",
    "Dynamo",
    "Olympic",
)
_REFEREE_SURNAMES: tuple[str, ...] = (
    "Harwood",
    "Pellow",
    "Tranter",
    "Ashcroft",
    "Blythe",
    "Corrigan",
    "Dunmore",
    "Ellery",
    "Fenner",
    "Gatley",
    "Hollis",
    "Iveson",
    "Jessop",
    "Kimber",
    "Lowther",
    "Marwood",
    "Nuttall",
    "Ormerod",
    "Pilling",
    "Quarmby",
    "Rendell",
    "Sowerby",
    "Thackray",
    "Umpleby",
    "Varley",
    "Whitlock",
    "Yeadon",
    "Aspinall",
    "Birtles",
    "Cawthorne",
    "Dearden",
    "Entwistle",
    "Fairclough",
    "Gledhill",
    "Haworth",
    "Illingworth",
    "Jowett",
    "Kershaw",
    "Lumb",
    "Midgley",
    "Naylor",
    "Oddie",
    "Pickles",
    "Rushworth",
    "Sutcliffe",
    "Tattersall",
    "Uttley",
    "Walmsley",
    "Brierley",
    "Crabtree",
    "Duckworth",
    "Eastwood",
    "Firth",
    "Greenhalgh",
    "Hepworth",
    "Ibbotson",
    "Knowles",
    "Liversedge",
    "Mellor",
    "Nowell",
)


# --- configuration ------------------------------------------------------------------------
@dataclass(frozen=True)
class LeagueSpec:
    """One division: its football-data code, size, tier (1 = top) and country."""

    code: str
    n_teams: int
    tier: int
    country: str

    def __post_init__(self) -> None:
        if not (self.code.isascii() and self.code.isalnum()):
            raise ValueError(f"league code must be ASCII letters/digits, got {self.code!r}")
        if not 4 <= self.n_teams <= 40 or self.n_teams % 2:
            # 40 teams = 78 rounds, the most that fit in August-May with midweek rounds.
            raise ValueError(f"{self.code}: n_teams must be even, 4..40, got {self.n_teams}")
        if self.tier < 1:
            raise ValueError(f"{self.code}: tier must be >= 1, got {self.tier}")


_DEFAULT_LEAGUES: tuple[LeagueSpec, ...] = (
    LeagueSpec(code="SY1", n_teams=20, tier=1, country="Sylvania"),
    LeagueSpec(code="SY2", n_teams=24, tier=2, country="Sylvania"),
    LeagueSpec(code="SZ1", n_teams=18, tier=1, country="Zembla"),
)


@dataclass(frozen=True)
class SyntheticConfig:
    """What to generate. Leagues of one country with consecutive tiers exchange
    ``promotion_places`` teams between neighbouring tiers after every season (final
    tables ranked by points, goal difference, goals scored, then name)."""

    seed: int = 20240601
    first_season: int = 2018
    n_seasons: int = 6
    leagues: tuple[LeagueSpec, ...] = _DEFAULT_LEAGUES
    promotion_places: int = 3

    def __post_init__(self) -> None:
        object.__setattr__(self, "leagues", tuple(self.leagues))
        if self.n_seasons < 1:
            raise ValueError(f"n_seasons must be >= 1, got {self.n_seasons}")
        if not self.leagues:
            raise ValueError("at least one league is needed")
        codes = [spec.code for spec in self.leagues]
        if len(set(codes)) != len(codes):
            raise ValueError(f"league codes must be unique, got {codes}")
        for country, specs in self.countries().items():
            tiers = [spec.tier for spec in specs]
            if tiers != list(range(1, len(tiers) + 1)):
                raise ValueError(f"{country}: tiers must be 1..k once each, got {sorted(tiers)}")
            if len(specs) > 1 and not 0 < self.promotion_places < min(s.n_teams for s in specs):
                raise ValueError(f"promotion_places out of range: {self.promotion_places}")
        if sum(spec.n_teams for spec in self.leagues) > len(_PLACES) * len(_SUFFIXES):
            raise ValueError("too many teams for the name pool")
        if len(self.countries()) * _REFEREES_PER_COUNTRY > len(_REFEREE_SURNAMES) * 10:
            raise ValueError("too many countries for the referee name pool")

    def countries(self) -> dict[str, list[LeagueSpec]]:
        """Leagues grouped by country, top tier first."""
        grouped: dict[str, list[LeagueSpec]] = {}
        for spec in self.leagues:
            grouped.setdefault(spec.country, []).append(spec)
        return {c: sorted(specs, key=lambda s: s.tier) for c, specs in grouped.items()}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> SyntheticConfig:
        """Build from a plain mapping (e.g. parsed YAML); unknown keys are an error so
        that a typo in a config file cannot silently fall back to a default."""
        reject_unknown_keys(d, cls, "synthetic config")
        kwargs = dict(d)
        if "leagues" in kwargs:
            leagues = []
            for item in kwargs["leagues"]:
                if isinstance(item, LeagueSpec):
                    leagues.append(item)
                    continue
                reject_unknown_keys(item, LeagueSpec, "league")
                missing = {f.name for f in fields(LeagueSpec)} - set(item)
                if missing:
                    raise ValueError(f"league is missing keys: {sorted(missing)}")
                leagues.append(LeagueSpec(**item))
            kwargs["leagues"] = tuple(leagues)
        return cls(**kwargs)


@dataclass(frozen=True, eq=False)
class SyntheticLeague:
    """Generated matches (football-data columns + ``Season``) and the hidden truth.

    Row ``i`` of ``truth`` describes the same match as row ``i`` of ``matches``.
    """

    matches: pd.DataFrame
    truth: pd.DataFrame = field(repr=False)


# --- maths ----------------------------------------------------------------------------------
def dixon_coles_score_matrix(
    exp_home_goals: np.ndarray, exp_away_goals: np.ndarray, rho: float = _DC_RHO
) -> np.ndarray:
    """Joint score probabilities ``[match, home_goals, away_goals]`` for 0..10 goals.

    Independent Poisson goals under-predict 0-0 and 1-1; the Dixon-Coles factor corrects
    the four low scores. The matrix is renormalised over the truncated range.

    >>> m = dixon_coles_score_matrix(np.array([1.5]), np.array([1.1]))
    >>> m.shape, round(float(m.sum()), 6)
    ((1, 11, 11), 1.0)
    """
    lam = np.asarray(exp_home_goals, dtype=float)
    mu = np.asarray(exp_away_goals, dtype=float)
    goals = np.arange(_MAX_GOALS + 1)
    log_fact = np.cumsum(np.log(np.maximum(goals, 1)))
    pmf_home = np.exp(goals * np.log(lam)[:, None] - lam[:, None] - log_fact)
    pmf_away = np.exp(goals * np.log(mu)[:, None] - mu[:, None] - log_fact)
    joint = pmf_home[:, :, None] * pmf_away[:, None, :]
    joint[:, 0, 0] *= 1.0 - lam * mu * rho
    joint[:, 0, 1] *= 1.0 + lam * rho
    joint[:, 1, 0] *= 1.0 + mu * rho
    joint[:, 1, 1] *= 1.0 - rho
    return joint / joint.sum(axis=(1, 2), keepdims=True)


def outcome_probabilities(score_matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(1X2 probabilities ``[n, 3]``, over/under 2.5 probabilities ``[n, 2]``).

    >>> p1x2, pou = outcome_probabilities(dixon_coles_score_matrix(np.ones(1), np.ones(1)))
    >>> bool(np.isclose(p1x2[0, 0], p1x2[0, 2])), round(float(pou.sum()), 6)
    (True, 1.0)
    """
    goals = np.arange(score_matrix.shape[1])
    home_minus_away = goals[:, None] - goals[None, :]
    total = goals[:, None] + goals[None, :]
    p_home = (score_matrix * (home_minus_away > 0)).sum(axis=(1, 2))
    p_draw = (score_matrix * (home_minus_away == 0)).sum(axis=(1, 2))
    p_away = (score_matrix * (home_minus_away < 0)).sum(axis=(1, 2))
    p_over = (score_matrix * (total > 2)).sum(axis=(1, 2))
    return np.stack([p_home, p_draw, p_away], axis=1), np.stack([p_over, 1 - p_over], axis=1)


def priced_odds(probabilities: np.ndarray, margin: float) -> np.ndarray:
    """Decimal odds with overround ``margin``, rounded to 2 decimals (at least 1.02).

    Half of the margin is loaded with the power method (longshots carry more of it, the
    favourite-longshot bias seen in real books), half multiplicatively.

    >>> priced_odds(np.array([[0.5, 0.3, 0.2]]), 0.0).tolist()
    [[2.0, 3.33, 5.0]]
    """
    q = np.asarray(probabilities, dtype=float)
    power = _power_exponent(q, 1.0 + margin)
    implied = _LONGSHOT_BIAS * q**power + (1 - _LONGSHOT_BIAS) * q * (1.0 + margin)
    return np.maximum(np.round(1.0 / implied, 2), _MIN_PRICE)


def _power_exponent(q: np.ndarray, target_sum: float) -> np.ndarray:
    """Exponent ``k`` per row with ``sum(q**k) == target_sum``.

    ``sum(q**k)`` is convex and decreasing in ``k``, so Newton's method from ``k = 1``
    converges monotonically after its first step; a few iterations reach machine precision.
    """
    log_q = np.log(q)
    k = np.ones((q.shape[0], 1))
    for _ in range(8):
        powered = np.exp(k * log_q)
        excess = powered.sum(axis=1, keepdims=True) - target_sum
        slope = (powered * log_q).sum(axis=1, keepdims=True)
        k = np.clip(k - excess / np.minimum(slope, -1e-12), 1e-6, 1.0)
    return k


# --- names and calendar -----------------------------------------------------------------
def _team_names(n_teams: int, rng: np.random.Generator) -> list[str]:
    """Unique invented club names; each place is used once before any place repeats."""
    places = [_PLACES[i] for i in rng.permutation(len(_PLACES))]
    names: list[str] = []
    used: set[str] = set()
    for i in range(n_teams):
        place = places[i % len(places)]
        for j in rng.permutation(len(_SUFFIXES)):
            name = f"{place} {_SUFFIXES[j]}"
            if name not in used:
                break
        used.add(name)
        names.append(name)
    return names


def _referee_pools(countries: Sequence[str], rng: np.random.Generator) -> dict[str, list[str]]:
    """Per-country referee names such as ``J Harwood``, unique across countries."""
    initials = "ACDGJKLMPS"
    size = _REFEREES_PER_COUNTRY
    picks = rng.permutation(len(_REFEREE_SURNAMES) * len(initials))[: size * len(countries)]
    pool = [f"{initials[i % len(initials)]} {_REFEREE_SURNAMES[i // len(initials)]}" for i in picks]
    return {c: pool[k * size : (k + 1) * size] for k, c in enumerate(countries)}


def _double_round_robin(n_teams: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Home and away team indices, shape ``[2 * (n - 1), n // 2]`` (circle method).

    Flipping every pair on odd rounds keeps each team's home/away run at most two long;
    the second half mirrors the first with venues swapped.
    """
    ring = list(range(n_teams))
    home_rounds, away_rounds = [], []
    for r in range(n_teams - 1):
        pairs = [(ring[i], ring[n_teams - 1 - i]) for i in range(n_teams // 2)]
        if r % 2:
            pairs = [(b, a) for a, b in pairs]
        home_rounds.append([a for a, _ in pairs])
        away_rounds.append([b for _, b in pairs])
        ring = [ring[0], ring[-1], *ring[1:-1]]
    order = rng.permutation(n_teams)
    home, away = order[np.array(home_rounds)], order[np.array(away_rounds)]
    return np.concatenate([home, away]), np.concatenate([away, home])


def _matchday_dates(start_year: int, n_rounds: int) -> tuple[list[dt.date], list[bool]]:
    """One date per round: Saturdays from the second weekend of August to late May,
    spread evenly (gaps play the role of international breaks); if there are more rounds
    than Saturdays, the surplus goes to evenly spaced Tuesdays."""
    first = dt.date(start_year, 8, 8)
    first += dt.timedelta(days=(5 - first.weekday()) % 7)
    last = dt.date(start_year + 1, 5, 25)
    saturdays = [first + dt.timedelta(weeks=w) for w in range((last - first).days // 7 + 1)]
    if n_rounds <= len(saturdays):
        picks = np.round(np.linspace(0, len(saturdays) - 1, n_rounds)).astype(int)
        return [saturdays[i] for i in picks], [False] * n_rounds
    extra = n_rounds - len(saturdays)
    if extra > len(saturdays) - 1:
        raise ValueError(f"{n_rounds} rounds do not fit in one season")
    weeks = np.round(np.linspace(1, len(saturdays) - 2, extra)).astype(int)
    midweeks = [saturdays[w] + dt.timedelta(days=3) for w in weeks]
    dated = sorted([(d, False) for d in saturdays] + [(d, True) for d in midweeks])
    return [d for d, _ in dated], [m for _, m in dated]


# --- simulation -----------------------------------------------------------------------------
@dataclass
class _World:
    """Mutable state carried from season to season (internal only)."""

    names: list[str]
    rating: np.ndarray  # [team, 2]: attack, defence (higher defence concedes less)
    members: dict[str, np.ndarray]  # league code -> team ids
    base_rate: dict[str, float]
    home_advantage: dict[str, float]
    referees: dict[str, list[str]]
    referee_strictness: dict[str, np.ndarray]


def _tier_mean(tier: int) -> float:
    return -_TIER_GAP * (tier - 1)


def _soft_bound(deviation: np.ndarray, mean: float) -> np.ndarray:
    """Squash deviations from the tier mean smoothly into ``+-_RATING_SPAN``: real leagues
    have dominant teams, but not Gaussian-tailed 6-goal favourites."""
    return mean + _RATING_SPAN * np.tanh(deviation / _RATING_SPAN)


def _initial_world(config: SyntheticConfig, rng: np.random.Generator) -> _World:
    n_total = sum(spec.n_teams for spec in config.leagues)
    names = _team_names(n_total, rng)
    members, rating_rows, start = {}, [], 0
    base_rate, home_advantage = {}, {}
    for spec in config.leagues:
        members[spec.code] = np.arange(start, start + spec.n_teams)
        start += spec.n_teams
        quality = rng.normal(0.0, _QUALITY_SD, size=(spec.n_teams, 1))
        style = rng.normal(0.0, _STYLE_SD, size=(spec.n_teams, 2))
        rating_rows.append(_soft_bound(quality + style, _tier_mean(spec.tier)))
        base_rate[spec.code] = _BASE_LOG_RATE + rng.normal(0.0, _LEAGUE_RATE_SD)
        home_advantage[spec.code] = _HOME_ADVANTAGE + rng.normal(0.0, _HOME_ADVANTAGE_SD)
    countries = list(config.countries())
    referees = _referee_pools(countries, rng)
    strictness = {c: np.exp(rng.normal(0.0, 0.15, size=len(referees[c]))) for c in countries}
    return _World(
        names=names,
        rating=np.vstack(rating_rows),
        members=members,
        base_rate=base_rate,
        home_advantage=home_advantage,
        referees=referees,
        referee_strictness=strictness,
    )


def _simulate_league_season(
    spec: LeagueSpec, season_year: int, world: _World, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """Play one league-season; updates the teams' end-of-season ratings in ``world``."""
    team_ids = world.members[spec.code]
    home, away = _double_round_robin(spec.n_teams, rng)
    n_rounds, per_round = home.shape
    drift = rng.normal(0.0, _MATCHDAY_DRIFT_SD, size=(n_rounds, spec.n_teams, 2))
    drift[0] = 0.0
    path = world.rating[team_ids][None] + np.cumsum(drift, axis=0)  # [round, team, 2]
    world.rating[team_ids] = path[-1]

    rounds = np.repeat(np.arange(n_rounds), per_round)
    h, a = home.ravel(), away.ravel()
    base = world.base_rate[spec.code]
    exp_home = np.exp(
        base + world.home_advantage[spec.code] + path[rounds, h, 0] - path[rounds, a, 1]
    )
    exp_away = np.exp(base + path[rounds, a, 0] - path[rounds, h, 1])
    matrix = dixon_coles_score_matrix(exp_home, exp_away)
    p1x2, p_ou = outcome_probabilities(matrix)
    cum = matrix.reshape(len(h), -1).cumsum(axis=1)
    cell = (cum < rng.random((len(h), 1)) * cum[:, -1:]).sum(axis=1)
    cell = np.minimum(cell, cum.shape[1] - 1)
    fthg, ftag = cell // (_MAX_GOALS + 1), cell % (_MAX_GOALS + 1)

    dates, midweek = _matchday_dates(season_year, n_rounds)
    is_midweek = np.repeat(np.array(midweek), per_round)
    kickoff = np.where(
        is_midweek,
        rng.choice(_MIDWEEK_KICKOFFS, size=len(h), p=_MIDWEEK_KICKOFF_P),
        rng.choice(_SATURDAY_KICKOFFS, size=len(h), p=_SATURDAY_KICKOFF_P),
    )
    return {
        "Div": np.full(len(h), spec.code),
        "Season": np.full(len(h), f"{season_year}-{season_year + 1}"),
        "_date": np.array([dates[r] for r in rounds]),
        "Time": kickoff,
        "_home_id": team_ids[h],
        "_away_id": team_ids[a],
        "FTHG": fthg,
        "FTAG": ftag,
        "_p1x2": p1x2,
        "_pou": p_ou,
        "exp_home_goals": exp_home,
        "exp_away_goals": exp_away,
    }


def _match_statistics(
    played: dict[str, np.ndarray], country: str, world: _World, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """Half-time score, shots, fouls, corners and cards, tied to expected and actual goals."""
    fthg, ftag = played["FTHG"], played["FTAG"]
    lam_h, lam_a = played["exp_home_goals"], played["exp_away_goals"]
    n = len(fthg)
    hthg = rng.binomial(fthg, _HALF_TIME_SHARE)
    htag = rng.binomial(ftag, _HALF_TIME_SHARE)

    def overdispersed(mean: np.ndarray, shape: float = 12.0) -> np.ndarray:
        return rng.poisson(rng.gamma(shape, mean / shape))

    # Shots that did not score; a goal is always a shot on target.
    miss_h = overdispersed(4.0 + 5.2 * lam_h)
    miss_a = overdispersed(4.0 + 5.2 * lam_a)
    hst = fthg + rng.binomial(miss_h, 0.27)
    ast = ftag + rng.binomial(miss_a, 0.27)
    hs, as_ = fthg + miss_h, ftag + miss_a
    hc = overdispersed(0.4 + 0.38 * hs)
    ac = overdispersed(0.4 + 0.38 * as_)
    # The weaker side fouls a little more.
    hf = overdispersed(np.clip(11.0 + 1.5 * (lam_a - lam_h), 6.0, 16.0))
    af = overdispersed(np.clip(11.5 + 1.5 * (lam_h - lam_a), 6.0, 16.0))
    ref = rng.integers(0, len(world.referees[country]), size=n)
    strict = world.referee_strictness[country][ref]
    hy = rng.poisson(0.14 * hf * strict)
    ay = rng.poisson(0.16 * af * strict)
    hr = np.minimum(rng.poisson(0.055 * strict), 2)
    ar = np.minimum(rng.poisson(0.075 * strict), 2)
    return {
        "HTHG": hthg,
        "HTAG": htag,
        "Referee": np.array(world.referees[country])[ref],
        "HS": hs,
        "AS": as_,
        "HST": hst,
        "AST": ast,
        "HF": hf,
        "AF": af,
        "HC": hc,
        "AC": ac,
        "HY": hy,
        "AY": ay,
        "HR": hr,
        "AR": ar,
    }


def _market_prices(
    p1x2: np.ndarray, p_ou: np.ndarray, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """Opening and closing prices of every book, plus the Max/Avg market aggregates.

    The closing view moves part of the way from the opening view toward the truth, so
    closing prices are better forecasts than opening ones but still not the truth.
    """
    columns: dict[str, np.ndarray] = {}
    for market, truth in (("1x2", p1x2), ("ou", p_ou)):
        log_truth = np.log(truth)
        opening_view = log_truth + rng.normal(0.0, _OPEN_VIEW_SD, size=truth.shape)
        closing_view = (
            opening_view
            + _CLOSE_PULL * (log_truth - opening_view)
            + rng.normal(0.0, _CLOSE_VIEW_SD, size=truth.shape)
        )
        for stage, view in (("open", opening_view), ("close", closing_view)):
            book_prices = {
                book: priced_odds(
                    softmax(view + rng.normal(0.0, _BOOK_VIEW_SD, size=truth.shape)),
                    BOOKMAKER_MARGINS[book],
                )
                for book in BOOKMAKERS
            }
            columns.update(_price_columns(market, stage, book_prices))
    return columns


def _price_columns(
    market: str, stage: str, book_prices: dict[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """Name price arrays the football-data way (``B365CH``, ``PC>2.5``, ``AvgC<2.5`` ...)."""
    c = "C" if stage == "close" else ""
    stacked = np.stack(list(book_prices.values()))  # [book, match, outcome]
    aggregates = {"Max": stacked.max(axis=0), "Avg": np.round(stacked.mean(axis=0), 2)}
    out: dict[str, np.ndarray] = {}
    if market == "1x2":
        for name, prices in {**book_prices, **aggregates}.items():
            for k, outcome in enumerate(RESULT_CODES):
                out[f"{name}{c}{outcome}"] = prices[:, k]
        return out
    quoted = {_OU_COLUMN_PREFIX[b]: p for b, p in book_prices.items() if b in _OU_COLUMN_PREFIX}
    for name, prices in {**quoted, **aggregates}.items():
        out[f"{name}{c}>2.5"] = prices[:, 0]
        out[f"{name}{c}<2.5"] = prices[:, 1]
    return out


def _final_table(played: dict[str, np.ndarray], names: Sequence[str]) -> list[int]:
    """Team ids ranked by points, goal difference, goals scored, then name."""
    points: dict[int, list[int]] = {}
    outcomes = zip(
        played["_home_id"], played["_away_id"], played["FTHG"], played["FTAG"], strict=True
    )
    for home, away, hg, ag in outcomes:
        for team, scored, conceded in ((home, hg, ag), (away, ag, hg)):
            row = points.setdefault(int(team), [0, 0, 0])
            row[0] += 3 if scored > conceded else int(scored == conceded)
            row[1] += int(scored - conceded)
            row[2] += int(scored)
    return sorted(points, key=lambda t: (-points[t][0], -points[t][1], -points[t][2], names[t]))


def _promote_and_relegate(
    config: SyntheticConfig, tables: dict[str, list[int]], world: _World
) -> None:
    """Swap the bottom of each tier with the top of the tier below."""
    n = config.promotion_places
    for specs in config.countries().values():
        for upper, lower in zip(specs, specs[1:], strict=False):
            down, up = tables[upper.code][-n:], tables[lower.code][:n]
            keep_upper = [t for t in world.members[upper.code] if t not in down]
            keep_lower = [t for t in world.members[lower.code] if t not in up]
            world.members[upper.code] = np.array(sorted(keep_upper + up))
            world.members[lower.code] = np.array(sorted(keep_lower + down))


def _new_season_ratings(config: SyntheticConfig, world: _World, rng: np.random.Generator) -> None:
    """Summer: partial regression to the mean of the tier a team now plays in, plus a shock."""
    for spec in config.leagues:
        ids = world.members[spec.code]
        mean = _tier_mean(spec.tier)
        shock = rng.normal(0.0, _SEASON_SHOCK_SD, size=(len(ids), 1)) + rng.normal(
            0.0, _SEASON_STYLE_SHOCK_SD, size=(len(ids), 2)
        )
        regressed = (1 - _SEASON_REGRESSION) * (world.rating[ids] - mean) + shock
        world.rating[ids] = _soft_bound(regressed, mean)


def generate_league(config: SyntheticConfig) -> SyntheticLeague:
    """Simulate every league-season of ``config``; same config, same result."""
    rng = np.random.Generator(np.random.PCG64(config.seed))
    world = _initial_world(config, rng)
    country_of = {spec.code: spec.country for spec in config.leagues}
    blocks: list[dict[str, np.ndarray]] = []
    for season_index in range(config.n_seasons):
        if season_index:
            _new_season_ratings(config, world, rng)
        tables = {}
        for spec in config.leagues:
            played = _simulate_league_season(spec, config.first_season + season_index, world, rng)
            played.update(_match_statistics(played, country_of[spec.code], world, rng))
            played.update(_market_prices(played["_p1x2"], played["_pou"], rng))
            tables[spec.code] = _final_table(played, world.names)
            blocks.append(played)
        _promote_and_relegate(config, tables, world)
    return _assemble(blocks, world.names)


def _assemble(blocks: list[dict[str, np.ndarray]], names: list[str]) -> SyntheticLeague:
    """Concatenate the league-seasons into the two public tables, in kick-off order."""
    merged = {key: np.concatenate([b[key] for b in blocks]) for key in blocks[0]}
    team_names = np.array(names)
    frame = pd.DataFrame(
        {
            "Div": merged["Div"],
            "Season": merged["Season"],
            "_date": merged["_date"],
            "Time": merged["Time"],
            "HomeTeam": team_names[merged["_home_id"]],
            "AwayTeam": team_names[merged["_away_id"]],
        }
    )
    frame["Date"] = [d.strftime("%d/%m/%Y") for d in merged["_date"]]
    frame["FTHG"], frame["FTAG"] = merged["FTHG"], merged["FTAG"]
    frame["FTR"] = _result_letters(merged["FTHG"], merged["FTAG"])
    frame["HTR"] = _result_letters(merged["HTHG"], merged["HTAG"])
    for column in FOOTBALL_DATA_COLUMNS:
        if column not in frame:
            frame[column] = merged[column]
    p1x2 = merged["_p1x2"]
    frame["p_home"], frame["p_draw"], frame["p_away"] = p1x2[:, 0], p1x2[:, 1], p1x2[:, 2]
    frame["exp_home_goals"] = merged["exp_home_goals"]
    frame["exp_away_goals"] = merged["exp_away_goals"]
    frame = frame.sort_values(
        ["_date", "Time", "Div", "HomeTeam"], kind="mergesort", ignore_index=True
    )
    matches = frame[[*FOOTBALL_DATA_COLUMNS, "Season"]].copy()
    truth = frame[list(TRUTH_COLUMNS)].copy()
    return SyntheticLeague(matches=matches, truth=truth)


def _result_letters(home_goals: np.ndarray, away_goals: np.ndarray) -> np.ndarray:
    home, draw, away = RESULT_CODES
    return np.where(home_goals > away_goals, home, np.where(home_goals < away_goals, away, draw))


# --- writing --------------------------------------------------------------------------------
def write_football_data_csvs(league: SyntheticLeague, out_dir: Path) -> list[Path]:
    """Write ``<out_dir>/<DIV>/<SEASON>.csv`` exactly as football-data.co.uk lays them out
    (ASCII, CRLF, no index), so ingestion code cannot tell them from downloads."""
    return _write_by_league_season(
        league.matches, list(FOOTBALL_DATA_COLUMNS), Path(out_dir), float_format="%.2f"
    )


def write_truth(league: SyntheticLeague, out_dir: Path) -> list[Path]:
    """Write the true probabilities with the same layout; keep ``out_dir`` apart from the
    football-data folder so that ingesting that folder never sees the answers."""
    return _write_by_league_season(
        league.truth, list(TRUTH_COLUMNS), Path(out_dir), float_format="%.6f"
    )


def _write_by_league_season(
    frame: pd.DataFrame, columns: list[str], out_dir: Path, float_format: str
) -> list[Path]:
    paths = []
    for (div, season), part in frame.groupby(["Div", "Season"], sort=True):
        path = out_dir / str(div) / f"{season}.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        part[columns].to_csv(
            path, index=False, lineterminator="\r\n", float_format=float_format, encoding="ascii"
        )
        paths.append(path)
    return sorted(paths)
