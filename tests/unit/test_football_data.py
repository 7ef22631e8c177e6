"""football-data.co.uk parsing: columns chosen by meaning, every season layout, bad files."""

from __future__ import annotations

import random
import re

import numpy as np
import pandas as pd
import pytest

from sabiscore.football_data import (
    MATCH_COLUMNS,
    ODDS_COLUMNS,
    FileFormatError,
    classify_columns,
    count_data_lines,
    iter_match_chunks,
    make_match_id,
    one_x_two,
    parse_football_data,
    season_of,
    slug,
)

# --- headers of the season layouts -----------------------------------------------------------

#: E0 2012-2013, copied from the real file (74 columns).
HEADER_2012 = (
    "Div,Date,HomeTeam,AwayTeam,FTHG,FTAG,FTR,HTHG,HTAG,HTR,Referee,HS,AS,HST,AST,HF,AF,HC,AC,"
    "HY,AY,HR,AR,B365H,B365D,B365A,BWH,BWD,BWA,GBH,GBD,GBA,IWH,IWD,IWA,LBH,LBD,LBA,PSH,PSD,PSA,"
    "WHH,WHD,WHA,SJH,SJD,SJA,VCH,VCD,VCA,BSH,BSD,BSA,Bb1X2,BbMxH,BbAvH,BbMxD,BbAvD,BbMxA,BbAvA,"
    "BbOU,BbMx>2.5,BbAv>2.5,BbMx<2.5,BbAv<2.5,BbAH,BbAHh,BbMxAHH,BbAvAHH,BbMxAHA,BbAvAHA,"
    "PSCH,PSCD,PSCA"
).split(",")

#: E0 2019-2020, copied from the real file (106 columns).
HEADER_2019 = (
    "Div,Date,Time,HomeTeam,AwayTeam,FTHG,FTAG,FTR,HTHG,HTAG,HTR,Referee,HS,AS,HST,AST,HF,AF,"
    "HC,AC,HY,AY,HR,AR,B365H,B365D,B365A,BWH,BWD,BWA,IWH,IWD,IWA,PSH,PSD,PSA,WHH,WHD,WHA,VCH,"
    "VCD,VCA,MaxH,MaxD,MaxA,AvgH,AvgD,AvgA,B365>2.5,B365<2.5,P>2.5,P<2.5,Max>2.5,Max<2.5,"
    "Avg>2.5,Avg<2.5,AHh,B365AHH,B365AHA,PAHH,PAHA,MaxAHH,MaxAHA,AvgAHH,AvgAHA,B365CH,B365CD,"
    "B365CA,BWCH,BWCD,BWCA,IWCH,IWCD,IWCA,PSCH,PSCD,PSCA,WHCH,WHCD,WHCA,VCCH,VCCD,VCCA,MaxCH,"
    "MaxCD,MaxCA,AvgCH,AvgCD,AvgCA,B365C>2.5,B365C<2.5,PC>2.5,PC<2.5,MaxC>2.5,MaxC<2.5,"
    "AvgC>2.5,AvgC<2.5,AHCh,B365CAHH,B365CAHA,PCAHH,PCAHA,MaxCAHH,MaxCAHA,AvgCAHH,AvgCAHA"
).split(",")

_CORE_2019 = HEADER_2019[:24]  # Div .. AR


def _triples(prefixes: list[str]) -> list[str]:
    return [p + o for p in prefixes for o in "HDA"]


def _ou(prefixes: list[str]) -> list[str]:
    return [p + s for p in prefixes for s in (">2.5", "<2.5")]


def _ah(prefixes: list[str]) -> list[str]:
    return [p + s for p in prefixes for s in ("AHH", "AHA")]


#: 2024-25 layout: B365, BW, BF (Betfair), PS, WH, 1XB, plus Betfair Exchange BFE.
BOOKS_2024 = ["B365", "BW", "BF", "PS", "WH", "1XB"]
HEADER_2024 = [
    *_CORE_2019,
    *_triples([*BOOKS_2024, "Max", "Avg", "BFE"]),
    *_ou(["B365", "P", "Max", "Avg", "BFE"]),
    "AHh",
    *_ah(["B365", "P", "Max", "Avg", "BFE"]),
    *_triples([b + "C" for b in [*BOOKS_2024, "Max", "Avg", "BFE"]]),
    *_ou(["B365C", "PC", "MaxC", "AvgC", "BFEC"]),
    "AHCh",
    *_ah(["B365C", "PC", "MaxC", "AvgC", "BFEC"]),
]

#: 2025-26 layout: B365, BW, LB, PS, BFD (Betfred), BMGM, BV, CL (Coral), plus BFE.
BOOKS_2025 = ["B365", "BW", "LB", "PS", "BFD", "BMGM", "BV", "CL"]
HEADER_2025 = [
    *_CORE_2019,
    *_triples([*BOOKS_2025, "Max", "Avg", "BFE"]),
    *_ou(["B365", "P", "Max", "Avg", "BFE"]),
    "AHh",
    *_ah(["B365", "P", "Max", "Avg", "BFE"]),
    *_triples([b + "C" for b in [*BOOKS_2025, "Max", "Avg", "BFE"]]),
    *_ou(["B365C", "PC", "MaxC", "AvgC", "BFEC"]),
    "AHCh",
    *_ah(["B365C", "PC", "MaxC", "AvgC", "BFEC"]),
]


