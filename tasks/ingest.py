"""Prefect tasks of the ingest flow: each loads, calls the domain, and persists or logs.

The GX runner below them is the adapter of the screen and validate tasks to Great
Expectations 1.x: it builds an ephemeral GX context, runs one checkpoint per table and turns
GX's results into `sabiscore.quality.Failure` records. Deciding what a failure costs is the
domain's job (`sabiscore.quality.apply_failures`).
"""

from __future__ import annotations

import json
import logging
import os
import pickle
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
from prefect import task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.logging import get_run_logger

from sabiscore.football_data import FileFormatError, ParsedFile
from sabiscore.guards import (
    ReplaceGuards,
    force_hint,
    season_mismatch_reason,
    shrink_reason,
    truncation_reason,
)
from sabiscore.quality import (
    EarlyRefusal,
    Failure,
    QualityOutcome,
    ScreenSettings,
    apply_failures,
    canonical_matches,
    dominant_partition,
    match_check_frame,
    price_check_frame,
    row_local_suite,
    screen_file,
)
from sabiscore.sources import SYNTHETIC, SourceRef, default_sources, resolve
from sabiscore.store import (
    CommitResult,
    DataStore,
    Partition,
    RawFile,
    file_partitions,
    rejected_partition,
    stored_raw_shas,
)
from sabiscore.validation_report import ExpectationVerdict, report_html
from tasks.parse_worker import parse_one


@dataclass
class FileReport:
    """What happened to one source file (becomes a row of the summary table)."""

    source: str
    status: str = "pending"  # stored, unchanged, rejected, error
    sha256: str | None = None
    rows: int = 0
    matches: int = 0
    fixtures: int = 0
    quarantined: int = 0
    price_warnings: int = 0
    message: str = ""
    notes: list[str] = field(default_factory=list)
    partitions: list[str] = field(default_factory=list)


# --- sources -------------------------------------------------------------------------------


def write_synthetic_league(settings: dict[str, Any], data_dir: Path) -> list[Path]:
    """Generate the embedded synthetic league as football-data files under the data dir."""
    from sabiscore.synthetic import (
        SyntheticConfig,
        generate_league,
        write_football_data_csvs,
        write_truth,
    )

    league = generate_league(SyntheticConfig.from_dict(settings))
    write_truth(league, data_dir / "synthetic" / "truth")
    return write_football_data_csvs(league, data_dir / "synthetic" / "files")


def chosen_sources(
    sources: list[str] | None, data_config: dict, store: DataStore
) -> tuple[list[str], str | None]:
    """The sources named, else `default_sources` less the synthetic league when the store
    already holds real leagues (and the note saying so)."""
    if sources:
        return list(sources), None
    from sabiscore.synthetic import SyntheticConfig

    synthetic = SyntheticConfig.from_dict(data_config.get("synthetic", {}))
    return default_sources(
        data_config["default_sources"],
        store.summary()["leagues"],
        [spec.code for spec in synthetic.leagues],
    )


@task(name="resolve-sources", cache_policy=NO_CACHE)
def resolve_sources(sources: list[str], data_config: dict, data_dir: Path) -> list[SourceRef]:
    """Expand files, folders, globs, URLs and the named sources into a list to read."""
    refs: list[SourceRef] = []
    for source in sources:
        if source == SYNTHETIC:
            paths = write_synthetic_league(data_config.get("synthetic", {}), data_dir)
            refs.extend(SourceRef(str(p), False) for p in paths)
        else:
            refs.extend(resolve(source, data_config.get("football_data")))
    return list(dict.fromkeys(refs))


def _retry_unless_client_error(task: Any, task_run: Any, state: Any) -> bool:
    """Retry timeouts, connection errors and 5xx/429; a 404 will not get better."""
    try:
        state.result()
    except httpx.HTTPStatusError as error:
        code = error.response.status_code
        return code >= 500 or code == 429
    except Exception:
        return True
    return False


@task(
    name="download",
    retries=3,
    retry_delay_seconds=[2, 5, 15],
    retry_condition_fn=_retry_unless_client_error,
    cache_policy=NO_CACHE,
)
def download(url: str, timeout_s: float) -> bytes:
    """Fetch one URL (retried: the only step here that talks to the outside world)."""
    response = httpx.get(url, timeout=timeout_s, follow_redirects=True)
    response.raise_for_status()
    return response.content


