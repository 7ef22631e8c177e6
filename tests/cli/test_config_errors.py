"""A bad `--config` file is one line and exit 2 on the command line, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.app import app

#: A bad file's text -> the message after its path.
BAD = {
    "data:\n  footbal_data: {}\n": (
        "unknown key 'data.footbal_data' (did you mean 'football_data'?)"
    ),
    "validation:\n  max_bad_share: lots\n": "validation.max_bad_share = 'lots': expected a number",
}


@pytest.mark.parametrize("command", ["train", "ingest", "validate", "pipeline", "ledger"])
@pytest.mark.parametrize("text", sorted(BAD))
def test_a_bad_config_file_is_one_line_and_exit_2(tmp_path: Path, text: str, command: str) -> None:
    """Checked before any work: `train` on an empty store would first ingest the synthetic
    league in a flow."""
    bad = tmp_path / "bad.yaml"
    bad.write_text(text)
    result = CliRunner().invoke(
        app, [command, "--config", str(bad), "--data-dir", str(tmp_path / "store")]
    )
    assert result.exit_code == 2, result.output
    assert result.output.splitlines() == [f"error: {bad}: {BAD[text]}"]
    assert "Traceback" not in result.output
    assert not (tmp_path / "store").exists()  # nothing was started
