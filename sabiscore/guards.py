"""What a file must show before it may replace what the store already holds.

Validation (`sabiscore.quality`) judges rows. These rules judge a whole file against the
store, because the costly failures are the quiet ones: a download cut off part-way parses into
fewer, perfectly valid rows and would replace a complete season; a file of results dated in
2099 would be served as a season that has not happened. A file refused here is not committed,
the stored season stays as it was, and the message says how to force it when it is right.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from sabiscore.config import reject_unknown_keys
from sabiscore.outcomes import RESULT_CODES


@dataclass(frozen=True)
class ReplaceGuards:
    """Thresholds of the guards (`validation.guards` in configs/validation.yaml).

    `min_replace_share`: a file may replace a stored season only if it has at least this share
    of the season's played matches. A season in progress only grows, and a correction changes a
    few rows; 0.9 lets a file drop a handful of duplicates but not the ~4 matchdays (38 of 380)
    a cut-off download loses. `future_tolerance_days`: how far after the time of ingest a
    played match may be dated (kick-off times are UK local time and clocks drift).
    """

    min_replace_share: float = 0.9
    future_tolerance_days: float = 1.0

    def __post_init__(self) -> None:
        if not 0 < self.min_replace_share <= 1:
            raise ValueError(f"min_replace_share must be in (0, 1], got {self.min_replace_share}")
        if self.future_tolerance_days < 0:
            raise ValueError(
                f"future_tolerance_days must be >= 0, got {self.future_tolerance_days}"
            )

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ReplaceGuards:
        reject_unknown_keys(d, cls, "validation guards")
        return cls(**d)


def force_hint(source: str) -> str:
    """The words appended to a refusal that `--replace` may override."""
    return (
        "not stored, the stored season is kept; if this file is right, force it with "
        f"`sabiscore ingest {source} --replace`"
    )


def truncation_reason(matches: pd.DataFrame, ends_with_newline: bool) -> str | None:
    """Why the file's last row looks cut off mid-way, or None.

    A download cut part-way ends inside a row: that row has fewer fields than the header, or,
    when the cut falls in its last field, the line has no line end and does not read as a
    complete match (date, teams, and for a played match goals and a result).

    >>> rows = pd.DataFrame({"line": [2, 3], "n_fields": [5, 2], "n_header_fields": [5, 5]})
    >>> truncation_reason(rows, ends_with_newline=False)
    'the last row (line 3) has 2 of 5 fields: the file looks cut off'
    """
    if matches.empty:
        return None
    last = matches.loc[matches["line"].idxmax()]
    line, n, width = int(last["line"]), int(last["n_fields"]), int(last["n_header_fields"])
    if n < width:
        return f"the last row (line {line}) has {n} of {width} fields: the file looks cut off"
    if not ends_with_newline and not _reads_as_full_match(last):
        return (
            f"the last row (line {line}) has no line end and does not read as a complete "
            "match: the file looks cut off"
        )
    return None


def _reads_as_full_match(row: pd.Series) -> bool:
    if any(pd.isna(row.get(c)) for c in ("date", "home_team", "away_team")):
        return False
    if row.get("status") != "played":
        return True
    goals = (str(row.get("home_goals_raw", "")), str(row.get("away_goals_raw", "")))
    return all(g.isdigit() for g in goals) and row.get("result") in RESULT_CODES


def shrink_reason(new_matches: int, stored_matches: int, min_replace_share: float) -> str | None:
    """Why a file with `new_matches` played matches may not replace a season that has
    `stored_matches`, or None. A season in progress grows, so only a drop is suspect.

    >>> shrink_reason(570, 760, 0.9)
    'the file has 570 played matches, 75% of the 760 stored for this season (at least 90% needed)'
    >>> shrink_reason(700, 760, 0.9) is None
    True
    """
    if stored_matches <= 0 or new_matches >= min_replace_share * stored_matches:
        return None
    return (
        f"the file has {new_matches} played matches, {new_matches / stored_matches:.0%} of the "
        f"{stored_matches} stored for this season (at least {min_replace_share:.0%} needed)"
    )


def played_in_future(
    kickoff: pd.Series, status: pd.Series, now: pd.Timestamp, tolerance_days: float
) -> pd.Series:
    """True where a match has a result but kicks off after `now` plus the tolerance.

    `now` is the time of ingest, passed in (UTC; naive kick-offs are compared as they are).

    >>> times = ["2026-12-01 15:00", "2026-12-03 00:00", "2099-08-10 15:00"]
    >>> kickoff = pd.to_datetime(pd.Series(times))
    >>> status = pd.Series(["played", "played", "fixture"])
    >>> played_in_future(kickoff, status, pd.Timestamp("2026-12-01 12:00"), 1.0).tolist()
    [False, True, False]
    """
    if now.tzinfo is not None:
        now = now.tz_convert("UTC").tz_localize(None)
    limit = now + pd.Timedelta(days=tolerance_days)
    return (status == "played") & (kickoff > limit).fillna(False)


_NAMED_SEASON = re.compile(r"(?<!\d)(\d{4})[-_](\d{4})(?!\d)")
_SEASON_FOLDER = re.compile(r"(?:^|/)(\d{2})(\d{2})/[^/]+$")


def season_named_by(source: str) -> str | None:
    """The season a source's name states (`E0/2023-2024.csv`, `mmz4281/2324/E0.csv`), or None.

    >>> season_named_by("data/E0/2023-2024.csv"), season_named_by("mmz4281/9900/E0.csv")
    ('2023-2024', '1999-2000')
    >>> season_named_by("https://www.football-data.co.uk/fixtures.csv") is None
    True
    """
    name = source.replace("\\", "/")
    match = _NAMED_SEASON.search(name.rsplit("/", 1)[-1])
    if match and int(match[2]) == int(match[1]) + 1:
        return f"{match[1]}-{match[2]}"
    folder = _SEASON_FOLDER.search(name)
    if folder and (int(folder[1]) + 1) % 100 == int(folder[2]):
        start = int(folder[1]) + (1900 if int(folder[1]) >= 90 else 2000)
        return f"{start}-{start + 1}"
    return None


def season_mismatch_reason(source: str, seasons: Iterable[str]) -> str | None:
    """Why a results file's dates disagree with the season its name states, or None.

    The season of a football-data file is derived from its dates (the most common season of
    its played rows); a file named for another season is misfiled or misdated.

    >>> season_mismatch_reason("E0/2023-2024.csv", ["2099-2100"])
    'the file is named for season 2023-2024 but its dates put it in 2099-2100'
    """
    named = season_named_by(source)
    found = sorted(set(seasons))
    if named is None or not found or named in found:
        return None
    return f"the file is named for season {named} but its dates put it in {', '.join(found)}"
