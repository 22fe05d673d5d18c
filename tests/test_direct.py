"""The direct routes (memvault.direct): the adds and the Mem0 searches answered past FastAPI's router answer as FastAPI
would, whatever the request, refuse a revoked key from the next request on, and are logged under their route; a face
cannot name a route it does not have, nor one whose handler does not fit."""

from __future__ import annotations

import json
import logging
from typing import Any

import httpx
import pytest
from fastapi import APIRouter

from memvault.dialects.mem0 import Mem0Dialect
from memvault.engine import Engine
from memvault.faces import EngineDep, Face, ProjectDep
from memvault.http import create_app
from memvault.testing.server import Server


def add(server: Server, key: str, content_type: str, body: bytes, path: str = "/v1/memories/") -> httpx.Response:
    return httpx.post(server.url + path, content=body,
                      headers={"Authorization": f"Token {key}", "Content-Type": content_type})


ADD = json.dumps({"messages": [{"role": "user", "content": "I like green tea"}], "user_id": "alice",
                  "infer": False}).encode()


@pytest.mark.parametrize("content_type", ["application/json", "application/json; charset=utf-8", "Application/JSON",
                                          "application/vnd.api+json"])
def test_an_add_answers_alike_under_every_json_content_type(server: Server, content_type: str) -> None:
    answer = add(server, server.key(), content_type, ADD)
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/json"
    [result] = answer.json()["results"]
    assert result["event"] == "ADD" and result["memory"] == "I like green tea" and set(result) == {"id", "event",
                                                                                                    "memory", "data"}


@pytest.mark.parametrize(("content_type", "body", "status"), [
    ("text/plain", ADD, 400),  # not JSON to FastAPI either
    ("application/json", b'{"messages": [oops', 400),
    ("application/json", b'{"messages": 5, "user_id": "alice"}', 400),
    ("application/json", b"[" * 100_000 + b"]" * 100_000, 400),  # deeper than the JSON parser goes
    ("application/json", b'{"messages": "I like tea"}', 400),  # no owner: the engine's refusal
])
def test_a_request_the_direct_route_does_not_take_gets_the_answer_it_got_before(
        server: Server, content_type: str, body: bytes, status: int) -> None:
    key = server.key()
    for path in ("/v1/memories/", "/v3/memories/add/"):
        answer = add(server, key, content_type, body, path)
        assert answer.status_code == status
        assert set(answer.json()) == {"error", "detail"} and answer.json()["error"]


SEARCHES = ("/v1/memories/search/", "/v2/memories/search/", "/v3/memories/search/")


def test_a_search_answers_the_same_bytes_past_the_router_as_through_it(server: Server) -> None:
    """`application/json` takes the direct route, another JSON content type FastAPI's: the same answer, byte for
    byte, for each of the three search paths, hits and errors alike."""
    assert {("POST", path) for path in SEARCHES} <= Mem0Dialect.direct  # so the two ways in really differ
    key = server.key()
    for text in ("I like green tea", "I live in Lyon", "My sister plays the cello"):
        body = json.dumps({"messages": [{"role": "user", "content": text}], "user_id": "alice", "infer": False})
        assert add(server, key, "application/json", body.encode()).status_code == 200
    bodies = [
        {"query": "green tea", "filters": {"user_id": "alice"}, "top_k": 2},
        {"query": "music", "user_id": "alice", "top_k": 1, "threshold": 0.0},
        {"query": "tea", "filters": {"AND": [{"user_id": "alice"}, {"created_at": {"gte": "2000-01-01"}}]}},
        {"query": "tea"},  # no owner: v3 refuses it, the older paths answer
        {"query": "tea", "filters": {"user_id": "alice"}, "top_k": 0},  # out of range
        {"query": "\ud800 tea", "filters": {"user_id": "alice"}},
    ]
    for path in SEARCHES:
        for b in bodies:
            raw = json.dumps(b).encode()
            direct = add(server, key, "application/json", raw, path)
            routed = add(server, key, "application/vnd.api+json", raw, path)
            assert (direct.status_code, direct.content) == (routed.status_code, routed.content), (path, b)
    hits = add(server, key, "application/json", json.dumps(bodies[0]).encode(), "/v3/memories/search/").json()
    assert hits["results"][0]["memory"] == "I like green tea"


def test_a_revoked_key_is_refused_from_the_next_add_on(server: Server, engine: Engine) -> None:
    key, clear = engine.create_key("test", "soon revoked")
    assert add(server, clear, "application/json", ADD).status_code == 200
    assert httpx.post(server.url + "/api/memory", json={"text": "I like tea"},
                      headers={"Authorization": f"Bearer {clear}"}).status_code == 200
    engine.revoke_key(key.id)
    assert add(server, clear, "application/json", ADD).status_code == 401
    search = json.dumps({"query": "tea", "filters": {"user_id": "alice"}}).encode()
    assert add(server, clear, "application/json", search, "/v3/memories/search/").status_code == 401
    assert httpx.post(server.url + "/api/memory", json={"text": "I like tea"},
                      headers={"Authorization": f"Bearer {clear}"}).status_code == 401


def test_a_direct_add_is_logged_under_its_route(server: Server, caplog: pytest.LogCaptureFixture) -> None:
    key = server.key()
    with caplog.at_level(logging.INFO, logger="memvault.access"):
        assert add(server, key, "application/json", ADD, "/v3/memories/add/").status_code == 200
        assert httpx.post(server.url + "/api/memory", json={"text": "I like tea", "bucketId": "nowhere"},
                          headers={"Authorization": f"Bearer {key}"}).status_code == 404
    lines = [(r.memvault_fields["route"], r.memvault_fields["status"]) for r in caplog.records  # type: ignore[attr-defined]
             if r.name == "memvault.access"]
    assert lines == [("/v3/memories/add/", 200), ("/api/memory", 404)]


class _Named(Face):
    name = "named"
    prefixes = ("/x/",)

    def __init__(self, direct: frozenset[tuple[str, str]], router: APIRouter) -> None:
        self.direct, self._router = direct, router

    def router(self) -> APIRouter:
        return self._router


def test_a_face_cannot_name_a_direct_route_it_does_not_have(engine: Engine) -> None:
    with pytest.raises(ValueError, match="/x/nothing"):
        create_app(engine, dialects=[Mem0Dialect(), _Named(frozenset({("POST", "/x/nothing")}), APIRouter())])


def test_a_direct_route_takes_a_body_the_engine_and_the_project(engine: Engine) -> None:
    router = APIRouter()

    @router.post("/x/add", summary="An add with a query parameter too")
    def odd(body: dict[str, Any], engine: EngineDep, project: ProjectDep, extra: str = "") -> dict[str, Any]:
        """Not a direct route's shape."""
        return {}

    with pytest.raises(TypeError, match="/x/add"):
        create_app(engine, dialects=[_Named(frozenset({("POST", "/x/add")}), router)])
