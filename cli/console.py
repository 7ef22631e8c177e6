"""What a person sees on the terminal while a flow runs.

By default: one line per step a flow reports (its prints and warnings), each with the seconds
since the command started, and no traceback. `--verbose`: Prefect's own lines too (every task
run's state, the server's start, GX's and MLflow's notes). `--debug`: tracebacks as well.
"""

from __future__ import annotations

import logging
import os
import sys
import time

STARTED = time.monotonic()
_SET_UP = False

#: Lines of Prefect's bookkeeping, shown only with --verbose.
ROUTINE = (
    "Finished in state Completed",
    "Beginning flow run",
    "Beginning subflow run",
    "Created task run",
    "Executing ",
)


def debugging() -> bool:
    return os.environ.get("SABISCORE_DEBUG", "") not in ("", "0")


def verbose() -> bool:
    return os.environ.get("SABISCORE_VERBOSE", "") not in ("", "0")


class NoTraceback(logging.Formatter):
    """The inner formatter's line without the traceback under it (`--debug` keeps it)."""

    def __init__(self, inner: logging.Formatter) -> None:
        super().__init__()
        self.inner = inner

    def format(self, record: logging.LogRecord) -> str:
        if not (record.exc_info or record.exc_text):
            return self.inner.format(record)
        kept = record.exc_info, record.exc_text
        record.exc_info, record.exc_text = None, None
        try:
            return self.inner.format(record) + "  (`sabiscore --debug ...` shows the traceback)"
        finally:
            record.exc_info, record.exc_text = kept


class Progress(logging.Formatter):
    """`  12.3s  training on 6190 matches ...`: seconds since the start, then the message
    (the level too when it is a warning or worse)."""

    def format(self, record: logging.LogRecord) -> str:
        level = f"{record.levelname} " if record.levelno >= logging.WARNING else ""
        return f"{time.monotonic() - STARTED:7.1f}s  {level}{record.getMessage()}"


def routine(record: logging.LogRecord) -> bool:
    """Prefect's and the libraries' own INFO lines (kept for --verbose and the Prefect UI)."""
    if record.levelno >= logging.WARNING:
        return False
    if not record.name.startswith(("prefect.flow_runs", "prefect.task_runs")):
        return True
    return record.getMessage().startswith(ROUTINE)


def quiet_libraries() -> None:
    """Before MLflow is imported: its INFO notes (database tables, signatures) only with
    --verbose."""
    if not verbose():
        os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")


def for_people() -> None:
    """Set up the console handlers Prefect installed: progress lines unless --verbose, no
    tracebacks unless --debug. Other handlers (Prefect's API log handler) are untouched."""
    global _SET_UP
    if _SET_UP:
        return
    _SET_UP = True
    if not verbose() and not os.environ.get("PREFECT_API_URL"):
        print(
            Progress().format(
                logging.makeLogRecord(
                    {
                        "msg": "starting a temporary Prefect server for this run "
                        "(PREFECT_API_URL: use a running one)",
                        "levelno": logging.INFO,
                    }
                )
            ),
            file=sys.stderr,
        )
    for handler in logging.getLogger().handlers:
        if getattr(handler, "_sabiscore", False) or handler.formatter is None:
            continue
        handler._sabiscore = True  # type: ignore[attr-defined]
        if not verbose():
            handler.setFormatter(Progress())
            handler.addFilter(lambda record: not routine(record))
        if not debugging():
            handler.setFormatter(NoTraceback(handler.formatter))
    if not verbose():
        logging.getLogger("mlflow").setLevel(logging.WARNING)
