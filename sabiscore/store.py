"""The on-disk data store: raw files kept byte-for-byte, canonical tables as Parquet.

Layout under a data directory::

    raw/<sha256>.csv                 every ingested file, unchanged, named by its content
    raw/index.jsonl                  where each raw file came from and when
    canonical/<table>/league=<L>/season=<S>/part-<sha12>.parquet
    manifest.json                    the committed state: which part file is current

Tables: `matches`, `odds` (tidy prices), `fixtures` (no result yet), `quarantine` (rejected
rows and why) and `price_warnings` (bookmaker prices dropped and why).

The manifest is the single commit point. New part files get new names, then the manifest is
replaced atomically (`os.replace`), then unreferenced files are removed. An interrupted run
leaves the old manifest and therefore the old, complete dataset; a corrected file for a season
replaces that season in one step; ingesting the same bytes again changes nothing. What a run
killed before its clean-up leaves (part files nothing refers to, a manifest's temporary file)
is never read, and `tidy` removes it at the start of the next ingest.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from sabiscore.faults import Stage, fault_point

#: price_history: every live price as captured (sabiscore/live.py), kept as it grows
TABLES = ("matches", "odds", "fixtures", "quarantine", "price_warnings", "price_history")


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class RawFile:
    sha256: str
    path: Path
    source: str
    size: int


@dataclass(frozen=True)
class Partition:
    """Everything one source file contributes to one (league, season)."""

    league: str
    season: str
    raw_sha256: str
    source: str
    tables: Mapping[str, pd.DataFrame]
    # "results"; "fixtures" for a file of upcoming matches only; "rejected" for the quarantine
    # of a file that was not stored (so that "see the quarantine" has something to show)
    kind: str = "results"

    @property
    def key(self) -> str:
        prefix = "" if self.kind == "results" else f"{self.kind}:"
        return f"{prefix}{self.league}/{self.season}"


@dataclass(frozen=True)
class CommitResult:
    written: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()
    replaced: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default_factory=tuple)
    refused: Mapping[str, str] = field(default_factory=dict)  # key -> why it was not committed


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """An exclusive lock on `path` (created if need be) across processes, held inside the
    block: the store's commits, the ledger's appends."""
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _fsync(path: Path) -> None:
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


class DataStore:
    """A data directory. Several can live side by side (`--data-dir`)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    @property
    def manifest_path(self) -> Path:
        return self.root / "manifest.json"

    # --- raw files ---------------------------------------------------------------------

    def put_raw(self, data: bytes, source: str) -> RawFile:
        """Keep the bytes unchanged under their SHA-256; record where they came from."""
        digest = sha256_of(data)
        path = self.root / "raw" / f"{digest}.csv"
        if not path.exists():
            _atomic_write(path, data)
        with self._lock():
            seen = {(e["sha256"], e["source"]) for e in self.raw_index()}
            if (digest, source) not in seen:
                entry = {
                    "sha256": digest,
                    "source": source,
                    "size": len(data),
                    "stored_at": datetime.now(UTC).isoformat(timespec="seconds"),
                }
                with open(self.root / "raw" / "index.jsonl", "a", encoding="utf-8") as handle:
                    handle.write(json.dumps(entry) + "\n")
        return RawFile(digest, path, source, len(data))

    def raw_index(self) -> list[dict]:
        path = self.root / "raw" / "index.jsonl"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]

    # --- committed state ---------------------------------------------------------------

    def manifest(self) -> dict:
        if not self.manifest_path.exists():
            return {"version": 0, "partitions": {}}
        return json.loads(self.manifest_path.read_text())

    @contextlib.contextmanager
    def _lock(self) -> Iterator[None]:
        self.root.mkdir(parents=True, exist_ok=True)
        with file_lock(self.root / ".lock"):
            yield

    def commit(
        self,
        partitions: list[Partition],
        refuse: Callable[[Partition, Mapping | None], str | None] | None = None,
    ) -> CommitResult:
        """Write the partitions' tables and make them current in one atomic step.

        `refuse(partition, committed_entry_or_None)` may give a reason not to replace what is
        committed; it is asked under the store's lock, so it judges the state it would replace.
        A refused partition's whole file (every partition of its raw bytes) is left out.
        """
        with self._lock():
            manifest = self.manifest()
            current = manifest["partitions"]
            refused: dict[str, str] = {}
            for part in partitions:
                reason = refuse(part, current.get(part.key)) if refuse is not None else None
                if reason:
                    refused[part.key] = reason
            refused_files = {p.raw_sha256 for p in partitions if p.key in refused}
            written: list[str] = []
            unchanged: list[str] = []
            replaced: list[str] = []
            to_write: list[Partition] = []
            for part in partitions:
                old = current.get(part.key)
                if part.raw_sha256 in refused_files:
                    continue
                if old and old["raw_sha256"] == part.raw_sha256:
                    unchanged.append(part.key)
                    continue
                to_write.append(part)
                (replaced if old else written).append(part.key)
            # Parquet encodes and fsyncs without the GIL: two writers overlap that with the
            # next partition's conversion. In order, so the manifest reads as before.
            with ThreadPoolExecutor(max_workers=2) as pool:
                entries = list(pool.map(self._write_partition, to_write))
            for part, entry in zip(to_write, entries, strict=True):
                current[part.key] = entry
                if part.kind == "results":  # a stored season supersedes a refused version's
                    current.pop(f"rejected:{part.league}/{part.season}", None)
            if written or replaced:
                fault_point(Stage.PARTS_WRITTEN)
                self._write_manifest(manifest)
                fault_point(Stage.MANIFEST_COMMITTED)
            self._collect_garbage(manifest)
        return CommitResult(tuple(written), tuple(unchanged), tuple(replaced), refused=refused)

    def drop(self, league: str, season: str | None = None) -> tuple[str, ...]:
        """Take a league (or one of its seasons) out of what is current, in one atomic step.

        For what was mixed in by mistake (the synthetic league ingested into a real store).
        The raw files stay, unchanged, in `raw/`: ingesting them again brings the data back.
        Returns the partition keys removed (none: the store is left as it was).
        """
        with self._lock():
            manifest = self.manifest()
            current = manifest["partitions"]
            gone = tuple(
                sorted(
                    key
                    for key, entry in current.items()
                    if entry["league"] == league and season in (None, entry["season"])
                )
            )
            if not gone:
                return ()
            for key in gone:
                del current[key]
            self._write_manifest(manifest)
            self._collect_garbage(manifest)
        return gone

    def _write_manifest(self, manifest: dict) -> None:
        """The next version of the manifest, atomically: readers see the old one or this one."""
        manifest["version"] = manifest.get("version", 0) + 1
        manifest["updated_at"] = datetime.now(UTC).isoformat(timespec="seconds")
        _atomic_write(self.manifest_path, json.dumps(manifest, indent=1, sort_keys=True).encode())

    def _write_partition(self, part: Partition) -> dict:
        files, rows = {}, {}
        for table in TABLES:
            frame = part.tables.get(table)
            if frame is None or frame.empty:
                continue
            rel = (
                Path("canonical")
                / table
                / f"league={part.league}"
                / f"season={part.season}"
                / f"part-{part.kind}-{part.raw_sha256[:12]}.parquet"
            )
            path = self.root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.tmp")
            frame.reset_index(drop=True).to_parquet(tmp, index=False)
            _fsync(tmp)  # on disk before the manifest that names it
            os.replace(tmp, path)
            files[table], rows[table] = str(rel), len(frame)
        return {
            "kind": part.kind,
            "league": part.league,
            "season": part.season,
            "raw_sha256": part.raw_sha256,
            "source": part.source,
            "files": files,
            "rows": rows,
            "committed_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }

    def tidy(self) -> None:
        """Remove what a killed run left unreferenced: its part files, its manifest's temp file.

        Under the store's lock, where every part file and manifest is written, so nothing a
        live run is still writing can be taken.
        """
        with self._lock():
            self._collect_garbage(self.manifest())

    def _collect_garbage(self, manifest: dict) -> None:
        """Remove part files no committed partition refers to (left by replaced or failed runs)."""
        for stale in self.root.glob(f".{self.manifest_path.name}.*.tmp"):
            stale.unlink(missing_ok=True)
        referenced = {f for p in manifest["partitions"].values() for f in p["files"].values()}
        canonical = self.root / "canonical"
        if not canonical.exists():
            return
        for path in canonical.rglob("*.parquet*"):
            if str(path.relative_to(self.root)) not in referenced:
                path.unlink(missing_ok=True)

    # --- reading -------------------------------------------------------------------------

    def load(
        self,
        table: str,
        leagues: list[str] | None = None,
        seasons: list[str] | None = None,
    ) -> pd.DataFrame:
        """One canonical table, as committed, optionally for some leagues and seasons."""
        if table not in TABLES:
            raise ValueError(f"unknown table {table!r}; one of {', '.join(TABLES)}")
        frames = []
        for entry in sorted(self.manifest()["partitions"].values(), key=_partition_order):
            if leagues and entry["league"] not in leagues:
                continue
            if seasons and entry["season"] not in seasons:
                continue
            if table in entry["files"]:
                frames.append(pd.read_parquet(self.root / entry["files"][table]))
        if not frames:
            return pd.DataFrame()
        return pd.concat(frames, ignore_index=True)

    def upcoming_fixtures(self) -> pd.DataFrame:
        """Fixtures not yet played: the latest listing of each, minus those with a result."""
        fixtures = self.load("fixtures")
        if fixtures.empty:
            return fixtures
        played = self.load("matches")
        if not played.empty:
            fixtures = fixtures[~fixtures["match_id"].isin(played["match_id"])]
        return fixtures.drop_duplicates("match_id", keep="last").reset_index(drop=True)

    def history(self, leagues: list[str] | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
        """What features are built from: the played matches and the upcoming fixtures (where a
        promoted side appears first) of `leagues` (all when None), and their prices. The one
        loader of training, the serving state and the service."""
        played = self.load("matches", leagues=leagues)
        fixtures = self.upcoming_fixtures()
        if not fixtures.empty and leagues:
            fixtures = fixtures[fixtures["league"].isin(leagues)]
        matches = pd.concat([played, fixtures], ignore_index=True) if not fixtures.empty else played
        return matches, self.load("odds", leagues=leagues)

    def summary(self) -> dict:
        """Counts per table and the leagues/seasons present (a rejected file's quarantine is
        counted, but its league and season are not present: nothing of it is served)."""
        every = list(self.manifest()["partitions"].values())
        totals = {t: sum(p["rows"].get(t, 0) for p in every) for t in TABLES}
        parts = [p for p in every if p.get("kind") != "rejected"]
        return {
            "partitions": len(parts),
            "leagues": sorted({p["league"] for p in parts}),
            "seasons": sorted({p["season"] for p in parts}),
            **totals,
        }


def missing_choice(
    manifest: Mapping, leagues: Sequence[str] | None, seasons: Sequence[str] | None
) -> str | None:
    """Why the leagues or seasons asked for are not in the store (naming what is), or None.

    >>> held = {"partitions": {"E0/2023-2024": {"kind": "results", "league": "E0",
    ...                                         "season": "2023-2024"}}}
    >>> print(missing_choice(held, ["E9"], None))
    league E9 is not in the store; leagues in the store: E0
    >>> print(missing_choice(held, ["E0"], ["2030-2031"]))
    season 2030-2031 has no played E0 matches in the store; seasons held: 2023-2024
    >>> missing_choice(held, None, ["2023-2024"]) is None
    True
    """
    played = [p for p in manifest["partitions"].values() if p.get("kind") == "results"]
    held = sorted({p["league"] for p in played})
    absent = [league for league in leagues or () if league not in held]
    if absent:
        return (
            f"league{'s' if len(absent) > 1 else ''} {', '.join(absent)} "
            f"{'are' if len(absent) > 1 else 'is'} not in the store; "
            f"leagues in the store: {', '.join(held) or 'none'}"
        )
    chosen = [p for p in played if not leagues or p["league"] in leagues]
    seasons_held = sorted({p["season"] for p in chosen})
    unknown = [season for season in seasons or () if season not in seasons_held]
    if unknown:
        scope = f" {', '.join(leagues)}" if leagues else ""
        return (
            f"season{'s' if len(unknown) > 1 else ''} {', '.join(unknown)} "
            f"{'have' if len(unknown) > 1 else 'has'} no played{scope} matches in the "
            f"store; seasons held: {', '.join(seasons_held) or 'none'}"
        )
    return None


def stored_raw_shas(manifest: Mapping) -> set[str]:
    """The raw files whose data is committed (a rejected file's quarantine does not count)."""
    return {p["raw_sha256"] for p in manifest["partitions"].values() if p.get("kind") != "rejected"}


def rejected_partition(raw: RawFile, quarantine: pd.DataFrame, home: tuple[str, str]) -> Partition:
    """The quarantine of a file that was not stored, filed under its main league and season."""
    league, season = home
    return Partition(league, season, raw.sha256, raw.source, {"quarantine": quarantine}, "rejected")


def _partition_order(entry: Mapping) -> tuple[str, str]:
    return entry["league"], entry["season"]


def _rows(frame: pd.DataFrame, mask: np.ndarray) -> pd.DataFrame:
    """`frame[mask]`; the frame itself when every row is in (most files: one season)."""
    return frame if mask.all() else frame[mask]


def file_partitions(
    raw: RawFile,
    matches: pd.DataFrame,
    odds: pd.DataFrame,
    quarantine: pd.DataFrame,
    warnings: pd.DataFrame,
    fallback: tuple[str, str],
) -> list[Partition]:
    """Split one validated file into (league, season) partitions.

    A file with results becomes `results` partitions (its fixture rows, if any, ride along);
    a file of upcoming matches only (like football-data's fixtures.csv) becomes `fixtures`
    partitions, so it never replaces a season's results. Quarantine entries go with the
    partition of their league and season, or with the file's main one (`fallback`).
    """
    kind = "results" if (matches["status"] == "played").any() else "fixtures"
    leagues, seasons = (matches[c].to_numpy(dtype=object) for c in ("league", "season"))
    keys = sorted(set(zip(leagues, seasons, strict=True))) or [fallback]
    home = fallback if fallback in keys else keys[0]
    q_keys = [
        (lg, s) if (lg, s) in keys else home
        for lg, s in zip(quarantine.get("league", []), quarantine.get("season", []), strict=True)
    ]
    parts = []
    # each price's match as a code into the file's distinct ids (-1: none), hashed once
    odds_codes, odds_ids = pd.factorize(odds["match_id"].to_numpy(dtype=object))
    position = {match_id: i for i, match_id in enumerate(odds_ids)}
    for league, season in keys:
        rows = _rows(matches, (leagues == league) & (seasons == season))
        ids = {m for m in rows["match_id"].to_numpy(dtype=object) if isinstance(m, str)}
        wanted = np.zeros(len(odds_ids) + 1, dtype=bool)  # the last slot: code -1
        wanted[[position[m] for m in ids if m in position]] = True
        q_mask = [k == (league, season) for k in q_keys]
        tables = {
            "matches": _rows(rows, (rows["status"] == "played").to_numpy()),
            "fixtures": _rows(rows, (rows["status"] == "fixture").to_numpy()),
            "odds": _rows(odds, wanted[odds_codes]).drop(columns=["price_raw"], errors="ignore"),
            "quarantine": quarantine[q_mask] if len(quarantine) else quarantine,
            "price_warnings": warnings[warnings["match_id"].isin(ids)]
            if len(warnings)
            else warnings,
        }
        parts.append(Partition(league, season, raw.sha256, raw.source, tables, kind))
    return parts