@task(name="keep-raw", cache_policy=NO_CACHE)
def keep_raw(store: DataStore, contents: dict[str, bytes | Path]) -> dict[str, RawFile | Exception]:
    """Keep every file's bytes unchanged, content-addressed, before anything reads them (a
    path is read here); a file that cannot be read or kept becomes its exception."""
    kept: dict[str, RawFile | Exception] = {}
    for source, content in contents.items():
        try:
            data = content.read_bytes() if isinstance(content, Path) else content
            kept[source] = store.put_raw(data, source)
        except Exception as error:  # noqa: BLE001 - every failure becomes a per-file report
            kept[source] = error
    return kept


# --- parse, validate, commit ---------------------------------------------------------------


@task(name="screen-files", cache_policy=NO_CACHE)
def screen_files(
    raws: dict[str, RawFile], validation: dict, now: datetime | None = None
) -> dict[str, EarlyRefusal]:
    """Refuse each large file whose first rows already settle that it fails validation,
    before it is parsed whole (`sabiscore.quality.screen_file`; small files pass through)."""
    guards = ReplaceGuards.from_dict(validation.get("guards", {}))
    settings = ScreenSettings.from_dict(validation.get("screen", {}))
    suite = {"matches": row_local_suite(validation["suites"]["matches"])}
    ingest_time = pd.Timestamp(now or datetime.now(UTC))
    month = validation["season_start_month"]

    def judge(matches: pd.DataFrame) -> tuple:
        frame = match_check_frame(matches, month, ingest_time, guards.future_tolerance_days)
        return run_suites({"matches": frame}, suite).failures

    refusals = {}
    for source, raw in raws.items():
        data = raw.path.read_bytes()
        try:
            refusal = screen_file(
                data, raw.source, judge, validation["max_bad_share"], settings, month
            )
        except FileFormatError:
            continue  # parse-files reports it
        if refusal is not None:
            refusals[source] = refusal
    return refusals


REPO_ROOT = Path(__file__).resolve().parents[1]

#: Files of at least this many bytes in all are parsed by a worker process while this one imports
#: GX (`parsed_files`): the 72 shared files hold 9.5 MB; a few seasons parse in less time than a
#: worker takes to start.
OVERLAP_PARSE_BYTES = 4_000_000


def overlap_gx_import(raws: Mapping[str, RawFile]) -> bool:
    """Whether to parse in a worker process while this one imports GX: GX is not imported yet
    (a cold command), there are many bytes to parse, and more than one core to do both."""
    if "great_expectations" in sys.modules:
        return False
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return cores > 1 and sum(raw.size for raw in raws.values()) >= OVERLAP_PARSE_BYTES


@task(name="parse-files", cache_policy=NO_CACHE)
def parse_files(
    raws: dict[str, RawFile], season_start_month: int, in_worker: bool = False
) -> dict[str, ParsedFile | Exception]:
    """Parse every file, one after another: here, or (`in_worker`) in a worker process, which
    leaves this one free (`parsed_files` imports GX meanwhile). Parsing is CPU-bound Python:
    a thread would only contend. A worker that fails (out of memory, killed) costs only time:
    the files are parsed here."""
    jobs = {s: (str(raw.path), raw.source, season_start_month) for s, raw in raws.items()}
    results = _parse_in_worker(jobs) if in_worker else {}
    for source, (path, name, month) in jobs.items():
        if source not in results:
            results[source] = parse_one(path, name, month)
    return {source: results[source] for source in jobs}


def _parse_in_worker(jobs: Mapping[str, tuple[str, str, int]]) -> dict[str, ParsedFile | Exception]:
    """`tasks.parse_worker` in a fresh interpreter; empty if it did not finish."""
    env = os.environ | {"PYTHONPATH": os.pathsep.join([str(REPO_ROOT), *sys.path[1:]])}
    with tempfile.TemporaryDirectory(prefix="sabiscore-parse-") as tmp:
        out = Path(tmp) / "parsed.pickle"
        worker = subprocess.run(
            [sys.executable, "-m", "tasks.parse_worker", str(out)],
            input=json.dumps(list(jobs.values())).encode(),
            env=env,
            cwd=REPO_ROOT,
            capture_output=True,  # a worker's traceback is not the user's: parsed here instead
            check=False,
        )
        if worker.returncode != 0 or not out.exists():
            logging.getLogger(__name__).debug("parse worker failed: %s", worker.stderr[-2000:])
            return {}
        return dict(zip(jobs, pickle.loads(out.read_bytes()), strict=True))


