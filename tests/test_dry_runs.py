"""Dry runs of deletes (Mem0 delete by filter, MemoryPlugin bulk delete, MCP, CLI): the answer the real call would
give now, by the same rules and scoping, and nothing deleted."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import anyio
import httpx
from typer.testing import CliRunner

from memvault.cli import app
from memvault.embed.hashing import HashingEmbedder
from memvault.engine import Engine
from memvault.extract.offline import OfflineExtractor
from memvault.store.sqlite import SQLiteStore
from memvault.testing.mcp_client import call, http_session
from memvault.testing.server import Server

UNKNOWN = "00000000-0000-4000-8000-00000000abcd"


def mem0(server: Server, project: str) -> httpx.Client:
    return httpx.Client(base_url=server.url, headers={"Authorization": f"Token {server.key(project)}"}, timeout=30)


def add(http: httpx.Client, texts: list[str], user_id: str) -> list[str]:
    answer = http.post("/v1/memories/", json={"messages": [{"role": "user", "content": t} for t in texts],
                                              "user_id": user_id, "infer": False})
    assert answer.status_code == 200, answer.text
    return [r["id"] for r in answer.json()["results"]]


def test_mem0_delete_by_filter_counts_and_deletes_nothing(server: Server, engine: Engine) -> None:
    with mem0(server, "a") as a, mem0(server, "b") as b:
        ids = add(a, [f"note {i}" for i in range(5)], "alice")
        add(a, ["other"], "bob")
        add(b, ["b's alice note"], "alice")
        yesterday = datetime.now(UTC) - timedelta(days=1)
        engine.update(engine.project("a").id, ids[0], expiration_date=yesterday)  # expired: deleted by the filter too
        answer = a.delete("/v1/memories/", params={"user_id": "alice", "dry_run": "true"})
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["dry_run"] is True and body["would_delete"] == 5 and sorted(body["memory_ids"]) == sorted(ids)
        assert len(a.get("/v1/memories/", params={"user_id": "alice"}).json()) == 4  # nothing deleted (one expired)
        for bad in ("maybe", "2", ""):
            refused = a.delete("/v1/memories/", params={"user_id": "alice", "dry_run": bad})
            assert refused.status_code == 400, (bad, refused.text)
        assert len(a.get("/v1/memories/", params={"user_id": "alice"}).json()) == 4
        assert a.delete("/v1/memories/", params={"dry_run": "true"}).status_code == 400  # no filter: as the real call
        gone = a.delete("/v1/memories/", params={"user_id": "alice"})
        assert gone.status_code == 200 and a.get("/v1/memories/", params={"user_id": "alice"}).json() == []
        assert len(b.get("/v1/memories/", params={"user_id": "alice"}).json()) == 1  # the other project's alice


def test_the_dry_run_shows_at_most_a_thousand_ids(server: Server) -> None:
    with mem0(server, "a") as a:
        for start in range(0, 1100, 100):
            add(a, [f"note {i}" for i in range(start, start + 100)], "alice")
        body = a.delete("/v1/memories/", params={"user_id": "alice", "dry_run": "true"}).json()
        assert body["would_delete"] == 1100 and len(body["memory_ids"]) == 1000 == len(set(body["memory_ids"]))


def test_memoryplugin_bulk_delete_dry_run_answers_as_it_would(server: Server) -> None:
    with mem0(server, "a") as a, mem0(server, "b") as b:
        mine = add(a, ["one", "two"], "alice")
        theirs = add(b, ["theirs"], "alice")
        mp = httpx.Client(base_url=server.url + "/api", headers={"Authorization": f"Bearer {server.key('a')}"})
        try:
            ids = [*mine, mine[0], theirs[0], UNKNOWN, "not-an-id"]
            dry = mp.post("/memories/bulk-delete", json={"memoryIds": ids, "dryRun": True})
            assert dry.status_code == 200, dry.text
            real_shape = {k: v for k, v in dry.json().items() if k != "dryRun"}
            assert dry.json()["dryRun"] is True
            assert mp.post("/memories/bulk-delete", json={"memoryIds": mine, "dryRun": "yes"}).status_code == 400
            assert len(a.get("/v1/memories/", params={"user_id": "alice"}).json()) == 2
            real = mp.post("/memories/bulk-delete", json={"memoryIds": ids}).json()
            assert real.pop("receipt_id")  # the real call deleted: it has a receipt, the dry run none
            assert real == real_shape  # the dry run said exactly what the real call then did
            assert a.get("/v1/memories/", params={"user_id": "alice"}).json() == []
            assert len(b.get("/v1/memories/", params={"user_id": "alice"}).json()) == 1
        finally:
            mp.close()


def test_mcp_delete_memories_dry_run(server: Server, engine: Engine) -> None:
    pid = engine.project("a").id
    kept = engine.add_text(pid, "keep me")

    async def main() -> None:
        async with http_session(server.url, server.key("a")) as session:
            dry = await call(session, "delete_memories", ids=[kept.id, UNKNOWN], dry_run=True)
            assert (dry["deleted"], dry["failed"], dry["dry_run"]) == (1, 1, True)

    anyio.run(main)
    assert [m.text for m in engine.list(pid).items] == ["keep me"]


def test_cli_delete_dry_run(tmp_path: Path) -> None:
    data = tmp_path / "data"
    made = Engine(SQLiteStore(data / "memvault.db"), HashingEmbedder(64), OfflineExtractor())
    try:
        memory = made.add_text(made.project(None).id, "keep me")
    finally:
        made.close()
    result = CliRunner().invoke(app, ["delete", memory.id, "--dry-run", "--json", "--data-dir", str(data)],
                                env={"MEMVAULT_EMBEDDER": "hashing"})
    assert result.exit_code == 0, result.output
    assert '"deleted": 1' in result.stdout
    again = Engine(SQLiteStore(data / "memvault.db"), HashingEmbedder(64), OfflineExtractor())
    try:
        assert [m.text for m in again.list(again.project(None).id).items] == ["keep me"]
    finally:
        again.close()
