"""The guards on replacing a stored season: hand-computed cases of each pure rule."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

from sabiscore.config import load_config
from sabiscore.football_data import parse_football_data
from sabiscore.guards import (
    ReplaceGuards,
    played_in_future,
    season_mismatch_reason,
    season_named_by,
    shrink_reason,
    truncation_reason,
)
from sabiscore.quality import match_check_frame
from sabiscore.store import DataStore, Partition, RawFile, rejected_partition, stored_raw_shas

HEADER = "Div,Date,HomeTeam,AwayTeam,FTHG,FTAG,FTR,B365H,B365D,B365A"
ROWS = (
    "E0,11/08/2023,Burnley,Man City,0,3,A,8.00,5.50,1.33",
    "E0,12/08/2023,Arsenal,Nott'm Forest,2,1,H,1.18,7.50,15.00",
)


def _parse(text: str):
    return parse_football_data(text.encode(), "E0/2023-2024.csv")


# --- settings ------------------------------------------------------------------------------


def test_code_defaults_equal_the_yaml() -> None:
    assert ReplaceGuards.from_dict(load_config()["validation"]["guards"]) == ReplaceGuards()


def test_settings_reject_typos_and_nonsense() -> None:
    with pytest.raises(ValueError, match="unknown validation guards keys"):
        ReplaceGuards.from_dict({"min_replace_shares": 0.9})
    with pytest.raises(ValueError, match="min_replace_share must be in"):
        ReplaceGuards(min_replace_share=1.5)
    with pytest.raises(ValueError, match="future_tolerance_days must be >= 0"):
        ReplaceGuards(future_tolerance_days=-1)


# --- a cut-off last row --------------------------------------------------------------------


def test_a_complete_file_is_not_truncated() -> None:
    parsed = _parse("\r\n".join([HEADER, *ROWS]) + "\r\n")
    assert parsed.ends_with_newline
    assert truncation_reason(parsed.matches, parsed.ends_with_newline) is None


def test_a_complete_last_row_without_a_line_end_is_not_truncated() -> None:
    parsed = _parse("\r\n".join([HEADER, *ROWS]))
    assert not parsed.ends_with_newline
    assert truncation_reason(parsed.matches, parsed.ends_with_newline) is None


def test_a_last_row_with_fewer_fields_is_truncated() -> None:
    cut = ROWS[1][: ROWS[1].index(",2,1,H")]  # "E0,12/08/2023,Arsenal,Nott'm Forest": 4 of 10
    parsed = _parse("\r\n".join([HEADER, ROWS[0], cut]))
    reason = truncation_reason(parsed.matches, parsed.ends_with_newline)
    assert reason == "the last row (line 3) has 4 of 10 fields: the file looks cut off"


def test_a_short_row_followed_by_a_line_end_is_still_truncated_when_last() -> None:
    parsed = _parse("\r\n".join([HEADER, ROWS[0], "E0,12/08/2023,Arsenal"]) + "\r\n")
    assert "has 3 of 10 fields" in truncation_reason(parsed.matches, parsed.ends_with_newline)


def test_a_short_row_that_is_not_last_is_validation_s_business() -> None:
    parsed = _parse("\r\n".join([HEADER, "E0,12/08/2023,Arsenal", ROWS[0]]) + "\r\n")
    assert truncation_reason(parsed.matches, parsed.ends_with_newline) is None


def test_a_last_line_without_line_end_that_is_not_a_full_match_is_truncated() -> None:
    # Every field is there, but the cut fell just after the comma before FTR: no result.
    header = "Div,Date,HomeTeam,AwayTeam,FTHG,FTAG,FTR"
    rows = ["E0,11/08/2023,Burnley,Man City,0,3,A", "E0,12/08/2023,Arsenal,Nott'm Forest,2,1,"]
    parsed = parse_football_data("\r\n".join([header, *rows]).encode(), "x.csv")
    reason = truncation_reason(parsed.matches, parsed.ends_with_newline)
    assert reason == (
        "the last row (line 3) has no line end and does not read as a complete match: "
        "the file looks cut off"
    )
    with_line_end = parse_football_data("\r\n".join([header, *rows, ""]).encode(), "x.csv")
    assert truncation_reason(with_line_end.matches, with_line_end.ends_with_newline) is None


# --- fewer matches than the stored season --------------------------------------------------


def test_shrink_hand_computed() -> None:
    # 760 stored: 90% is 684. 684 may replace, 683 may not; a growing season always may.
    assert shrink_reason(684, 760, 0.9) is None
    assert shrink_reason(683, 760, 0.9) == (
        "the file has 683 played matches, 90% of the 760 stored for this season "
        "(at least 90% needed)"
    )
    assert "570 played matches, 75% of the 760" in shrink_reason(570, 760, 0.9)
    assert shrink_reason(200, 150, 0.9) is None, "a season in progress grows"
    assert shrink_reason(10, 0, 0.9) is None, "nothing stored, nothing to lose"


# --- results from the future ---------------------------------------------------------------


def test_played_in_future_at_the_tolerance_boundary() -> None:
    now = pd.Timestamp("2026-12-01 12:00")
    kickoff = pd.Series(
        pd.to_datetime(["2026-12-02 12:00", "2026-12-02 12:01", "2099-08-10 15:00", None])
    )
    status = pd.Series(["played", "played", "fixture", "played"])
    assert played_in_future(kickoff, status, now, 1.0).tolist() == [False, True, False, False]
    assert played_in_future(kickoff, status, now, 0.0).tolist() == [True, True, False, False]


def test_played_in_future_takes_an_aware_now_as_utc() -> None:
    kickoff = pd.Series(pd.to_datetime(["2026-12-01 13:00"]))
    status = pd.Series(["played"])
    one_pm_in_lagos = pd.Timestamp("2026-12-01 13:00", tz="Africa/Lagos")  # 12:00 UTC
    assert played_in_future(kickoff, status, one_pm_in_lagos, 0.0).tolist() == [True]


def test_the_check_frame_marks_future_results_only_when_given_a_time() -> None:
    text = "\r\n".join([HEADER, ROWS[0], ROWS[1].replace("2023", "2099")]) + "\r\n"
    matches = parse_football_data(text.encode(), "x.csv").matches
    now = pd.Timestamp(datetime(2026, 12, 1, tzinfo=UTC))
    assert match_check_frame(matches, 7, now, 1.0)["played_in_future"].tolist() == [False, True]
    assert not match_check_frame(matches)["played_in_future"].any()


# --- the season a file's name states -------------------------------------------------------


def test_season_named_by_the_source() -> None:
    assert season_named_by("/data/football-data/E0/2019-2020.csv") == "2019-2020"
    assert season_named_by("https://www.football-data.co.uk/mmz4281/2324/E0.csv") == "2023-2024"
    assert season_named_by("mmz4281/9900/E0.csv") == "1999-2000"
    assert season_named_by("E0/2019-2021.csv") is None, "not a season"
    assert season_named_by("fixtures.csv") is None
    assert season_named_by("1234/E0.csv") is None


def test_a_season_mismatch_is_a_clear_failure() -> None:
    assert season_mismatch_reason("E0/2023-2024.csv", ["2023-2024"]) is None
    assert season_mismatch_reason("E0/latest.csv", ["2099-2100"]) is None
    assert season_mismatch_reason("mmz4281/2324/E0.csv", ["2099-2100"]) == (
        "the file is named for season 2023-2024 but its dates put it in 2099-2100"
    )


# --- the store: refusals leave the season as it was ----------------------------------------


def _results(season: str, sha: str, n: int) -> Partition:
    matches = pd.DataFrame({"match_id": [f"m{i}" for i in range(n)], "home_goals": range(n)})
    return Partition("E0", season, sha, f"E0/{season}.csv", {"matches": matches})


def test_a_refused_file_leaves_the_manifest_entry_as_it_was(tmp_path: Path) -> None:
    store = DataStore(tmp_path)
    store.commit([_results("2023-2024", "a" * 64, 10)])
    before = store.manifest()["partitions"]["E0/2023-2024"]
    other = _results("2022-2023", "b" * 64, 5)  # same file (sha) as the refused one

    def refuse(part: Partition, committed: dict | None) -> str | None:
        return "too small" if committed and part.season == "2023-2024" else None

    result = store.commit([_results("2023-2024", "b" * 64, 3), other], refuse)
    assert result.refused == {"E0/2023-2024": "too small"}
    assert result.written == () and result.replaced == ()
    assert store.manifest()["partitions"] == {"E0/2023-2024": before}
    assert len(store.load("matches")) == 10


def test_a_rejected_file_s_quarantine_is_stored_but_not_served(tmp_path: Path) -> None:
    store = DataStore(tmp_path)
    raw = RawFile("c" * 64, tmp_path / "x.csv", "future.csv", 1)
    quarantine = pd.DataFrame({"source": ["future.csv"], "line": [2], "reason": ["future"]})
    store.commit([rejected_partition(raw, quarantine, ("E0", "2099-2100"))])
    assert list(store.manifest()["partitions"]) == ["rejected:E0/2099-2100"]
    assert store.load("quarantine")["reason"].tolist() == ["future"]
    assert store.summary()["seasons"] == [] and store.summary()["quarantine"] == 1
    assert stored_raw_shas(store.manifest()) == set()
    # A good file for that season later supersedes the refused version's quarantine.
    store.commit([_results("2099-2100", "d" * 64, 2)])
    assert list(store.manifest()["partitions"]) == ["E0/2099-2100"]
