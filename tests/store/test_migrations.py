"""One migration runner (memvault/store/migrations.py) for both stores: the same numbering rule, every script shipped.
The policy itself is checked on each real store: tests/store/test_sqlite.py and tests/store/test_postgres.py."""

from __future__ import annotations

import glob
import tomllib
from pathlib import Path

import pytest

from memvault.store import migrations

ROOT = Path(__file__).parents[2]


def test_every_schema_script_ships_in_the_package() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["memvault"]
    shipped = {Path(p) for pattern in patterns for p in glob.glob(pattern, root_dir=ROOT / "memvault", recursive=True)}
    scripts = {p.relative_to(ROOT / "memvault") for p in (ROOT / "memvault" / "store").rglob("*.sql")}
    assert scripts and scripts <= shipped


@pytest.mark.parametrize("store", ["sqlite", "postgres"])
def test_each_store_numbers_its_scripts_one_two_three(store: str) -> None:
    found = migrations.scripts(f"memvault.store.{store}")
    assert [s.version for s in found] == list(range(1, len(found) + 1)) and all(s.sql.strip() for s in found)


def test_a_gap_in_the_numbering_is_refused_for_any_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    package = tmp_path / "gappy_store"
    (package / "migrations").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    for name in ("0001_init.sql", "0003_later.sql"):
        (package / "migrations" / name).write_text("CREATE TABLE t (x integer);\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(AssertionError, match="numbered 1, 2, 3... with no gap"):
        migrations.scripts("gappy_store")
