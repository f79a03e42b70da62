"""The docs name tests as evidence; a renamed or deleted test must not leave a claim unbacked."""

from __future__ import annotations

import ast
import re
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def functions_in(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    return {node.name for node in ast.walk(tree) if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")}


def named_tests(cell: str) -> list[tuple[str, str | None]]:
    """(file, test) for each `file.py::test` in a cell; `::test` means the file named before it."""
    named: list[tuple[str, str | None]] = []
    current = None
    for file, test in re.findall(r"`(test_\w+\.py)?(?:::(test_\w+))?`", cell):
        current = file or current
        if current and (file or test):
            named.append((current, test or None))
    return named


def test_every_test_the_providers_table_names_exists() -> None:
    table = (REPO / "docs" / "providers.md").read_text().split("## Dialect × feature", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in table.splitlines() if line.startswith("| ") and "`test_" in line]
    assert len(rows) >= 15, "the dialect × feature table has a row per feature, each backed by tests"
    missing = []
    for row in rows:
        tested_by = row.rstrip(" |").rsplit(" | ", 1)[1]
        named = named_tests(tested_by)
        assert named, f"no test named for: {row[:60]}"
        for file, test in named:
            path = REPO / "tests" / file
            if not path.exists() or (test and test not in functions_in(path)):
                missing.append(f"{file}::{test}" if test else file)
    assert not missing, f"docs/providers.md names tests that do not exist: {missing}"
