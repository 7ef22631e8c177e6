"""A bad `--config` file is one line and exit 2 on the command line, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.app import app

#: A bad file's text -> the message after its path.
BAD = {
    "data:\n  footbal_data: {}\n":
        "unknown key 'data.footbal_data' (did you mean 'football_data'?)",
    "validation:\n  max_bad_share: lots\n":
        "validation.max_bad_share = 'lots': expected a number",
}


@pytest.mark.parametrize("text", sorted(BAD))
def test_a_bad_config_file_is_one_line_and_exit_2(tmp_path: Path, text: str) -> None:
    """`ledger` reads its config before anything else (`train` ingests the synthetic league
    into an empty store first, in a flow: see the report of issue 15)."""
    bad = tmp_path / "bad.yaml"
    bad.write_text(text)
    result = CliRunner().invoke(app, ["ledger", "--config", str(bad),
                                      "--data-dir", str(tmp_path / "store")])
    assert result.exit_code == 2, result.output
    assert result.output.splitlines() == [f"error: {bad}: {BAD[text]}"]
    assert "Traceback" not in result.output
