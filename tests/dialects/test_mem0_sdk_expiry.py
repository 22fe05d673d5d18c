"""Expiry over the official `mem0ai` 2.2.1 MemoryClient against a real server, on both stores: an expiration date
is a UTC day that is still live; list and search leave out what expired unless `show_expired=true`, which must be
a JSON boolean; null clears the date. The library and the MCP tools take the same flag."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
import httpx
import pytest
from mem0 import MemoryClient

from memvault import Memory as Library
from memvault.engine import Engine
from memvault.errors import InvalidInput
from memvault.testing.mcp_client import call, fails, http_session
from memvault.testing.server import Server


def day(offset: int) -> str:
    """A UTC day as YYYY-MM-DD, `offset` days from today."""
    return (datetime.now(UTC).date() + timedelta(days=offset)).isoformat()


@pytest.fixture
def key(server: Server) -> str:
    return server.key("test")


@pytest.fixture
def client(server: Server, key: str) -> Iterator[MemoryClient]:
    made = MemoryClient(api_key=key, host=server.url, client=httpx.Client(timeout=30))
    yield made
    made.client.close()


@pytest.fixture
def http(server: Server, key: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Token {key}"}, timeout=30) as made:
        yield made


def add(client: MemoryClient, text: str, expiration_date: str | None) -> str:
    extra: dict[str, Any] = {"expiration_date": expiration_date} if expiration_date else {}
    answer = client.add([{"role": "user", "content": text}], user_id="dana", infer=False, **extra)
    return str(answer["results"][0]["id"])


@pytest.fixture
def dated(client: MemoryClient) -> dict[str, str]:
    """Four memories of Dana's, about her garden, expiring yesterday, today, tomorrow and never; their ids."""
    return {
        "yesterday": add(client, "Dana waters the garden on Mondays", day(-1)),
        "today": add(client, "Dana waters the garden on Tuesdays", day(0)),
        "tomorrow": add(client, "Dana waters the garden on Wednesdays", day(1)),
        "never": add(client, "Dana waters the garden on Thursdays", None),
    }


def ids(results: list[dict[str, Any]]) -> set[str]:
    return {r["id"] for r in results}


def test_a_memory_expiring_today_is_live_today_and_yesterdays_is_not(client: MemoryClient,
                                                                     dated: dict[str, str]) -> None:
    live = {dated["today"], dated["tomorrow"], dated["never"]}
    assert ids(client.get_all(filters={"user_id": "dana"})["results"]) == live
    assert ids(client.search("garden", filters={"user_id": "dana"}, top_k=10)["results"]) == live
    assert client.get(dated["yesterday"])["expiration_date"].startswith(day(-1))  # get by id still answers


def test_show_expired_lists_and_finds_expired_memories_too(client: MemoryClient, dated: dict[str, str]) -> None:
    every = set(dated.values())
    assert ids(client.get_all(filters={"user_id": "dana"}, show_expired=True)["results"]) == every
    found = client.search("garden", filters={"user_id": "dana"}, top_k=10, show_expired=True)["results"]
    assert ids(found) == every
    assert ids(client.get_all(filters={"user_id": "dana"}, show_expired=False)["results"]) == every - {dated["yesterday"]}


def test_show_expired_on_v2_list_and_search(http: httpx.Client, dated: dict[str, str]) -> None:
    listed = http.post("/v2/memories/", json={"filters": {"user_id": "dana"}, "show_expired": True})
    assert listed.status_code == 200 and ids(listed.json()) == set(dated.values())
    paged = http.post("/v2/memories/", json={"filters": {"user_id": "dana"}, "show_expired": True,
                                             "page": 1, "page_size": 10})
    assert paged.status_code == 200 and paged.json()["count"] == 4
    found = http.post("/v2/memories/search/", json={"query": "garden", "filters": {"user_id": "dana"},
                                                    "show_expired": True})
    assert found.status_code == 200 and ids(found.json()) == set(dated.values())
    hidden = http.post("/v2/memories/search/", json={"query": "garden", "filters": {"user_id": "dana"}})
    assert hidden.status_code == 200 and dated["yesterday"] not in ids(hidden.json())


