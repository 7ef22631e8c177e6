"""Source resolution: paths, directories, globs, URLs and the football-data URL scheme."""

from __future__ import annotations

from pathlib import Path

import pytest

from sabiscore.sources import (
    FOOTBALL_DATA,
    SourceError,
    SourceRef,
    football_data_urls,
    is_url,
    resolve,
    season_code,
)

BASE = "https://www.football-data.co.uk/mmz4281"


@pytest.mark.parametrize(
    ("season", "code"),
    [("2023-2024", "2324"), ("2019-2020", "1920"), ("1999-2000", "9900"), ("2009-2010", "0910")],
)
def test_season_code(season, code):
    assert season_code(season) == code


@pytest.mark.parametrize("season", ["2023-24", "2023-2025", "2024-2023", "23-24", "2023-2023"])
def test_season_code_rejects_bad_seasons(season):
    with pytest.raises(SourceError, match=r"season must look like 2023-2024, got"):
        season_code(season)


@pytest.mark.parametrize("season", ["2023/2024", "2023", "2023-2024-2025", "abcd-efgh", ""])
def test_season_code_rejects_malformed_seasons_with_source_error(season):
    with pytest.raises(SourceError, match=r"season must look like 2023-2024"):
        season_code(season)


def test_football_data_urls():
    urls = football_data_urls(BASE + "/", ["E0", "SP1"], ["2022-2023", "2023-2024"])
    assert urls == [
        f"{BASE}/2223/E0.csv",
        f"{BASE}/2223/SP1.csv",
        f"{BASE}/2324/E0.csv",
        f"{BASE}/2324/SP1.csv",
    ]
    assert football_data_urls(BASE, ["E0"], []) == []
    with pytest.raises(SourceError):
        football_data_urls(BASE, ["E0"], ["2023-2025"])


def test_is_url():
    assert is_url("https://x/y.csv") and is_url("http://x")
    assert not is_url("ftp://x/y.csv") and not is_url("data/E0.csv")


def test_resolve_a_file(tmp_path):
    path = tmp_path / "E0.csv"
    path.write_text("Div\n")
    refs = resolve(str(path))
    assert refs == [SourceRef(str(path), False)]
    assert refs[0].name == "E0.csv"


def _tree(root: Path) -> None:
    for rel in ["b.csv", "a.csv", "sub/c.csv", "sub/deeper/d.CSV", "notes.txt", "sub/x.csv.bak"]:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("Div\n")
    (root / "empty.csv").mkdir()  # a directory with a .csv name is not a file


def test_resolve_a_directory_recursively_only_csv_sorted(tmp_path):
    _tree(tmp_path)
    refs = resolve(str(tmp_path))
    assert [Path(r.location).relative_to(tmp_path).as_posix() for r in refs] == [
        "a.csv",
        "b.csv",
        "sub/c.csv",
        "sub/deeper/d.CSV",
    ]
    assert not any(r.is_url for r in refs)


def test_resolve_an_empty_directory(tmp_path):
    (tmp_path / "readme.txt").write_text("no data")
    with pytest.raises(SourceError, match=r"holds no \.csv files"):
        resolve(str(tmp_path))


def test_resolve_a_glob(tmp_path):
    _tree(tmp_path)
    refs = resolve(str(tmp_path / "*.csv"))
    assert [r.name for r in refs] == ["a.csv", "b.csv"]  # files only, sorted
    deep = resolve(str(tmp_path / "**" / "*.csv"))
    assert [r.name for r in deep] == ["a.csv", "b.csv", "c.csv"]
    with pytest.raises(SourceError, match=r"no file matches .*\*\.json"):
        resolve(str(tmp_path / "*.json"))


def test_resolve_a_url():
    url = f"{BASE}/2324/E0.csv"
    refs = resolve(url)
    assert refs == [SourceRef(url, True)]
    assert refs[0].name == "E0.csv"


def test_resolve_football_data_with_config():
    config = {"base_url": BASE, "leagues": ["E0", "D1"], "seasons": ["2023-2024"]}
    refs = resolve(FOOTBALL_DATA, config)
    assert refs == [SourceRef(f"{BASE}/2324/E0.csv", True), SourceRef(f"{BASE}/2324/D1.csv", True)]
    assert [r.name for r in refs] == ["E0.csv", "D1.csv"]


def test_resolve_football_data_reads_each_extra_league_once_with_all_its_seasons():
    config = {
        "base_url": BASE,
        "leagues": ["E0"],
        "seasons": ["2023-2024", "2024-2025"],
        "extra_url": "https://www.football-data.co.uk/new",
        "extra_leagues": ["SWE", "ARG"],
    }
    assert [r.location for r in resolve(FOOTBALL_DATA, config)] == [
        f"{BASE}/2324/E0.csv",
        f"{BASE}/2425/E0.csv",
        "https://www.football-data.co.uk/new/SWE.csv",
        "https://www.football-data.co.uk/new/ARG.csv",
    ]


def test_the_shipped_config_has_no_extra_league_and_knows_where_they_live():
    from sabiscore.config import load_config

    football_data = load_config()["data"]["football_data"]
    assert football_data["extra_leagues"] == []
    assert football_data["extra_url"] == "https://www.football-data.co.uk/new"
    assert [r.location for r in resolve(FOOTBALL_DATA, football_data)] == [
        f"{football_data['base_url']}/{code}/{league}.csv"
        for code in ("2324", "2425")
        for league in football_data["leagues"]
    ]


@pytest.mark.parametrize("config", [None, {}])
def test_resolve_football_data_without_config(config):
    with pytest.raises(SourceError, match="no football_data section"):
        resolve(FOOTBALL_DATA, config)


def test_resolve_a_missing_path_explains_what_a_source_can_be(tmp_path):
    missing = tmp_path / "nope" / "E0.csv"
    with pytest.raises(SourceError, match=r"source not found: .*nope/E0\.csv") as info:
        resolve(str(missing))
    message = str(info.value)
    for word in ("file", "directory", "glob", "URL", "'synthetic'", "'football-data'"):
        assert word in message