@task(name="validate-gx", cache_policy=NO_CACHE)
def validate_files(
    parsed: dict[str, ParsedFile],
    validation: dict,
    docs_dir: Path | None,
    now: datetime | None = None,
) -> tuple[QualityOutcome, dict]:
    """Run the GX suites over every parsed file at once; decide quarantine and warnings.

    `now` is the time of ingest (default: the clock), after which no match has a result.
    """
    guards = ReplaceGuards.from_dict(validation.get("guards", {}))
    ingest_time = pd.Timestamp(now or datetime.now(UTC))
    matches = pd.concat([p.matches for p in parsed.values()], ignore_index=True)
    odds = pd.concat([p.odds for p in parsed.values()], ignore_index=True)
    frames = {
        "matches": match_check_frame(
            matches, validation["season_start_month"], ingest_time, guards.future_tolerance_days
        ),
        "prices": price_check_frame(odds),
    }
    started = time.perf_counter()
    run = run_suites(frames, validation["suites"], docs_dir)
    gx_seconds = time.perf_counter() - started
    books = frames["prices"]["book"].to_numpy()
    outcome = apply_failures(
        frames["matches"], odds, run.failures, validation["max_bad_share"], books
    )
    stats = {
        "evaluated_expectations": run.evaluated,
        "successful_expectations": run.successful,
        "seconds": round(gx_seconds, 3),
        "data_docs": str(run.docs_index) if run.docs_index else None,
        "report": str(run.report) if run.report else None,
        "failed": [
            {
                "expectation": f.expectation,
                "column": f.column,
                "reason": f.reason,
                "rows": len(f.index),
            }
            for f in run.failures
        ],
    }
    return outcome, stats


@task(name="commit-partitions", cache_policy=NO_CACHE)
def commit_partitions(
    store: DataStore,
    raws: dict[str, RawFile],
    parsed: dict[str, ParsedFile],
    outcome: QualityOutcome,
    reports: dict[str, FileReport],
    guards: ReplaceGuards | None = None,
    replace: bool = False,
) -> CommitResult:
    """Group kept rows into (league, season) partitions and make them current atomically.

    A file the guards refuse (cut off, or fewer matches than the season it would replace) is
    not committed unless `replace`; the quarantine of every file not stored is kept apart.
    """
    guards = guards or ReplaceGuards()
    partitions: list[Partition] = []
    part_of = _tables_by_source(outcome)
    for source, raw in raws.items():
        report = reports[source]
        if source not in parsed:
            continue
        report.quarantined = len(part_of("quarantine", source))
        reason = outcome.rejected_files.get(source) or _file_refusal(
            parsed[source], source, replace
        )
        if reason:
            report.status, report.message = "rejected", reason
            continue
        parts = _file_parts(raw, parsed[source], part_of)
        status = part_of("matches", source)["status"]
        report.matches = int((status == "played").sum())
        report.fixtures = int((status == "fixture").sum())
        report.price_warnings = len(part_of("warnings", source))
        report.partitions = [p.key for p in parts]
        report.status = "stored"
        partitions.extend(parts)

    def refuse(part: Partition, committed: Mapping | None) -> str | None:
        return _shrink_refusal(part, committed, guards, replace)

    result = store.commit(partitions, refuse)
    for report in reports.values():
        refusals = {k: result.refused[k] for k in report.partitions if k in result.refused}
        if report.status == "stored" and refusals:
            report.status = "rejected"
            report.message = _shrink_message(report.source, refusals)
            report.matches = report.fixtures = report.price_warnings = 0
            report.partitions = []
        elif report.status == "stored" and all(k in result.unchanged for k in report.partitions):
            report.status = "unchanged"
    _keep_rejected_quarantine(store, raws, parsed, reports, part_of)
    return result


def _tables_by_source(outcome: QualityOutcome) -> Callable[[str, str], pd.DataFrame]:
    """`part_of(table, source)`: that source's rows of one of the outcome's tables."""
    tables = {
        "matches": outcome.matches,
        "stored_matches": canonical_matches(outcome.matches),  # once, not once per file
        "odds": outcome.odds,
        "quarantine": outcome.quarantine,
        "warnings": outcome.warnings,
    }
    by_source = {name: _split_by_source(table) for name, table in tables.items()}

    def part_of(name: str, source: str) -> pd.DataFrame:
        return by_source[name].get(source, tables[name].iloc[0:0])

    return part_of


