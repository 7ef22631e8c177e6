"""Data-quality rules: derived check columns, and what each kind of failure costs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sabiscore.config import load_config
from sabiscore.football_data import parse_football_data
from sabiscore.quality import (
    CHECK_ONLY_COLUMNS,
    INTEGER_COLUMNS,
    PRICE_GROUP,
    QUARANTINE_COLUMNS,
    WARNING_COLUMNS,
    Failure,
    ScreenSettings,
    apply_failures,
    book_ids,
    canonical_matches,
    dominant_partition,
    match_check_frame,
    price_check_frame,
    result_from_goals,
    row_local_suite,
    screen_file,
)

HEADER = (
    "Div,Date,HomeTeam,AwayTeam,FTHG,FTAG,FTR,B365H,B365D,B365A,AvgH,AvgD,AvgA,B365>2.5,B365<2.5"
)
ROWS = [
    "E0,11/08/2023,Burnley,Man City,0,3,A,8,5,1.4,8.5,5.2,1.35,1.4,3",  # line 2
    "E0,12/08/2023,Arsenal,Arsenal,2,1,H,1.2,6,15,,,,,",  # line 3: same teams
    "E0,11/08/2023,Burnley,Man City,0,3,A,2,3,4,,,,,",  # line 4: duplicate of line 2
    "E0,13/08/2023,Chelsea,Liverpool,1,1,H,2.5,3.4,2.9,,,,,",  # line 5: FTR disagrees
    "E0,19/08/2023,Luton,Brighton,,,,2,3.5,,,,,,",  # line 6: fixture, B365A missing
]


def _parse(source: str, rows: list[str] = ROWS) -> tuple[pd.DataFrame, pd.DataFrame]:
    data = ("\r\n".join([HEADER, *rows]) + "\r\n").encode()
    parsed = parse_football_data(data, source)
    return parsed.matches, parsed.odds


def _two_files() -> tuple[pd.DataFrame, pd.DataFrame]:
    """The same rows read from two sources, concatenated as the validation step does."""
    (ma, oa), (mb, ob) = _parse("a.csv"), _parse("b.csv")
    return pd.concat([ma, mb], ignore_index=True), pd.concat([oa, ob], ignore_index=True)


def _odds_index(odds: pd.DataFrame, source: str, line: int, code: str, market: str = "1x2"):
    rows = odds[
        (odds["source"] == source)
        & (odds["line"] == line)
        & (odds["code"] == code)
        & (odds["market"] == market)
    ]
    return tuple(rows.index)


# --- derived columns --------------------------------------------------------------------


def test_result_from_goals():
    home = pd.Series([2, 1, 0, np.nan, 3.0], index=[10, 11, 12, 13, 14])
    away = pd.Series([1, 1, 3, 0, np.nan], index=[10, 11, 12, 13, 14])
    out = result_from_goals(home, away)
    assert out.tolist() == ["H", "D", "A", None, None]
    assert list(out.index) == [10, 11, 12, 13, 14]


def test_match_check_frame_derived_columns():
    matches, _ = _parse("a.csv")
    frame = match_check_frame(matches)
    assert len(frame) == len(matches)
    assert frame["line"].tolist() == [2, 3, 4, 5, 6]
    # Line 5 says H, but 1-1 is a draw; the fixture keeps its (missing) result.
    assert frame["result"].tolist() == ["A", "H", "A", "H", None]
    assert frame["result_from_goals"].tolist() == ["A", "H", "A", "D", None]
    assert frame["same_teams"].tolist() == [False, True, False, False, False]
    assert frame["days_into_season"].tolist() == [41, 42, 41, 43, 49]  # from 1 July 2023
    dup = frame["duplicate_of"]
    assert dup.iloc[2] == "line 2"
    assert dup.drop(index=2).isna().all()
    # The input is not modified.
    assert "duplicate_of" not in matches


def test_match_check_frame_season_start_month():
    matches, _ = _parse("a.csv", ROWS[:1])
    assert match_check_frame(matches, season_start_month=8)["days_into_season"].tolist() == [10]


def test_match_check_frame_days_into_season_for_a_season_running_into_july():
    rows = [
        "E0,09/08/2019,Liverpool,Norwich,4,1,H,,,,,,,,",
        "E0,10/08/2019,West Ham,Man City,0,5,A,,,,,,,,",
        "E0,26/07/2020,Southampton,Sheffield United,3,1,H,,,,,,,,",
    ]
    frame = match_check_frame(_parse("e0.csv", rows)[0])
    assert frame["season"].tolist() == ["2019-2020"] * 3
    # 1 July 2019 -> 26 July 2020: 366 days (2020 is a leap year) + 25.
    assert frame["days_into_season"].tolist() == [39, 40, 391]


def test_duplicates_are_flagged_within_a_source_only():
    matches, _ = _two_files()
    frame = match_check_frame(matches)
    flagged = frame[frame["duplicate_of"].notna()]
    # One duplicate per file (its line 4), naming that file's first line; the copies of every
    # match in the other file are not duplicates.
    assert flagged[["source", "line", "duplicate_of"]].values.tolist() == [
        ["a.csv", 4, "line 2"],
        ["b.csv", 4, "line 2"],
    ]


def test_duplicate_names_first_line_even_when_later_rows_repeat():
    rows = [ROWS[3], ROWS[0], ROWS[0], ROWS[0]]  # lines 2..5; Burnley v Man City at 3, 4, 5
    frame = match_check_frame(_parse("a.csv", rows)[0])
    assert frame["duplicate_of"].tolist()[2:] == ["line 3", "line 3"]
    assert frame["duplicate_of"].iloc[:2].isna().all()


def test_book_ids_number_books_as_the_grouped_ngroup_does():
    """`book_ids` hashes the key columns one at a time; it must number books exactly as
    pandas' groupby over all six does (first appearance, a missing key its own value)."""
    rng = np.random.default_rng(3)
    n = 2_000
    odds = pd.DataFrame(
        {
            "source": rng.choice(["a.csv", "b.csv", "c.csv"], n),
            "line": rng.integers(2, 40, n),
            "match_id": pd.Series(rng.choice(["m1", "m2", "m3", None], n), dtype="str"),
            "code": pd.Categorical(rng.choice(["B365", "PS", "Avg"], n)),
            "phase": pd.Categorical(rng.choice(["open", "close"], n)),
            "market": pd.Categorical(rng.choice(["1x2", "ou2.5"], n)),
        }
    )
    grouped = odds.groupby(list(PRICE_GROUP), observed=True, sort=False, dropna=False).ngroup()
    assert book_ids(odds).tolist() == grouped.tolist()


