"""MCP through the real `mcp` client: over stdio (`memvault mcp` as a subprocess) and over streamable HTTP (/mcp)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from mcp.client.session import ClientSession

from memvault.engine import Engine
from memvault.testing.mcp_client import call, fails, http_session, stdio_session
from memvault.testing.server import Server

TOOLS = {"add_memory", "search_memories", "list_memories", "get_memory", "update_memory", "delete_memory",
         "delete_memories", "list_buckets", "create_bucket", "search_chat_history", "recall_chat_history"}

Session = Callable[[ClientSession], Awaitable[None]]


async def exercise_every_tool(session: ClientSession) -> None:
    """One conversation a model could have, touching every tool; shared by both transports."""
    tools = (await session.list_tools()).tools
    assert {t.name for t in tools} == TOOLS
    for tool in tools:
        assert tool.description and len(tool.description) > 20, tool.name
        assert tool.input_schema["type"] == "object"
    add = next(t for t in tools if t.name == "add_memory")
    assert add.input_schema["required"] == ["text"]
    assert "description" in add.input_schema["properties"]["user_id"]

    added = await call(session, "add_memory", text="Alice is vegetarian", user_id="alice", metadata={"topic": "food"})
    [alice] = added["results"]
    uuid.UUID(alice["id"])
    assert (alice["memory"], alice["user_id"], alice["metadata"]) == ("Alice is vegetarian", "alice", {"topic": "food"})
    await call(session, "add_memory", text="Bob collects vinyl records", user_id="bob")
    inferred = await call(session, "add_memory", text="I love hiking in the Alps. My sister lives in Oslo.",
                          user_id="carol", infer=True)
    assert len(inferred["results"]) >= 1 and all("id" in m for m in inferred["results"])

    found = await call(session, "search_memories", query="vegetarian food", user_id="alice")
    assert [h["id"] for h in found["results"]] == [alice["id"]]
    assert 0 < found["results"][0]["score"] <= 1
    filtered = await call(session, "search_memories", query="vegetarian", filters={"metadata": {"topic": "travel"}})
    assert filtered["results"] == []

    bucket = await call(session, "create_bucket", name="Hobbies", description="What people do for fun")
    assert bucket["name"] == "Hobbies"
    buckets = await call(session, "list_buckets")
    assert {b["name"] for b in buckets["buckets"]} == {"General", "Hobbies"}

    moved = await call(session, "update_memory", id=alice["id"], text="Alice is vegan", bucket="Hobbies")
    assert (moved["memory"], moved["bucket"]) == ("Alice is vegan", "Hobbies")
    assert (await call(session, "get_memory", id=alice["id"]))["memory"] == "Alice is vegan"
    in_bucket = await call(session, "list_memories", bucket="Hobbies")
    assert [m["id"] for m in in_bucket["results"]] == [alice["id"]] and in_bucket["total"] == 1
    bobs = await call(session, "list_memories", user_id="bob", limit=10)
    assert [m["memory"] for m in bobs["results"]] == ["Bob collects vinyl records"]

    # errors are tool errors with a readable message, and the server keeps serving
    assert "not found" in (await fails(session, "get_memory", id=str(uuid.uuid4()))).lower()
    assert "uuid" in (await fails(session, "get_memory", id="not-an-id")).lower()
    assert "empty" in (await fails(session, "add_memory", text="   "))
    assert "bucket" in (await fails(session, "list_memories", bucket="No such bucket")).lower()
    assert "nothing to update" in await fails(session, "update_memory", id=alice["id"])
    assert await fails(session, "search_memories", query="x", top_k=0)  # out of the schema's range

    outcome = await call(session, "delete_memories", ids=[bobs["results"][0]["id"], str(uuid.uuid4()), "junk"])
    assert (outcome["deleted"], outcome["failed"]) == (1, 2)
    assert [r["reason"] for r in outcome["results"]] == [None, "not_found", "invalid_id"]
    done = await call(session, "delete_memory", id=alice["id"])
    assert done.pop("receipt_id") and done == {"id": alice["id"], "deleted": True}
    assert "not found" in (await fails(session, "delete_memory", id=alice["id"])).lower()
    assert (await call(session, "list_memories", user_id="alice"))["results"] == []


def test_stdio_serves_every_tool_in_the_default_project(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"

    async def main() -> None:
        async with stdio_session(data_dir) as session:
            await exercise_every_tool(session)
            await call(session, "add_memory", text="Dana speaks Portuguese", user_id="dana")

    anyio.run(main)
    from memvault.embed.hashing import HashingEmbedder
    from memvault.extract.offline import OfflineExtractor
    from memvault.store.sqlite import SQLiteStore

    engine = Engine(SQLiteStore(data_dir / "memvault.db"), HashingEmbedder(), OfflineExtractor())
    try:  # what the stdio server wrote is in the data dir's default project
        texts = {m.text for m in engine.list(engine.project().id).items}
        assert "Dana speaks Portuguese" in texts
    finally:
        engine.close()


def test_http_serves_every_tool_with_a_bearer_key(server: Server) -> None:
    anyio.run(lambda: _run_http(server.url, server.key("test")))


async def _run_http(url: str, key: str) -> None:
    async with http_session(url, key) as session:
        await exercise_every_tool(session)


def test_http_key_scopes_every_call_to_its_project(server: Server, engine: Engine) -> None:
    mine = engine.add_text(engine.project("a").id, "Project A's secret plan")

    async def main() -> None:
        async with http_session(server.url, server.key("b")) as session:
            assert "not found" in (await fails(session, "get_memory", id=mine.id)).lower()
            assert (await call(session, "search_memories", query="secret plan"))["results"] == []
            assert (await call(session, "delete_memories", ids=[mine.id]))["deleted"] == 0
            await call(session, "add_memory", text="Project B's note")
        async with http_session(server.url, server.key("a")) as session:
            found = await call(session, "list_memories")
            assert [m["memory"] for m in found["results"]] == ["Project A's secret plan"]

    anyio.run(main)
    assert [m.text for m in engine.list(engine.project("b").id).items] == ["Project B's note"]


@pytest.mark.parametrize("header", [None, "Bearer mv_wrong", "Bearer", "Basic abc"])
def test_http_without_a_valid_key_is_401(server: Server, engine: Engine, header: str | None) -> None:
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
    headers = {"Accept": "application/json, text/event-stream"}
    if header is not None:
        headers["Authorization"] = header
    answer = httpx.post(server.url + "/mcp", json=body, headers=headers)
    assert answer.status_code == 401
    assert answer.json()["error"]


def test_http_revoked_key_is_401(server: Server, engine: Engine) -> None:
    key, clear = engine.create_key("test", "short-lived")
    engine.revoke_key(key.id)
    answer = httpx.post(server.url + "/mcp", json={}, headers={"Authorization": f"Bearer {clear}"})
    assert answer.status_code == 401


def test_http_bad_arguments_are_tool_errors_and_every_read_still_works(server: Server, engine: Engine) -> None:
    """The door holds for MCP as for REST: a clear tool error that never repeats the bad value, nothing stored."""

    async def main() -> None:
        async with http_session(server.url, server.key("door")) as session:
            kept = (await call(session, "add_memory", text="Alice likes green tea", user_id="alice"))["results"][0]
            deep: dict[str, Any] = {}
            for _ in range(40):
                deep = {"k": deep}
            refusals = [
                ("add_memory", {"text": "ok", "user_id": "u" * 100_000}, "longer than 255"),
                ("add_memory", {"text": "ok", "user_id": "alice", "metadata": deep}, "deeper than 32"),
                ("add_memory", {"text": "ok", "user_id": "alice", "metadata": {"k\u0000": 1}}, "NUL"),
                ("add_memory", {"text": "I like tea" + "." * 60_000, "infer": True}, "longer than 50000"),
                ("search_memories", {"query": "tea", "filters": {"OR": []}}, "at least one condition"),
                ("search_memories", {"query": "tea", "filters": {"OR": [{"user_id": str(i)} for i in range(1001)]}},
                 "at most 100 conditions"),
                ("create_bucket", {"name": "zero\u200bwidth"}, "invisible"),
                ("create_bucket", {"name": "Work", "description": "d" * 5000}, "longer than 1000"),
            ]
            for tool, arguments, words in refusals:
                message = await fails(session, tool, **arguments)
                assert words in message and len(message) < 500, (tool, message[:300])
            no_topic = await call(session, "search_memories", query="tea", user_id="alice",
                                  filters={"metadata": {"topic": {"exists": False}}})
            assert [h["id"] for h in no_topic["results"]] == [kept["id"]]
            assert [m["id"] for m in (await call(session, "list_memories", user_id="alice"))["results"]] == [kept["id"]]
            assert (await call(session, "get_memory", id=kept["id"]))["memory"] == "Alice likes green tea"
            assert [b["name"] for b in (await call(session, "list_buckets"))["buckets"]] == ["General"]

    anyio.run(main)
    assert engine.list(engine.project("door").id).total == 1


def test_arguments_out_of_the_schema_get_a_clean_message(server: Server) -> None:
    """Which argument and why, like any invalid argument: no validator internals, no external links."""

    async def main() -> None:
        async with http_session(server.url, server.key()) as session:
            too_many = await fails(session, "search_memories", query="tea", top_k=101)
            assert too_many == ("Error executing tool search_memories: invalid argument: "
                                "top_k: Input should be less than or equal to 100")
            wrong_type = await fails(session, "list_memories", limit="many")
            assert wrong_type.startswith("Error executing tool list_memories: invalid argument: limit: ")
            for text in (too_many, wrong_type):
                assert "http" not in text and "pydantic" not in text and "input_value" not in text
            assert (await call(session, "search_memories", query="tea", top_k=100))["results"] == []

    anyio.run(main)


def test_tools_show_the_engines_neutral_words(server: Server) -> None:
    """MCP words no error the way a dialect does: the engine's own message, after the kind of error."""

    async def main() -> None:
        async with http_session(server.url, server.key()) as session:
            missing = await fails(session, "get_memory", id=str(uuid.uuid4()))
            assert missing.endswith("not found: Memory not found")
            empty = await fails(session, "delete_memories", ids=[])
            assert empty.endswith("invalid argument: give at least one memory id to delete")
            unknown = await fails(session, "search_memories", query="tea", filters={"bucket": "Nope"})
            assert unknown.endswith("not found: Bucket not found")

    anyio.run(main)
