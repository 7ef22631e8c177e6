"""The `sabiscore` command line (`python -m cli`).

The one package allowed to reach every layer. Flows are imported inside each command so that
`sabiscore --help` answers at once and importing the domain never pulls in Prefect.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperOption

from cli.console import debugging, for_people, quiet_libraries


def _flags_show_no_type() -> None:
    """Typer 0.29 prints a `<bool>` type beside every flag (`--json`, `--help`), as if the flag
    took a value; a flag takes none, so its type column stays empty, as Click's own help has it."""
    typed = TyperOption.display_type_rich

    def display_type_rich(self: TyperOption, ctx: Any) -> str | None:
        return None if self.is_flag else typed(self, ctx)

    TyperOption.display_type_rich = display_type_rich  # type: ignore[method-assign]


_flags_show_no_type()

app = typer.Typer(
    help="SabiScore: football match forecasts and value bets, from data to served model.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

DataDir = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        help="Data directory (default: $SABISCORE_DATA_DIR or data/ in the project).",
        file_okay=False,
    ),
]
JsonFlag = Annotated[
    bool, typer.Option("--json", help="Print one JSON summary object as the last line.")
]


def _checked_config(path: Path | None) -> Path | None:
    """Every config (configs/*.yaml and the --config file) checked before any work starts:
    an unknown key or a wrong type is one line and exit 2."""
    from sabiscore.config import load_config

    try:
        load_config(path)
    except USER_ERRORS as error:
        _fail(error)
    return path


ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config",
        help="YAML file overriding configs/*.yaml ({stage: {...}}).",
        exists=True,
        dir_okay=False,
        callback=_checked_config,
    ),
]


def _quiet_prefect(json_output: bool) -> None:
    """Keep Prefect's own logs off stdout when a machine reads it; never phone home.

    Without a Prefect server, flows start a temporary one; its first start migrates a fresh
    database, which can outlast Prefect's default 20 s wait on a busy 2-core machine.
    """
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
    if json_output:
        os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")


#: Mistakes a user can fix (a wrong path, a bad config): one clear line, no traceback.
USER_ERRORS = (ValueError, FileNotFoundError, PermissionError)


def _fail(error: BaseException) -> None:
    typer.echo(f"error: {error}", err=True)
    raise typer.Exit(2)


def _check_local_sources(sources: list[str]) -> None:
    """Fail fast, before any flow starts, on a path that names nothing."""
    from sabiscore.sources import FOOTBALL_DATA, SYNTHETIC, is_url, resolve

    try:
        for source in sources:
            if source not in (SYNTHETIC, FOOTBALL_DATA) and not is_url(source):
                resolve(source)
    except ValueError as error:
        _fail(error)


def _emit(summary: dict[str, Any], json_output: bool, human: list[str]) -> None:
    if json_output:
        print(json.dumps(summary, default=str))
    else:
        print("\n".join(human))


def _run_and_report(
    run: Callable[[], dict[str, Any]],
    json_output: bool,
    lines: Callable[[dict[str, Any]], list[str]],
) -> None:
    """Run a flow and print its summary. A file that could not be ingested: the ingest summary
    and exit 1 (the good files are stored); a mistake the user can fix: one line and exit 2."""
    from flows.ingest import IngestError
    from flows.local import local_runs

    for_people()
    try:
        with local_runs():
            summary = run()
    except IngestError as error:
        _emit(error.summary, json_output, _ingest_lines(error.summary))
        raise typer.Exit(1) from None
    except USER_ERRORS as error:
        _fail(error)
    _emit(summary, json_output, lines(summary))


def _ingest_lines(s: dict[str, Any]) -> list[str]:
    lines = [f"note: {s['sources_note']}"] if s.get("sources_note") else []
    lines += [
        f"files: {s['files']} of {s['files_seen']} stored or unchanged",
        f"matches: {s['matches']}   fixtures: {s['fixtures']}   "
        f"quarantined rows: {s['quarantined']}   price warnings: {s['price_warnings']}",
    ]
    lines += _failed_expectation_lines(s.get("gx", {}))
    lines += _docs_lines(s.get("gx", {}))
    store = s.get("store", {})
    if store:
        lines.append(
            f"store {s['data_dir']}: {store['matches']} matches in {store['partitions']} "
            f"league-seasons ({', '.join(store['leagues'])})"
        )
    for warning in s.get("file_warnings", []):
        lines.append(f"WARNING {warning['source']}: {warning['warning']}")
    for error in s["errors"]:
        lines.append(f"ERROR {error['source']}: {error['error']}")
    return lines


@app.command()
def ingest(
    sources: Annotated[
        list[str] | None,
        typer.Argument(
            help="Files, folders, globs, http(s) URLs, 'football-data' (URLs from "
            "configs/data.yaml) or 'synthetic'. Default: configs/data.yaml default_sources."
        ),
    ] = None,
    data_dir: DataDir = None,
    config: ConfigOpt = None,
    force: Annotated[bool, typer.Option(help="Re-validate files already stored.")] = False,
    replace: Annotated[
        bool,
        typer.Option(
            help="Store a file even if its last row looks cut off or it has fewer matches "
            "than the season it replaces (validation.guards in configs/validation.yaml)."
        ),
    ] = False,
    json_output: JsonFlag = False,
) -> None:
    """Fetch, validate (Great Expectations) and store football-data.co.uk files."""
    _quiet_prefect(json_output)
    _check_local_sources(sources or [])
    from flows.ingest import ingest_flow

    _run_and_report(
        lambda: ingest_flow(
            sources=sources or None,
            data_dir=str(data_dir) if data_dir else None,
            config_path=str(config) if config else None,
            force=force,
            replace=replace,
        ),
        json_output,
        _ingest_lines,
    )