def test_price_check_frame_gives_a_price_without_a_match_id_no_book():
    odds = pd.DataFrame(
        {
            "source": "x.csv",
            "line": [2, 2, 2, 3, 3, 3],
            "match_id": pd.Series(["m1", "m1", "m1", None, None, None], dtype="str"),
            "code": "B365",
            "phase": "open",
            "market": "1x2",
            "outcome": list("HDA") * 2,
            "price": [2.0, 3.5, 4.0, 2.0, 3.5, 4.0],
            "is_aggregate": False,
        }
    )
    frame = price_check_frame(odds)
    assert frame["outcomes_quoted"].tolist()[:3] == [3, 3, 3]
    assert frame["outcomes_quoted"].iloc[3:].isna().all()
    assert frame["overround"].iloc[0] == pytest.approx(1 / 2 + 1 / 3.5 + 1 / 4)
    assert frame["overround"].iloc[3:].isna().all()


def test_price_check_frame_outcomes_and_overround():
    _, odds = _parse("a.csv")
    frame = price_check_frame(odds)
    assert len(frame) == len(odds) == 8 + 3 + 3 + 3 + 2

    def book(line: int, code: str, market: str = "1x2") -> pd.DataFrame:
        return frame.loc[list(_odds_index(frame, "a.csv", line, code, market))]

    b365 = book(2, "B365")
    assert b365["outcomes_quoted"].tolist() == [3, 3, 3]
    assert b365["overround_1x2"].tolist() == pytest.approx([1 / 8 + 1 / 5 + 1 / 1.4] * 3)
    assert b365["overround_1x2"].iloc[0] == pytest.approx(1.0392857, abs=1e-6)
    assert b365["overround_ou"].isna().all()
    assert book(4, "B365")["overround_1x2"].iloc[0] == pytest.approx(0.5 + 1 / 3 + 0.25)

    # Aggregates (best and average prices) are complete but get no overround.
    avg = book(2, "Avg")
    assert avg["outcomes_quoted"].tolist() == [3, 3, 3]
    assert avg["is_aggregate"].all()
    assert avg["overround_1x2"].isna().all()

    # The fixture's book quotes H and D only: incomplete, no overround.
    partial = book(6, "B365")
    assert partial["outcomes_quoted"].tolist() == [2, 2]
    assert partial["overround_1x2"].isna().all()

    ou = book(2, "B365", "ou2.5")
    assert ou["outcomes_quoted"].tolist() == [2, 2]
    assert ou["overround_ou"].tolist() == pytest.approx([1 / 1.4 + 1 / 3] * 2)
    assert ou["overround_1x2"].isna().all()
    # The original odds frame is not changed.
    assert "overround_1x2" not in odds