@pytest.mark.parametrize("flag", ["true", "yes", 1, 0, [], {}])
@pytest.mark.parametrize("path", ["/v3/memories/", "/v3/memories/search/", "/v2/memories/", "/v2/memories/search/"])
def test_show_expired_that_is_not_a_boolean_is_a_400(http: httpx.Client, path: str, flag: object) -> None:
    body = {"query": "garden", "filters": {"user_id": "dana"}, "show_expired": flag}
    answer = http.post(path, json=body)
    assert answer.status_code == 400, answer.text
    assert "show_expired" in answer.json()["detail"]


def test_an_update_moves_a_memory_out_of_expiry_and_null_clears_the_date(client: MemoryClient,
                                                                         dated: dict[str, str]) -> None:
    mid = dated["never"]
    client.update(mid, expiration_date=day(-1))
    assert mid not in ids(client.get_all(filters={"user_id": "dana"})["results"])
    assert mid in ids(client.get_all(filters={"user_id": "dana"}, show_expired=True)["results"])
    client.update(mid, expiration_date=day(0))
    assert mid in ids(client.get_all(filters={"user_id": "dana"})["results"])
    client.update(dated["yesterday"], expiration_date=None)
    assert client.get(dated["yesterday"])["expiration_date"] is None
    assert dated["yesterday"] in ids(client.get_all(filters={"user_id": "dana"})["results"])


@pytest.mark.parametrize("bad", ["2026-02-30", "tomorrow", "30/11/2026", "2026-13-01"])
def test_a_bad_expiration_date_is_a_400_and_changes_nothing(http: httpx.Client, dated: dict[str, str],
                                                            bad: str) -> None:
    added = http.post("/v3/memories/add/", json={"messages": "Dana sows tomatoes", "user_id": "dana",
                                                 "infer": False, "expiration_date": bad})
    assert added.status_code == 400 and "expiration_date" in added.json()["detail"]
    updated = http.put(f"/v1/memories/{dated['today']}/", json={"expiration_date": bad})
    assert updated.status_code == 400
    assert http.get(f"/v1/memories/{dated['today']}/").json()["expiration_date"].startswith(day(0))
    listed = http.post("/v3/memories/", json={"filters": {"user_id": "dana"}, "show_expired": True})
    assert listed.json()["count"] == 4


def test_the_library_takes_show_expired(engine: Engine, client: MemoryClient, dated: dict[str, str]) -> None:
    library = Library(engine=engine, project="test")
    assert {r["id"] for r in library.get_all(user_id="dana")["results"]} == set(dated.values()) - {dated["yesterday"]}
    assert {r["id"] for r in library.get_all(user_id="dana", show_expired=True)["results"]} == set(dated.values())
    found = library.search("garden", user_id="dana", show_expired=True)["results"]
    assert {r["id"] for r in found} == set(dated.values())
    with pytest.raises(InvalidInput, match="show_expired"):
        library.get_all(user_id="dana", show_expired="yes")  # type: ignore[arg-type]


def test_mcp_tools_take_show_expired_and_refuse_a_non_boolean(server: Server, key: str,
                                                              dated: dict[str, str]) -> None:
    async def main() -> None:
        async with http_session(server.url, key) as session:
            listed = await call(session, "list_memories", user_id="dana")
            assert ids(listed["results"]) == set(dated.values()) - {dated["yesterday"]}
            every = await call(session, "list_memories", user_id="dana", show_expired=True)
            assert ids(every["results"]) == set(dated.values())
            found = await call(session, "search_memories", query="garden", user_id="dana", show_expired=True)
            assert ids(found["results"]) == set(dated.values())
            refused = await fails(session, "list_memories", user_id="dana", show_expired="yes")
            assert "invalid argument: show_expired" in refused

    anyio.run(main)