@app.command()
def validate(
    sources: Annotated[
        list[str] | None,
        typer.Argument(help="Files to check without storing them. Default: the stored data."),
    ] = None,
    data_dir: DataDir = None,
    config: ConfigOpt = None,
    json_output: JsonFlag = False,
) -> None:
    """Judge files as `ingest` would (suite and file guards) and report, storing nothing."""
    _quiet_prefect(json_output)
    _check_local_sources(sources or [])
    from flows.local import local_runs
    from flows.validate import validate_flow

    for_people()
    try:
        with local_runs():
            summary = validate_flow(
                sources=sources or None,
                data_dir=str(data_dir) if data_dir else None,
                config_path=str(config) if config else None,
            )
    except USER_ERRORS as error:
        _fail(error)
    guards = summary["guards"]
    lines = [
        f"files checked: {summary['files']}   rows: {summary['rows']}",
        f"would quarantine: {summary['quarantined']}   price warnings: "
        f"{summary['price_warnings']}   files ingest would refuse: {len(summary['errors'])}",
        f"expectations: {summary['gx'].get('successful_expectations')} of "
        f"{summary['gx'].get('evaluated_expectations')} passed",
        f"file guards (cut off, season in the name, fewer matches than stored): "
        f"{guards['checked'] - len(guards['refused'])} of {guards['checked']} files pass",
    ]
    lines += _failed_expectation_lines(summary["gx"])
    lines += [f"  {q['source']}:{q['line']} {q['reason']}" for q in summary["quarantine"][:20]]
    lines += [f"ERROR {e['source']}: {e['error']}" for e in summary["errors"]]
    lines += _docs_lines(summary["gx"])
    _emit(summary, json_output, lines)
    if summary["errors"]:
        raise typer.Exit(1)


def _failed_expectation_lines(gx: dict[str, Any]) -> list[str]:
    """Each GX expectation that failed: its name, column, why it matters and how many rows."""
    return [
        f"failed {f['expectation']}({f['column']}): {f['reason']} - {f['rows']} row(s)"
        for f in gx.get("failed", [])
    ]


def _docs_lines(gx: dict[str, Any]) -> list[str]:
    lines = [f"validation report (opens offline): {gx['report']}"] if gx.get("report") else []
    if gx.get("data_docs"):
        lines.append(f"GX Data Docs (need the internet for their styles): {gx['data_docs']}")
    return lines


def _seasons_words(seasons: list[str]) -> str:
    """`2021-2022, 2022-2023`, or `2012-2013 to 2022-2023, 11 seasons` when there are many."""
    ordered = sorted(seasons)
    if len(ordered) <= 3:
        return ", ".join(ordered)
    return f"{ordered[0]} to {ordered[-1]}, {len(ordered)} seasons"


def _train_lines(s: dict[str, Any]) -> list[str]:
    header = f"{'forecaster':<16}{'n':>7}{'log loss':>10}{'brier*':>9}{'rps':>9}{'acc':>8}"
    learnt = [*s["split"]["train"], *s["split"].get("validation", [])]
    lines = [
        f"trained on {s['n_train']} matches ({_seasons_words(learnt)}), {s['n_features']} "
        f"features; tested on {s['n_test']} ({', '.join(s['split']['test'])})",
        header,
    ]
    for r in s["rows"]:
        lines.append(
            f"{r['forecaster']:<16}{r['n']:>7}{r['log_loss']:>10.4f}{r['brier']:>9.4f}"
            f"{r['rps']:>9.4f}{r['accuracy']:>8.3f}"
        )
    lines.append("* Brier is the sum over the 3 outcomes. MLflow run: " + str(s.get("run_id")))
    return lines


def _with_runner(flow_fn: Any, config: Path | None) -> Any:
    from flows.train import task_runner_from_config
    from sabiscore.config import load_config

    settings = load_config(config)["train"].get("task_runner")
    for_people()
    return flow_fn.with_options(task_runner=task_runner_from_config(settings))


def _check_choice(
    data_dir: Path | None, leagues: list[str] | None, seasons: list[str] | None
) -> None:
    """Refuse, before any flow starts, leagues or seasons the store does not hold (naming
    those it does)."""
    from sabiscore.config import default_data_dir
    from sabiscore.store import DataStore, missing_choice

    store = DataStore(data_dir or default_data_dir())
    why = missing_choice(store.manifest(), leagues, seasons)
    if why:
        _fail(LookupError(f"{why} ({store.root})"))


def _ensure_data(data_dir: Path | None, config: Path | None) -> None:
    """Train on the embedded synthetic league when the store is still empty."""
    from sabiscore.config import default_data_dir
    from sabiscore.store import DataStore

    if not DataStore(data_dir or default_data_dir()).manifest()["partitions"]:
        from flows.ingest import ingest_flow
        from flows.local import local_runs

        print("the data store is empty: ingesting the embedded synthetic league first")
        with local_runs():
            ingest_flow(
                sources=["synthetic"],
                data_dir=str(data_dir) if data_dir else None,
                config_path=str(config) if config else None,
            )


TrainSeasons = Annotated[
    list[str] | None,
    typer.Option(
        "--train-season",
        metavar="SEASON",
        help="A season to learn from, e.g. 2022-2023 (repeat; default: every season "
        "before the test).",
    ),
]