def test_price_check_frame_books_are_per_file_and_line():
    _, odds = _two_files()
    frame = price_check_frame(odds)
    # Burnley v Man City at lines 2 and 4 of each file: four separate B365 books, not one.
    b365 = frame[(frame["code"] == "B365") & (frame["market"] == "1x2")]
    assert set(b365["outcomes_quoted"]) == {2, 3}
    by_book = b365.groupby(["source", "line"])["overround_1x2"].first()
    assert by_book[("a.csv", 4)] == pytest.approx(1.0833333)
    assert by_book[("b.csv", 2)] == pytest.approx(1.0392857)


# --- what failures cost -----------------------------------------------------------------


def test_match_failure_quarantines_the_row_and_its_prices():
    matches, odds = _parse("a.csv")
    failure = Failure(
        "expect_column_values_to_be_in_set",
        "same_teams",
        "home team and away team are the same",
        "match",
        (1,),
    )
    out = apply_failures(matches, odds, [failure], max_bad_share=0.5)

    assert list(out.quarantine.columns) == list(QUARANTINE_COLUMNS)
    assert len(out.quarantine) == 1
    entry = out.quarantine.iloc[0]
    assert (entry["source"], entry["line"]) == ("a.csv", 3)
    assert entry["match_id"] == "e0-20230812-arsenal-arsenal"
    assert (entry["league"], entry["season"]) == ("E0", "2023-2024")
    assert entry["expectation"] == "expect_column_values_to_be_in_set"
    assert entry["column"] == "same_teams"
    assert entry["reason"] == "home team and away team are the same"
    assert entry["raw_row"] == ROWS[1]

    assert out.matches["line"].tolist() == [2, 4, 5, 6]
    assert 3 not in set(out.odds["line"])
    assert len(out.odds) == len(odds) - 3
    assert out.warnings.empty
    assert out.rejected_files == {}


