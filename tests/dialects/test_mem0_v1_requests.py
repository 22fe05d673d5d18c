"""The exact requests `mem0ai` 1.0.11 makes, replayed with httpx, and the answer shapes that client parses.

Read from mem0ai 1.0.11's `mem0/client/main.py`: after the ping, the client knows org_id and
project_id and sends both on every request — as query params on GET/PUT/DELETE, in the JSON body on
POST. `add` posts to /v1/memories/ with `async_mode: true` and `output_format: "v1.1"`; `get_all`
and `search` post to the v2 routes and wrap a bare list in `{"results": [...]}` themselves.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from memvault.testing.server import Server

MEMORY_FIELDS = {"id", "memory", "user_id", "agent_id", "app_id", "run_id", "metadata", "categories",
                 "hash", "created_at", "updated_at", "expiration_date"}


class V1Client:
    """What mem0ai 1.0.11's MemoryClient puts on the wire, request for request."""

    def __init__(self, server: Server, key: str) -> None:
        self.http = httpx.Client(base_url=server.url, timeout=30, headers={
            "Authorization": f"Token {key}",
            "Mem0-User-ID": hashlib.md5(key.encode()).hexdigest(),
        })
        ping = self.http.get("/v1/ping/")
        ping.raise_for_status()
        data = ping.json()
        self.org_id, self.project_id = data["org_id"], data["project_id"]

    def scoped(self, extra: dict[str, Any] | None = None) -> dict[str, Any]:
        out = dict(extra or {})
        out.update(org_id=self.org_id, project_id=self.project_id)
        return {k: v for k, v in out.items() if v is not None}

    def add(self, messages: Any, **kwargs: Any) -> httpx.Response:
        if isinstance(messages, str):
            messages = [{"role": "user", "content": messages}]
        body = self.scoped(kwargs)
        body.setdefault("async_mode", True)
        body["output_format"] = "v1.1"
        return self.http.post("/v1/memories/", json={"messages": messages, **body})

    def get_all(self, **kwargs: Any) -> httpx.Response:
        body = self.scoped(kwargs)
        body.pop("async_mode", None)
        if "page" in body and "page_size" in body:
            query = {"page": body.pop("page"), "page_size": body.pop("page_size")}
            return self.http.post("/v2/memories/", json=body, params=query)
        return self.http.post("/v2/memories/", json=body)

    def search(self, query: str, **kwargs: Any) -> httpx.Response:
        body = self.scoped(kwargs)
        body.pop("async_mode", None)
        return self.http.post("/v2/memories/search/", json={"query": query, **body})

    def get(self, memory_id: str) -> httpx.Response:
        return self.http.get(f"/v1/memories/{memory_id}/", params=self.scoped())

    def update(self, memory_id: str, **payload: Any) -> httpx.Response:
        return self.http.put(f"/v1/memories/{memory_id}/", json=payload, params=self.scoped())

    def delete(self, memory_id: str) -> httpx.Response:
        return self.http.delete(f"/v1/memories/{memory_id}/", params=self.scoped())

    def delete_all(self, **kwargs: Any) -> httpx.Response:
        return self.http.delete("/v1/memories/", params=self.scoped(kwargs))

    def history(self, memory_id: str) -> httpx.Response:
        return self.http.get(f"/v1/memories/{memory_id}/history/", params=self.scoped())

    def users(self) -> httpx.Response:
        return self.http.get("/v1/entities/", params=self.scoped())

    def delete_entity(self, kind: str, name: str) -> httpx.Response:
        return self.http.delete(f"/v2/entities/{kind}/{name}/", params=self.scoped())

    def batch_update(self, memories: list[dict[str, Any]]) -> httpx.Response:
        return self.http.put("/v1/batch/", json={"memories": memories})

    def batch_delete(self, memories: list[dict[str, Any]]) -> httpx.Response:
        return self.http.request("DELETE", "/v1/batch/", json={"memories": memories})


