"""Every public method of the `mem0ai` 2.2.1 MemoryClient and AsyncMemoryClient, found by introspection, called
against a real server: none may answer 404 or 5xx. A method this table does not know fails the test, so a method
added to the SDK (or forgotten here) is noticed; the ones memvault does not serve are listed, with the reason, in
NOT_SERVED and in the README."""

from __future__ import annotations

import asyncio
import inspect
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from mem0 import AsyncMemoryClient, MemoryClient

from memvault.testing.server import Server

SCHEMA = json.dumps({"type": "object", "properties": {"facts": {"type": "array"}}})

# name -> how an application calls it, given the client and ids made beforehand (`m`: a memory, `n`: another one)
CALLS: dict[str, Callable[[Any, dict[str, str]], Any]] = {
    "add": lambda c, ids: c.add([{"role": "user", "content": "I live in Lyon"}], user_id="walker", infer=False),
    "get": lambda c, ids: c.get(ids["m"]),
    "get_all": lambda c, ids: c.get_all(filters={"user_id": "walker"}),
    "search": lambda c, ids: c.search("Lyon", filters={"user_id": "walker"}),
    "update": lambda c, ids: c.update(ids["m"], text="I live in Lyon, France"),
    "history": lambda c, ids: c.history(ids["m"]),
    "users": lambda c, ids: c.users(),
    "batch_update": lambda c, ids: c.batch_update([{"memory_id": ids["m"], "text": "I live in Lyon now"}]),
    "feedback": lambda c, ids: c.feedback(ids["m"], "POSITIVE"),
    "create_memory_export": lambda c, ids: c.create_memory_export(SCHEMA, user_id="walker"),
    "get_memory_export": lambda c, ids: c.get_memory_export(user_id="walker"),
    "get_summary": lambda c, ids: c.get_summary({"user_id": "walker"}),
    "get_profile": lambda c, ids: c.get_profile("walker"),
    "generate_profile": lambda c, ids: c.generate_profile("walker"),
    "get_profile_settings": lambda c, ids: c.get_profile_settings(),
    "update_profile_settings": lambda c, ids: c.update_profile_settings(enabled=True),
    "sample_profiles": lambda c, ids: c.sample_profiles(limit=2),
    "get_profile_job": lambda c, ids: c.get_profile_job(ids["job"]),
    "get_project": lambda c, ids: c.get_project(),
    "update_project": lambda c, ids: c.update_project(custom_instructions="Keep facts short"),
    "get_webhooks": lambda c, ids: c.get_webhooks(ids["project"]),
    "create_webhook": lambda c, ids: c.create_webhook("http://127.0.0.1:9/hook", "walk", ids["project"],
                                                      ["memory_add"]),
    "update_webhook": lambda c, ids: c.update_webhook(int(ids["hook"]), name="walked"),
    # the deleting ones last (the walk runs in this order)
    "delete": lambda c, ids: c.delete(ids["n"]),
    "batch_delete": lambda c, ids: c.batch_delete([{"memory_id": ids["o"]}]),
    "delete_users": lambda c, ids: c.delete_users(user_id="leaver"),
    "reset": lambda c, ids: c.reset(),  # the SDK lists the users and refuses by itself when there are none
    "delete_all": lambda c, ids: c.delete_all(user_id="walker"),
    "delete_webhook": lambda c, ids: c.delete_webhook(int(ids["hook"])),
}
NOT_SERVED: dict[str, str] = {
    "chat": "the SDK raises NotImplementedError itself, without a request",
}


def public(cls: type) -> set[str]:
    return {name for name, _ in inspect.getmembers(cls, inspect.isfunction) if not name.startswith("_")}


@pytest.mark.parametrize("cls", [MemoryClient, AsyncMemoryClient])
def test_the_table_knows_every_public_method(cls: type) -> None:
    assert public(cls) == set(CALLS) | set(NOT_SERVED)


def prepare(http: httpx.Client) -> dict[str, str]:
    """The memories, the profile job and the webhook the walk's calls name."""
    made = http.post("/v1/memories/", json={"messages": [{"role": "user", "content": t} for t in
                                                         ("I live in Paris", "I like tea", "I like jazz")],
                                            "user_id": "walker", "infer": False})
    assert made.status_code == 200, made.text
    m, n, o = (r["id"] for r in made.json()["results"])
    http.post("/v1/memories/", json={"messages": "I am leaving", "user_id": "leaver", "infer": False})
    job = http.post("/v2/profiles/jobs/", json={"operation": "trigger", "entity_type": "user", "entity_id": "walker"})
    assert job.status_code == 200, job.text
    project = http.get("/v1/ping/").json()["project_id"]
    hook = http.post(f"/api/v1/webhooks/projects/{project}/",
                     json={"url": "http://127.0.0.1:9/h", "name": "walked", "event_types": ["memory_delete"]})
    assert hook.status_code == 200, hook.text
    return {"m": m, "n": n, "o": o, "job": job.json()["job_id"], "project": project,
            "hook": str(hook.json()["webhook_id"])}


def check(seen: list[tuple[str, str, int]]) -> None:
    bad = [s for s in seen if s[2] == 404 or s[2] >= 500]
    assert not bad, bad
    assert len(seen) >= len(CALLS)


def test_every_method_of_the_sync_client(server: Server) -> None:
    key = server.key("walk")
    seen: list[tuple[str, str, int]] = []
    http = httpx.Client(timeout=30, event_hooks={"response": [lambda r: seen.append(
        (r.request.method, r.request.url.path, r.status_code))]})
    client = MemoryClient(api_key=key, host=server.url, client=http)
    try:
        ids = prepare(client.client)
        for call in CALLS.values():
            call(client, ids)
    finally:
        http.close()
    check(seen)


def test_every_method_of_the_async_client(server: Server) -> None:
    key = server.key("walk")
    seen: list[tuple[str, str, int]] = []

    async def hook(r: httpx.Response) -> None:
        seen.append((r.request.method, r.request.url.path, r.status_code))

    async def walk() -> None:
        http = httpx.AsyncClient(timeout=30, event_hooks={"response": [hook]})
        client = AsyncMemoryClient(api_key=key, host=server.url, client=http)
        try:
            with httpx.Client(base_url=server.url, headers={"Authorization": f"Token {key}"}, timeout=30) as sync:
                ids = prepare(sync)
            for call in CALLS.values():
                await call(client, ids)
        finally:
            await http.aclose()

    asyncio.run(walk())
    check(seen)