def _meanings(header: list[str]) -> dict[str, tuple[str, str, str, str, str]]:
    """header -> (code, bookmaker, phase, market, outcome) for every price column."""
    cm = classify_columns(header)
    for i, column in cm.odds:
        assert header[i] == column.header
    return {c.header: (c.code, c.bookmaker, c.phase, c.market, c.outcome) for _, c in cm.odds}


def _books(header: list[str]) -> set[tuple[str, str, str, str]]:
    """(code, bookmaker, phase, market) of every price column."""
    return {m[:4] for m in _meanings(header).values()}


# --- classify_columns ---------------------------------------------------------------------


def test_classify_2012_layout_bookmakers_aggregates_and_pinnacle_closing():
    cm = classify_columns(HEADER_2012)
    meanings = _meanings(HEADER_2012)
    opening = ["B365", "BW", "GB", "IW", "LB", "PS", "WH", "SJ", "VC", "BS", "BbMx", "BbAv"]
    expected_1x2 = {h: "open" for h in _triples(opening)} | {h: "close" for h in _triples(["PSC"])}
    expected_ou = {h: "open" for h in _ou(["BbMx", "BbAv"])}
    assert {h: m[2] for h, m in meanings.items()} == expected_1x2 | expected_ou
    assert len(cm.odds) == 39 + 4

    assert meanings["PSCH"] == ("PS", "pinnacle", "close", "1x2", "H")
    assert meanings["PSA"] == ("PS", "pinnacle", "open", "1x2", "A")
    assert meanings["GBD"] == ("GB", "gamebookers", "open", "1x2", "D")
    assert meanings["SJH"][1] == "stan_james"
    assert meanings["BSA"][1] == "blue_square"
    assert meanings["BbMxH"] == ("BbMx", "market_max", "open", "1x2", "H")
    assert meanings["BbAvA"] == ("BbAv", "market_avg", "open", "1x2", "A")
    assert meanings["BbMx>2.5"] == ("BbMx", "market_max", "open", "ou2.5", "over")
    assert meanings["BbAv<2.5"] == ("BbAv", "market_avg", "open", "ou2.5", "under")

    # Betbrain counts and Asian-handicap columns are not prices.
    not_prices = {"Bb1X2", "BbOU", "BbAH", "BbAHh", "BbMxAHH", "BbAvAHH", "BbMxAHA", "BbAvAHA"}
    assert not_prices.isdisjoint(meanings)
    assert set(cm.unknown) == not_prices

    assert cm.core == {
        "div": 0,
        "date": 1,
        "home_team": 2,
        "away_team": 3,
        "home_goals": 4,
        "away_goals": 5,
        "result": 6,
        "ht_home_goals": 7,
        "ht_away_goals": 8,
        "ht_result": 9,
        "referee": 10,
    }
    assert "time" not in cm.core
    assert cm.stats["home_shots"] == HEADER_2012.index("HS")
    assert cm.stats["away_red"] == HEADER_2012.index("AR")
    assert len(cm.stats) == 12
    assert cm.missing_required() == []


def test_classify_2019_layout_opening_closing_and_over_under():
    cm = classify_columns(HEADER_2019)
    meanings = _meanings(HEADER_2019)
    names = {
        "B365": "bet365",
        "BW": "bwin",
        "IW": "interwetten",
        "PS": "pinnacle",
        "WH": "william_hill",
        "VC": "bet_victor",
        "Max": "market_max",
        "Avg": "market_avg",
    }
    expected = {
        (code, name, phase, "1x2") for code, name in names.items() for phase in ("open", "close")
    }
    expected |= {
        (code, names[code if code != "P" else "PS"], phase, "ou2.5")
        for code in ("B365", "P", "Max", "Avg")
        for phase in ("open", "close")
    }
    assert _books(HEADER_2019) == expected
    assert len(cm.odds) == 8 * 3 * 2 + 4 * 2 * 2  # 1X2 open/close + O/U 2.5 open/close

    assert meanings["B365CH"] == ("B365", "bet365", "close", "1x2", "H")
    assert meanings["MaxCD"] == ("Max", "market_max", "close", "1x2", "D")
    assert meanings["AvgCA"] == ("Avg", "market_avg", "close", "1x2", "A")
    assert meanings["VCCH"] == ("VC", "bet_victor", "close", "1x2", "H")
    assert meanings["VCH"] == ("VC", "bet_victor", "open", "1x2", "H")
    assert meanings["B365>2.5"] == ("B365", "bet365", "open", "ou2.5", "over")
    assert meanings["P>2.5"] == ("P", "pinnacle", "open", "ou2.5", "over")
    assert meanings["PC>2.5"] == ("P", "pinnacle", "close", "ou2.5", "over")
    assert meanings["AvgC<2.5"] == ("Avg", "market_avg", "close", "ou2.5", "under")

    ah = {h for h in HEADER_2019 if "AH" in h}
    assert {"AHh", "B365AHH", "PCAHH", "AHCh", "AvgCAHA"} <= ah
    assert ah.isdisjoint(meanings)
    assert set(cm.unknown) == ah
    assert cm.core["time"] == 2
    assert cm.core["home_team"] == 3