@app.command()
def train(
    data_dir: DataDir = None,
    config: ConfigOpt = None,
    leagues: Annotated[
        list[str] | None, typer.Option("--league", help="Only these leagues (repeat).")
    ] = None,
    test_season: Annotated[
        list[str] | None, typer.Option(help="Test season(s), e.g. 2023-2024 (default: last).")
    ] = None,
    train_season: TrainSeasons = None,
    json_output: JsonFlag = False,
) -> None:
    """Train the stacked ensemble and evaluate it next to the market (logged to MLflow)."""
    _quiet_prefect(json_output)
    from flows.train import train_flow

    try:
        _ensure_data(data_dir, config)
        _check_choice(data_dir, leagues, [*(test_season or []), *(train_season or [])])
        summary = _with_runner(train_flow, config)(
            data_dir=str(data_dir) if data_dir else None,
            config_path=str(config) if config else None,
            leagues=leagues or None,
            test_seasons=test_season or None,
            train_seasons=train_season or None,
        )
    except USER_ERRORS as error:
        _fail(error)
    _emit(summary, json_output, _train_lines(summary))


#: Click options take one value each: the extra words of `--train A B` are caught to say so.
EXTRA_WORDS = {"allow_extra_args": True}
ONE_EACH = " One SOURCE per --train / --test: repeat the option, or give a folder or a glob."


def _one_source_each(ctx: typer.Context) -> None:
    if ctx.args:
        _fail(
            ValueError(
                f"unexpected {' '.join(ctx.args)!r}: each --train and --test takes one SOURCE; "
                "repeat the option (--train A.csv --train B.csv) or give a folder or a quoted glob "
                "(--train 'files/E0/*.csv')"
            )
        )


@app.command(context_settings=EXTRA_WORDS)
def backtest(
    ctx: typer.Context,
    train_sources: Annotated[
        list[str],
        typer.Option(
            "--train", metavar="SOURCE", help="Files to train on (as for ingest)." + ONE_EACH
        ),
    ],
    test_sources: Annotated[
        list[str],
        typer.Option("--test", metavar="SOURCE", help="Files to evaluate on, never trained on."),
    ],
    data_dir: DataDir = None,
    config: ConfigOpt = None,
    json_output: JsonFlag = False,
) -> None:
    """Train on one set of files and score ensemble, base models and market on another."""
    _one_source_each(ctx)
    _quiet_prefect(json_output)
    _check_local_sources([*train_sources, *test_sources])
    from flows.holdout import holdout_flow
    from sabiscore.config import default_data_dir

    store = data_dir or default_data_dir() / "backtest"
    _run_and_report(
        lambda: _with_runner(holdout_flow, config)(
            train_sources=train_sources,
            test_sources=test_sources,
            data_dir=str(store),
            config_path=str(config) if config else None,
        ),
        json_output,
        _train_lines,
    )


def _backtest_bets_lines(s: dict[str, Any]) -> list[str]:
    from sabiscore.text import counted

    def pct(metrics: dict[str, Any], name: str) -> str:
        value, (low, high) = metrics[name], metrics[f"{name}_ci"]
        if value is None:
            return f"{'-':>26}"
        interval = f"[{low:+.1%}, {high:+.1%}]" if low is not None else ""
        return f"{value:>+8.2%} {interval:>17}"

    every = s["retrain_every"] if s["retrain_every"] == "season" else f"{s['retrain_every']} days"
    lines = [
        f"bets at {s['bookmaker']} opening prices, retrained every {every}; "
        f"{s['n_test_matches']} test matches in {counted(len(s['windows']), 'window')}",
        f"{'strategy':<15}{'bets':>7}{'turnover':>10}{'ROI [95% CI]':>27}"
        f"{'yield [95% CI]':>27}{'CLV [95% CI]':>27}",
    ]
    for name, m in s["overall"].items():
        lines.append(
            f"{name:<15}{m['bets']:>7}{m['turnover']:>10.2f} {pct(m, 'roi')} "
            f"{pct(m, 'yield')} {pct(m, 'clv_mean')}"
        )
    lines.append("flat stakes, in units of the initial bankroll; CLV against the de-margined close")
    lines.append(f"report: {s['report']}   MLflow run: {s.get('run_id')}")
    return lines


@app.command(name="backtest-bets", context_settings=EXTRA_WORDS)
def backtest_bets(
    ctx: typer.Context,
    train_sources: Annotated[
        list[str],
        typer.Option(
            "--train", metavar="SOURCE", help="Files for the earliest training seasons." + ONE_EACH
        ),
    ],
    test_sources: Annotated[
        list[str],
        typer.Option(
            "--test", metavar="SOURCE", help="Files to bet on, walk-forward (as for ingest)."
        ),
    ],
    data_dir: DataDir = None,
    config: ConfigOpt = None,
    report_dir: Annotated[
        Path | None, typer.Option(help="Folder for the report and plots (default: data dir).")
    ] = None,
    json_output: JsonFlag = False,
) -> None:
    """Walk-forward betting backtest: the model's value bets against baselines and the close."""
    _one_source_each(ctx)
    _quiet_prefect(json_output)
    _check_local_sources([*train_sources, *test_sources])
    from flows.backtest import backtest_bets_flow
    from sabiscore.config import default_data_dir

    store = data_dir or default_data_dir() / "backtest-bets"
    _run_and_report(
        lambda: _with_runner(backtest_bets_flow, config)(
            train_sources=train_sources,
            test_sources=test_sources,
            data_dir=str(store),
            config_path=str(config) if config else None,
            report_dir=str(report_dir) if report_dir else None,
        ),
        json_output,
        _backtest_bets_lines,
    )


