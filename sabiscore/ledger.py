"""The ledger: every bet SabiScore suggested, recorded once, then settled against the closing
line and the result as they arrive — the product's forward-looking track record (the betting
backtest is its past one).

A suggestion is recorded the first time it is made (`GET /value-bets`, a `POST /odds` push,
`sabiscore bets`), once per (match, outcome, model version): the price and stake of that first
moment are the ones a user could have taken. It lives in `<data dir>/ledger/suggestions.jsonl`,
one JSON object a line, appended under a lock (the service and the command line may both
write), never rewritten. Settling reads the store: a suggestion whose match has a result is
settled, its closing-line value taken from the sharp book's de-margined closing price (the
rule the backtest measures: price × fair closing probability − 1).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sabiscore.betting import summary_with_ci
from sabiscore.football_data import one_x_two
from sabiscore.odds import ImpliedMethod, implied_probabilities
from sabiscore.outcomes import OUTCOMES, RESULT_CODES, Outcome
from sabiscore.staking import closing_line_value
from sabiscore.store import DataStore, file_lock

#: One suggestion's fields, in the order they are written.
FIELDS = (
    "match_id",
    "league",
    "kickoff",
    "home_team",
    "away_team",
    "outcome",
    "bookmaker",
    "price",
    "net_odds",
    "stake",
    "edge",
    "quality",
    "model_version",
    "model_semver",
    "suggested_at",
    "source",
)
KEY = ("match_id", "outcome", "model_version")


@dataclass(frozen=True)
class Suggestion:
    """A bet as suggested. `stake` is a share of the bankroll (0.01 = 1 %), `edge` a fraction,
    `net_odds` the price after the book's commission; times are ISO 8601 text, UTC."""

    match_id: str
    league: str
    kickoff: str | None
    home_team: str
    away_team: str
    outcome: str  # home | draw | away
    bookmaker: str
    price: float
    net_odds: float
    stake: float
    edge: float
    quality: str
    model_version: str
    model_semver: str
    suggested_at: str
    source: str  # "service" | "sabiscore bets"

    @property
    def key(self) -> tuple[str, str, str]:
        return self.match_id, self.outcome, self.model_version


class Ledger:
    """The suggestions file of one data directory."""

    def __init__(self, data_dir: Path | str) -> None:
        self.path = Path(data_dir) / "ledger" / "suggestions.jsonl"
        self._keys: set[tuple[str, str, str]] | None = None
        self._seen_size = -1

    def record(self, suggestions: Iterable[Suggestion]) -> int:
        """Append the suggestions not recorded before; returns how many were new."""
        pending = list(suggestions)
        if not pending:
            return 0
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with file_lock(self.path.with_suffix(".lock")):
            keys = self._known_keys()
            new = []
            for suggestion in pending:
                if suggestion.key not in keys:
                    keys.add(suggestion.key)
                    new.append(suggestion)
            if new:
                with open(self.path, "a", encoding="utf-8") as handle:
                    for suggestion in new:
                        handle.write(json.dumps(asdict(suggestion), allow_nan=False) + "\n")
                    handle.flush()
                    os.fsync(handle.fileno())
            self._seen_size = self.path.stat().st_size if self.path.exists() else 0
        return len(new)

    def load(self) -> pd.DataFrame:
        """Every suggestion recorded, oldest first (a line cut short by a crash is skipped)."""
        return pd.DataFrame(list(self._rows()), columns=list(FIELDS))

    def _rows(self) -> Iterator[dict[str, Any]]:
        if not self.path.exists():
            return
        with open(self.path, encoding="utf-8") as handle:
            for line in handle:
                with contextlib.suppress(json.JSONDecodeError):
                    row = json.loads(line)
                    if isinstance(row, dict) and set(FIELDS) <= set(row):
                        yield {f: row[f] for f in FIELDS}

    def _known_keys(self) -> set[tuple[str, str, str]]:
        size = self.path.stat().st_size if self.path.exists() else 0
        if self._keys is None or size != self._seen_size:
            self._keys = {(r["match_id"], r["outcome"], r["model_version"]) for r in self._rows()}
            self._seen_size = size
        return self._keys


# --- settling -------------------------------------------------------------------------------


def settle(
    suggestions: pd.DataFrame,
    matches: pd.DataFrame,
    odds: pd.DataFrame,
    sharp_books: Sequence[str] = ("pinnacle", "market_avg"),
    method: ImpliedMethod | str = ImpliedMethod.MULTIPLICATIVE,
) -> pd.DataFrame:
    """The suggestions with `result`, `won`, `profit` (in bankroll shares: stake × (net_odds −
    1) if won, else −stake), `closing_book`, `closing_prob` and `clv` (net_odds × the first of
    `sharp_books`' de-margined closing probability − 1); NaN / None until the match is played
    or where no sharp book closed it. `settled` says which have a result."""
    out = suggestions.copy()
    played = (
        matches.drop_duplicates("match_id", keep="last").set_index("match_id")["result"]
        if len(matches)
        else pd.Series(dtype=object)
    )
    out["result"] = out["match_id"].map(played).where(lambda r: r.isin(RESULT_CODES))
    out["settled"] = out["result"].notna()
    letter = out["outcome"].map({o.value: o.code for o in OUTCOMES})
    out["won"] = letter.eq(out["result"]).where(out["settled"])
    stake, net = out["stake"].astype(float), out["net_odds"].astype(float)
    won = out["won"].fillna(False).astype(bool)
    out["profit"] = np.where(out["settled"], np.where(won, stake * (net - 1.0), -stake), np.nan)
    book, prob = _closing_probabilities(out, odds, sharp_books, ImpliedMethod(method))
    out["closing_book"] = pd.Series(book, index=out.index, dtype=object)
    out["closing_prob"] = prob
    clv, closed = np.full(len(out), np.nan), np.isfinite(prob)
    clv[closed] = closing_line_value(net.to_numpy()[closed], prob[closed])
    out["clv"] = clv
    return out