def test_classify_2024_layout_betfair_and_exchange():
    meanings = _meanings(HEADER_2024)
    books = {
        (code, name, phase) for code, name, phase, market in _books(HEADER_2024) if market == "1x2"
    }
    names = {
        "B365": "bet365",
        "BW": "bwin",
        "BF": "betfair",
        "PS": "pinnacle",
        "WH": "william_hill",
        "1XB": "1xbet",
        "Max": "market_max",
        "Avg": "market_avg",
        "BFE": "betfair_exchange",
    }
    assert books == {(c, n, p) for c, n in names.items() for p in ("open", "close")}

    # BFD is Betfair's draw price here, not the bookmaker Betfred.
    assert meanings["BFD"] == ("BF", "betfair", "open", "1x2", "D")
    assert meanings["BFCD"] == ("BF", "betfair", "close", "1x2", "D")
    assert meanings["BFEH"] == ("BFE", "betfair_exchange", "open", "1x2", "H")
    assert meanings["BFECH"] == ("BFE", "betfair_exchange", "close", "1x2", "H")
    assert meanings["BFECA"] == ("BFE", "betfair_exchange", "close", "1x2", "A")
    assert meanings["1XBCH"] == ("1XB", "1xbet", "close", "1x2", "H")
    assert meanings["1XBA"] == ("1XB", "1xbet", "open", "1x2", "A")
    assert meanings["BFE>2.5"] == ("BFE", "betfair_exchange", "open", "ou2.5", "over")
    assert meanings["BFEC<2.5"] == ("BFE", "betfair_exchange", "close", "ou2.5", "under")
    assert not any("AH" in h for h in meanings)
    assert len(meanings) == 9 * 3 * 2 + 5 * 2 * 2


def test_classify_2025_layout_coral_betvictor_betfred():
    meanings = _meanings(HEADER_2025)
    books = {
        (code, name, phase) for code, name, phase, market in _books(HEADER_2025) if market == "1x2"
    }
    names = {
        "B365": "bet365",
        "BW": "bwin",
        "LB": "ladbrokes",
        "PS": "pinnacle",
        "BFD": "betfred",
        "BMGM": "betmgm",
        "BV": "betvictor",
        "CL": "coral",
        "Max": "market_max",
        "Avg": "market_avg",
        "BFE": "betfair_exchange",
    }
    assert books == {(c, n, p) for c, n in names.items() for p in ("open", "close")}

    # CL is Coral; its opening price is CLH and its closing price CLCH (not "C" + "LCH").
    assert meanings["CLH"] == ("CL", "coral", "open", "1x2", "H")
    assert meanings["CLCH"] == ("CL", "coral", "close", "1x2", "H")
    assert meanings["CLCA"] == ("CL", "coral", "close", "1x2", "A")
    assert meanings["BVH"] == ("BV", "betvictor", "open", "1x2", "H")
    assert meanings["BVCD"] == ("BV", "betvictor", "close", "1x2", "D")
    assert meanings["BFDH"] == ("BFD", "betfred", "open", "1x2", "H")
    assert meanings["BFDD"] == ("BFD", "betfred", "open", "1x2", "D")
    assert meanings["BFDCA"] == ("BFD", "betfred", "close", "1x2", "A")
    assert meanings["BMGMCH"] == ("BMGM", "betmgm", "close", "1x2", "H")
    assert meanings["LBA"] == ("LB", "ladbrokes", "open", "1x2", "A")
    assert len(meanings) == 11 * 3 * 2 + 5 * 2 * 2


def test_classify_unknown_new_bookmaker_is_read_open_and_close():
    header = [
        *_CORE_2019,
        "XYZH",
        "XYZD",
        "XYZA",
        "XYZCH",
        "XYZCD",
        "XYZCA",
        "XYZ>2.5",
        "XYZ<2.5",
        "XYZC>2.5",
        "XYZC<2.5",
    ]
    meanings = _meanings(header)
    assert meanings == {
        "XYZH": ("XYZ", "xyz", "open", "1x2", "H"),
        "XYZD": ("XYZ", "xyz", "open", "1x2", "D"),
        "XYZA": ("XYZ", "xyz", "open", "1x2", "A"),
        "XYZCH": ("XYZ", "xyz", "close", "1x2", "H"),
        "XYZCD": ("XYZ", "xyz", "close", "1x2", "D"),
        "XYZCA": ("XYZ", "xyz", "close", "1x2", "A"),
        "XYZ>2.5": ("XYZ", "xyz", "open", "ou2.5", "over"),
        "XYZ<2.5": ("XYZ", "xyz", "open", "ou2.5", "under"),
        "XYZC>2.5": ("XYZ", "xyz", "close", "ou2.5", "over"),
        "XYZC<2.5": ("XYZ", "xyz", "close", "ou2.5", "under"),
    }
    assert classify_columns(header).unknown == ()


