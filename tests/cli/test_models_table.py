"""`sabiscore models` prints the versions as a table a person reads across."""

from __future__ import annotations

from cli.app import versions_lines

CHAMPION = {
    "version": 2,
    "semver": "1.0.1",
    "aliases": "champion",
    "n": 1238,
    "log_loss": 0.989345,
    "market_log_loss": 0.988382,
    "ece": 0.023643,
    "clv_bets": 125,
    "clv_mean": 0.00769,
    "clv_low": -0.0083,
    "clv_high": 0.02354,
    "promoted": True,
    "by": "gate",
    "refit_of": "1",
    "archived": False,
}


def test_each_version_is_one_aligned_row_next_to_the_market() -> None:
    first = {
        **CHAMPION,
        "version": 1,
        "semver": "1.0.0",
        "aliases": "",
        "by": "hand (root)",
        "refit_of": None,
    }
    header, one, two = versions_lines([first, CHAMPION])
    assert header.split("  ")[0] == "version" and "vs market" in header
    assert one.split() == [
        "1",
        "1.0.0",
        "1238",
        "0.9893",
        "+0.0010",
        "0.024",
        "125",
        "+0.77%",
        "[-0.83,",
        "+2.35]",
        "by",
        "hand",
        "(root)",
    ]
    assert two.split()[2] == "champion" and two.endswith("by gate, refit of 1")
    assert header.index("log loss") == one.index("0.9893") == two.index("0.9893")


def test_what_a_version_lacks_is_a_dash_not_nan() -> None:
    bare = {
        "version": 3,
        "semver": "1.1.0",
        "aliases": "challenger",
        "n": 380,
        "log_loss": 0.9114,
        "market_log_loss": None,
        "ece": 0.031,
        "clv_bets": None,
        "clv_mean": None,
        "promoted": False,
        "by": "",
        "refit_of": None,
        "archived": True,
    }
    row = versions_lines([bare])[1]
    assert row.split() == [
        "3",
        "1.1.0",
        "challenger",
        "380",
        "0.9114",
        "-",
        "0.031",
        "-",
        "-",
        "no,",
        "archived",
    ]
    assert "nan" not in row.lower() and "None" not in row


def test_a_count_another_version_lacks_is_still_a_count() -> None:
    """Read from one table, a count that an older version lacks (no holdout bets before the
    CLV was recorded) comes as a float beside NaN: it prints as a count and a dash."""
    older = {**CHAMPION, "version": 1, "clv_bets": float("nan"), "n": 1238.0}
    lines = versions_lines([older, {**CHAMPION, "clv_bets": 125.0}])
    assert lines[1].split()[3:5] == ["1238", "0.9893"]
    assert lines[1].split()[7] == "-" and lines[2].split()[7] == "125"
