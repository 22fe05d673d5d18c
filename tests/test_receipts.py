"""Deletion receipts: every delete request that removed something leaves one receipt, answered with the delete
(`receipt_id`, X-Memvault-Receipt) and shown by /v1/receipts/{id}/ to its project only; never a text or metadata."""

from __future__ import annotations

import json
from pathlib import Path

import anyio
import httpx
from mem0 import MemoryClient
from typer.testing import CliRunner

from memvault.cli import app
from memvault.embed.hashing import HashingEmbedder
from memvault.engine import Engine
from memvault.extract.offline import OfflineExtractor
from memvault.store.sqlite import SQLiteStore
from memvault.testing.mcp_client import call, http_session
from memvault.testing.server import Server

SECRET = "my bank PIN is 4921"


def clients(server: Server, project: str) -> tuple[httpx.Client, httpx.Client]:
    key = server.key(project)
    return (httpx.Client(base_url=server.url, headers={"Authorization": f"Token {key}"}, timeout=30),
            httpx.Client(base_url=server.url + "/api", headers={"Authorization": f"Bearer {key}"}, timeout=30))


def add(mem0: httpx.Client, texts: list[str], user_id: str = "alice") -> list[str]:
    answer = mem0.post("/v1/memories/", json={"messages": [{"role": "user", "content": t} for t in texts],
                                              "user_id": user_id, "infer": False, "metadata": {"pin": SECRET}})
    assert answer.status_code == 200, answer.text
    return [r["id"] for r in answer.json()["results"]]


def receipt(mem0: httpx.Client, answer: httpx.Response) -> dict[str, object]:
    assert answer.status_code == 200, answer.text
    rid = answer.json()["receipt_id"]
    assert answer.headers["x-memvault-receipt"] == rid
    shown = mem0.get(f"/v1/receipts/{rid}/")
    assert shown.status_code == 200, shown.text
    body = shown.json()
    assert SECRET not in json.dumps(body) and "4921" not in shown.text  # never a text or metadata
    assert set(body) == {"id", "at", "actor", "route", "count", "memory_ids"}
    return dict(body)


def test_every_http_delete_route_answers_a_receipt(server: Server) -> None:
    mem0, mp = clients(server, "a")
    try:
        one, two, three, four, five = add(mem0, [SECRET, "b", "c", "d", "e"])
        got = receipt(mem0, mem0.delete(f"/v1/memories/{one}/"))
        assert got["count"] == 1 and got["memory_ids"] == [one] and got["route"] == "DELETE /v1/memories/{memory_id}/"
        got = receipt(mem0, mem0.request("DELETE", "/v1/batch/", json={"memories": [{"memory_id": two}]}))
        assert got["memory_ids"] == [two] and got["route"] == "DELETE /v1/batch/"
        got = receipt(mem0, mp.delete(f"/memories/{three}"))
        assert got["memory_ids"] == [three] and got["route"] == "DELETE /api/memories/{memoryId}"
        got = receipt(mem0, mp.post("/memories/bulk-delete", json={"memoryIds": [four, "not-an-id"]}))
        assert got["memory_ids"] == [four] and got["count"] == 1
        assert mp.post("/memories/bulk-delete", json={"memoryIds": [five], "dryRun": True}).json().get(
            "receipt_id") is None  # a dry run deletes nothing: no receipt
        got = receipt(mem0, mem0.delete("/v1/memories/", params={"user_id": "alice"}))
        assert got["memory_ids"] == [five]
        add(mem0, ["f"], user_id="bob")
        got = receipt(mem0, mem0.delete("/v2/entities/user/bob/"))
        assert got["count"] == 1 and got["route"] == "DELETE /v2/entities/{entity_type}/{name}/"
        bucket = mp.post("/buckets", json={"name": "Old"}).json()["id"]
        moved = add(mem0, ["g"])
        mp.post("/v2/memory/update", json={"memoryIds": moved, "bucketId": bucket})
        got = receipt(mem0, mp.delete(f"/buckets/{bucket}", params={"memories": "delete"}))
        assert got["memory_ids"] == moved
        nothing = mem0.delete("/v1/memories/", params={"user_id": "nobody"})  # deleted nothing: no receipt
        assert "receipt_id" not in nothing.json() and "x-memvault-receipt" not in nothing.headers
    finally:
        mem0.close()
        mp.close()