@pytest.mark.parametrize(
    "header",
    [HEADER_2012, HEADER_2019, HEADER_2024, HEADER_2025],
    ids=["2012", "2019", "2024", "2025"],
)
def test_classify_shuffled_header_gives_same_meanings(header):
    shuffled = list(header)
    random.Random(4).shuffle(shuffled)
    assert shuffled != list(header)
    original, moved = classify_columns(header), classify_columns(shuffled)

    assert _meanings(shuffled) == _meanings(header)
    assert {k: header[i] for k, i in original.core.items()} == {
        k: shuffled[i] for k, i in moved.core.items()
    }
    assert {k: header[i] for k, i in original.stats.items()} == {
        k: shuffled[i] for k, i in moved.stats.items()
    }
    assert set(moved.unknown) == set(original.unknown)


def test_classify_reports_missing_required_columns():
    cm = classify_columns(["Div", "Date", "HomeTeam", "AwayTeam", "FTAG", "B365H"])
    assert cm.missing_required() == ["home_goals", "result"]
    assert cm.odds == ()  # a lone B365H is not a 1X2 triple
    assert cm.unknown == ("B365H",)


# --- parse_football_data: a well-formed file ----------------------------------------------

#: A cut-down 2019-20 header and real E0 2019-20 rows (first two, and the last, in July 2020).
HEADER = (
    "Div,Date,Time,HomeTeam,AwayTeam,FTHG,FTAG,FTR,HTHG,HTAG,HTR,Referee,HS,AS,HST,AST,"
    "B365H,B365D,B365A,PSH,PSD,PSA,AvgH,AvgD,AvgA,B365>2.5,B365<2.5,PSCH,PSCD,PSCA"
)
ROWS = [
    "E0,09/08/2019,20:00,Liverpool,Norwich,4,1,H,4,0,H,M Oliver,15,12,7,5,"
    "1.14,10,19,1.15,9.59,18.05,1.14,8.75,19.83,1.4,3,1.14,10.43,19.63",
    "E0,10/08/2019,12:30,West Ham,Man City,0,5,A,0,1,A,M Dean,5,14,3,9,"
    "12,6.5,1.22,11.68,6.53,1.26,11.84,6.28,1.25,1.44,2.75,11.11,6.68,1.27",
    "E0,26/07/2020,16:00,Southampton,Sheffield United,3,1,H,0,1,A,P Bankes,13,5,4,3,"
    "2.15,3.5,3.3,2.18,3.54,3.46,2.18,3.47,3.34,1.9,1.9,2,3.68,3.93",
]


def csv_bytes(
    header: str, rows: list[str], eol: str = "\r\n", bom: bool = False, encoding: str = "utf-8"
) -> bytes:
    data = eol.join([header, *rows]) + eol
    return (b"\xef\xbb\xbf" if bom else b"") + data.encode(encoding)


@pytest.fixture(scope="module")
def parsed():
    return parse_football_data(csv_bytes(HEADER, ROWS), "E0/2019-2020.csv")


def test_parse_builds_canonical_match_rows(parsed):
    m = parsed.matches
    assert list(m.columns) == list(MATCH_COLUMNS)
    assert parsed.n_rows == 3
    assert parsed.encoding == "utf-8"
    assert parsed.warnings == ()

    first = m.iloc[0]
    assert first["match_id"] == "e0-20190809-liverpool-norwich"
    assert first["league"] == "E0"
    assert (first["home_team"], first["away_team"]) == ("Liverpool", "Norwich")
    assert (first["home_goals"], first["away_goals"], first["result"]) == (4.0, 1.0, "H")
    assert (first["ht_home_goals"], first["ht_away_goals"], first["ht_result"]) == (4, 0, "H")
    assert first["referee"] == "M Oliver"
    assert first["date"] == pd.Timestamp("2019-08-09")
    assert first["kickoff"] == pd.Timestamp("2019-08-09 20:00")
    assert m["kickoff"].iloc[1] == pd.Timestamp("2019-08-10 12:30")
    assert first["status"] == "played"
    assert first["source"] == "E0/2019-2020.csv"
    assert m["line"].tolist() == [2, 3, 4]
    assert first["n_fields"] == first["n_header_fields"] == 30
    assert first["date_raw"] == "09/08/2019"
    assert first["raw_row"] == ROWS[0]
    assert m["result"].tolist() == ["H", "A", "H"]


def test_parse_maps_statistics_and_leaves_absent_ones_nan(parsed):
    m = parsed.matches
    assert m["home_shots"].tolist() == [15, 5, 13]
    assert m["away_shots"].tolist() == [12, 14, 5]
    assert m["home_shots_on_target"].tolist() == [7, 3, 4]
    assert m["away_shots_on_target"].tolist() == [5, 9, 3]
    for absent in ("home_fouls", "away_corners", "home_yellow", "away_red"):
        assert m[absent].isna().all(), absent
        assert m[absent].dtype == float