def _closing_probabilities(
    bets: pd.DataFrame, odds: pd.DataFrame, books: Sequence[str], method: ImpliedMethod
) -> tuple[list[str | None], np.ndarray]:
    """Per bet: the first of `books` with all three closing prices, and its fair probability
    of the bet's outcome (NaN where none)."""
    chosen: list[str | None] = [None] * len(bets)
    probs = np.full(len(bets), np.nan)
    if not len(bets) or not len(odds):
        return chosen, probs
    quoted = odds[odds["match_id"].isin(set(bets["match_id"])) & (odds["phase"] == "close")]
    if quoted.empty:
        return chosen, probs
    wide = one_x_two(quoted, bookmakers=list(books), phases=("close",))
    for i, (match_id, outcome) in enumerate(zip(bets["match_id"], bets["outcome"], strict=True)):
        if match_id not in wide.index:
            continue
        row = wide.loc[match_id]
        for book in books:
            triple = [row.get(f"{book}_close_{o}", np.nan) for o in RESULT_CODES]
            if all(isinstance(p, float | int) and math.isfinite(p) and p > 1 for p in triple):
                fair = implied_probabilities(np.array([triple], dtype=float), method)[0]
                chosen[i], probs[i] = book, float(fair[OUTCOMES.index(Outcome(outcome))])
                break
    return chosen, probs


# --- the report -----------------------------------------------------------------------------

#: The slices of the report, after its overall numbers.
GROUPS = ("quality", "model_version")


def report(settled: pd.DataFrame, n_boot: int = 2000, seed: int = 0) -> dict[str, Any]:
    """The track record: counts, then for all settled bets and per tier and model version the
    staked total, profit, yield and mean CLV, each with a 95 % bootstrap interval. Stakes are
    shares of one bankroll, flat (not compounded)."""
    done = settled[settled["settled"].astype(bool)] if len(settled) else settled
    return {
        "suggested": int(len(settled)),
        "settled": int(len(done)),
        "open": int(len(settled) - len(done)),
        "overall": _numbers(done, n_boot, seed),
        **{
            f"by_{g}": {str(k): _numbers(rows, n_boot, seed) for k, rows in done.groupby(g)}
            for g in GROUPS
        },
    }


def _numbers(bets: pd.DataFrame, n_boot: int, seed: int) -> dict[str, Any]:
    if bets.empty:
        return {"bets": 0}
    frame = pd.DataFrame(
        {
            "stake": bets["stake"].astype(float),
            "decimal_odds": bets["net_odds"].astype(float),
            "won": bets["won"].astype(bool),
            "clv": bets["clv"].astype(float),
            "date": pd.to_datetime(bets["kickoff"]).fillna(pd.Timestamp(0)),
        }
    )
    with_ci = summary_with_ci(frame, n_boot=n_boot, seed=seed)
    summary = with_ci.summary
    clv = frame["clv"].to_numpy()
    return {
        "bets": summary.bets,
        "staked": summary.turnover,
        "profit": summary.profit,
        "yield": summary.yield_,
        "yield_ci": list(with_ci.yield_ci),
        "hit_rate": summary.hit_rate,
        "clv_mean": summary.clv_mean,
        "clv_ci": list(with_ci.clv_mean_ci),
        "clv_bets": int(np.isfinite(clv).sum()),
    }


def suggestions_of(
    bets: Iterable[Mapping[str, Any]],
    model_version: str,
    model_semver: str,
    suggested_at: str,
    source: str,
) -> list[Suggestion]:
    """Suggestions from value-bet rows (`ValueBet` fields: per cent stakes and edges)."""
    return [
        Suggestion(
            match_id=b["match_id"],
            league=b["league"],
            kickoff=None if b.get("kickoff") is None else str(b["kickoff"]),
            home_team=b["home_team"],
            away_team=b["away_team"],
            outcome=b["outcome"],
            bookmaker=b["bookmaker"],
            price=float(b["price"]),
            net_odds=float(b["net_odds"]),
            stake=float(b["kelly_stake_percentage"]) / 100.0,
            edge=float(b["edge_percentage"]) / 100.0,
            quality=str(b["quality"]),
            model_version=model_version,
            model_semver=model_semver,
            suggested_at=suggested_at,
            source=source,
        )
        for b in bets
    ]


def track_record(
    data_dir: Path | str,
    since: str | None = None,
    sharp_books: Sequence[str] = ("pinnacle", "market_avg"),
    method: ImpliedMethod | str = ImpliedMethod.MULTIPLICATIVE,
    n_boot: int = 2000,
) -> tuple[dict[str, Any], pd.DataFrame]:
    """(the report, the settled suggestions) of a data directory's ledger, settled on its
    store as it is now; `since`: only suggestions made on or after that day (ISO)."""
    suggestions = Ledger(data_dir).load()
    if since is not None and len(suggestions):
        made = pd.to_datetime(suggestions["suggested_at"], utc=True, format="ISO8601")
        suggestions = suggestions[made >= pd.Timestamp(since, tz="UTC")]
    leagues = sorted(set(suggestions["league"])) or None
    store = DataStore(Path(data_dir))
    matches = store.load("matches", leagues=leagues) if leagues else pd.DataFrame()
    odds = store.load("odds", leagues=leagues) if leagues else pd.DataFrame()
    if matches.empty:
        matches = pd.DataFrame(columns=["match_id", "result"])
    settled = settle(suggestions.reset_index(drop=True), matches, odds, sharp_books, method)
    return report(settled, n_boot=n_boot), settled