def _file_parts(
    raw: RawFile, parsed: ParsedFile, part_of: Callable[[str, str], pd.DataFrame]
) -> list[Partition]:
    """The (league, season) partitions a validated file would be stored as."""
    matches = part_of("stored_matches", raw.source).reset_index(drop=True)
    matches["raw_sha256"] = raw.sha256
    return file_partitions(
        raw,
        matches,
        part_of("odds", raw.source),
        part_of("quarantine", raw.source),
        part_of("warnings", raw.source),
        dominant_partition(parsed.matches),
    )


def _shrink_refusal(
    part: Partition, committed: Mapping | None, guards: ReplaceGuards, replace: bool
) -> str | None:
    """Why `part` may not replace the committed season (fewer matches), or None."""
    if replace or part.kind != "results" or committed is None:
        return None
    stored = committed.get("rows", {}).get("matches", 0)
    return shrink_reason(len(part.tables["matches"]), stored, guards.min_replace_share)


def _shrink_message(source: str, refusals: Mapping[str, str]) -> str:
    reasons = "; ".join(f"{key}: {reason}" for key, reason in refusals.items())
    return f"{reasons}: {force_hint(source)}"


def _file_refusal(parsed: ParsedFile, source: str, replace: bool) -> str | None:
    """Why a file must not be committed as it is: a season its dates contradict (always), or
    a cut-off last row (unless `replace`)."""
    played = parsed.matches[parsed.matches["status"] == "played"]
    mismatch = season_mismatch_reason(source, played["season"].dropna())
    if mismatch:
        return f"{mismatch}: not stored (rename the file, or check its dates)"
    truncated = truncation_reason(parsed.matches, parsed.ends_with_newline)
    if truncated and not replace:
        return f"{truncated}; {force_hint(source)}"
    return None


def _keep_rejected_quarantine(
    store: DataStore,
    raws: dict[str, RawFile],
    parsed: dict[str, ParsedFile],
    reports: dict[str, FileReport],
    part_of: Callable[[str, str], pd.DataFrame],
) -> None:
    """Store the quarantine rows of the files not stored, so "see the quarantine" shows them."""
    parts = [
        rejected_partition(raws[s], part_of("quarantine", s), dominant_partition(parsed[s].matches))
        for s, report in reports.items()
        if report.status == "rejected" and s in parsed and not part_of("quarantine", s).empty
    ]
    if parts:
        store.commit(parts)


@task(name="keep-refused-quarantine", cache_policy=NO_CACHE)
def keep_refused_quarantine(
    store: DataStore, raws: dict[str, RawFile], refusals: dict[str, EarlyRefusal]
) -> None:
    """Store the quarantine sample of each file refused early (its raw bytes are kept)."""
    parts = [rejected_partition(raws[s], r.quarantine, r.home) for s, r in refusals.items()]
    if parts:
        store.commit(parts)


@task(name="check-guards", cache_policy=NO_CACHE)
def check_guards(
    store: DataStore,
    raws: dict[str, RawFile],
    parsed: dict[str, ParsedFile],
    outcome: QualityOutcome,
    guards: ReplaceGuards,
) -> dict[str, str]:
    """Why `ingest` would refuse each file the validation keeps, judged against the store as it
    is and changing nothing: a cut-off last row, a name of another season, fewer matches than
    the stored season it would replace. The same words as `ingest`, by source."""
    committed = store.manifest()["partitions"]
    part_of = _tables_by_source(outcome)
    verdicts = {}
    for source, parsed_file in parsed.items():
        if source in outcome.rejected_files:
            continue
        reason = _file_refusal(parsed_file, source, replace=False)
        if reason is None:
            parts = _file_parts(raws[source], parsed_file, part_of)
            shrinks = {
                p.key: _shrink_refusal(p, committed.get(p.key), guards, False) for p in parts
            }
            shrinks = {key: why for key, why in shrinks.items() if why}
            reason = _shrink_message(source, shrinks) if shrinks else None
        if reason:
            verdicts[source] = reason
    return verdicts