def test_parse_season_of_a_file_running_into_july(parsed):
    # The last match (26 July 2020) is nominally 2020-2021, but the file is 2019-2020.
    assert season_of(pd.Timestamp("2020-07-26")) == "2020-2021"
    assert parsed.matches["season"].tolist() == ["2019-2020"] * 3
    assert set(parsed.odds["season"]) == {"2019-2020"}


def test_parse_tidy_odds(parsed):
    odds = parsed.odds
    assert list(odds.columns) == list(ODDS_COLUMNS)
    # 3 matches x (B365, PS open, Avg, PS close) x 3 outcomes + 2 over/under prices.
    assert len(odds) == 3 * (4 * 3 + 2)

    liverpool = odds[odds["match_id"] == "e0-20190809-liverpool-norwich"]
    ps_close = liverpool[(liverpool["code"] == "PS") & (liverpool["phase"] == "close")]
    assert dict(zip(ps_close["outcome"], ps_close["price"], strict=True)) == {
        "H": 1.14,
        "D": 10.43,
        "A": 19.63,
    }
    assert set(ps_close["bookmaker"]) == {"pinnacle"}
    assert set(ps_close["line"]) == {2}
    over = liverpool[liverpool["outcome"] == "over"].iloc[0]
    assert (over["bookmaker"], over["market"], over["price"]) == ("bet365", "ou2.5", 1.4)
    assert over["price_raw"] == "1.4"
    agg = odds.loc[odds["is_aggregate"], "bookmaker"]
    assert set(agg) == {"market_avg"}
    assert len(agg) == 9
    assert not odds.loc[odds["bookmaker"] != "market_avg", "is_aggregate"].any()


def test_one_x_two_wide_view(parsed):
    wide = one_x_two(parsed.odds)
    assert list(wide.index) == [
        "e0-20190809-liverpool-norwich",
        "e0-20190810-west-ham-man-city",
        "e0-20200726-southampton-sheffield-united",
    ]
    assert set(wide.columns) == {
        f"{b}_{p}_{o}"
        for b, p in [
            ("pinnacle", "open"),
            ("pinnacle", "close"),
            ("bet365", "open"),
            ("market_avg", "open"),
        ]
        for o in "HDA"
    }
    row = wide.loc["e0-20190810-west-ham-man-city"]
    assert row["pinnacle_close_A"] == 1.27
    assert row["bet365_open_H"] == 12
    assert row["market_avg_open_D"] == 6.28

    only = one_x_two(parsed.odds, bookmakers=["pinnacle"], phases=["close"])
    assert sorted(only.columns) == ["pinnacle_close_A", "pinnacle_close_D", "pinnacle_close_H"]


@pytest.mark.parametrize(
    "variant",
    [
        {"bom": True},
        {"eol": "\n"},
        {"bom": True, "eol": "\n"},
        {"short_dates": True},
        {"short_dates": True, "bom": True, "eol": "\n"},
    ],
    ids=["bom", "lf", "bom-lf", "dd-mm-yy", "all"],
)
def test_parse_encoding_line_end_and_date_variants_give_same_matches(parsed, variant):
    variant = dict(variant)
    rows = ROWS
    if variant.pop("short_dates", False):
        rows = [re.sub(r"(\d\d/\d\d/)20(\d\d)", r"\1\2", r) for r in ROWS]
        assert rows[0].startswith("E0,09/08/19,")
    other = parse_football_data(csv_bytes(HEADER, rows, **variant), "other.csv")
    ignore = ["source", "raw_row", "date_raw"]
    pd.testing.assert_frame_equal(
        _same_unit(other.matches.drop(columns=ignore)),
        _same_unit(parsed.matches.drop(columns=ignore)),
    )
    pd.testing.assert_frame_equal(
        other.odds.drop(columns="source"), parsed.odds.drop(columns="source")
    )
    assert other.warnings == ()