def test_a_receipt_is_shown_to_its_own_project_only(server: Server) -> None:
    mem0, mp = clients(server, "a")
    other, other_mp = clients(server, "b")
    try:
        (mid,) = add(mem0, ["x"])
        rid = mem0.delete(f"/v1/memories/{mid}/").json()["receipt_id"]
        assert other.get(f"/v1/receipts/{rid}/").status_code == 404
        assert mem0.get("/v1/receipts/00000000-0000-4000-8000-000000000000/").status_code == 404
        assert mem0.get(f"/v1/receipts/{'x' * 200}/").status_code == 400
        actor = mem0.get(f"/v1/receipts/{rid}/").json()["actor"]
        assert server.key("a") not in actor  # never the key itself
    finally:
        for c in (mem0, mp, other, other_mp):
            c.close()


def test_the_sdk_delete_keeps_its_documented_fields(server: Server) -> None:
    client = MemoryClient(api_key=server.key("sdk"), host=server.url, client=httpx.Client(timeout=30))
    try:
        mid = client.add([{"role": "user", "content": "x"}], user_id="alice", infer=False)["results"][0]["id"]
        answer = client.delete(mid)
        assert answer["message"] == "Memory deleted successfully!" and answer["receipt_id"]
    finally:
        client.client.close()


def test_mcp_deletes_answer_their_receipt(server: Server, engine: Engine) -> None:
    pid = engine.project("a").id
    mid = engine.add_text(pid, "forget me").id

    async def main() -> str:
        async with http_session(server.url, server.key("a")) as session:
            done = await call(session, "delete_memories", ids=[mid])
            return str(done["receipt_id"])

    rid = anyio.run(main)
    got = engine.receipt(pid, rid)
    assert got["route"] == "mcp delete_memories" and got["memory_ids"] == [mid]


def test_cli_delete_prints_its_receipt_and_receipts_lists_it(tmp_path: Path) -> None:
    data = tmp_path / "data"
    made = Engine(SQLiteStore(data / "memvault.db"), HashingEmbedder(64), OfflineExtractor())
    try:
        mid = made.add_text(made.project(None).id, "forget me").id
    finally:
        made.close()
    env = {"MEMVAULT_EMBEDDER": "hashing"}
    done = CliRunner().invoke(app, ["delete", mid, "--json", "--data-dir", str(data)], env=env)
    assert done.exit_code == 0, done.output
    rid = json.loads(done.stdout)["receipt_id"]
    listed = CliRunner().invoke(app, ["receipts", "--json", "--data-dir", str(data)], env=env)
    assert listed.exit_code == 0, listed.output
    [only] = json.loads(listed.stdout)["results"]
    assert only["id"] == rid and only["route"] == "cli delete" and only["memory_ids"] == [mid]
    assert "forget me" not in listed.stdout


def test_a_receipt_names_the_key_or_the_face_that_deleted(server: Server) -> None:
    """The receipt's actor is the change log's: the key's id over HTTP, the kind of caller elsewhere."""
    from memvault.origin import Origin, acting

    key = server.key("actors")
    [stored] = [k for k in server.engine.list_keys("actors")]
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Token {key}"}, timeout=30) as mem0:
        mid = mem0.post("/v1/memories/", json={"messages": "to go", "user_id": "u", "infer": False}).json()["results"][0]["id"]
        rid = mem0.delete(f"/v1/memories/{mid}/").json()["receipt_id"]
        assert mem0.get(f"/v1/receipts/{rid}/").json()["actor"] == f"key:{stored.id}"
    project = server.engine.project("actors").id
    with acting(Origin("cli")):
        other = server.engine.add_text(project, "from the command line").id
        server.engine.delete(project, other)
    [latest, *_] = server.engine.receipts(project)
    assert latest["actor"] == "cli" and latest["memory_ids"] == [other]