def _split_by_source(table: pd.DataFrame) -> dict[str, pd.DataFrame]:
    if table.empty:
        return {}
    return {str(source): rows for source, rows in table.groupby("source", sort=False)}


# --- reporting -----------------------------------------------------------------------------


def summarize(reports: dict[str, FileReport], extra: dict) -> dict:
    """The run's summary object (printed by `--json`, shown as a Prefect artifact)."""
    values = list(reports.values())
    ok = [r for r in values if r.status in ("stored", "unchanged")]
    return {
        "files": len(ok),
        "files_seen": len(values),
        "matches": sum(r.matches for r in ok),
        "fixtures": sum(r.fixtures for r in ok),
        "quarantined": sum(r.quarantined for r in values),
        "price_warnings": sum(r.price_warnings for r in ok),
        "errors": [
            {"source": r.source, "status": r.status, "error": r.message}
            for r in values
            if r.status in ("error", "rejected")
        ],
        "file_warnings": [{"source": r.source, "warning": n} for r in values for n in r.notes],
        "per_file": [r.__dict__ for r in values],
        **extra,
    }


@task(name="publish-summary", cache_policy=NO_CACHE)
def publish_summary(summary: dict) -> None:
    """A table of files and a markdown summary on the Prefect UI's Artifacts page."""
    rows = [
        {
            k: r[k]
            for k in (
                "source",
                "status",
                "matches",
                "fixtures",
                "quarantined",
                "price_warnings",
                "message",
            )
        }
        for r in summary["per_file"]
    ]
    create_table_artifact(rows, key="ingest-files", description="Files read by the last ingest")
    lines = [
        "# Ingest summary",
        "",
        f"- files stored or unchanged: **{summary['files']}** of {summary['files_seen']}",
        f"- matches: **{summary['matches']}**, fixtures: **{summary['fixtures']}**",
        f"- quarantined rows: **{summary['quarantined']}**, "
        f"price warnings: **{summary['price_warnings']}**",
        f"- errors: **{len(summary['errors'])}**",
    ]
    for error in summary["errors"]:
        lines.append(f"  - `{error['source']}`: {error['error']}")
    if summary.get("gx", {}).get("report"):
        lines.append(f"- validation report (opens offline): `{summary['gx']['report']}`")
    if summary.get("gx", {}).get("data_docs"):
        lines.append(f"- GX Data Docs: `{summary['gx']['data_docs']}`")
    create_markdown_artifact(
        "\n".join(lines),
        key="ingest-summary",
        description="The last ingest: files, matches, quarantine, store",
    )
    get_run_logger().info(
        "ingest: %s files, %s matches, %s fixtures, %s quarantined, %s errors",
        summary["files"],
        summary["matches"],
        summary["fixtures"],
        summary["quarantined"],
        len(summary["errors"]),
    )


# --- the flow's steps around the tasks: each file's report is filled in as it goes ----------


class Stopwatch:
    """Seconds per step of a run (`lap(name)` after each) and in all."""

    def __init__(self) -> None:
        self.started = self.last = time.perf_counter()
        self.laps: dict[str, float] = {}

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.laps[name], self.last = round(now - self.last, 3), now

    def total(self) -> float:
        return round(time.perf_counter() - self.started, 3)


def fetch_and_keep_raw(
    refs: list[SourceRef], store: DataStore, http: Mapping[str, Any], reports: dict[str, FileReport]
) -> dict[str, RawFile]:
    """Every source's bytes kept unchanged in the store (downloads side by side, with retries);
    a source that cannot be read becomes its report's error."""
    fetching = {
        ref.location: download.with_options(
            retries=http.get("retries", 3), retry_delay_seconds=http.get("retry_delay_s", 2)
        ).submit(ref.location, http.get("timeout_s", 30))
        for ref in refs
        if ref.is_url
    }
    contents: dict[str, bytes | Path] = {}
    for ref in refs:
        try:
            contents[ref.location] = (
                fetching[ref.location].result() if ref.is_url else Path(ref.location)
            )
        except Exception as error:  # noqa: BLE001 - every failure becomes a per-file report
            file_error(reports[ref.location], error)
    raws = {}
    for source, kept in keep_raw(store, contents).items():
        if isinstance(kept, Exception):
            file_error(reports[source], kept)
        else:
            raws[source], reports[source].sha256 = kept, kept.sha256
    return raws