def _same_unit(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.astype({"date": "datetime64[us]", "kickoff": "datetime64[us]"})


def test_parse_date_dtype_does_not_depend_on_date_format(parsed):
    rows = [re.sub(r"(\d\d/\d\d/)20(\d\d)", r"\1\2", r) for r in ROWS]
    short = parse_football_data(csv_bytes(HEADER, rows), "short.csv").matches
    assert short["date"].tolist() == parsed.matches["date"].tolist()
    assert short["date"].dtype == parsed.matches["date"].dtype
    assert short["kickoff"].dtype == parsed.matches["kickoff"].dtype


def test_parse_ignores_blank_trailing_rows_of_commas():
    blank = "," * (HEADER.count(","))
    data = csv_bytes(HEADER, [*ROWS, blank, blank, ""])
    p = parse_football_data(data, "x.csv")
    assert p.n_rows == 3
    assert p.matches["line"].tolist() == [2, 3, 4]


def test_parse_rows_without_result_are_fixtures():
    rows = [ROWS[0], "E0,17/08/2019,15:00,Arsenal,Burnley,,,,,,,,,,,,1.5,4.2,6,,,,,,,,,,,"]
    p = parse_football_data(csv_bytes(HEADER, rows), "x.csv")
    assert p.matches["status"].tolist() == ["played", "fixture"]
    fixture = p.matches.iloc[1]
    assert np.isnan(fixture["home_goals"]) and np.isnan(fixture["away_goals"])
    assert fixture["result"] is None
    assert fixture["match_id"] == "e0-20190817-arsenal-burnley"
    assert fixture["season"] == "2019-2020"
    assert fixture["kickoff"] == pd.Timestamp("2019-08-17 15:00")
    # A fixture's opening prices are still read.
    assert len(p.odds[p.odds["line"] == 3]) == 3


def test_parse_empty_pinnacle_columns_give_no_pinnacle_prices():
    # As in 2025-26: the Pinnacle columns are present, but empty from some date on.
    empty_ps = ROWS[1].split(",")
    for name in ("PSH", "PSD", "PSA", "PSCH", "PSCD", "PSCA"):
        empty_ps[HEADER.split(",").index(name)] = ""
    p = parse_football_data(csv_bytes(HEADER, [ROWS[0], ",".join(empty_ps)]), "x.csv")
    west_ham = p.odds[p.odds["line"] == 3]
    assert "pinnacle" not in set(west_ham["bookmaker"])
    assert set(west_ham["bookmaker"]) == {"bet365", "market_avg"}
    assert len(p.odds[(p.odds["line"] == 2) & (p.odds["bookmaker"] == "pinnacle")]) == 6
    wide = one_x_two(p.odds)
    assert (
        wide.loc["e0-20190810-west-ham-man-city", ["pinnacle_open_H", "pinnacle_close_H"]]
        .isna()
        .all()
    )


def test_match_id_is_stable_and_url_safe():
    assert slug("Nott'm Forest") == "nott-m-forest"
    assert slug("  M'gladbach ") == "m-gladbach"
    match_id = make_match_id("SP1", pd.Timestamp("2016-08-19 21:00"), "Ath Madrid", "Paris SG")
    assert match_id == "sp1-20160819-ath-madrid-paris-sg"
    header = "Div,Date,HomeTeam,AwayTeam,FTHG,FTAG,FTR"
    rows = ["E0,13/08/16,Nott'm Forest,Man United,0,1,A"]
    one = parse_football_data(csv_bytes(header, rows), "a.csv").matches["match_id"][0]
    rows_long = ["E0,13/08/2016,Nott'm Forest,Man United,2,2,D"]
    two = parse_football_data(csv_bytes(header, rows_long, eol="\n"), "b.csv").matches
    assert one == two["match_id"][0] == "e0-20160813-nott-m-forest-man-united"
    assert re.fullmatch(r"[a-z0-9-]+", one)


def test_parse_truncated_row_is_kept_with_its_field_count():
    short = ROWS[1].split(",")[:18]  # ends inside the B365 prices
    p = parse_football_data(csv_bytes(HEADER, [ROWS[0], ",".join(short)]), "x.csv")
    assert p.n_rows == 2
    row = p.matches.iloc[1]
    assert (row["n_fields"], row["n_header_fields"]) == (18, 30)
    assert row["match_id"] == "e0-20190810-west-ham-man-city"
    assert (row["home_goals"], row["away_goals"]) == (0, 5)
    line3 = p.odds[p.odds["line"] == 3]
    assert sorted(line3["price"]) == [6.5, 12.0]  # B365H and B365D only


def test_parse_strips_each_field_keeps_a_nul_and_cuts_a_long_row():
    """Fields are stripped one by one (a NUL at the end of a value stays: numpy's own strings
    would drop it); a row longer than the header is cut to the header's width."""
    padding = [f"E0,{day:02d}/10/2019,15:00,Team {day},Other {day},1,0,H" for day in range(1, 29)]
    rows = padding * 5 + [  # a NUL in the first 4 KB means UTF-16 or binary: refused
        " E0 , 09/08/2019 ,20:00, Liverpool ,Norwich\x00,4, 1 ,H",
        "E0,10/08/2019,12:30,West Ham,Man City,0,5,A,extra,fields",
    ]
    p = parse_football_data(csv_bytes("Div,Date,Time,HomeTeam,AwayTeam,FTHG,FTAG,FTR", rows), "x")
    first, second = p.matches.iloc[-2], p.matches.iloc[-1]
    assert (first["league"], first["home_team"], first["away_team"]) == (
        "E0",
        "Liverpool",
        "Norwich\x00",
    )
    assert first["date"] == pd.Timestamp("2019-08-09") and first["away_goals"] == 1
    assert (second["n_fields"], second["n_header_fields"]) == (10, 8)
    assert second["result"] == "A" and second["raw_row"].endswith(",extra,fields")


def test_parse_text_in_goals_column_keeps_raw_text():
    rows = ["E0,09/08/2019,20:00,Liverpool,Norwich,four,1,H"]
    p = parse_football_data(csv_bytes("Div,Date,Time,HomeTeam,AwayTeam,FTHG,FTAG,FTR", rows), "x")
    row = p.matches.iloc[0]
    assert np.isnan(row["home_goals"])
    assert row["home_goals_raw"] == "four"
    assert row["away_goals"] == 1 and row["away_goals_raw"] == "1"
    assert row["status"] == "played"  # it has a result: validation judges it, not the parser


def test_parse_latin1_file_decodes_with_warning_and_keeps_accent():
    header = "Div,Date,HomeTeam,AwayTeam,FTHG,FTAG,FTR,B365H,B365D,B365A"
    rows = ["SP1,19/08/2016,Alavés,Atlético Madrid,1,1,D,9,4.5,1.4"]
    p = parse_football_data(csv_bytes(header, rows, encoding="cp1252"), "SP1.csv")
    assert p.encoding == "cp1252"
    assert len(p.warnings) == 1
    assert "UTF-8" in p.warnings[0] and "Windows-1252" in p.warnings[0]
    assert p.matches["home_team"][0] == "Alavés"
    assert p.matches["away_team"][0] == "Atlético Madrid"
    utf8 = parse_football_data(csv_bytes(header, rows), "SP1.csv")
    assert utf8.warnings == ()
    assert p.matches["match_id"][0] == utf8.matches["match_id"][0]


def test_parse_latin1_file_with_bom_still_finds_div():
    header = "Div,Date,HomeTeam,AwayTeam,FTHG,FTAG,FTR"
    data = csv_bytes(header, ["SP1,19/08/2016,Alavés,Barcelona,0,1,A"], bom=True, encoding="cp1252")
    p = parse_football_data(data, "SP1.csv")
    assert p.matches["league"][0] == "SP1"
    assert p.matches["home_team"][0] == "Alavés"


def test_parse_blank_div_is_missing_like_a_blank_team():
    header = "Div,Date,HomeTeam,AwayTeam,FTHG,FTAG,FTR"
    p = parse_football_data(csv_bytes(header, [",19/08/2016,,Barcelona,0,1,A"]), "x.csv")
    row = p.matches.iloc[0]
    assert row["home_team"] is None
    assert row["match_id"] is None or pd.isna(row["match_id"])
    assert pd.isna(row["league"])


# --- parse_football_data: files that are not football-data CSVs ---------------------------


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"  \r\n\t\n  ", "empty"),
        (b",,,,\r\n,,,,\r\n", "empty"),
        (b"\xef\xbb\xbf", "empty"),
        (b"<!DOCTYPE html>\n<html><head><title>404</title></head></html>", "HTML"),
        (b"\n  <html><body>Please log in</body></html>", "HTML"),
        (
            "Div,Date,HomeTeam,AwayTeam,FTHG,FTAG,FTR\r\nE0,13/08/16,A,B,0,1,A\r\n".encode(
                "utf-16"
            ),
            "UTF-16",
        ),
        (
            "Div,Date,HomeTeam,AwayTeam,FTHG,FTAG,FTR\r\n".encode("utf-16-le"),
            "UTF-16",
        ),
        (
            b"Div,Date,HomeTeam,AwayTeam,FTAG\r\nE0,13/08/16,A,B,1\r\n",
            r"header lacks FTHG, FTR",
        ),
        (b"name,value\r\nfoo,1\r\n", "not a football-data.co.uk results file"),
        (b"Div,Date,HomeTeam,AwayTeam,FTHG,FTAG,FTR\r\n", "header but no data rows"),
        (b"Div,Date,HomeTeam,AwayTeam,FTHG,FTAG,FTR\r\n,,,,,,\r\n,,,,,,\r\n", "no data rows"),
    ],
    ids=[
        "empty",
        "whitespace",
        "only-commas",
        "only-bom",
        "html",
        "html-indented",
        "utf16-bom",
        "utf16-le",
        "lacks-fthg-ftr",
        "other-csv",
        "header-only",
        "header-and-blank-rows",
    ],
)
def test_parse_rejects_files_that_are_not_football_data(data, message):
    with pytest.raises(FileFormatError, match=message):
        parse_football_data(data, "bad.csv")


