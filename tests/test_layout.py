"""The tests' own rule (tests/README.md): no test module imports another file of tests/."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).parent
LOCAL = {p.stem for p in TESTS.rglob("*.py")}  # conftest, every test module, any helper left in tests/


def imported(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


def test_no_test_imports_conftest_or_another_test_file() -> None:
    offenders = {str(p.relative_to(TESTS)): sorted(imported(p) & LOCAL) for p in TESTS.rglob("*.py")}
    assert {k: v for k, v in offenders.items() if v} == {}


def test_helpers_live_in_memvault_testing_not_in_tests() -> None:
    assert sorted(p.relative_to(TESTS).as_posix() for p in TESTS.rglob("*.py")
                  if p.name != "conftest.py" and not p.name.startswith("test_")) == []