def files_to_read(
    raws: dict[str, RawFile], store: DataStore, reports: dict[str, FileReport], force: bool
) -> dict[str, RawFile]:
    """The files whose bytes are not stored yet (all with `force`); the others are reported
    unchanged, with their counts from the manifest."""
    manifest = store.manifest()
    committed, stored_shas = manifest["partitions"], stored_raw_shas(manifest)
    todo = {s: r for s, r in raws.items() if force or r.sha256 not in stored_shas}
    for source, raw in raws.items():
        if source not in todo:
            _report_unchanged(reports[source], committed, raw.sha256)
    return todo


def unrefused(
    todo: dict[str, RawFile],
    refused: Mapping[str, EarlyRefusal],
    store: DataStore,
    reports: dict[str, FileReport],
) -> dict[str, RawFile]:
    """The files the screen let through; the refused ones are reported and their quarantine
    kept."""
    for source, refusal in refused.items():
        early_refusal(reports[source], refusal)
    keep_refused_quarantine(store, todo, refused)
    return {s: r for s, r in todo.items() if s not in refused}


def parsed_files(
    to_parse: dict[str, RawFile], season_start_month: int, reports: dict[str, FileReport]
) -> dict[str, ParsedFile]:
    """Each file parsed; one that is not football-data becomes its report's error.

    Many files in a cold command (`overlap_gx_import`): a worker process parses them while this
    one imports GX, which would otherwise start (4-5 s) only after every file is read."""
    overlap = overlap_gx_import(to_parse)
    parsing = parse_files.submit(to_parse, season_start_month, overlap)
    if overlap:
        import_gx()
    parsed = {}
    for source, result in parsing.result().items():
        if isinstance(result, Exception):
            file_error(reports[source], result)
        else:
            parsed[source] = result
            reports[source].rows = result.n_rows
            reports[source].notes.extend(result.warnings)
    return parsed


def _report_unchanged(report: FileReport, committed: dict, sha256: str) -> None:
    """A file whose exact bytes are already stored: nothing to do, counts from the manifest."""
    keys = [
        key
        for key, p in committed.items()
        if p["raw_sha256"] == sha256 and p.get("kind") != "rejected"
    ]
    parts = [committed[key] for key in keys]
    report.status = "unchanged"
    report.partitions = keys
    report.matches = sum(p["rows"].get("matches", 0) for p in parts)
    report.fixtures = sum(p["rows"].get("fixtures", 0) for p in parts)
    report.quarantined = sum(p["rows"].get("quarantine", 0) for p in parts)
    report.price_warnings = sum(p["rows"].get("price_warnings", 0) for p in parts)
    report.rows = report.matches + report.fixtures + report.quarantined


def early_refusal(report: FileReport, refusal: EarlyRefusal) -> None:
    """Record a file refused before it was read whole (its quarantine: the first failed rows)."""
    report.status, report.message = "rejected", refusal.reason
    report.rows, report.quarantined = refusal.rows_read, len(refusal.quarantine)


def file_error(report: FileReport, error: BaseException) -> None:
    """Record why a file could not be read, in words a user can act on."""
    report.status = "error"
    if isinstance(error, FileFormatError):
        report.message = str(error)
    elif isinstance(error, httpx.HTTPStatusError):
        report.message = f"download failed: HTTP {error.response.status_code}"
    elif isinstance(error, httpx.HTTPError):
        report.message = f"download failed: {type(error).__name__}: {error}"
    else:
        report.message = f"{type(error).__name__}: {error}"


# --- the GX runner: our YAML suites run by Great Expectations ---------------------------------


class TableValidationError(RuntimeError):
    """The table is not of the expected shape at all (a table-level expectation failed)."""


@dataclass(frozen=True)
class SuiteRun:
    failures: tuple[Failure, ...]
    evaluated: int
    successful: int
    docs_index: Path | None
    report: Path | None = None  # the offline page (sabiscore.validation_report)


def import_gx() -> None:
    """Import Great Expectations (quietly) now, before the suites need it."""
    _quiet_gx()
    import great_expectations  # noqa: F401