def test_file_format_error_names_the_header_it_saw():
    with pytest.raises(FileFormatError, match=r"header starts 'name,value'"):
        parse_football_data(b"name,value\r\nfoo,1\r\n", "bad.csv")
    assert issubclass(FileFormatError, ValueError)


def test_a_fixture_list_without_result_columns_is_all_fixtures() -> None:
    """football-data's fixtures.csv has no FTHG/FTAG/FTR columns at all."""
    data = (
        b"Div,Date,Time,HomeTeam,AwayTeam,Referee,B365H,B365D,B365A\r\n"
        b"E0,30/11/2026,15:00,Arsenal,Chelsea,,2.10,3.40,3.50\r\n"
    )
    parsed = parse_football_data(data, "fixtures.csv")
    assert parsed.matches["status"].tolist() == ["fixture"]
    assert parsed.matches["result"].isna().all()
    assert len(parsed.odds) == 3


# --- reading a large file a chunk at a time ----------------------------------------------------


def test_match_chunks_read_the_rows_parse_reads_and_say_which_is_last():
    blank = "," * HEADER.count(",")
    data = csv_bytes(HEADER, [*ROWS, blank, *ROWS, *ROWS[:1]])  # 7 rows and a blank line
    whole = parse_football_data(data, "E0/2019-2020.csv").matches
    chunks = list(iter_match_chunks(data, "E0/2019-2020.csv", chunk_rows=3))
    assert [len(c.matches) for c in chunks] == [3, 3, 1]
    assert [c.last for c in chunks] == [False, False, True]
    together = pd.concat([c.matches for c in chunks], ignore_index=True)
    assert list(together.columns) == list(MATCH_COLUMNS)
    assert together["line"].tolist() == whole["line"].tolist() == [2, 3, 4, 6, 7, 8, 9]
    for column in ("match_id", "raw_row", "home_goals", "n_fields", "kickoff"):
        assert together[column].tolist() == whole[column].tolist(), column
    # At most as many rows as lines: the blank line counts as a line, not a row.
    assert count_data_lines(data) == 8


