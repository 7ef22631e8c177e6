"""The ingest flow: fetch → keep raw → screen → parse → validate (GX) → store → report."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

from prefect import flow

from sabiscore.config import default_data_dir, load_config
from sabiscore.faults import Stage, fault_point
from sabiscore.guards import ReplaceGuards
from sabiscore.store import DataStore, stored_raw_shas
from tasks.ingest import (
    FileReport,
    chosen_sources,
    commit_partitions,
    download,
    early_refusal,
    file_error,
    keep_refused_quarantine,
    parse_files,
    publish_summary,
    resolve_sources,
    screen_files,
    store_raw,
    summarize,
    validate_files,
)
from tasks.serving_state import publish_serving_state


class IngestError(RuntimeError):
    """Some files could not be ingested; the good ones were stored. Carries the summary."""

    def __init__(self, summary: dict) -> None:
        self.summary = summary
        lines = [f"{len(summary['errors'])} file(s) not ingested:"]
        lines += [f"  {e['source']}: {e['error']}" for e in summary["errors"]]
        super().__init__("\n".join(lines))


@flow(name="ingest", log_prints=True)
def ingest_flow(
    sources: list[str] | None = None,
    data_dir: str | None = None,
    config_path: str | None = None,
    force: bool = False,
    replace: bool = False,
    now: datetime | None = None,
) -> dict:
    """Ingest football-data.co.uk files (or the synthetic league) into a data directory.

    Raises `IngestError` (after storing every good file) when a file is not of the format, is
    too broken to keep, looks cut off or smaller than the season it would replace (`replace`
    forces those two), or cannot be downloaded.

    Args:
        sources: Files, folders (read recursively), globs, http(s) URLs, `synthetic` or
            `football-data`. Empty: `default_sources` of configs/data.yaml (the synthetic
            league only into a store that holds no real league).
        data_dir: The data store. Empty: $SABISCORE_DATA_DIR, else data/ in the project.
        config_path: A YAML file overriding configs/*.yaml. Empty: the shipped configs.
        force: Read and validate again files whose exact bytes are already stored.
        replace: Store a file even when it looks cut off or holds fewer matches than the
            season it replaces (a file named for another season is refused still).
        now: The time of ingest (a played match dated after it goes to the quarantine).
            Empty: the clock.
    """
    started = time.perf_counter()
    now = now or datetime.now(UTC)
    config = load_config(config_path)
    data, validation = config["data"], config["validation"]
    guards = ReplaceGuards.from_dict(validation.get("guards", {}))
    store = DataStore(Path(data_dir) if data_dir else default_data_dir())
    store.tidy()  # what a killed run left unreferenced
    named, note = chosen_sources(sources, data, store)
    refs = resolve_sources(named, data, store.root)
    reports = {ref.location: FileReport(ref.location) for ref in refs}

    timings: dict[str, float] = {}
    clock = time.perf_counter()
    raws = {}
    http = data.get("http", {})
    fetching = {
        ref.location: download.with_options(
            retries=http.get("retries", 3), retry_delay_seconds=http.get("retry_delay_s", 2)
        ).submit(ref.location, http.get("timeout_s", 30))
        for ref in refs
        if ref.is_url
    }
    for ref in refs:
        try:
            content = fetching[ref.location].result() if ref.is_url else Path(ref.location)
            content = content.read_bytes() if isinstance(content, Path) else content
            raws[ref.location] = store_raw(store, content, ref.location)
            reports[ref.location].sha256 = raws[ref.location].sha256
        except Exception as error:  # noqa: BLE001 - every failure becomes a per-file report
            file_error(reports[ref.location], error)
    fault_point(Stage.RAW_STORED)

    manifest = store.manifest()
    committed, stored_shas = manifest["partitions"], stored_raw_shas(manifest)
    todo = {s: r for s, r in raws.items() if force or r.sha256 not in stored_shas}
    for source, raw in raws.items():
        if source not in todo:
            _report_unchanged(reports[source], committed, raw.sha256)

    timings["fetch"], clock = time.perf_counter() - clock, time.perf_counter()
    refused = screen_files(todo, validation, now)
    for source, refusal in refused.items():
        early_refusal(reports[source], refusal)
    keep_refused_quarantine(store, todo, refused)
    to_parse = {s: r for s, r in todo.items() if s not in refused}

    timings["screen"], clock = time.perf_counter() - clock, time.perf_counter()
    parsed = {}
    for source, result in parse_files(to_parse, validation["season_start_month"]).items():
        if isinstance(result, Exception):
            file_error(reports[source], result)
        else:
            parsed[source] = result
            reports[source].rows = result.n_rows
            reports[source].notes.extend(result.warnings)

    timings["parse"], clock = time.perf_counter() - clock, time.perf_counter()
    gx_stats = {}
    commit = None
    if parsed:
        docs = store.root / "gx" / "data_docs" if validation.get("data_docs") else None
        outcome, gx_stats = validate_files(parsed, validation, docs, now)
        timings["validate"], clock = time.perf_counter() - clock, time.perf_counter()
        fault_point(Stage.VALIDATED)
        commit = commit_partitions(store, todo, parsed, outcome, reports, guards, replace)
        timings["commit"] = time.perf_counter() - clock
    state = None
    if commit and (commit.written or commit.replaced):  # the champion serves the new data
        clock = time.perf_counter()
        state = publish_serving_state(str(store.root), config)
        timings["serving_state"] = time.perf_counter() - clock

    summary = summarize(
        reports,
        {
            "data_dir": str(store.root),
            "sources_note": note,
            "partitions_written": list(commit.written) if commit else [],
            "partitions_replaced": list(commit.replaced) if commit else [],
            "gx": gx_stats,
            "store": store.summary(),
            "serving_state": state,
            "seconds": round(time.perf_counter() - started, 3),
            "timings_s": {k: round(v, 3) for k, v in timings.items()},
        },
    )
    publish_summary(summary)
    if summary["errors"]:
        raise IngestError(summary)
    return summary


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
