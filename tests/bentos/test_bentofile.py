"""The bento holds every module the service can import (the features/ package once fell out)."""

from __future__ import annotations

import ast
from pathlib import Path

import yaml
from pathspec import PathSpec

REPO = Path(__file__).resolve().parents[2]


def _local_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    names |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    return {n for n in names if n.split(".")[0] in ("bentos", "models", "sabiscore")}


def _files_of(module: str) -> Path:
    base = REPO.joinpath(*module.split("."))
    return base / "__init__.py" if base.is_dir() else base.with_suffix(".py")


def test_every_module_the_service_reaches_is_in_the_bento() -> None:
    spec = yaml.safe_load((REPO / "bentos" / "bentofile.yaml").read_text())
    included = PathSpec.from_lines("gitwildmatch", spec["include"])
    excluded = PathSpec.from_lines("gitwildmatch", spec["exclude"])
    seen, todo = set(), ["bentos.service"]
    while todo:
        module = todo.pop()
        if module in seen or not _files_of(module).exists():
            continue
        seen.add(module)
        todo += sorted(_local_modules(_files_of(module)))
    files = [str(_files_of(m).relative_to(REPO)) for m in seen]
    assert "sabiscore/features/__init__.py" in files
    missing = [f for f in files if not included.match_file(f) or excluded.match_file(f)]
    assert missing == []