def test_match_chunks_refuse_what_parse_refuses():
    with pytest.raises(FileFormatError, match="HTML page"):
        next(iter_match_chunks(b"<html>login</html>", "x.csv", 10))
    with pytest.raises(FileFormatError, match="header but no data rows"):
        next(iter_match_chunks(csv_bytes(HEADER, []), "x.csv", 10))


# --- the extra leagues' layout (football-data.co.uk/new/<CODE>.csv) ---------------------------

#: The header of the extra leagues' files: one league, every season, closing prices only.
EXTRA_HEADER = (
    "Country,League,Season,Date,Time,Home,Away,HG,AG,Res,PSCH,PSCD,PSCA,MaxCH,MaxCD,MaxCA,"
    "AvgCH,AvgCD,AvgCA,BFECH,BFECD,BFECA,B365CH,B365CD,B365CA"
)
PRICES = "2.10,3.40,3.60,2.20,3.50,3.80,2.05,3.30,3.50,2.16,3.55,3.90,2.00,3.30,3.50"
EXTRA = "\r\n".join(
    [
        EXTRA_HEADER,
        f"Sweden,Allsvenskan,2022,02/04/2022,14:00,Malmo FF,AIK,2,1,H,{PRICES}",
        f"Sweden,Allsvenskan,2022,06/11/2022,15:00,AIK,Malmo FF,0,0,D,{PRICES}",
        f"Sweden,Allsvenskan,2023,01/04/2023,14:00,AIK,Hacken,1,3,A,{PRICES}",
        "",
    ]
).encode()


def test_an_extra_leagues_file_takes_its_league_from_its_name_and_seasons_from_its_rows():
    parsed = parse_football_data(EXTRA, "https://www.football-data.co.uk/new/SWE.csv")
    m = parsed.matches
    assert m["league"].tolist() == ["SWE"] * 3
    # a calendar-year league: each row its own season, never the file's most common one
    assert m["season"].tolist() == ["2022", "2022", "2023"]
    assert m["match_id"].tolist()[0] == make_match_id(
        "SWE", pd.Timestamp("2022-04-02"), "Malmo FF", "AIK"
    )
    assert m["result"].tolist() == ["H", "D", "A"] and m["home_goals"].tolist() == [2, 0, 1]
    assert m["kickoff"].iloc[0] == pd.Timestamp("2022-04-02 14:00")
    books = parsed.odds.groupby(["bookmaker", "phase"], observed=True).size()
    assert set(books.index) == {
        (book, "close")
        for book in ("pinnacle", "market_max", "market_avg", "betfair_exchange", "bet365")
    }
    assert (books == 9).all()  # three matches x three outcomes each
    wide = one_x_two(parsed.odds)
    assert wide.loc[m["match_id"].iloc[0], "pinnacle_close_H"] == 2.10


def test_an_extra_leagues_season_label_with_two_years_and_an_unreadable_one():
    text = EXTRA.decode().replace(",2022,02/04/2022", ",2021/2022,02/04/2022")
    text = text.replace(",2023,01/04/2023", ",next,01/04/2023")
    m = parse_football_data(text.encode(), "data/swe.csv").matches
    assert m["league"].tolist() == ["SWE"] * 3
    assert m["season"].tolist() == ["2021-2022", "2022", "2022-2023"]  # unreadable: the date's


def test_an_extra_leagues_file_not_named_after_a_league_is_refused_with_the_reason():
    with pytest.raises(FileFormatError, match=r"named after its league.*'Sweden \(1\)\.csv'"):
        parse_football_data(EXTRA, "downloads/Sweden (1).csv")


def test_a_file_without_div_or_the_extra_leagues_columns_is_still_refused():
    header = EXTRA_HEADER.replace("Season,", "Year,")
    with pytest.raises(FileFormatError, match="header lacks Div"):
        parse_football_data(f"{header}\r\n".encode() + EXTRA.split(b"\r\n", 1)[1], "x/SWE.csv")


def test_an_older_extra_leagues_file_without_the_c_suffix_is_read_as_closing_prices():
    text = EXTRA.decode().replace("PSCH,PSCD,PSCA,MaxCH,MaxCD,MaxCA", "PH,PD,PA,MaxH,MaxD,MaxA")
    odds = parse_football_data(text.encode(), "x/SWE.csv").odds
    assert set(odds["phase"]) == {"close"}  # never an opening price the features would read
    assert {"pinnacle", "market_max"} <= set(odds["bookmaker"])