def test_price_failure_drops_only_that_book():
    matches, odds = _parse("a.csv")
    checked = price_check_frame(odds)
    # The overround rule fails on all three rows of line 5's bet365 1X2 book.
    book = _odds_index(checked, "a.csv", 5, "B365")
    assert len(book) == 3
    failure = Failure(
        "expect_column_values_to_be_between",
        "overround_1x2",
        "1X2 overround outside band",
        "price",
        book,
    )
    out = apply_failures(matches, odds, [failure], max_bad_share=0.5)

    assert len(out.matches) == 5  # the result still stands
    assert out.quarantine.empty
    assert list(out.warnings.columns) == list(WARNING_COLUMNS)
    assert len(out.warnings) == 1
    warning = out.warnings.iloc[0]
    assert (warning["source"], warning["line"]) == ("a.csv", 5)
    assert warning["match_id"] == "e0-20230813-chelsea-liverpool"
    assert (warning["bookmaker"], warning["code"], warning["phase"], warning["market"]) == (
        "bet365",
        "B365",
        "open",
        "1x2",
    )
    assert warning["expectation"] == "expect_column_values_to_be_between"
    assert warning["reason"] == "1X2 overround outside band"
    assert warning["prices"] == "H=2.5 D=3.4 A=2.9"
    assert set(out.odds.index) == set(odds.index) - set(book)


def test_price_failure_on_one_outcome_drops_the_whole_book_of_that_market():
    matches, odds = _parse("a.csv")
    b365_1x2 = _odds_index(odds, "a.csv", 2, "B365")
    draw = odds.loc[list(b365_1x2)].query("outcome == 'D'").index[0]
    failure = Failure("price_range", "price", "price must be greater than 1.01", "price", (draw,))
    out = apply_failures(matches, odds, [failure], max_bad_share=0.5)

    line2 = out.odds[out.odds["line"] == 2]
    # All of bet365's 1X2 prices go; its over/under book and the average prices stay.
    assert set(zip(line2["code"], line2["market"], strict=True)) == {
        ("Avg", "1x2"),
        ("B365", "ou2.5"),
    }
    assert len(line2) == 5
    assert out.warnings["prices"].tolist() == ["H=8 D=5 A=1.4"]
    assert len(out.odds) == len(odds) - 3


def test_file_with_too_many_bad_rows_is_rejected_whole():
    matches, odds = _two_files()
    b = matches.index[matches["source"] == "b.csv"]
    a_dup = matches.index[(matches["source"] == "a.csv") & (matches["line"] == 4)]
    failures = [
        Failure("dup", "duplicate_of", "duplicate match", "match", tuple(a_dup)),
        Failure("same", "same_teams", "same teams", "match", (b[1], b[2])),
        Failure("ftr", "result", "FTR disagrees", "match", (b[3], b[1])),  # b[1] twice
    ]
    out = apply_failures(matches, odds, failures, max_bad_share=0.5)

    assert set(out.rejected_files) == {"b.csv"}
    message = out.rejected_files["b.csv"]
    assert "3 of 5 rows (60%)" in message
    assert "50%" in message
    # a.csv: 1 of 5 bad (20%) is kept, less its bad row.
    assert set(out.matches["source"]) == {"a.csv"}
    assert out.matches["line"].tolist() == [2, 3, 5, 6]
    assert set(out.odds["source"]) == {"a.csv"}
    assert sorted(set(out.odds["line"])) == [2, 3, 5, 6]
    # Every failed row is in the quarantine, including those of the rejected file.
    assert len(out.quarantine) == 1 + 2 + 2
    assert set(zip(out.quarantine["source"], out.quarantine["line"], strict=True)) == {
        ("a.csv", 4),
        ("b.csv", 3),
        ("b.csv", 4),
        ("b.csv", 5),
    }


def test_bad_share_equal_to_the_limit_is_not_rejected():
    matches, odds = _parse("a.csv")
    failure = Failure("same", "same_teams", "same teams", "match", (1,))
    assert apply_failures(matches, odds, [failure], max_bad_share=0.2).rejected_files == {}
    rejected = apply_failures(matches, odds, [failure], max_bad_share=0.19).rejected_files
    assert "1 of 5 rows (20%)" in rejected["a.csv"]
    assert "most often: same teams (1 row); the file was not stored" in rejected["a.csv"]