def _quiet_gx() -> None:
    """GX prints a progress bar per validation; keep stdout for our own summary."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    logging.getLogger("great_expectations").setLevel(logging.WARNING)


def build_suite(gx: Any, name: str, spec: Sequence[Mapping[str, Any]]) -> Any:
    """A GX ExpectationSuite from our YAML entries (type, kwargs, level, reason)."""
    from great_expectations.expectations.expectation_configuration import (
        ExpectationConfiguration,
    )

    suite = gx.ExpectationSuite(name=name)
    for entry in spec:
        suite.add_expectation_configuration(
            ExpectationConfiguration(
                type=entry["type"],
                kwargs=dict(entry["kwargs"]),
                meta={"level": entry["level"], "reason": entry["reason"]},
            )
        )
    return suite


def referenced_columns(spec: Sequence[Mapping[str, Any]], available: Sequence[str]) -> list[str]:
    """The columns a suite reads. GX copies whole frames for row conditions: pass no more."""
    text = " ".join(str(value) for entry in spec for value in entry["kwargs"].values())
    words = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", text))
    return [column for column in available if column in words]


def run_suites(
    frames: Mapping[str, pd.DataFrame],
    suites: Mapping[str, Sequence[Mapping[str, Any]]],
    docs_dir: Path | None = None,
) -> SuiteRun:
    """Validate each frame with the suite of the same name; return every failure found."""
    _quiet_gx()
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    if docs_dir is not None:
        context.add_data_docs_site(
            site_name="sabiscore_local",
            site_config={
                "class_name": "SiteBuilder",
                "store_backend": {
                    "class_name": "TupleFilesystemStoreBackend",
                    "base_directory": str(Path(docs_dir).resolve()),  # GX wants it absolute
                },
                "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
            },
        )
    source = context.data_sources.add_pandas("sabiscore")
    failures: list[Failure] = []
    verdicts: list[ExpectationVerdict] = []
    evaluated = successful = 0
    for name, frame in frames.items():
        frame = frame[referenced_columns(suites[name], frame.columns)]
        asset = source.add_dataframe_asset(name)
        batch = asset.add_batch_definition_whole_dataframe(f"{name}_all")
        suite = context.suites.add(build_suite(gx, f"football_data_{name}", suites[name]))
        definition = context.validation_definitions.add(
            gx.ValidationDefinition(name=f"validate_{name}", data=batch, suite=suite)
        )
        checkpoint = context.checkpoints.add(
            gx.Checkpoint(
                name=f"checkpoint_{name}",
                validation_definitions=[definition],
                result_format={"result_format": "COMPLETE"},
            )
        )
        outcome = checkpoint.run(batch_parameters={"dataframe": frame})
        for result in outcome.run_results.values():
            evaluated += result.statistics["evaluated_expectations"]
            successful += result.statistics["successful_expectations"]
            found, judged = _read_results(result, f"football_data_{name}", len(frame))
            failures.extend(found)
            verdicts.extend(judged)
    if docs_dir is None:
        return SuiteRun(tuple(failures), evaluated, successful, None)
    context.build_data_docs(site_names=["sabiscore_local"])  # once for every suite: 1-2 s each
    report = Path(docs_dir) / "report.html"
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text(
        report_html(
            verdicts,
            "SabiScore: the latest validation",
            datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        )
    )
    return SuiteRun(tuple(failures), evaluated, successful, docs_dir / "index.html", report)


def _read_results(
    validation_result: Any, suite: str, rows: int
) -> tuple[list[Failure], list[ExpectationVerdict]]:
    """One walk over a suite's GX results: the failures that cost rows (a table-level failure
    or an expectation that could not run raises) and every expectation's verdict for the
    offline report."""
    found, verdicts = [], []
    for result in validation_result.results:
        config = result.expectation_config
        if result.exception_info and result.exception_info.get("raised_exception"):
            message = result.exception_info.get("exception_message")
            raise TableValidationError(f"{config.type} could not run: {message}")
        column = config.kwargs.get("column") or config.kwargs.get("column_A", "")
        reason = config.meta.get("reason", "")
        verdicts.append(
            ExpectationVerdict(
                suite,
                config.type,
                str(column),
                str(reason),
                bool(result.success),
                int((result.result or {}).get("unexpected_count") or 0),
                rows,
            )
        )
        if result.success:
            continue
        level = config.meta["level"]
        if level == "table":
            raise TableValidationError(f"{reason} ({config.type})")
        index = tuple(result.result.get("unexpected_index_list") or ())
        found.append(Failure(config.type, column, reason, level, index))
    return found, verdicts
