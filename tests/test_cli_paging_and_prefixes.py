"""The CLI for people reading a table: lists say when they are cut and how to read on; ids can be given by
their first characters, as `keys revoke` takes a key's prefix."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from memvault.cli import app
from memvault.embed.hashing import HashingEmbedder
from memvault.engine import Engine, ImportRecord
from memvault.extract.offline import OfflineExtractor
from memvault.store.sqlite import SQLiteStore

ENV = {"MEMVAULT_EMBEDDER": "hashing"}
runner = CliRunner()


def run(data: Path, *args: str, code: int = 0) -> Result:
    result = runner.invoke(app, [*args, "--data-dir", str(data)], env=ENV)
    assert result.exit_code == code, result.output
    return result


def js(data: Path, *args: str) -> Any:
    return json.loads(run(data, *args, "--json").stdout)


@pytest.fixture
def data(tmp_path: Path) -> Path:
    return tmp_path / "data"


def test_a_cut_list_says_how_many_are_left_and_offset_reads_the_rest(data: Path) -> None:
    added = [js(data, "add", f"Fact number {i} about tea")["results"][0]["id"] for i in range(5)]
    first = run(data, "list", "--limit", "2")
    assert "1-2 of 5 shown; --offset 2" in first.stderr
    pages = [js(data, "list", "--limit", "2", "--offset", str(o))["results"] for o in (0, 2, 4)]
    assert sorted(m["id"] for page in pages for m in page) == sorted(added)
    assert "shown" not in run(data, "list", "--limit", "2", "--offset", "4").stderr  # the last page says nothing


def test_get_and_delete_take_a_unique_prefix_of_the_id(data: Path) -> None:
    [memory] = js(data, "add", "Alice drinks green tea")["results"]
    prefix = memory["id"][:8]
    assert js(data, "get", prefix)["id"] == memory["id"]
    assert js(data, "get", prefix.upper())["id"] == memory["id"]
    out = js(data, "delete", prefix)
    assert out["results"][0]["deleted"] is True
    assert "not found" in run(data, "get", prefix, code=1).stderr.lower()


def test_a_prefix_that_names_several_memories_deletes_nothing(data: Path) -> None:
    run(data, "list")  # makes the database
    engine = Engine(SQLiteStore(data / "memvault.db"), HashingEmbedder(), OfflineExtractor())
    try:
        pid = engine.project().id
        now = datetime.now(UTC)
        twins = ["abcd1234-0000-4000-8000-100000000000", "abcd1234-0000-4000-8000-200000000000"]
        engine.import_memories(pid, [ImportRecord(i, f"Twin {n}", now, now) for n, i in enumerate(twins)])
    finally:
        engine.close()
    assert "several" in run(data, "delete", "abcd1234", code=1).stderr
    assert sorted(m["id"] for m in js(data, "list")["results"]) == twins
    assert "several" in run(data, "get", "abcd1234-0000", code=1).stderr
    assert js(data, "delete", twins[1][:25])["results"][0]["deleted"] is True  # one character more names one


def test_a_malformed_id_is_still_reported_per_id(data: Path) -> None:
    failed = json.loads(run(data, "delete", "zz-not-an-id", "--json", code=1).stdout)
    assert [r["reason"] for r in failed["results"]] == ["invalid_id"]
