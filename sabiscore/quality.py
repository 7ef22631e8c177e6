"""Data-quality rules around the validation suite: what to check, and what a failure costs.

The suite itself (`configs/validation.yaml`) is run by Great Expectations. This module is the
pure part on either side of it:

* before: derived columns that make each rule a plain column expectation (the result implied
  by the goals, the line a duplicate first appeared on, a bookmaker's 1X2 overround);
* after: turning the failed row indices into decisions. A *match-level* failure sends the row
  to quarantine (its file, line and reason kept); a *price-level* failure drops only that
  bookmaker's prices for that match, because the result is still true. A file with too large
  a share of bad rows is rejected whole.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sabiscore.football_data import season_of
from sabiscore.guards import played_in_future

PRICE_GROUP = ("source", "line", "match_id", "code", "phase", "market")

QUARANTINE_COLUMNS = (
    "source", "line", "match_id", "league", "season", "expectation", "column", "reason",
    "raw_row",
)  # fmt: skip
WARNING_COLUMNS = (
    "source", "line", "match_id", "league", "season", "bookmaker", "code", "phase", "market",
    "expectation", "reason", "prices",
)  # fmt: skip


def result_from_goals(home_goals: pd.Series, away_goals: pd.Series) -> pd.Series:
    """H, D or A as the goals say (None where a score is missing).

    >>> result_from_goals(pd.Series([2, 1, 0.0]), pd.Series([1, 1, 3.0])).tolist()
    ['H', 'D', 'A']
    """
    diff = home_goals - away_goals
    out = np.select([diff > 0, diff == 0, diff < 0], ["H", "D", "A"], default="")
    return pd.Series(out, index=home_goals.index, dtype=object).replace("", None)


def match_check_frame(
    matches: pd.DataFrame,
    season_start_month: int = 7,
    now: pd.Timestamp | None = None,
    future_tolerance_days: float = 1.0,
) -> pd.DataFrame:
    """The match table plus the derived columns the match-level expectations read.

    `now` is the time of ingest: a played match dated after it (beyond the tolerance) is a
    result from the future. Without it (`None`) no row is judged so.
    """
    frame = matches.copy()
    frame["result_from_goals"] = result_from_goals(frame["home_goals"], frame["away_goals"])
    played = frame["status"] == "played"
    frame.loc[~played, "result_from_goals"] = frame.loc[~played, "result"]
    # Duplicates are judged within a file: the same season from two files is a replacement.
    key = [frame["source"], frame["match_id"]]
    first_line = frame.groupby(key, dropna=True)["line"].transform("min")
    dup = frame["match_id"].notna() & frame.duplicated(["source", "match_id"], keep="first")
    frame["duplicate_of"] = np.where(dup, "line " + first_line.astype("Int64").astype(str), None)
    frame["same_teams"] = frame["home_team"].notna() & (frame["home_team"] == frame["away_team"])
    start_year = frame["season"].str.slice(0, 4).astype(float)
    season_start = pd.to_datetime(
        {"year": start_year, "month": season_start_month, "day": 1}, errors="coerce"
    )
    frame["days_into_season"] = (frame["date"] - season_start).dt.days
    frame["played_in_future"] = (
        played_in_future(frame["kickoff"], frame["status"], now, future_tolerance_days)
        if now is not None
        else False
    )
    return frame


def price_check_frame(odds: pd.DataFrame) -> pd.DataFrame:
    """Tidy prices plus, per bookmaker book, how many outcomes it quotes and its overround."""
    frame = odds.copy()
    group = frame.groupby(list(PRICE_GROUP), observed=True, sort=False)
    frame["outcomes_quoted"] = group["price"].transform("size")
    inverse = 1.0 / frame["price"].where(frame["price"] > 0)
    frame["overround"] = inverse.groupby([frame[c] for c in PRICE_GROUP], observed=True).transform(
        "sum", min_count=1
    )
    complete = np.where(frame["market"] == "1x2", 3, 2) == frame["outcomes_quoted"]
    frame.loc[~complete | frame["is_aggregate"], "overround"] = np.nan
    frame["overround_1x2"] = frame["overround"].where(frame["market"] == "1x2")
    frame["overround_ou"] = frame["overround"].where(frame["market"] == "ou2.5")
    return frame


@dataclass(frozen=True)
class Failure:
    """One failed expectation and the row labels (DataFrame index) that failed it."""

    expectation: str
    column: str
    reason: str
    level: str  # "match", "price" or "table"
    index: tuple


@dataclass(frozen=True)
class QualityOutcome:
    """What validation decided: rows kept, quarantined, price books dropped, files rejected."""

    matches: pd.DataFrame
    odds: pd.DataFrame
    quarantine: pd.DataFrame
    warnings: pd.DataFrame
    rejected_files: Mapping[str, str]


def apply_failures(
    matches: pd.DataFrame,
    odds: pd.DataFrame,
    failures: Sequence[Failure],
    max_bad_share: float,
) -> QualityOutcome:
    """Split checked tables into kept rows, quarantine entries and price warnings."""
    quarantine = _quarantine_entries(matches, [f for f in failures if f.level == "match"])
    bad_rows = set(quarantine["_row"])
    warnings, dropped = _price_warnings(matches, odds, [f for f in failures if f.level == "price"])
    rejected = _rejected_files(matches, quarantine, max_bad_share)
    keep = ~matches.index.isin(list(bad_rows)) & ~matches["source"].isin(list(rejected))
    kept = matches.loc[keep]
    # Prices belong to the line they were read from: a quarantined duplicate takes its own
    # prices with it and leaves the first row's alone.
    kept_lines = pd.MultiIndex.from_frame(kept[["source", "line"]])
    odds_keep = pd.MultiIndex.from_frame(odds[["source", "line"]]).isin(kept_lines)
    odds_keep &= ~odds.index.isin(list(dropped))
    return QualityOutcome(
        matches=kept,
        odds=odds.loc[odds_keep],
        quarantine=quarantine.drop(columns="_row"),
        warnings=warnings,
        rejected_files=rejected,
    )


def _quarantine_entries(matches: pd.DataFrame, failures: Sequence[Failure]) -> pd.DataFrame:
    records = []
    for failure in failures:
        for label in failure.index:
            row = matches.loc[label]
            reason = failure.reason
            if failure.column == "duplicate_of" and "duplicate_of" in matches:
                reason = f"{reason} (first seen at {row['duplicate_of']})"
            records.append(
                {
                    "_row": label,
                    "source": row["source"],
                    "line": int(row["line"]),
                    "match_id": row["match_id"],
                    "league": row["league"] or None,
                    "season": row["season"],
                    "expectation": failure.expectation,
                    "column": failure.column,
                    "reason": reason,
                    "raw_row": row["raw_row"],
                }
            )
    return pd.DataFrame.from_records(records, columns=["_row", *QUARANTINE_COLUMNS])


def _price_warnings(
    matches: pd.DataFrame, odds: pd.DataFrame, failures: Sequence[Failure]
) -> tuple[pd.DataFrame, set]:
    """Warnings for failed price books, and every odds row of those books (to drop)."""
    if not failures or odds.empty:
        return pd.DataFrame(columns=list(WARNING_COLUMNS)), set()
    book_id = odds.groupby(list(PRICE_GROUP), observed=True, sort=False, dropna=False).ngroup()
    records, dropped = [], set()
    for failure in failures:
        failed_books = pd.unique(book_id.loc[list(failure.index)])
        rows = odds.loc[book_id.isin(failed_books)]
        dropped.update(rows.index)
        for _, book in rows.groupby(book_id.loc[rows.index], sort=False):
            first = book.iloc[0]
            pairs = zip(book["outcome"], book["price_raw"], strict=True)
            prices = " ".join(f"{outcome}={price}" for outcome, price in pairs)
            records.append(
                {
                    **{c: first[c] for c in WARNING_COLUMNS if c in first.index},
                    "line": int(first["line"]),
                    "expectation": failure.expectation,
                    "reason": failure.reason,
                    "prices": prices,
                }
            )
    return pd.DataFrame.from_records(records, columns=list(WARNING_COLUMNS)), dropped


def _rejected_files(
    matches: pd.DataFrame, quarantine: pd.DataFrame, max_bad_share: float
) -> dict[str, str]:
    """Files with too large a share of bad rows, and why in words: the share and the most
    common reason, so that a file rejected whole says what is wrong with it."""
    rejected = {}
    bad = matches.index.isin(list(set(quarantine["_row"])))
    for source, rows in matches.groupby("source").groups.items():
        n_bad = int(bad[matches.index.get_indexer(rows)].sum())
        share = n_bad / len(rows)
        if share > max_bad_share:
            reasons = quarantine.loc[quarantine["source"] == source, "reason"].value_counts()
            n_top = int(reasons.iloc[0])
            rejected[source] = (
                f"{n_bad} of {len(rows)} rows ({share:.0%}) failed validation, more than the "
                f"allowed {max_bad_share:.0%}, most often: {reasons.index[0]} "
                f"({n_top} row{'s' * (n_top != 1)}); the file was not stored (see the quarantine)"
            )
    return rejected


def dominant_partition(matches: pd.DataFrame) -> tuple[str, str]:
    """The (league, season) most rows of a file belong to: where its quarantine is filed."""
    valid = matches.dropna(subset=["league", "season"])
    valid = valid[valid["league"] != ""]
    if valid.empty:
        dates = matches["date"].dropna()
        season = season_of(dates.iloc[0]) if len(dates) else "unknown"
        return "unknown", season
    counts = valid.groupby(["league", "season"]).size().sort_values(ascending=False)
    league, season = counts.index[0]
    return str(league), str(season)


#: Columns that exist only to validate rows; they are not stored in the canonical table.
CHECK_ONLY_COLUMNS = (
    "n_fields", "n_header_fields", "date_raw", "home_goals_raw", "away_goals_raw", "raw_row",
    "result_from_goals", "duplicate_of", "same_teams", "days_into_season", "played_in_future",
)  # fmt: skip
INTEGER_COLUMNS = (
    "home_goals", "away_goals", "ht_home_goals", "ht_away_goals",
    "home_shots", "away_shots", "home_shots_on_target", "away_shots_on_target",
    "home_fouls", "away_fouls", "home_corners", "away_corners",
    "home_yellow", "away_yellow", "home_red", "away_red",
)  # fmt: skip


def canonical_matches(matches: pd.DataFrame) -> pd.DataFrame:
    """Validated rows in their stored form: integers as integers, check-only columns gone."""
    out = matches.drop(columns=[c for c in CHECK_ONLY_COLUMNS if c in matches])
    for column in INTEGER_COLUMNS:
        out[column] = out[column].round().astype("Int64")
    return out.reset_index(drop=True)
