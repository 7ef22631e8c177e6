"""Data-quality rules around the validation suite: what to check, and what a failure costs.

The suite itself (`configs/validation.yaml`) is run by Great Expectations. This module is the
pure part on either side of it:

* before: derived columns that make each rule a plain column expectation (the result implied
  by the goals, the line a duplicate first appeared on, a bookmaker's 1X2 overround);
* after: turning the failed row indices into decisions. A *match-level* failure sends the row
  to quarantine (its file, line and reason kept); a *price-level* failure drops only that
  bookmaker's prices for that match, because the result is still true. A file with too large
  a share of bad rows is rejected whole.

A large file is screened first (`screen_file`): read a chunk of rows at a time and judged by
the expectations that need no other row, it is refused as soon as its failed rows alone make
the share certain, so a 50 MB file of garbage is never parsed or held whole.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from sabiscore.config import reject_unknown_keys
from sabiscore.football_data import count_data_lines, iter_match_chunks, season_of
from sabiscore.guards import played_in_future
from sabiscore.outcomes import RESULT_CODES

PRICE_GROUP = ("source", "line", "match_id", "code", "phase", "market")

QUARANTINE_COLUMNS = (
    "source",
    "line",
    "match_id",
    "league",
    "season",
    "expectation",
    "column",
    "reason",
    "raw_row",
)
WARNING_COLUMNS = (
    "source",
    "line",
    "match_id",
    "league",
    "season",
    "bookmaker",
    "code",
    "phase",
    "market",
    "expectation",
    "reason",
    "prices",
)


def result_from_goals(home_goals: pd.Series, away_goals: pd.Series) -> pd.Series:
    """H, D or A as the goals say (None where a score is missing).

    >>> result_from_goals(pd.Series([2, 1, 0.0]), pd.Series([1, 1, 3.0])).tolist()
    ['H', 'D', 'A']
    """
    diff = home_goals - away_goals
    out = np.select([diff > 0, diff == 0, diff < 0], list(RESULT_CODES), default="")
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


def book_ids(odds: pd.DataFrame) -> np.ndarray:
    """Each price's book (its `PRICE_GROUP`) as a number, in order of first appearance: what
    `groupby(PRICE_GROUP, sort=False, dropna=False).ngroup()` gives, with each column hashed
    once instead of the six together.

    >>> odds = pd.DataFrame({"source": ["a"] * 4, "line": [2, 2, 3, 2], "match_id": "m",
    ...     "code": ["B365", "B365", "B365", "PS"], "phase": "open", "market": "1x2"})
    >>> book_ids(odds).tolist()
    [0, 0, 1, 2]
    """
    ids, distinct = np.zeros(len(odds), dtype=np.int64), 1
    for column in PRICE_GROUP:
        codes, uniques = pd.factorize(odds[column], use_na_sentinel=False)
        width = max(len(uniques), 1)
        if distinct * width >= 2**62:  # dense again before it could overflow
            ids, seen = pd.factorize(ids)
            distinct = len(seen)
        ids, distinct = ids * width + codes, distinct * width
    return pd.factorize(ids)[0].astype(np.int64)


def price_check_frame(odds: pd.DataFrame) -> pd.DataFrame:
    """Tidy prices plus, per bookmaker book, how many outcomes it quotes and its overround,
    and the book's number (`book`, see `book_ids`). A price lacking a key column (say, of a
    row with no match id) belongs to no book: NaN for both."""
    frame = odds.copy()
    frame["book"] = book = book_ids(frame)
    keyed = frame[list(PRICE_GROUP)].notna().all(axis=1)
    frame["outcomes_quoted"] = frame["price"].groupby(book).transform("size")
    inverse = 1.0 / frame["price"].where(frame["price"] > 0)
    frame["overround"] = inverse.groupby(book).transform("sum", min_count=1)
    if not keyed.all():
        frame[["outcomes_quoted", "overround"]] = frame[["outcomes_quoted", "overround"]].where(
            keyed, np.nan
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
    books: np.ndarray | None = None,
) -> QualityOutcome:
    """Split checked tables into kept rows, quarantine entries and price warnings.

    `books`: `book_ids(odds)` when the caller has them already (`price_check_frame`'s)."""
    quarantine = _quarantine_entries(matches, [f for f in failures if f.level == "match"])
    bad_rows = set(quarantine["_row"])
    price_failures = [f for f in failures if f.level == "price"]
    warnings, dropped = _price_warnings(matches, odds, price_failures, books)
    rejected = _rejected_files(matches, quarantine, max_bad_share)
    keep = ~matches.index.isin(list(bad_rows)) & ~matches["source"].isin(list(rejected))
    kept = matches.loc[keep]
    # Prices belong to the line they were read from: a quarantined duplicate takes its own
    # prices with it and leaves the first row's alone.
    kept_lines = pd.MultiIndex.from_frame(kept[["source", "line"]])
    odds_keep = pd.MultiIndex.from_frame(odds[["source", "line"]]).isin(kept_lines)
    odds_keep &= ~odds.index.isin(dropped)
    return QualityOutcome(
        matches=kept,
        odds=odds.loc[odds_keep],
        quarantine=quarantine.drop(columns="_row"),
        warnings=warnings,
        rejected_files=rejected,
    )


def _quarantine_entries(matches: pd.DataFrame, failures: Sequence[Failure]) -> pd.DataFrame:
    """One entry per failed row and expectation, built a column at a time (a garbage file
    fails hundreds of thousands of times)."""
    entries = []
    for failure in failures:
        rows = matches.loc[list(failure.index)]
        reason = pd.Series(failure.reason, index=rows.index, dtype=object)
        if failure.column == "duplicate_of" and "duplicate_of" in matches:
            reason = reason + " (first seen at " + rows["duplicate_of"].astype(str) + ")"
        entries.append(
            {
                "_row": list(failure.index),
                "source": rows["source"].tolist(),
                "line": rows["line"].astype(int).tolist(),
                "match_id": rows["match_id"].tolist(),
                "league": [league or None for league in rows["league"]],
                "season": rows["season"].tolist(),
                "expectation": [failure.expectation] * len(rows),
                "column": [failure.column] * len(rows),
                "reason": reason.tolist(),
                "raw_row": rows["raw_row"].tolist(),
            }
        )
    columns = ["_row", *QUARANTINE_COLUMNS]
    if not entries:
        return pd.DataFrame(columns=columns)
    return pd.DataFrame({c: [v for entry in entries for v in entry[c]] for c in columns})


def _price_warnings(
    matches: pd.DataFrame,
    odds: pd.DataFrame,
    failures: Sequence[Failure],
    books: np.ndarray | None = None,
) -> tuple[pd.DataFrame, pd.Index]:
    """Warnings for failed price books, and every odds row of those books (to drop).

    One warning per failed expectation and book, in the order the books appear in the file,
    built a column at a time: the cost follows the number of failed prices.
    """
    if not failures or odds.empty:
        return pd.DataFrame(columns=list(WARNING_COLUMNS)), odds.index[:0]
    book_id = pd.Series(book_ids(odds) if books is None else books, index=odds.index)
    failed = [np.unique(book_id.loc[list(f.index)].to_numpy()) for f in failures]
    in_failed = book_id.isin(np.concatenate(failed))
    prices = _price_labels(odds.loc[in_failed], book_id.loc[in_failed])
    first_row = book_id.loc[in_failed].drop_duplicates()
    first_row = pd.Series(first_row.index, index=first_row.to_numpy())
    present = [c for c in WARNING_COLUMNS if c in odds.columns]
    records: dict[str, list] = {c: [] for c in WARNING_COLUMNS}
    for failure, books in zip(failures, failed, strict=True):
        firsts = odds.loc[first_row.loc[books].to_numpy(), present]
        for column in present:
            records[column].extend(firsts[column].astype(int if column == "line" else object))
        records["expectation"].extend([failure.expectation] * len(books))
        records["reason"].extend([failure.reason] * len(books))
        records["prices"].extend(prices.loc[books].tolist())
    warnings = pd.DataFrame(records, columns=list(WARNING_COLUMNS))
    return warnings, odds.index[in_failed.to_numpy()]


def _price_labels(odds: pd.DataFrame, book_id: pd.Series) -> pd.Series:
    """Each book's prices as the file gave them, in file order: "H=2.5 D=3.4 A=2.9"."""
    label = odds["outcome"].astype(str) + "=" + odds["price_raw"].astype(str)
    position = book_id.groupby(book_id).cumcount()
    wide = pd.DataFrame({"book": book_id, "at": position, "label": label}).pivot(
        index="book", columns="at", values="label"
    )
    joined = wide[0]
    for at in wide.columns[1:]:
        joined = joined.where(wide[at].isna(), joined + " " + wide[at])
    return joined


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
    valid = matches[["league", "season"]].dropna()  # the two columns, not a copy of all
    valid = valid[valid["league"] != ""]
    if valid.empty:
        dates = matches["date"].dropna()
        season = season_of(dates.iloc[0]) if len(dates) else "unknown"
        return "unknown", season
    counts = valid.groupby(["league", "season"]).size().sort_values(ascending=False)
    league, season = counts.index[0]
    return str(league), str(season)


# --- judging a large file before reading all of it ---------------------------------------

#: Derived columns whose value depends on other rows of the file: a duplicate needs the row it
#: repeats, the days into the season need the file's season. A chunk of rows cannot judge
#: them, so the screen leaves their expectations to the full validation.
FILE_WIDE_COLUMNS = ("duplicate_of", "days_into_season")


def row_local_suite(suite: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The match-level expectations of `suite` that judge each row by itself.

    >>> suite = [{"level": "match", "kwargs": {"column": "league"}},
    ...          {"level": "match", "kwargs": {"column": "duplicate_of"}},
    ...          {"level": "price", "kwargs": {"column": "price"}}]
    >>> [e["kwargs"]["column"] for e in row_local_suite(suite)]
    ['league']
    """

    def reads(entry: Mapping[str, Any]) -> set[str]:
        kwargs = entry["kwargs"]
        return {kwargs.get(k) for k in ("column", "column_A", "column_B")} - {None}

    return [e for e in suite if e["level"] == "match" and not reads(e) & set(FILE_WIDE_COLUMNS)]


@dataclass(frozen=True)
class ScreenSettings:
    """How a large file is judged before all of it is read (`validation.screen`).

    `chunk_rows`: rows parsed and judged at a time; a file of no more lines than this is not
    screened (its full validation is no later). `quarantine_sample_rows`: a file refused
    early keeps the quarantine entries of its first this-many failed rows, not of the
    100,000s a garbage file has; its message gives the count.
    """

    chunk_rows: int = 5000
    quarantine_sample_rows: int = 1000

    def __post_init__(self) -> None:
        if self.chunk_rows < 1 or self.quarantine_sample_rows < 0:
            raise ValueError(
                "screen chunk_rows must be >= 1 and quarantine_sample_rows >= 0, got "
                f"{self.chunk_rows} and {self.quarantine_sample_rows}"
            )

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ScreenSettings:
        reject_unknown_keys(d, cls, "validation screen")
        return cls(**d)


@dataclass(frozen=True)
class EarlyRefusal:
    """A file refused before all of it was read, and why in words."""

    source: str
    failed_rows: int  # rows that failed in the part read
    rows_read: int
    max_rows: int  # the file's data lines: at least its rows
    quarantine: pd.DataFrame  # QUARANTINE_COLUMNS, for the first failed rows only
    home: tuple[str, str]  # the (league, season) its quarantine is filed under
    reason: str


def refusal_is_certain(failed_rows: int, max_rows: int, max_bad_share: float) -> bool:
    """Whether `failed_rows` bad rows already reject a file of at most `max_rows` rows,
    whatever its other rows hold: the file's share is at least `failed_rows / max_rows`.

    >>> refusal_is_certain(501, 5000, 0.1), refusal_is_certain(500, 5000, 0.1)
    (True, False)
    """
    return failed_rows / max_rows > max_bad_share


def screen_file(
    data: bytes,
    source: str,
    judge: Callable[[pd.DataFrame], Sequence[Failure]],
    max_bad_share: float,
    settings: ScreenSettings,
    season_start_month: int = 7,
) -> EarlyRefusal | None:
    """Refuse a large file as soon as it is certain to fail, before reading the rest.

    `judge` runs the row-local expectations (`row_local_suite`) on a chunk's match table and
    returns their failures. A row they fail, the whole suite fails too, and the file has at
    most `count_data_lines` rows, so once `refusal_is_certain` the verdict cannot change.
    Returns None when it is not settled before the last chunk: the full validation decides,
    as it does for every file of at most `settings.chunk_rows` lines.
    """
    max_rows = count_data_lines(data)
    if max_rows <= settings.chunk_rows:
        return None
    failed = read = kept = 0
    reasons: Counter[str] = Counter()
    sample: list[pd.DataFrame] = []
    first: pd.DataFrame | None = None
    for chunk in iter_match_chunks(data, source, settings.chunk_rows, season_start_month):
        entries = _quarantine_entries(chunk.matches, judge(chunk.matches))
        bad = np.sort(pd.unique(entries["_row"]))
        sampled = bad[: settings.quarantine_sample_rows - kept]
        sample.append(entries[entries["_row"].isin(sampled)])
        failed, read, kept = failed + len(bad), read + len(chunk.matches), kept + len(sampled)
        reasons.update(entries["reason"])
        first = chunk.matches if first is None else first
        if chunk.last:
            return None
        if refusal_is_certain(failed, max_rows, max_bad_share):
            quarantine = pd.concat(sample, ignore_index=True)
            return EarlyRefusal(
                source,
                failed,
                read,
                max_rows,
                quarantine.drop(columns="_row"),
                dominant_partition(first),
                _early_reason(failed, read, max_rows, max_bad_share, reasons, kept),
            )
    return None


def _early_reason(
    failed: int, read: int, max_rows: int, max_bad_share: float, reasons: Counter[str], kept: int
) -> str:
    top, n_top = reasons.most_common(1)[0]
    return (
        f"{failed} of the first {read} rows ({failed / read:.0%}) failed validation, already "
        f"more than the allowed {max_bad_share:.0%} of the file's at most {max_rows} rows, so "
        f"the rest was not read; most often: {top} ({n_top} row{'s' * (n_top != 1)}); the file "
        f"was not stored (the quarantine keeps the first {kept} failed rows)"
    )


#: Columns that exist only to validate rows; they are not stored in the canonical table.
CHECK_ONLY_COLUMNS = (
    "n_fields",
    "n_header_fields",
    "date_raw",
    "home_goals_raw",
    "away_goals_raw",
    "raw_row",
    "result_from_goals",
    "duplicate_of",
    "same_teams",
    "days_into_season",
    "played_in_future",
)
INTEGER_COLUMNS = (
    "home_goals",
    "away_goals",
    "ht_home_goals",
    "ht_away_goals",
    "home_shots",
    "away_shots",
    "home_shots_on_target",
    "away_shots_on_target",
    "home_fouls",
    "away_fouls",
    "home_corners",
    "away_corners",
    "home_yellow",
    "away_yellow",
    "home_red",
    "away_red",
)


def canonical_matches(matches: pd.DataFrame) -> pd.DataFrame:
    """Validated rows in their stored form: integers as integers, check-only columns gone."""
    out = matches.drop(columns=[c for c in CHECK_ONLY_COLUMNS if c in matches])
    for column in INTEGER_COLUMNS:
        out[column] = out[column].round().astype("Int64")
    return out.reset_index(drop=True)