@pytest.fixture
def v1(server: Server) -> Iterator[V1Client]:
    client = V1Client(server, server.key("test"))
    yield client
    client.http.close()


def ok(response: httpx.Response) -> Any:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    return response.json()


def add_texts(v1: V1Client, texts: list[str], **kwargs: Any) -> list[str]:
    answer = ok(v1.add([{"role": "user", "content": t} for t in texts], infer=False, **kwargs))
    return [r["id"] for r in answer["results"]]


def test_ping_answers_the_ids_the_client_then_sends(server: Server, v1: V1Client) -> None:
    answer = ok(v1.http.get("/v1/ping/"))
    assert answer["status"] == "ok"
    assert answer["org_id"] and answer["project_id"] == server.engine.project("test").id
    assert "user_email" in answer


def test_healthz_needs_no_key_and_says_whether_the_vector_index_is_ready(server: Server) -> None:
    answer = httpx.get(server.url + "/healthz")
    assert answer.status_code == 200 and answer.json() == {"status": "ok", "vector_index": "ready"}


def test_ping_with_an_unknown_key_is_401_with_detail(server: Server) -> None:
    answer = httpx.get(server.url + "/v1/ping/", headers={"Authorization": "Token mv_nope"})
    assert answer.status_code == 401
    assert answer.json()["detail"]


def test_add_v1_with_async_mode_and_v1_1_format(v1: V1Client) -> None:
    answer = ok(v1.add("I like hiking", user_id="alice", metadata={"from": "v1"}, infer=False))
    assert list(answer) == ["results"]
    (result,) = answer["results"]
    assert result["event"] == "ADD" and result["memory"] == "I like hiking"
    assert result["data"] == {"memory": "I like hiking"}
    stored = ok(v1.get(result["id"]))
    assert stored["user_id"] == "alice" and stored["metadata"] == {"from": "v1"}


def test_add_v1_infers_facts_by_default(v1: V1Client) -> None:
    answer = ok(v1.add("I moved to Lyon and I am vegetarian", user_id="alice"))
    assert len(answer["results"]) == 2
    assert ok(v1.add("I moved to Lyon and I am vegetarian", user_id="alice"))["results"] == []


def test_add_v1_with_output_format_v1_0_answers_a_bare_list(v1: V1Client) -> None:
    body = {"messages": [{"role": "user", "content": "plain"}], "user_id": "alice", "infer": False,
            "output_format": "v1.0", **v1.scoped()}
    answer = ok(v1.http.post("/v1/memories/", json=body))
    assert isinstance(answer, list) and answer[0]["memory"] == "plain"


def test_get_all_v2_answers_a_plain_list(v1: V1Client) -> None:
    ids = add_texts(v1, ["one", "two", "three"], user_id="alice")
    add_texts(v1, ["bob's"], user_id="bob")
    answer = ok(v1.get_all(user_id="alice"))
    assert isinstance(answer, list)
    assert sorted(m["id"] for m in answer) == sorted(ids)
    assert all(MEMORY_FIELDS <= set(m) for m in answer)
    by_filters = ok(v1.get_all(filters={"AND": [{"user_id": "alice"}]}))
    assert sorted(m["id"] for m in by_filters) == sorted(ids)


def test_get_all_v2_with_page_and_page_size_answers_the_envelope(v1: V1Client) -> None:
    ids = add_texts(v1, [f"fact {i}" for i in range(5)], user_id="alice")
    first = ok(v1.get_all(user_id="alice", page=1, page_size=2))
    assert set(first) == {"count", "next", "previous", "results"}
    assert first["count"] == 5 and len(first["results"]) == 2
    assert first["previous"] is None and first["next"]
    last = ok(v1.get_all(user_id="alice", page=3, page_size=2))
    assert last["next"] is None and last["previous"] and len(last["results"]) == 1
    middle = ok(v1.get_all(user_id="alice", page=2, page_size=2))
    seen = [m["id"] for page in (first, middle, last) for m in page["results"]]
    assert sorted(seen) == sorted(ids)


