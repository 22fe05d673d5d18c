"""`latest_only` and the add answer's effects on the faces other than the Mem0 dialect: MCP over streamable HTTP
(the real `mcp` client), the library (`memvault.Memory`) and the CLI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio
from typer.testing import CliRunner

from memvault import InvalidInput, Memory
from memvault.cli import app
from memvault.embed.hashing import HashingEmbedder
from memvault.engine import Engine, Owners
from memvault.extract.offline import OfflineExtractor
from memvault.store.sqlite import SQLiteStore
from memvault.testing.mcp_client import call, fails, http_session
from memvault.testing.server import Server

ALICE = Owners(user_id="alice")


def superseded_pair(engine: Engine, project: str) -> tuple[str, str]:
    old = engine.add_text(project, "I work at Acme", ALICE).id
    new = engine.add_text(project, "I work at Globex", ALICE).id
    engine.supersede(project, old, new)
    return old, new


def test_mcp_hides_superseded_memories_unless_latest_only_is_false(server: Server, engine: Engine) -> None:
    old, new = superseded_pair(engine, engine.project("mcp").id)

    async def main() -> None:
        async with http_session(server.url, server.key("mcp")) as session:
            listed = await call(session, "list_memories", user_id="alice")
            assert [m["id"] for m in listed["results"]] == [new]
            everything = await call(session, "list_memories", user_id="alice", latest_only=False)
            assert {m["id"]: m["superseded_by"] for m in everything["results"]} == {old: new, new: None}
            found = await call(session, "search_memories", query="work at Acme", user_id="alice", latest_only=False)
            assert old in [h["id"] for h in found["results"]]
            found = await call(session, "search_memories", query="work at Acme", user_id="alice")
            assert old not in [h["id"] for h in found["results"]]
            assert "latest_only" in await fails(session, "list_memories", latest_only="no")
            added = await call(session, "add_memory", text="I have a cat", user_id="alice")
            assert [r["event"] for r in added["results"]] == ["ADD"]

    anyio.run(main)


def test_the_library_shows_superseded_memories_with_latest_only_false(tmp_path: Path) -> None:
    engine = Engine(SQLiteStore(tmp_path / "memvault.db"), HashingEmbedder(), OfflineExtractor())
    with Memory(engine=engine) as m:
        old, new = superseded_pair(engine, m.project_id)
        assert [r["id"] for r in m.get_all(user_id="alice")["results"]] == [new]
        everything = {r["id"]: r.get("superseded_by") for r in m.get_all(user_id="alice", latest_only=False)["results"]}
        assert everything == {old: new, new: None}
        assert old in [r["id"] for r in m.search("Acme", user_id="alice", latest_only=False)["results"]]
        assert old not in [r["id"] for r in m.search("Acme", user_id="alice")["results"]]
        assert m.get(old)["superseded_by"] == new  # type: ignore[index]
        try:
            m.get_all(user_id="alice", latest_only="false")  # type: ignore[arg-type]
        except InvalidInput as exc:
            assert "latest_only" in exc.message
        else:
            raise AssertionError("latest_only='false' was accepted")
    engine.close()


def test_the_cli_lists_every_version_with_all_versions(tmp_path: Path) -> None:
    data = tmp_path / "data"
    engine = Engine(SQLiteStore(data / "memvault.db"), HashingEmbedder(64), OfflineExtractor())
    try:
        old, new = superseded_pair(engine, engine.project().id)
    finally:
        engine.close()

    def js(*args: str) -> Any:
        result = CliRunner().invoke(app, [*args, "--data-dir", str(data), "--json"], env={"MEMVAULT_EMBEDDER": "hashing"})
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)

    assert [m["id"] for m in js("list", "--user-id", "alice")["results"]] == [new]
    assert {m["id"]: m["superseded_by"] for m in js("list", "--user-id", "alice", "--all-versions")["results"]} == {
        old: new, new: None}
    assert old in [h["id"] for h in js("search", "Acme", "--user-id", "alice", "--all-versions")["results"]]
    assert [r["event"] for r in js("add", "I have a cat", "--user-id", "alice")["results"]] == ["ADD"]
