"""The ingest flow: fetch → keep raw → screen → parse → validate (GX) → store → report."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from prefect import flow
from prefect.utilities.annotations import opaque

from flows.run_names import ingest_run_name
from sabiscore.config import default_data_dir, load_config
from sabiscore.faults import Stage, fault_point
from sabiscore.guards import ReplaceGuards
from sabiscore.store import DataStore
from tasks.ingest import (
    FileReport,
    Stopwatch,
    chosen_sources,
    commit_partitions,
    fetch_and_keep_raw,
    files_to_read,
    parsed_files,
    publish_summary,
    resolve_sources,
    screen_files,
    summarize,
    unrefused,
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


@flow(name="ingest", flow_run_name=ingest_run_name, log_prints=True)
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
    watch = Stopwatch()
    # The deployments' run forms send "" and [] for what is left empty: the defaults.
    sources, data_dir, config_path = (value or None for value in (sources, data_dir, config_path))
    now = now or datetime.now(UTC)
    config = load_config(config_path)
    data, validation = config["data"], config["validation"]
    guards = ReplaceGuards.from_dict(validation.get("guards", {}))
    store = DataStore(Path(data_dir) if data_dir else default_data_dir())
    store.tidy()  # what a killed run left unreferenced
    named, note = chosen_sources(sources, data, store)
    refs = resolve_sources(named, data, store.root)
    reports = {ref.location: FileReport(ref.location) for ref in refs}

    raws = fetch_and_keep_raw(refs, store, data.get("http", {}), reports)
    fault_point(Stage.RAW_STORED)
    todo = files_to_read(raws, store, reports, force)
    watch.lap("fetch")
    to_parse = unrefused(todo, screen_files(todo, validation, now), store, reports)
    watch.lap("screen")
    parsed = parsed_files(to_parse, validation["season_start_month"], reports)
    watch.lap("parse")
    gx_stats, commit = {}, None
    if parsed:
        docs = store.root / "gx" / "data_docs" if validation.get("data_docs") else None
        outcome, gx_stats = validate_files(opaque(parsed), validation, docs, now)
        watch.lap("validate")
        fault_point(Stage.VALIDATED)
        commit = commit_partitions(store, todo, opaque(parsed), outcome, reports, guards, replace)
        watch.lap("commit")
    state = None
    if commit and (commit.written or commit.replaced):  # the champion serves the new data
        state = publish_serving_state(str(store.root), config)
        watch.lap("serving_state")

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
            "seconds": watch.total(),
            "timings_s": watch.laps,
        },
    )
    publish_summary(summary)
    if summary["errors"]:
        raise IngestError(summary)
    return summary
