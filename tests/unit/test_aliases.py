"""The team alias table (configs/aliases.yaml): every club of the shared files, each name once."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml

from sabiscore.config import PROJECT_ROOT, load_config
from sabiscore.live import TeamAliases, fold

ALIASES = PROJECT_ROOT / "configs" / "aliases.yaml"
LEAGUES = ("E0", "E1", "SP1", "D1", "I1", "F1")
LAST_SEASONS = ("2022-2023", "2023-2024")

#: Clubs in the table that the shared files (which end in 2023-2024) never name: promoted
#: since, under the names football-data.co.uk gives them.
PROMOTED_SINCE = frozenset(
    {
        "Portsmouth",
        "Oxford",
        "Wrexham",
        "Oviedo",
        "Holstein Kiel",
        "St Pauli",
        "Como",
        "Pisa",
        "Paris FC",
    }
)


@pytest.fixture(scope="module")
def aliases() -> TeamAliases:
    return TeamAliases.from_config(load_config()["aliases"])


def _teams(files: list[Path]) -> set[str]:
    teams: set[str] = set()
    for path in files:
        frame = pd.read_csv(path, encoding="latin-1", usecols=["HomeTeam", "AwayTeam"])
        teams |= set(frame["HomeTeam"].dropna()) | set(frame["AwayTeam"].dropna())
    return teams


class _NoDuplicateKeys(yaml.SafeLoader):
    """YAML keeps the last of two equal keys silently: a club listed twice would lose names."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        keys = [self.construct_object(k, deep=deep) for k, _ in node.value]
        repeated = sorted({k for k in keys if keys.count(k) > 1})
        if repeated:
            raise ValueError(f"{ALIASES.name}: listed twice: {repeated}")
        return super().construct_mapping(node, deep=deep)


def test_the_table_loads_with_each_club_once_and_only_teams() -> None:
    table = yaml.load(ALIASES.read_text(), Loader=_NoDuplicateKeys)
    assert set(table) == {"teams"}
    assert all(isinstance(v, list) for v in table["teams"].values())


def test_no_name_belongs_to_two_clubs() -> None:
    with pytest.raises(ValueError, match="names both 'Man United' and 'Man City'"):
        TeamAliases.from_config({"teams": {"Man United": ["Man Utd"], "Man City": ["man-utd"]}})
    table = load_config()["aliases"]["teams"]
    owner: dict[str, str] = {}
    for club, others in table.items():
        for name in [club, *others]:
            assert owner.setdefault(fold(name), club) == club, (name, owner[fold(name)], club)


@pytest.mark.shared_data
@pytest.mark.parametrize("league", LEAGUES)
def test_every_club_of_the_last_two_seasons_maps_to_itself(
    football_data_dir: Path, aliases: TeamAliases, league: str
) -> None:
    files = [football_data_dir / league / f"{season}.csv" for season in LAST_SEASONS]
    teams = _teams([f for f in files if f.exists()])
    assert len(teams) >= 20
    assert {t: aliases.resolve(t) for t in teams if aliases.resolve(t) != t} == {}


@pytest.mark.shared_data
def test_every_club_of_the_table_is_named_so_by_football_data(
    football_data_dir: Path, aliases: TeamAliases
) -> None:
    """A key of the table is football-data's own spelling (a typo would never join history)."""
    known = _teams(sorted(football_data_dir.glob("*/*.csv")))
    assert sorted(aliases.names - known - PROMOTED_SINCE) == []


@pytest.mark.parametrize(
    ("name", "club"),
    [
        # The Odds API's names
        ("Manchester United", "Man United"),
        ("Manchester City", "Man City"),
        ("Wolverhampton Wanderers", "Wolves"),
        ("Brighton and Hove Albion", "Brighton"),
        ("Nottingham Forest", "Nott'm Forest"),
        ("Tottenham Hotspur", "Tottenham"),
        ("West Ham United", "West Ham"),
        ("Leicester City", "Leicester"),
        ("Sheffield United", "Sheffield United"),
        ("West Bromwich Albion", "West Brom"),
        ("Sheffield Wednesday", "Sheffield Weds"),
        ("Queens Park Rangers", "QPR"),
        ("Bayern Munich", "Bayern Munich"),
        ("Borussia Monchengladbach", "M'gladbach"),
        ("Borussia Dortmund", "Dortmund"),
        ("Eintracht Frankfurt", "Ein Frankfurt"),
        ("1. FC Köln", "FC Koln"),
        ("TSG Hoffenheim", "Hoffenheim"),
        ("FSV Mainz 05", "Mainz"),
        ("Atlético Madrid", "Ath Madrid"),
        ("Athletic Bilbao", "Ath Bilbao"),
        ("Real Sociedad", "Sociedad"),
        ("Rayo Vallecano", "Vallecano"),
        ("Alavés", "Alaves"),
        ("Cádiz CF", "Cadiz"),
        ("Espanyol", "Espanol"),
        ("CA Osasuna", "Osasuna"),
        ("Inter Milan", "Inter"),
        ("AC Milan", "Milan"),
        ("AS Roma", "Roma"),
        ("Hellas Verona", "Verona"),
        ("Atalanta BC", "Atalanta"),
        ("Paris Saint Germain", "Paris SG"),
        ("Paris Saint-Germain", "Paris SG"),
        ("AS Monaco", "Monaco"),
        ("RC Lens", "Lens"),
        ("Stade de Reims", "Reims"),
        # Betfair's names
        ("Man Utd", "Man United"),
        ("Sheffield Utd", "Sheffield United"),
        ("Nottm Forest", "Nott'm Forest"),
        ("Sheff Wed", "Sheffield Weds"),
        ("Paris St-G", "Paris SG"),
        ("Mgladbach", "M'gladbach"),
    ],
)
def test_known_names_of_other_sources_resolve(aliases: TeamAliases, name: str, club: str) -> None:
    assert aliases.resolve(name) == club


def test_an_unknown_name_is_not_guessed(aliases: TeamAliases) -> None:
    assert aliases.resolve("Manchester") is None and aliases.resolve("Real") is None
    assert aliases.unknown(["Sporting Lisbon", "Arsenal", "Sporting Lisbon"]) == ["Sporting Lisbon"]