def test_quarantined_duplicate_keeps_the_first_occurrence_and_its_prices():
    matches, odds = _parse("a.csv")
    checked = match_check_frame(matches)
    dup = tuple(checked.index[checked["duplicate_of"].notna()])
    assert checked.loc[list(dup), "line"].tolist() == [4]
    failure = Failure(
        "expect_column_values_to_be_null",
        "duplicate_of",
        "duplicate match (same division, date and teams)",
        "match",
        dup,
    )
    out = apply_failures(checked, odds, [failure], max_bad_share=0.5)

    entry = out.quarantine.iloc[0]
    assert entry["line"] == 4
    assert entry["reason"] == (
        "duplicate match (same division, date and teams) (first seen at line 2)"
    )
    first = out.matches[out.matches["match_id"] == "e0-20230811-burnley-man-city"]
    assert first["line"].tolist() == [2]
    # Line 2's eight prices (bet365 1X2 and O/U, average 1X2) stay; line 4's three go.
    assert len(out.odds[out.odds["line"] == 2]) == 8
    assert 4 not in set(out.odds["line"])
    b365 = out.odds[
        (out.odds["match_id"] == first["match_id"].iloc[0])
        & (out.odds["code"] == "B365")
        & (out.odds["market"] == "1x2")
    ]
    assert b365["price"].tolist() == [8, 5, 1.4]


def test_no_failures_keeps_everything():
    matches, odds = _parse("a.csv")
    out = apply_failures(matches, odds, [], max_bad_share=0.1)
    assert len(out.matches) == 5 and len(out.odds) == len(odds)
    assert out.quarantine.empty and out.warnings.empty and out.rejected_files == {}
    assert list(out.quarantine.columns) == list(QUARANTINE_COLUMNS)


# --- stored form ------------------------------------------------------------------------


def test_canonical_matches_drops_check_columns_and_uses_integers():
    matches, _ = _parse("a.csv")
    kept = matches.iloc[[0, 3, 4]]
    out = canonical_matches(kept)
    for column in CHECK_ONLY_COLUMNS:
        assert column not in out
    assert set(out.columns) == set(matches.columns) - set(CHECK_ONLY_COLUMNS)
    for column in INTEGER_COLUMNS:
        assert out[column].dtype == "Int64", column
    assert out["home_goals"].tolist()[:2] == [0, 1]
    assert out["away_goals"].tolist()[:2] == [3, 1]
    assert out["home_goals"].isna().tolist() == [False, False, True]  # the fixture
    assert list(out.index) == [0, 1, 2]
    assert out["match_id"].tolist() == list(kept["match_id"])
    # The input keeps its float goals and check columns.
    assert matches["home_goals"].dtype == float and "raw_row" in matches


def test_canonical_matches_of_a_checked_frame_drops_the_derived_columns():
    checked = match_check_frame(_parse("a.csv")[0])
    out = canonical_matches(checked)
    for column in ("result_from_goals", "duplicate_of", "same_teams", "days_into_season"):
        assert column in checked and column not in out, column
    assert set(out.columns) == set(canonical_matches(_parse("a.csv")[0]).columns)


def test_dominant_partition():
    rows = [
        "E1,05/08/2023,Leeds,Cardiff,1,1,D,,,,,,,,",
        "E0,11/08/2023,Burnley,Man City,0,3,A,,,,,,,,",
        "E1,06/08/2023,Hull,QPR,2,0,H,,,,,,,,",
    ]
    matches, _ = _parse("mixed.csv", rows)
    assert dominant_partition(matches) == ("E1", "2023-2024")

    nameless = matches.assign(league="")
    assert dominant_partition(nameless) == ("unknown", "2023-2024")


# --- the screen of large files ----------------------------------------------------------


def _season_of_rows(bad: set[int], n: int = 25) -> bytes:
    """`n` rows (lines 2..n+1); the home team of each row numbered in `bad` (0-based) is Bad."""
    rows = [
        f"E0,{11 + i % 15:02d}/08/2023,{'Bad' if i in bad else 'Home'}{i},Away{i},1,0,H,,,,,,,,"
        for i in range(n)
    ]
    return ("\r\n".join([HEADER, *rows]) + "\r\n").encode()


