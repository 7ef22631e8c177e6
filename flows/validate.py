"""The validate flow: run the suites over stored or given files and report; store nothing."""

from __future__ import annotations

from pathlib import Path

from prefect import flow

from sabiscore.config import default_data_dir, load_config
from sabiscore.store import DataStore, RawFile, sha256_of
from tasks.ingest import FileReport, file_error, parse_files, resolve_sources, validate_files


@flow(name="validate", log_prints=True)
def validate_flow(
    sources: list[str] | None = None,
    data_dir: str | None = None,
    config_path: str | None = None,
) -> dict:
    """Validate `sources` (or every raw file behind the stored data) with the GX suites."""
    config = load_config(config_path)
    validation = config["validation"]
    store = DataStore(Path(data_dir) if data_dir else default_data_dir())
    raws = _stored_raws(store) if not sources else _given_raws(sources, config["data"], store)
    reports = {source: FileReport(source) for source in raws}
    parsed = {}
    for source, result in parse_files(raws, validation["season_start_month"]).items():
        if isinstance(result, Exception):
            file_error(reports[source], result)
        else:
            parsed[source] = result
    summary = {"files": len(raws), "rows": sum(p.n_rows for p in parsed.values()),
               "quarantined": 0, "price_warnings": 0, "quarantine": [], "gx": {}}  # fmt: skip
    if parsed:
        outcome, gx = validate_files(parsed, validation, store.root / "gx" / "data_docs")
        quarantine = outcome.quarantine.drop(columns=["raw_row"])
        summary.update(
            quarantined=len(quarantine),
            price_warnings=len(outcome.warnings),
            quarantine=quarantine.to_dict("records"),
            gx=gx,
        )
        for source, message in outcome.rejected_files.items():
            reports[source].status, reports[source].message = "rejected", message
    summary["errors"] = [
        {"source": r.source, "error": r.message}
        for r in reports.values()
        if r.status in ("error", "rejected")
    ]
    return summary


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
        raws[ref.location] = RawFile(sha256_of(path.read_bytes()), path, ref.location, 0)
    return raws
