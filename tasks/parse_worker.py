"""Files parsed in a worker process of the parse task (tasks/ingest.py `parse_files`).

Run as `python -m tasks.parse_worker OUT` with a JSON list of `[path, source,
season_start_month]` on stdin; writes the pickled list of results (a `ParsedFile`, or the
exception that stopped one file) to OUT. A plain interpreter, not `multiprocessing`: its workers
import the parent's main module again (the whole command line) and a fork of the flow's
threaded process is not safe. This module imports only the domain's parser.
"""

from __future__ import annotations

import json
import pickle
import sys
from pathlib import Path

from sabiscore.football_data import ParsedFile, parse_football_data


def parse_one(path: str, source: str, season_start_month: int) -> ParsedFile | Exception:
    """One file parsed, or the reason it could not be (an exception that pickles, so that a
    worker process can send it back)."""
    try:
        return parse_football_data(Path(path).read_bytes(), source, season_start_month)
    except Exception as error:  # noqa: BLE001 - one bad file must not stop the others
        try:
            pickle.dumps(error)
        except Exception:  # noqa: BLE001 - an exception of a type that cannot travel
            return RuntimeError(f"{type(error).__name__}: {error}")
        return error


def main(out: str) -> None:
    jobs = json.load(sys.stdin)
    results = [parse_one(path, source, int(month)) for path, source, month in jobs]
    tmp = Path(out).with_name(Path(out).name + ".tmp")
    tmp.write_bytes(pickle.dumps(results, protocol=pickle.HIGHEST_PROTOCOL))
    tmp.replace(out)  # whole or absent: the parent never reads half a result


if __name__ == "__main__":
    main(sys.argv[1])