class _Judge:
    """Fails every row whose home team starts with Bad; counts the rows it was shown."""

    def __init__(self) -> None:
        self.rows_seen = 0

    def __call__(self, matches: pd.DataFrame) -> list[Failure]:
        self.rows_seen += len(matches)
        bad = tuple(matches.index[matches["home_team"].str.startswith("Bad")])
        return [Failure("bad_home", "home_team", "home team is bad", "match", bad)] if bad else []


SMALL_CHUNKS = ScreenSettings(chunk_rows=10, quarantine_sample_rows=3)


def test_screen_refuses_once_certain_and_reads_no_further():
    judge = _Judge()
    refusal = screen_file(_season_of_rows(set(range(25))), "x.csv", judge, 0.1, SMALL_CHUNKS)
    # 10 bad rows of at most 25 is 40% > 10% whatever rows 11..25 hold: one chunk decides.
    assert judge.rows_seen == 10
    assert (refusal.failed_rows, refusal.rows_read, refusal.max_rows) == (10, 10, 25)
    assert refusal.reason.startswith(
        "10 of the first 10 rows (100%) failed validation, already more than the allowed 10% "
        "of the file's at most 25 rows, so the rest was not read; most often: home team is bad "
        "(10 rows)"
    )
    assert refusal.reason.endswith("(the quarantine keeps the first 3 failed rows)")
    assert list(refusal.quarantine.columns) == list(QUARANTINE_COLUMNS)
    assert refusal.quarantine["line"].tolist() == [2, 3, 4]
    assert refusal.quarantine["raw_row"].iloc[0].startswith("E0,11/08/2023,Bad0,Away0")
    assert refusal.home == ("E0", "2023-2024")


def test_screen_adds_up_chunks_until_the_share_is_certain():
    # 2 of at most 25 after the first chunk (8%); 4 after the second (16%): refused there.
    judge = _Judge()
    refusal = screen_file(_season_of_rows({0, 1, 10, 11}), "x.csv", judge, 0.1, SMALL_CHUNKS)
    assert judge.rows_seen == 20
    assert (refusal.failed_rows, refusal.rows_read) == (4, 20)
    assert refusal.quarantine["line"].tolist() == [2, 3, 12]  # the first three failed rows


def test_screen_leaves_to_the_full_validation_what_only_the_last_chunk_settles():
    judge = _Judge()
    assert (
        screen_file(_season_of_rows(set(range(20, 25))), "x.csv", judge, 0.1, SMALL_CHUNKS) is None
    )
    assert judge.rows_seen == 25


def test_screen_does_not_read_a_file_of_one_chunk():
    judge = _Judge()
    settings = ScreenSettings(chunk_rows=25)
    assert screen_file(_season_of_rows(set(range(25))), "x.csv", judge, 0.1, settings) is None
    assert judge.rows_seen == 0


def test_row_local_suite_leaves_out_the_expectations_that_need_the_whole_file():
    suite = load_config()["validation"]["suites"]["matches"]
    local = row_local_suite(suite)
    left_out = [e for e in suite if e["level"] == "match" and e not in local]
    assert [e["kwargs"]["column"] for e in left_out] == ["duplicate_of", "days_into_season"]
    assert {e["level"] for e in local} == {"match"} and len(local) == 11


def test_screen_settings_defaults_equal_the_yaml_and_typos_fail():
    assert ScreenSettings.from_dict(load_config()["validation"]["screen"]) == ScreenSettings()
    with pytest.raises(ValueError, match="unknown validation screen keys"):
        ScreenSettings.from_dict({"chunk_row": 10})
    with pytest.raises(ValueError, match="chunk_rows must be >= 1"):
        ScreenSettings(chunk_rows=0)
