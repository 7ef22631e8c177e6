"""Where ingested files come from: paths, directories, globs, URLs, and named sources.

Resolution is pure (no download here): it turns what a user typed into a list of `SourceRef`s
that the ingest flow reads or downloads.
"""

from __future__ import annotations

import glob
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SYNTHETIC = "synthetic"
FOOTBALL_DATA = "football-data"


class SourceError(ValueError):
    """A source that names nothing readable."""


@dataclass(frozen=True)
class SourceRef:
    location: str  # a local path or an http(s) URL
    is_url: bool

    @property
    def name(self) -> str:
        return self.location.rstrip("/").rsplit("/", 1)[-1]


def season_code(season: str) -> str:
    """football-data.co.uk's folder name for a season.

    >>> season_code("2023-2024")
    '2324'
    """
    parts = season.split("-")
    if (
        len(parts) != 2
        or not all(len(p) == 4 and p.isdigit() for p in parts)
        or int(parts[1]) != int(parts[0]) + 1
    ):
        raise SourceError(f"season must look like 2023-2024, got {season!r}")
    return parts[0][2:] + parts[1][2:]


def football_data_urls(base_url: str, leagues: Iterable[str], seasons: Iterable[str]) -> list[str]:
    """`<base>/<yyYY>/<DIV>.csv` for every league and season.

    >>> football_data_urls("https://x/mmz4281", ["E0"], ["2023-2024"])
    ['https://x/mmz4281/2324/E0.csv']
    """
    base = base_url.rstrip("/")
    return [f"{base}/{season_code(s)}/{lg}.csv" for s in seasons for lg in leagues]


#: Where football-data.co.uk keeps its extra leagues' files, one per league (`ARG.csv`, ...).
EXTRA_URL = "https://www.football-data.co.uk/new"


def extra_league_urls(extra_url: str, leagues: Iterable[str]) -> list[str]:
    """`<extra_url>/<CODE>.csv` for every extra league (each file holds all its seasons).

    >>> extra_league_urls("https://x/new/", ["SWE", "usa"])
    ['https://x/new/SWE.csv', 'https://x/new/USA.csv']
    """
    base = extra_url.rstrip("/")
    return [f"{base}/{code.upper()}.csv" for code in leagues]


def default_sources(
    configured: Iterable[str], stored_leagues: Iterable[str], synthetic_leagues: Iterable[str]
) -> tuple[list[str], str | None]:
    """What `ingest` reads when no source is named, and a note when that is not `configured`.

    The synthetic league is the default only for a store that holds nothing else: it is never
    mixed into a user's real data unless named. Returns the sources and, when the synthetic
    league was left out, why (for the summary).

    >>> default_sources(["synthetic"], [], ["SY1"])
    (['synthetic'], None)
    >>> default_sources(["synthetic"], ["SY1"], ["SY1"])
    (['synthetic'], None)
    >>> default_sources(["synthetic"], ["E0", "SY1"], ["SY1"])[0]
    []
    >>> print(default_sources(["synthetic"], ["E0"], ["SY1"])[1])  # doctest: +ELLIPSIS
    no source named and the store holds real leagues (E0): ... (name 'synthetic' to add it)
    """
    configured = list(configured)
    real = sorted(set(stored_leagues) - set(synthetic_leagues))
    if SYNTHETIC not in configured or not real:
        return configured, None
    note = (
        f"no source named and the store holds real leagues ({', '.join(real)}): the "
        f"synthetic league is not mixed in (name '{SYNTHETIC}' to add it)"
    )
    return [s for s in configured if s != SYNTHETIC], note


def is_url(text: str) -> bool:
    return text.startswith(("http://", "https://"))


def resolve(source: str, football_data: Mapping[str, Any] | None = None) -> list[SourceRef]:
    """Expand one source into files or URLs (sorted, so runs are repeatable)."""
    if source == FOOTBALL_DATA:
        if not football_data:
            raise SourceError("no football_data section in the data config")
        urls = football_data_urls(
            football_data["base_url"], football_data["leagues"], football_data["seasons"]
        )
        urls += extra_league_urls(
            football_data.get("extra_url", EXTRA_URL), football_data.get("extra_leagues") or ()
        )
        return [SourceRef(u, True) for u in urls]
    if is_url(source):
        return [SourceRef(source, True)]
    path = Path(source).expanduser()
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() == ".csv")
        if not files:
            raise SourceError(f"directory {source} holds no .csv files")
        return [SourceRef(str(p), False) for p in files]
    if path.is_file():
        return [SourceRef(str(path), False)]
    if any(ch in source for ch in "*?["):
        matches = sorted(p for p in glob.glob(str(path), recursive=True) if Path(p).is_file())
        if not matches:
            raise SourceError(f"no file matches {source}")
        return [SourceRef(p, False) for p in matches]
    raise SourceError(
        f"source not found: {source} (not a file, a directory, a glob, a URL, "
        f"'{SYNTHETIC}' or '{FOOTBALL_DATA}')"
    )