def _pipeline_lines(s: dict[str, Any]) -> list[str]:
    ingested = s["ingested"]
    lines = [f"note: {ingested['sources_note']}"] if ingested.get("sources_note") else []
    lines += [
        f"data: {ingested.get('files')} files, {ingested.get('matches')} matches "
        f"({ingested.get('quarantined')} rows quarantined)",
        *_train_lines(s["training"]),
        "",
        f"registered {s['model_name']} version {s['registered_version']} ({s['semver']}): "
        f"{'PROMOTED' if s['promoted'] else 'not promoted (alias challenger)'}",
        f"reason: {s['reason']}",
        *_holdout_lines(s),
        *_refit_lines(s.get("refit")),
        f"champion: {_champion_words(s['champion_version'])}   registry: {s['tracking_uri']}",
    ]
    return lines


def _refit_lines(refit: dict[str, Any] | None) -> list[str]:
    """The refit after a promotion (configs/promotion.yaml `refit`), when one was tried."""
    if not refit:
        return []
    if refit.get("error"):
        return [f"refit: failed, the promoted version stays champion: {refit['error']}"]
    return [
        f"refit: version {refit.get('version')} ({refit.get('semver')}), the promoted "
        f"configuration trained on every played match through "
        f"{refit.get('trained_through')}, is served"
    ]


def _champion_words(version: str | None) -> str:
    return f"version {version}" if version else "none (no model has passed the gate yet)"


def _holdout_lines(s: dict[str, Any]) -> list[str]:
    """The candidate against the market and its calibration bound; its bets' CLV beside."""
    candidate, market, gate = s["holdout"]["candidate"], s["holdout"].get("market"), s["gate"]
    if candidate.get("log_loss") is None or gate.get("ece_bound") is None:
        return [f"holdout ({candidate['n']} matches): not scored, see the reason"]
    against = "no market"
    if market and market.get("log_loss") is None:
        against = f"{market['name']} prices {market['n']} of them"
    elif market:
        held = gate.get("market_tolerance")
        held = "not required" if held is None else f"tolerance {held}"
        against = f"{market['name']} {market['log_loss']:.4f}, {gate['market_gap']:+.4f}, {held}"
    lines = [
        f"holdout ({candidate['n']} matches): log loss {candidate['log_loss']:.4f} ({against}); "
        f"calibration error {candidate['ece']:.4f} (bound {gate['ece_bound']:.4f})"
    ]
    bets = s.get("holdout_bets")
    if bets:
        clv = "-"
        if bets["clv_mean"] is not None:
            low, high = bets["clv_ci"]
            clv = f"{bets['clv_mean']:+.2%} [{low:+.2%}, {high:+.2%}]"
        lines.append(
            f"closing-line value {clv} over {bets['clv_bets']} of {bets['bets']} bets at "
            f"{bets['bookmaker']} opening (informational, not a gate criterion)"
        )
    return lines


@app.command()
def pipeline(
    sources: Annotated[
        list[str] | None,
        typer.Argument(help="As for `ingest` (default: configs/data.yaml default_sources)."),
    ] = None,
    data_dir: DataDir = None,
    config: ConfigOpt = None,
    leagues: Annotated[
        list[str] | None, typer.Option("--league", help="Only these leagues (repeat).")
    ] = None,
    test_season: Annotated[
        list[str] | None, typer.Option(help="Holdout season(s) (default: the last).")
    ] = None,
    train_season: TrainSeasons = None,
    json_output: JsonFlag = False,
) -> None:
    """Ingest, train, register, and promote the new model if it passes the gate.

    Honours MLFLOW_TRACKING_URI (default: a SQLite file in the data directory).
    """
    _quiet_prefect(json_output)
    _check_local_sources(sources or [])
    if not sources:  # nothing new comes in: the store must already hold what is asked for
        _check_choice(data_dir, leagues, [*(test_season or []), *(train_season or [])])
    from flows.pipeline import pipeline_flow

    _run_and_report(
        lambda: _with_runner(pipeline_flow, config)(
            sources=sources or None,
            data_dir=str(data_dir) if data_dir else None,
            config_path=str(config) if config else None,
            leagues=leagues or None,
            test_seasons=test_season or None,
            train_seasons=train_season or None,
        ),
        json_output,
        _pipeline_lines,
    )


def _registry(data_dir: Path | None) -> Any:
    """The registry for `models`, `promote` and `rollback`: read with sqlite3 where the store
    allows it (no MLflow import, ~5 s less), else with MLflow's client; `--verbose` says which."""
    from cli.console import verbose
    from models.registry import DEFAULT_MODEL_NAME, ModelRegistry, tracking_uri
    from models.sqlite_registry import open_sqlite
    from sabiscore.config import default_data_dir

    uri = tracking_uri(data_dir or default_data_dir())
    client, which = open_sqlite(uri, DEFAULT_MODEL_NAME)
    if verbose():
        typer.echo(f"registry: {which}", err=True)
    return ModelRegistry(uri, client=client)


@app.command()
def promote(
    version: Annotated[str, typer.Argument(help="The model version to make champion.")],
    data_dir: DataDir = None,
    json_output: JsonFlag = False,
) -> None:
    """Make VERSION the champion by hand (the gate is not asked)."""
    registry = _registry(data_dir)
    try:
        previous = registry.promote_to_production(version, "promoted by hand")
    except (registry.error, *USER_ERRORS) as error:  # MLflow's or the sqlite3 client's
        _fail(error)
    summary = {"champion_version": version, "previous_champion": previous}
    _emit(summary, json_output, [f"champion: version {version} (was {previous})"])


