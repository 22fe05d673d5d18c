"""`memvault purge` and `--show-expired` (in-process through typer's CliRunner) and the sweep of the real
`memvault serve` (a subprocess, purging at start and then every MEMVAULT_PURGE_INTERVAL_SECONDS), on both stores."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner, Result

from memvault.cli import app
from memvault.engine import Engine
from memvault.models import utcnow
from memvault.store.base import Store
from memvault.store.sqlite import SQLiteStore
from memvault.testing.forgetting import leftovers, marker, plant, settled, today
from memvault.testing.serve_process import ServeProcess

ENV = {"MEMVAULT_EMBEDDER": "hashing"}
runner = CliRunner()


def target(store: Store) -> list[str]:
    """The CLI options that name the fixture's data: its SQLite data dir, or its PostgreSQL schema."""
    if isinstance(store, SQLiteStore):
        return ["--data-dir", str(Path(store.path).parent)]
    return ["--database-url", store.url]  # type: ignore[attr-defined]


def run(store: Store, *args: str, code: int = 0, env: dict[str, str] | None = None) -> Result:
    result = runner.invoke(app, ["purge", *args, *target(store)], env={**ENV, **(env or {})})
    assert result.exit_code == code, result.output
    return result


def test_purge_prints_ids_and_counts_never_text_and_dry_run_deletes_nothing(engine: Engine, project: str,
                                                                         store: Store) -> None:
    words = [marker() for _ in range(4)]
    old = plant(engine, project, f"The alarm code is {words[0]}", expires=today() - timedelta(days=31))
    recent = plant(engine, project, f"The boat code is {words[1]}", expires=today() - timedelta(days=1))
    replaced = plant(engine, project, f"Dana lived in {words[2]}", superseded_at=utcnow() - timedelta(days=2))
    plant(engine, project, f"Dana lives in {words[3]}", expires=today())

    dry = run(store, "--dry-run").stdout
    assert dry.splitlines() == [f"would purge\t{project}\t{old}\texpired",
                                "would purge 1 memories (1 expired, 0 superseded)"]
    assert engine.get(project, old).text.endswith(words[0])

    done = run(store).stdout
    assert done.splitlines() == [f"purged\t{project}\t{old}\texpired", "purged 1 memories (1 expired, 0 superseded)"]
    assert not any(w in done + dry for w in words)
    assert settled(store, [words[0]]) == []

    both = json.loads(run(store, "--expired-after-days", "0", "--superseded-after-days", "0", "--json").stdout)
    assert (both["dry_run"], both["purged"], both["expired"], both["superseded"]) == (False, 2, 1, 1)
    assert {(r["id"], r["reason"]) for r in both["results"]} == {(recent, "expired"), (replaced, "superseded")}
    assert settled(store, words[:3]) == [] and leftovers(store, words[3:]) == words[3:]
    assert run(store).stdout.strip() == "purged 0 memories (0 expired, 0 superseded)"


def test_purge_reads_its_defaults_from_the_settings_and_refuses_bad_days(engine: Engine, project: str,
                                                                         store: Store) -> None:
    old = plant(engine, project, "expired a year ago", expires=today() - timedelta(days=365))
    assert "purged 0 memories" in run(store, env={"MEMVAULT_PURGE_EXPIRED_AFTER_DAYS": "never"}).stdout
    assert "purged 0 memories" in run(store, env={"MEMVAULT_PURGE_EXPIRED_AFTER_DAYS": "400"}).stdout
    assert run(store, "--expired-after-days", "-1", code=2).exit_code == 2  # a usage error, nothing done
    assert engine.get(project, old).text == "expired a year ago"
    assert f"{old}\texpired" in run(store, "--expired-after-days", "364").stdout


def test_list_and_search_show_expired_memories_when_asked(engine: Engine, project: str, store: Store) -> None:
    gone = plant(engine, project, "Dana's passport expired", expires=today() - timedelta(days=1))
    live = plant(engine, project, "Dana's passport renewed", expires=today())

    def ids(*args: str) -> set[str]:
        result = runner.invoke(app, [*args, "--project", "test", "--json", *target(store)], env=ENV)
        assert result.exit_code == 0, result.output
        return {m["id"] for m in json.loads(result.stdout)["results"]}

    assert ids("list") == {live} and ids("search", "passport") == {live}
    assert ids("list", "--show-expired") == {gone, live} == ids("search", "passport", "--show-expired")


# the sweep in `memvault serve` ---------------------------------------------------------------------------
class Serve(ServeProcess):
    """`python -m memvault serve` over the fixture's data."""

    def __init__(self, store: Store, log: Path, **env: str) -> None:
        super().__init__(target(store), log, {**ENV, "MEM0_TELEMETRY": "False", **env})


@pytest.fixture
def serve(store: Store, tmp_path: Path) -> Iterator[list[Serve]]:
    made: list[Serve] = []
    yield made
    for s in made:
        s.stop()


def until(check: Any, what: str, within: float = 30.0) -> None:
    deadline = time.monotonic() + within
    while not check():
        assert time.monotonic() < deadline, what
        time.sleep(0.1)


def test_serve_purges_at_start_then_every_interval_and_stops_cleanly(engine: Engine, project: str, store: Store,
                                                                     serve: list[Serve], tmp_path: Path) -> None:
    first, second, kept = marker(), marker(), marker()
    old = plant(engine, project, f"The vault code is {first}", expires=today() - timedelta(days=40))
    live = plant(engine, project, f"The shed code is {kept}", expires=today())
    key = engine.create_key("test", "sweep")[1]
    server = Serve(store, tmp_path / "serve.log", MEMVAULT_PURGE_INTERVAL_SECONDS="0.3",
                   MEMVAULT_PURGE_EXPIRED_AFTER_DAYS="30")
    serve.append(server)
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Token {key}"}, timeout=30) as http:
        until(lambda: http.get(f"/v1/memories/{old}/").status_code == 404, "the sweep at start purges")
        added = http.post("/v3/memories/add/", json={"messages": f"The attic code is {second}", "user_id": "dana",
                                                     "infer": False, "expiration_date": "2020-02-29"})
        new = added.json()["results"][0]["id"]
        until(lambda: http.get(f"/v1/memories/{new}/").status_code == 404, "a later sweep purges")
        assert [(e["event"], e["reason"]) for e in http.get(f"/v1/memories/{new}/history/").json()] == [
            ("ADD", None), ("DELETE", "expired")]
        assert http.get(f"/v1/memories/{live}/").status_code == 200
    assert server.stop() == 0
    log = server.log_path.read_text()
    assert "Traceback" not in log and first not in log and second not in log
    swept = [line for line in map(json.loads, log.splitlines()) if line.get("event") == "purge"]
    assert sum(line["expired"] for line in swept) == 2 and all(line["superseded"] == 0 for line in swept)
    assert settled(store, [first, second]) == [] and leftovers(store, [kept]) == [kept]
