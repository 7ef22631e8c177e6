"""The validate flow: judge stored or given files as `ingest` would, and report; store nothing."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from prefect import flow
from prefect.utilities.annotations import opaque

from flows.run_names import validate_run_name
from sabiscore.config import default_data_dir, load_config
from sabiscore.football_data import ParsedFile
from sabiscore.guards import ReplaceGuards
from sabiscore.store import DataStore, RawFile, sha256_of
from tasks.ingest import (
    FileReport,
    check_guards,
    early_refusal,
    parsed_files,
    resolve_sources,
    screen_files,
    validate_files,
)


@flow(name="validate", flow_run_name=validate_run_name, log_prints=True)
def validate_flow(
    sources: list[str] | None = None,
    data_dir: str | None = None,
    config_path: str | None = None,
) -> dict:
    """Validate `sources` (or every raw file behind the stored data) as `ingest` would: the
    screen of large files, the GX suites, then the file guards against the store as it is
    (cut off, named for another season, fewer matches than the stored season)."""
    config = load_config(config_path)
    validation = config["validation"]
    guards = ReplaceGuards.from_dict(validation.get("guards", {}))
    store = DataStore(Path(data_dir) if data_dir else default_data_dir())
    raws = _stored_raws(store) if not sources else _given_raws(sources, config["data"], store)
    reports = {source: FileReport(source) for source in raws}
    refused = screen_files(raws, validation)
    for source, refusal in refused.items():
        early_refusal(reports[source], refusal)
    to_parse = {s: r for s, r in raws.items() if s not in refused}
    parsed = parsed_files(to_parse, validation["season_start_month"], reports)
    quarantines = [r.quarantine for r in refused.values()]
    summary = {
        "files": len(raws),
        "rows": sum(r.rows for r in reports.values()),
        "price_warnings": 0,
        "gx": {},
        "guards": {"checked": 0, "refused": {}},
    }
    if parsed:
        quarantines.append(_judge(store, raws, parsed, validation, guards, reports, summary))
    quarantine = pd.concat(quarantines, ignore_index=True) if quarantines else pd.DataFrame()
    quarantine = quarantine.drop(columns=["raw_row"], errors="ignore")
    summary.update(quarantined=len(quarantine), quarantine=quarantine.to_dict("records"))
    summary["errors"] = [
        {"source": r.source, "error": r.message}
        for r in reports.values()
        if r.status in ("error", "rejected")
    ]
    return summary


def _judge(
    store: DataStore,
    raws: dict[str, RawFile],
    parsed: dict[str, ParsedFile],
    validation: dict,
    guards: ReplaceGuards,
    reports: dict[str, FileReport],
    summary: dict,
) -> pd.DataFrame:
    """The GX suites over the parsed files, then the guards against the store as it is: each
    refused file's report says why, `summary` gets the counts. Returns the quarantined rows."""
    outcome, gx = validate_files(opaque(parsed), validation, store.root / "gx" / "data_docs")
    summary.update(price_warnings=len(outcome.warnings), gx=gx)
    verdicts = check_guards(store, raws, opaque(parsed), outcome, guards)
    for source, message in {**outcome.rejected_files, **verdicts}.items():
        reports[source].status, reports[source].message = "rejected", message
    summary["guards"] = {"checked": len(parsed) - len(outcome.rejected_files), "refused": verdicts}
    return outcome.quarantine


def _stored_raws(store: DataStore) -> dict[str, RawFile]:
    parts = store.manifest()["partitions"].values()
    by_sha = {p["raw_sha256"]: p["source"] for p in parts}
    raws = {}
    for sha, source in sorted(by_sha.items(), key=lambda item: item[1]):
        path = store.root / "raw" / f"{sha}.csv"
        raws[source] = RawFile(sha, path, source, path.stat().st_size)
    return raws


def _given_raws(sources: list[str], data_config: dict, store: DataStore) -> dict[str, RawFile]:
    """Local files to check in place (URLs are for `ingest`, which keeps what it downloads)."""
    refs = resolve_sources.fn(sources, data_config, store.root)
    raws = {}
    for ref in refs:
        if ref.is_url:
            raise ValueError(f"validate reads local files; ingest URLs instead: {ref.location}")
        path = Path(ref.location)
        data = path.read_bytes()
        raws[ref.location] = RawFile(sha256_of(data), path, ref.location, len(data))
    return raws