@app.command()
def rollback(data_dir: DataDir = None, json_output: JsonFlag = False) -> None:
    """Move the champion back to the version it replaced, at once."""
    registry = _registry(data_dir)
    try:
        rolled_back, champion = registry.rollback()
    except (registry.error, *USER_ERRORS) as error:
        _fail(error)
    summary = {"champion_version": champion, "rolled_back": rolled_back}
    _emit(summary, json_output, [f"champion: version {champion} (rolled back from {rolled_back})"])


@app.command()
def models(data_dir: DataDir = None, json_output: JsonFlag = False) -> None:
    """Every registered version next to each other: holdout metrics, aliases, decisions."""
    table = _registry(data_dir).compare_models()
    records = table.astype(object).where(table.notna(), None).to_dict("records")
    human = (
        versions_lines(records)
        if records
        else ["no model registered yet: run `sabiscore pipeline`"]
    )
    _emit({"versions": records}, json_output, human)


def versions_lines(records: list[dict[str, Any]]) -> list[str]:
    """The registered versions as a table a person reads across (`models`): holdout scores
    next to the market's on the same matches, the holdout bets' CLV with its interval, and
    how each was promoted. `--json` has every field (tests/cli/test_models_table.py).
    """

    def number(value: Any, spec: str) -> str:
        if value is None or value != value:
            return "-"
        # a count read from a table where another version lacks it is a float (125.0)
        return format(int(value) if spec == "d" else value, spec)

    def clv(r: dict[str, Any]) -> str:
        if r.get("clv_mean") is None or r.get("clv_mean") != r.get("clv_mean"):
            return "-"
        return (
            f"{100 * r['clv_mean']:+.2f}% [{100 * r['clv_low']:+.2f}, {100 * r['clv_high']:+.2f}]"
        )

    def promoted(r: dict[str, Any]) -> str:
        words = [f"by {r['by']}" if r.get("promoted") else "no"]
        words += [f"refit of {r['refit_of']}"] if r.get("refit_of") else []
        words += ["archived"] if r.get("archived") else []
        return ", ".join(words)

    header = (
        "version",
        "semver",
        "aliases",
        "holdout",
        "log loss",
        "vs market",
        "ECE",
        "bets",
        "CLV [low, high]",
        "promoted",
    )
    rows = [header] + [
        (
            str(r["version"]),
            str(r.get("semver") or "-"),
            r.get("aliases") or "",
            number(r.get("n"), "d"),
            number(r.get("log_loss"), ".4f"),
            number(
                None
                if r.get("market_log_loss") is None or r.get("log_loss") is None
                else r["log_loss"] - r["market_log_loss"],
                "+.4f",
            ),
            number(r.get("ece"), ".3f"),
            number(r.get("clv_bets"), "d"),
            clv(r),
            promoted(r),
        )
        for r in records
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    return [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]


@app.command()
def serve(
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 3000,
    host: Annotated[str, typer.Option(help="Interface (0.0.0.0: every one).")] = "127.0.0.1",
    data_dir: DataDir = None,
    config: ConfigOpt = None,
) -> None:
    """Serve the champion model with BentoML: predictions, edges, pushed updates.

    Runs `bentoml serve bentos.service:SabiScore`. Honours MLFLOW_TRACKING_URI, NEXT_URL,
    REVALIDATE_SECRET, SENTRY_DSN and SABISCORE_ENV; see bentos/README.md.
    """
    from sabiscore.config import PROJECT_ROOT, load_config

    env = dict(os.environ)
    if data_dir:
        env["SABISCORE_DATA_DIR"] = str(data_dir.resolve())
    if config:
        env["SABISCORE_CONFIG"] = str(config.resolve())
    try:
        from bentos.settings import ServingSettings

        ServingSettings.from_config(load_config(config), env)  # refuse bad settings early
    except USER_ERRORS as error:
        _fail(error)
    bentoml = Path(sys.executable).with_name("bentoml")
    command = [
        str(bentoml) if bentoml.exists() else "bentoml",
        "serve",
        "bentos.service:SabiScore",
        "--host",
        host,
        "--port",
        str(port),
        "--working-dir",
        str(PROJECT_ROOT),
    ]
    raise typer.Exit(_supervise(command, env))


def _supervise(command: list[str], env: dict[str, str]) -> int:
    """Run `bentoml serve` until it stops; its exit status, or 1 with the reason when the
    service could not start.

    A worker that fails to load would otherwise be respawned for ever by BentoML's process
    manager, which keeps the port and answers nothing. The worker writes why into the file
    named by $SABISCORE_START_FAILURE and stops the server (bentos/service.py); SIGTERM,
    SIGINT and SIGHUP sent here are passed on.
    """
    import signal
    import subprocess
    import tempfile

    from bentos.service import START_FAILURE_ENV

    with tempfile.TemporaryDirectory(prefix="sabiscore-serve-") as folder:
        failure = Path(folder) / "start-failure.txt"
        env = {**env, START_FAILURE_ENV: str(failure)}
        process = subprocess.Popen(command, env=env)

        def forward(signum: int, _frame: object) -> None:
            process.send_signal(signum)

        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(signum, forward)
        code = process.wait()
        if failure.exists():
            typer.echo(f"sabiscore serve: could not start: {failure.read_text().strip()}", err=True)
            return 1
    return code if code >= 0 else 128 - code


def _day(text: str | None, option: str) -> Any:
    from datetime import date

    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        _fail(ValueError(f"{option} must be a day as YYYY-MM-DD, got {text!r}"))


@app.command()
def bets(
    league: Annotated[
        list[str] | None, typer.Option("--league", help="A league (repeat for more; default: all).")
    ] = None,
    start: Annotated[
        str | None, typer.Option("--from", help="First kick-off day, YYYY-MM-DD (default: now).")
    ] = None,
    end: Annotated[str | None, typer.Option("--to", help="Last kick-off day.")] = None,
    book: Annotated[
        list[str] | None,
        typer.Option(
            "--book",
            help="A book you can bet at (repeat; default: every real book that priced it).",
        ),
    ] = None,
    bankroll: Annotated[float | None, typer.Option(help="Turns stakes into amounts.")] = None,
    data_dir: DataDir = None,
    config: ConfigOpt = None,
    json_output: JsonFlag = False,
    csv_output: Annotated[bool, typer.Option("--csv", help="Print the bets as CSV.")] = False,
) -> None:
    """The upcoming fixtures' forecasts and value bets, from the champion and the store.

    The same answer as the service's GET /value-bets: the store's upcoming fixtures at their
    latest prices, bets at real books only (never market_max / market_avg), the staking rule
    of configs/staking.yaml. Each bet is recorded once in the ledger (`sabiscore ledger`).
    """
    from bentos.bets import BetQuery, load_champion, suggestions, value_bets
    from bentos.errors import ServiceError
    from bentos.state import NoChampion
    from sabiscore.ledger import Ledger

    try:
        query = BetQuery.of(league, _day(start, "--from"), _day(end, "--to"), book, bankroll)
        model = load_champion(data_dir, config)
        answer = value_bets(model, model.fixtures.values(), query)
    except NoChampion as error:
        _fail(error)
    except (ServiceError, *USER_ERRORS) as error:
        _fail(error)
    recorded = Ledger(model.settings.data_dir).record(
        suggestions(answer.bets, model, "sabiscore bets")
    )
    if json_output:
        print(answer.model_dump_json())
    elif csv_output:
        _print_csv([b.model_dump(mode="json") for b in answer.bets])
    else:
        print("\n".join(_bets_lines(answer, recorded)))


def _print_csv(rows: list[dict[str, Any]]) -> None:
    import csv

    from sabiscore.ledger import FIELDS

    columns = list(rows[0]) if rows else [f for f in FIELDS if f != "source"]
    writer = csv.DictWriter(sys.stdout, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)


def _bets_lines(answer: Any, recorded: int) -> list[str]:
    """The fixtures with the model's forecast beside the sharp book's de-margined line, then
    the bets, as two aligned tables."""
    lines = [
        f"model version {answer.model_version} ({answer.model_semver}), trained through "
        f"{answer.trained_through}; {len(answer.fixtures)} fixture(s), "
        f"{len(answer.bets)} value bet(s)"
    ]
    if answer.fixtures:
        lines += [
            "",
            f"{'kick-off':<17} {'lg':<4} {'match':<36} {'model H/D/A':<17}  "
            f"{'sharp line H/D/A':<28} books",
        ]
        for f in answer.fixtures:
            kickoff = f.kickoff.strftime("%Y-%m-%d %H:%M") if f.kickoff else "?"
            model = _triple(f.home_win_probability, f.draw_probability, f.away_win_probability)
            lines.append(
                f"{kickoff:<17} {f.league:<4} {f.home_team + ' v ' + f.away_team:<36} "
                f"{model:<17}  {_sharp_line(f.edge):<28} "
                f"{', '.join(f.books) or '-'}"
            )
    if answer.bets:
        amount = answer.bankroll is not None
        lines += [
            "",
            f"{'kick-off':<17} {'match':<34} {'bet':<5} {'model':>5} {'sharp':>5} "
            f"{'book':<14} {'price':>6} {'edge':>6} {'stake':>6}"
            f"{' amount' if amount else ''} {'tier':<8} exp.CLV",
        ]
        for b in answer.bets:
            kickoff = b.kickoff.strftime("%Y-%m-%d %H:%M") if b.kickoff else "?"
            clv = "-" if b.clv_expected is None else f"{b.clv_expected:+.1%}"
            sharp = "-" if b.sharp_probability is None else f"{b.sharp_probability:.0%}"
            money = f" {b.stake_amount:>6.2f}" if amount else ""
            lines.append(
                f"{kickoff:<17} {b.home_team + ' v ' + b.away_team:<34} {b.outcome:<5} "
                f"{b.fair_probability:>5.0%} {sharp:>5} {b.bookmaker:<14} "
                f"{b.price:>6.2f} {b.edge_percentage:>5.1f}% "
                f"{b.kelly_stake_percentage:>5.2f}%{money} {b.quality:<8} "
                f"{clv}"
            )
    for s in answer.skipped:
        lines.append(f"not priced: {s.match_id}: {s.reason}")
    if not answer.fixtures and not answer.skipped:
        lines.append(
            "no upcoming fixture in the store for this query: run `sabiscore "
            "odds-refresh` (or ingest a fixtures file), or widen --from/--to"
        )
    lines.append(
        "sharp: the de-margined line of the first of staking.sharp_books that priced "
        "the match (Pinnacle, else the market average); a bet is suggested only where "
        "that line does not contradict it"
    )
    lines.append(f"{recorded} new suggestion(s) recorded in the ledger")
    return lines


def _triple(home: float, draw: float, away: float) -> str:
    return f"{home:.0%} {draw:.0%} {away:.0%}"


def _sharp_line(edge: Any) -> str:
    """The sharp book's de-margined home/draw/away and its name, or why there is none."""
    if edge is None:
        return "- (no prices)"
    probs = [o.sharp_probability for o in edge.outcomes]
    if any(p is None for p in probs):
        return "- (no sharp book)"
    return f"{_triple(*probs)} ({edge.sharp_reference.bookmaker})"


@app.command(name="odds-refresh")
def odds_refresh(
    sources: Annotated[
        list[str] | None,
        typer.Argument(
            help="Fixture files for the "
            "football-data source (default: data.yaml odds_refresh.sources)."
        ),
    ] = None,
    live: Annotated[
        list[str] | None,
        typer.Option(
            "--live",
            help="A live source to read "
            "(repeat; default: sources.yaml live): football-data, the-odds-api, "
            "betfair or module:function.",
        ),
    ] = None,
    league: Annotated[
        list[str] | None, typer.Option("--league", help="Only this league (repeat).")
    ] = None,
    data_dir: DataDir = None,
    config: ConfigOpt = None,
    json_output: JsonFlag = False,
) -> None:
    """Fetch fixtures and prices once, store them (with the price history), push them to the
    service, and publish the value bets: what the odds-refresh deployment runs on a schedule."""
    _quiet_prefect(json_output)
    _check_local_sources(sources or [])
    from flows.odds_refresh import odds_refresh_flow

    _run_and_report(
        lambda: odds_refresh_flow(
            sources=sources or None,
            data_dir=str(data_dir) if data_dir else None,
            config_path=str(config) if config else None,
            live=live or None,
            leagues=league or None,
        ),
        json_output,
        _odds_refresh_lines,
    )


def _odds_refresh_lines(s: dict[str, Any]) -> list[str]:
    lines = [
        f"{kind}: {c['fixtures']} fixture(s), {c['prices']} price(s), {c['set_aside']} set aside"
        for kind, c in s.get("live", {}).items()
    ]
    lines += [f"{kind}: FAILED: {why}" for kind, why in s.get("failed_sources", {}).items()]
    lines.append(
        f"{s['fixtures']} upcoming fixture(s); pushed {s['pushed']}, "
        f"{s['push_failures']} push failure(s); {s.get('value_bets', 0)} value bet(s) "
        "now (`sabiscore bets` lists them)"
    )
    return lines


@app.command()
def ledger(
    since: Annotated[
        str | None, typer.Option(help="Only suggestions made on or after this day, YYYY-MM-DD.")
    ] = None,
    data_dir: DataDir = None,
    config: ConfigOpt = None,
    json_output: JsonFlag = False,
) -> None:
    """The live track record: every suggested bet settled against the result and the close.

    Yield and closing-line value with 95 % bootstrap intervals, overall, by tier and by model
    version. Stakes are shares of one bankroll, flat.
    """
    from bentos.bets import ledger_report
    from sabiscore.config import default_data_dir, load_config
    from sabiscore.ledger import track_record
    from sabiscore.staking import StakingPolicy

    _day(since, "--since")
    try:
        policy = StakingPolicy.from_dict(load_config(config).get("staking"))
        record, _ = track_record(
            data_dir or default_data_dir(), since, policy.sharp_books, policy.implied_method
        )
    except USER_ERRORS as error:
        _fail(error)
    report = ledger_report(record).model_dump(mode="json")  # NaN: null, as GET /ledger says
    _emit(report, json_output, _ledger_lines(report))


def _ledger_lines(record: dict[str, Any]) -> list[str]:
    def line(name: str, n: dict[str, Any]) -> str:
        if not n.get("bets"):
            return f"{name:<14} no settled bet"
        ylo, yhi = n["yield_ci"]
        clv = (
            f"CLV {n['clv_mean']:+.2%} [{n['clv_ci'][0]:+.2%}, {n['clv_ci'][1]:+.2%}] on "
            f"{n['clv_bets']}"
            if n["clv_bets"]
            else "CLV - (no closing price)"
        )
        return (
            f"{name:<14} {n['bets']:>4} bets, staked {n['staked']:.2%} of the bankroll, "
            f"profit {n['profit']:+.2%}, yield {n['yield']:+.1%} [{ylo:+.1%}, {yhi:+.1%}], "
            f"{clv}"
        )

    lines = [
        f"{record['suggested']} suggestion(s): {record['settled']} settled, "
        f"{record['open']} still open",
        line("all", record["overall"]),
    ]
    for group in ("by_quality", "by_model_version"):
        for key, numbers in record[group].items():
            label = f"tier {key}" if group == "by_quality" else f"version {key}"
            lines.append(line(label, numbers))
    return lines


@app.command()
def synth(
    out: Annotated[Path, typer.Argument(help="Folder to write <DIV>/<SEASON>.csv files into.")],
    seed: Annotated[int | None, typer.Option(help="Random seed (default from config).")] = None,
    seasons: Annotated[int | None, typer.Option(help="Number of seasons.")] = None,
    config: ConfigOpt = None,
    json_output: JsonFlag = False,
) -> None:
    """Write the synthetic league as football-data.co.uk files (same seed, same bytes)."""
    from sabiscore.config import load_config
    from sabiscore.synthetic import SyntheticConfig, generate_league, write_football_data_csvs

    settings = dict(load_config(config)["data"].get("synthetic", {}))
    if seed is not None:
        settings["seed"] = seed
    if seasons is not None:
        settings["n_seasons"] = seasons
    league = generate_league(SyntheticConfig.from_dict(settings))
    paths = write_football_data_csvs(league, out)
    summary = {"files": [str(p) for p in paths], "matches": len(league.matches)}
    _emit(summary, json_output, [f"wrote {len(paths)} files ({len(league.matches)} matches)"])


store_app = typer.Typer(help="The data store: taking out what was mixed in.", no_args_is_help=True)
app.add_typer(store_app, name="store")


@store_app.command("drop")
def store_drop(
    league: Annotated[str, typer.Option("--league", help="League code to take out (e.g. SY1).")],
    season: Annotated[
        str | None,
        typer.Option("--season", help="Only this season (e.g. 2023-2024); default: every season."),
    ] = None,
    data_dir: DataDir = None,
    json_output: JsonFlag = False,
) -> None:
    """Take a league (or one season of it) out of the store, in one atomic step.

    Its raw files stay in the store's raw/ folder, unchanged: ingesting them again brings it
    back. Models already trained keep what they learnt; the next training will not see it.
    """
    from sabiscore.config import default_data_dir
    from sabiscore.store import DataStore

    store = DataStore(data_dir or default_data_dir())
    dropped = store.drop(league, season)
    if not dropped:
        held = store.summary()
        where = f"{league} {season}" if season else league
        _fail(
            LookupError(
                f"nothing to drop: {where} is not in the store {store.root}; leagues in the store: "
                f"{_listed(held['leagues'])}; seasons: {_listed(held['seasons'])}"
            )
        )
    summary = {"dropped": list(dropped), "leagues": store.summary()["leagues"]}
    _emit(
        summary,
        json_output,
        [
            f"dropped {len(dropped)} league-season(s): {_listed(dropped)}",
            f"leagues in the store: {_listed(summary['leagues'])}",
        ],
    )


League = Annotated[str | None, typer.Option("--league", help="Only this league (e.g. E0).")]


@app.command()
def quarantine(
    league: League = None, data_dir: DataDir = None, json_output: JsonFlag = False
) -> None:
    """The rows kept out of the store, each with its file, line and reason."""
    _show_stored(
        "quarantine",
        ["league", "season", "source", "line", "match_id", "reason"],
        league,
        data_dir,
        json_output,
    )


@app.command()
def warnings(
    league: League = None, data_dir: DataDir = None, json_output: JsonFlag = False
) -> None:
    """The bookmaker prices dropped at ingest (the match was kept), each with its reason."""
    _show_stored(
        "price_warnings",
        ["league", "season", "source", "line", "bookmaker", "phase", "prices", "reason"],
        league,
        data_dir,
        json_output,
    )


def _show_stored(
    table: str, shown: list[str], league: str | None, data_dir: Path | None, json_output: bool
) -> None:
    """One stored table as a person reads it (or every column as JSON), newest file first."""
    import pandas as pd

    from sabiscore.config import default_data_dir
    from sabiscore.store import DataStore

    store = DataStore(data_dir or default_data_dir())
    frame = store.load(table, leagues=[league] if league else None)
    if frame.empty:
        scope = f" for {league}" if league else ""
        human = [
            f"no {table.replace('_', ' ')}{scope} in {store.root} "
            f"(leagues in the store: {_listed(store.summary()['leagues'])})"
        ]
    else:
        frame = frame.sort_values(["season", "league"], ascending=[False, True], kind="stable")
        view = frame.reindex(columns=shown)
        if "source" in shown:  # the file's name; its full path is in the JSON
            view["source"] = view["source"].map(lambda path: Path(str(path)).name)
        with pd.option_context(
            "display.width", 200, "display.max_colwidth", 90, "display.max_rows", 200
        ):
            human = [view.to_string(index=False), f"{len(frame)} row(s)"]
    rows = json.loads(frame.to_json(orient="records", date_format="iso")) if len(frame) else []
    _emit({"table": table, "count": len(frame), "rows": rows}, json_output, human)


def _listed(names: Any) -> str:
    return ", ".join(names) or "none"


def _print_version(asked: bool) -> None:
    if asked:
        from importlib.metadata import version

        typer.echo(f"sabiscore {version('sabiscore')}")
        raise typer.Exit()


@app.callback()
def _options(
    show_version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_print_version,
            is_eager=True,
            help="Print the installed version and exit.",
        ),
    ] = False,
    verbose: Annotated[
        bool,
        typer.Option("--verbose", "-v", help="Show Prefect's own log lines (every task run) too."),
    ] = False,
    debug: Annotated[
        bool,
        typer.Option(
            "--debug", help="Show the full traceback of an unexpected error (and Prefect's)."
        ),
    ] = False,
) -> None:
    """SabiScore: football match forecasts and value bets, from data to served model."""
    if verbose:
        os.environ["SABISCORE_VERBOSE"] = "1"
    quiet_libraries()
    if debug:
        os.environ["SABISCORE_DEBUG"] = "1"


def main() -> None:
    """`sabiscore`: an unexpected error is one line and exit 1; `--debug` shows the traceback."""
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as error:  # noqa: BLE001 - the one place an unexpected error meets a person
        if debugging():
            raise
        typer.echo(f"error: {type(error).__name__}: {error}", err=True)
        typer.echo(
            "(an unexpected error: `sabiscore --debug ...` shows where it happened; "
            "please report it with that output)",
            err=True,
        )
        sys.exit(1)


if __name__ == "__main__":
    main()