def test_get_all_v2_with_only_page_answers_a_plain_list(v1: V1Client) -> None:
    add_texts(v1, ["one"], user_id="alice")
    assert isinstance(ok(v1.get_all(user_id="alice", page=1)), list)


def test_search_v2_answers_a_plain_list_of_scored_memories(v1: V1Client) -> None:
    add_texts(v1, ["Loves Italian food", "Plays the cello"], user_id="alice")
    add_texts(v1, ["Loves Italian food too"], user_id="bob")
    answer = ok(v1.search("Italian food", user_id="alice", top_k=5))
    assert isinstance(answer, list)
    assert answer[0]["memory"] == "Loves Italian food"
    assert {m["user_id"] for m in answer} == {"alice"}
    assert all(MEMORY_FIELDS <= set(m) and 0 <= m["score"] <= 1 for m in answer)
    filtered = ok(v1.search("food", filters={"OR": [{"user_id": "bob"}]}, top_k=5))
    assert [m["memory"] for m in filtered] == ["Loves Italian food too"]
    assert len(ok(v1.search("food", user_id="alice", top_k=1))) == 1


def test_get_update_history_delete_carry_the_ids_as_query_params(v1: V1Client) -> None:
    (mid,) = add_texts(v1, ["Lives in Paris"], user_id="alice")
    assert ok(v1.get(mid))["memory"] == "Lives in Paris"
    updated = ok(v1.update(mid, text="Lives in Lyon", metadata={"k": "v"}, timestamp=1700000000))
    assert updated["memory"] == "Lives in Lyon" and updated["metadata"] == {"k": "v"}
    events = ok(v1.history(mid))
    assert [e["event"] for e in events] == ["ADD", "UPDATE"]
    assert {"id", "memory_id", "old_memory", "new_memory", "event", "input", "created_at", "updated_at"} <= set(events[1])
    assert ok(v1.delete(mid))["message"] == "Memory deleted successfully!"
    gone = v1.get(mid)
    assert gone.status_code == 404 and gone.json()["error"] == "Memory not found!"


def test_delete_all_with_the_ids_as_params(v1: V1Client) -> None:
    add_texts(v1, ["a1"], user_id="alice")
    add_texts(v1, ["b1"], user_id="bob")
    assert "message" in ok(v1.delete_all(user_id="alice"))
    assert ok(v1.get_all(user_id="alice")) == []
    assert len(ok(v1.get_all(user_id="bob"))) == 1
    # org_id and project_id alone are not a filter.
    refused = v1.delete_all()
    assert refused.status_code == 400 and refused.json()["detail"]
    assert len(ok(v1.get_all(user_id="bob"))) == 1


def test_users_and_delete_entity(v1: V1Client) -> None:
    add_texts(v1, ["a1"], user_id="alice")
    add_texts(v1, ["h1"], agent_id="helper")
    answer = ok(v1.users())
    assert {(e["type"], e["name"]) for e in answer["results"]} == {("user", "alice"), ("agent", "helper")}
    assert "message" in ok(v1.delete_entity("user", "alice"))
    assert {(e["type"], e["name"]) for e in ok(v1.users())["results"]} == {("agent", "helper")}


def test_batch_update_and_batch_delete(v1: V1Client) -> None:
    ids = add_texts(v1, ["one", "two"], user_id="alice")
    assert ok(v1.batch_update([{"memory_id": ids[0], "text": "uno"}, {"memory_id": ids[1], "metadata": {"n": 2}}])) \
        == {"message": "Successfully updated 2 memories"}
    assert ok(v1.get(ids[0]))["memory"] == "uno"
    assert ok(v1.batch_delete([{"memory_id": i} for i in ids]))["message"] == "Successfully deleted 2 memories"
    assert ok(v1.get_all(user_id="alice")) == []
