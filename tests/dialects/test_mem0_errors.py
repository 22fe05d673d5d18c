"""Every Mem0 route refuses bad requests with the right status and a JSON body, never a 500, and
leaves the store as it was. Another project's key sees exactly what an unknown id would show."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute

from memvault.dialects import mem0
from memvault.engine import Engine
from memvault.testing.server import Server

UNKNOWN = "00000000-0000-4000-8000-00000000abcd"
NOT_FOUND = {"error": "Memory not found!"}
BAD_UUID = {"error": "memory_id should be a valid UUID"}


@dataclass(frozen=True)
class Route:
    method: str
    template: str  # as the router declares it
    path: str  # a concrete path; "{mid}" is replaced by a memory id
    body: dict[str, Any] | None = None  # a valid JSON body, for routes that take one

    def url(self, mid: str) -> str:
        return self.path.replace("{mid}", mid)

    def json_body(self, mid: str) -> Any:
        return json.loads(json.dumps(self.body).replace("{mid}", mid)) if self.body is not None else None


MESSAGES = [{"role": "user", "content": "a fresh fact"}]
PROJECT = "/api/v1/orgs/organizations/{org_id}/projects/{project_id}/"
ROUTES = [
    Route("GET", "/v1/ping/", "/v1/ping/"),
    Route("POST", "/v3/memories/add/", "/v3/memories/add/", {"messages": MESSAGES, "user_id": "alice", "infer": False}),
    Route("POST", "/v1/memories/", "/v1/memories/", {"messages": MESSAGES, "user_id": "alice", "infer": False}),
    Route("GET", "/v1/memories/", "/v1/memories/?user_id=alice"),
    Route("POST", "/v3/memories/", "/v3/memories/", {"filters": {"user_id": "alice"}}),
    Route("POST", "/v2/memories/", "/v2/memories/", {"user_id": "alice"}),
    Route("POST", "/v3/memories/search/", "/v3/memories/search/", {"query": "tea", "filters": {"user_id": "alice"}}),
    Route("POST", "/v2/memories/search/", "/v2/memories/search/", {"query": "tea", "user_id": "alice"}),
    Route("POST", "/v1/memories/search/", "/v1/memories/search/", {"query": "tea", "user_id": "alice"}),
    Route("GET", "/v1/memories/{memory_id}/", "/v1/memories/{mid}/"),
    Route("PUT", "/v1/memories/{memory_id}/", "/v1/memories/{mid}/", {"text": "changed"}),
    Route("DELETE", "/v1/memories/{memory_id}/", "/v1/memories/{mid}/"),
    Route("DELETE", "/v1/memories/", "/v1/memories/?user_id=alice"),
    Route("GET", "/v1/memories/{memory_id}/history/", "/v1/memories/{mid}/history/"),
    Route("GET", "/v1/entities/", "/v1/entities/"),
    Route("DELETE", "/v2/entities/{entity_type}/{name}/", "/v2/entities/user/alice/"),
    Route("PUT", "/v1/batch/", "/v1/batch/", {"memories": [{"memory_id": "{mid}", "text": "changed"}]}),
    Route("DELETE", "/v1/batch/", "/v1/batch/", {"memories": [{"memory_id": "{mid}"}]}),
    # project settings: their bad bodies and ids are in test_mem0_sdk_project.py (the path holds the key's project)
    Route("GET", PROJECT, PROJECT.format(org_id="any", project_id="any")),
    Route("PATCH", PROJECT, PROJECT.format(org_id="any", project_id="any")),
]
BODY_ROUTES = [r for r in ROUTES if r.body is not None]
ID_ROUTES = [r for r in ROUTES if "{mid}" in r.path]


def test_the_route_table_covers_every_mem0_route() -> None:
    declared = {(m, r.path) for r in mem0.router.routes if isinstance(r, APIRoute) for m in r.methods or ()}
    assert declared == {(r.method, r.template) for r in ROUTES}


# helpers ------------------------------------------------------------------------------
class Api:
    def __init__(self, server: Server) -> None:
        self.server = server
        self.http = httpx.Client(base_url=server.url, timeout=30)

    def call(self, method: str, path: str, key: str | None, *, body: Any = None, content: bytes | None = None,
             headers: dict[str, str] | None = None) -> httpx.Response:
        sent = dict(headers or {})
        if key is not None:
            sent["Authorization"] = f"Token {key}"
        if content is not None:
            sent.setdefault("Content-Type", "application/json")
            return self.http.request(method, path, content=content, headers=sent)
        if body is not None:
            return self.http.request(method, path, json=body, headers=sent)
        return self.http.request(method, path, headers=sent)


@pytest.fixture
def api(server: Server) -> Iterator[Api]:
    made = Api(server)
    yield made
    made.http.close()


@dataclass
class Tenant:
    key: str
    project_id: str
    ids: list[str]


def seed(engine: Engine, server: Server, project: str) -> Tenant:
    key = server.key(project)
    pid = engine.project(project).id
    from memvault.engine import Owners
    from memvault.extract.base import Message

    results = engine.add(pid, [Message("user", f"{project} drinks green tea"), Message("user", f"{project} hikes")],
                         Owners(user_id="alice", agent_id="helper"), metadata={"p": project})
    return Tenant(key, pid, [r.memory.id for r in results])


@pytest.fixture
def tenant(engine: Engine, server: Server) -> Tenant:
    return seed(engine, server, "alpha")


def snapshot(engine: Engine, project_id: str) -> Any:
    """Everything a read can show of a project: memories, entities with counts, every history."""
    page = engine.store.list(project_id, None, 10_000, 0)
    memories = sorted((m.id, m.text, json.dumps(m.metadata), m.updated_at.isoformat()) for m in page.items)
    entities = sorted((e.type, e.name, e.total_memories) for e in engine.entities(project_id))
    history = {m.id: [(e.event, e.old_text, e.new_text) for e in engine.store.history(project_id, m.id)]
               for m in page.items}
    return memories, entities, history


def assert_json_error(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, (response.request.method, response.request.url, response.text)
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert isinstance(body, dict) and isinstance(body.get("error"), str) and body["error"]
    assert body.get("detail") == body["error"]  # the SDK reads `detail`
    return body


# authentication -----------------------------------------------------------------------
def test_missing_unknown_malformed_and_revoked_keys_are_401(api: Api, engine: Engine, tenant: Tenant) -> None:
    revoked, revoked_clear = engine.create_key("alpha", "old")
    engine.revoke_key(revoked.id)
    before = snapshot(engine, tenant.project_id)
    variants: list[dict[str, str]] = [
        {},
        {"Authorization": ""},
        {"Authorization": "Token mv_unknownkey"},
        {"Authorization": f"Token {revoked_clear}"},
        {"Authorization": f"Basic {tenant.key}"},
        {"Authorization": tenant.key},
    ]
    for route in ROUTES:
        for headers in variants:
            response = api.call(route.method, route.url(tenant.ids[0]), None, body=route.json_body(tenant.ids[0]),
                                headers=headers)
            assert_json_error(response, 401)
    assert snapshot(engine, tenant.project_id) == before


# malformed requests ---------------------------------------------------------------------
def test_malformed_json_is_400_and_changes_nothing(api: Api, engine: Engine, tenant: Tenant) -> None:
    before = snapshot(engine, tenant.project_id)
    for route in BODY_ROUTES:
        for raw in (b"{not json", b'{"messages": [', b"", b"\xff\xfe", b"null", b"[]", b'"text"', b"42"):
            response = api.call(route.method, route.url(tenant.ids[0]), tenant.key, content=raw)
            assert_json_error(response, 400)
    assert snapshot(engine, tenant.project_id) == before


WRONG_TYPES: dict[str, list[dict[str, Any]]] = {
    "/v3/memories/add/": [
        {"messages": 42, "user_id": "alice"}, {"messages": [{"role": "user", "content": 5}], "user_id": "alice"},
        {"messages": [1, 2], "user_id": "alice"}, {"messages": MESSAGES, "user_id": 7},
        {"messages": MESSAGES, "user_id": "alice", "metadata": "x"},
        {"messages": MESSAGES, "user_id": "alice", "infer": "perhaps"},
        {"messages": MESSAGES, "user_id": "alice", "categories": "food"},
        {"messages": MESSAGES, "user_id": "alice", "expiration_date": "next tuesday"},
        {"messages": [], "user_id": "alice"}, {"messages": "   ", "user_id": "alice", "infer": False},
    ],
    "/v3/memories/": [
        {"filters": "alice"}, {"filters": {"user_id": {"between": [1, 2]}}}, {"filters": {"nonsense": 1}},
        {"filters": {"AND": "x"}}, {"filters": {"created_at": {"gt": "yesterday"}}}, {"filters": {"user_id": ["a", {}]}},
        {"filters": {"user_id": "alice"}, "page": "one"}, {"filters": {"user_id": "alice"}, "page_size": 0},
    ],
    "/v3/memories/search/": [
        {"query": 5, "filters": {"user_id": "alice"}}, {"query": "tea", "filters": {"user_id": "alice"}, "top_k": "many"},
        {"query": "tea", "filters": {"user_id": "alice"}, "top_k": 0},
        {"query": "tea", "filters": {"user_id": "alice"}, "top_k": 5000},
        {"query": "tea", "filters": {"user_id": "alice"}, "threshold": 2},
        {"query": "tea", "filters": {"user_id": "alice"}, "threshold": "high"},
        {"query": "tea", "filters": {"memory_ids": "x"}}, {"query": "tea", "filters": {"metadata": 4}},
    ],
    "/v1/memories/{mid}/": [
        {"text": 5}, {"metadata": "x"}, {"text": "   "}, {"categories": "x"}, {"expiration_date": "someday"},
        {"text": "x" * 20_001},
    ],
    "/v1/batch/": [  # both batch routes
        {"memories": "x"}, {"memories": [1]}, {"memories": [{"memory_id": 5}]}, {"memories": {"memory_id": "{mid}"}},
    ],
    "PUT /v1/batch/": [
        {"memories": [{"memory_id": "{mid}", "text": 5}]}, {"memories": [{"memory_id": "{mid}", "metadata": []}]},
    ],
}


def test_wrong_types_and_bad_values_are_400_and_change_nothing(api: Api, engine: Engine, tenant: Tenant) -> None:
    before = snapshot(engine, tenant.project_id)
    same_model = {"/v1/memories/": "/v3/memories/add/", "/v2/memories/": "/v3/memories/",
                  "/v2/memories/search/": "/v3/memories/search/", "/v1/memories/search/": "/v3/memories/search/"}
    for route in BODY_ROUTES:
        model = same_model.get(route.path, route.path)
        bodies = WRONG_TYPES[model] + WRONG_TYPES.get(f"{route.method} {model}", [])
        for body in bodies:
            body = json.loads(json.dumps(body).replace("{mid}", tenant.ids[0]))
            assert_json_error(api.call(route.method, route.url(tenant.ids[0]), tenant.key, body=body), 400)
    assert snapshot(engine, tenant.project_id) == before


def test_bad_query_params_are_400(api: Api, engine: Engine, tenant: Tenant) -> None:
    before = snapshot(engine, tenant.project_id)
    for path in ("/v1/memories/?user_id=alice&page=abc", "/v1/memories/?user_id=alice&page=1&page_size=5000",
                 "/v1/memories/?page=0&page_size=1"):
        assert_json_error(api.call("GET", path, tenant.key), 400)
    for path in ("/v3/memories/?page=0", "/v3/memories/?page_size=abc", "/v2/memories/?page=-1&page_size=2"):
        assert_json_error(api.call("POST", path, tenant.key, body={"filters": {"user_id": "alice"}}), 400)
    assert_json_error(api.call("DELETE", "/v2/entities/planet/earth/", tenant.key), 400)
    assert snapshot(engine, tenant.project_id) == before


def test_missing_fields_are_400_and_change_nothing(api: Api, engine: Engine, tenant: Tenant) -> None:
    before = snapshot(engine, tenant.project_id)
    missing = [
        ("POST", "/v3/memories/add/", {"user_id": "alice"}),
        ("POST", "/v1/memories/", {"user_id": "alice"}),
        ("POST", "/v3/memories/add/", {"messages": MESSAGES}),  # no owner at all
        ("POST", "/v3/memories/add/", {"messages": [{"role": "user"}], "user_id": "alice"}),
        ("POST", "/v3/memories/", {}),  # v3 wants an entity filter
        ("POST", "/v3/memories/", {"filters": {"metadata": {"p": "alpha"}}}),
        ("POST", "/v3/memories/search/", {"filters": {"user_id": "alice"}}),
        ("POST", "/v3/memories/search/", {"query": "tea"}),
        ("POST", "/v2/memories/search/", {"user_id": "alice"}),
        ("POST", "/v1/memories/search/", {}),
        ("PUT", "/v1/memories/{mid}/", {}),
        ("PUT", "/v1/memories/{mid}/", {"timestamp": 1700000000}),
        ("PUT", "/v1/batch/", {}),
        ("PUT", "/v1/batch/", {"memories": []}),
        ("PUT", "/v1/batch/", {"memories": [{"text": "x"}]}),
        ("PUT", "/v1/batch/", {"memories": [{"memory_id": "{mid}"}]}),  # nothing to change
        ("DELETE", "/v1/batch/", {}),
        ("DELETE", "/v1/batch/", {"memories": []}),
        ("DELETE", "/v1/batch/", {"memories": [{}]}),
        ("DELETE", "/v1/memories/", None),  # delete_all without a filter
    ]
    for method, path, body in missing:
        body = json.loads(json.dumps(body).replace("{mid}", tenant.ids[0])) if body is not None else None
        assert_json_error(api.call(method, path.replace("{mid}", tenant.ids[0]), tenant.key, body=body), 400)
    assert snapshot(engine, tenant.project_id) == before


@pytest.mark.parametrize("query", ["", "   ", "\n\t"])
def test_an_empty_query_is_400(api: Api, tenant: Tenant, query: str) -> None:
    for route in ROUTES:
        if "search" in route.path:
            body = {**(route.body or {}), "query": query}
            assert_json_error(api.call(route.method, route.path, tenant.key, body=body), 400)


# ids ------------------------------------------------------------------------------------
def test_a_malformed_id_is_400_memory_id_should_be_a_valid_uuid(api: Api, engine: Engine, tenant: Tenant) -> None:
    before = snapshot(engine, tenant.project_id)
    for bad in ("not-a-uuid", "123", "zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz", "%20"):
        for route in ID_ROUTES:
            response = api.call(route.method, route.url(bad), tenant.key, body=route.json_body(bad))
            assert assert_json_error(response, 400)["error"] == BAD_UUID["error"]
    assert snapshot(engine, tenant.project_id) == before


def test_an_unknown_id_is_404_memory_not_found(api: Api, engine: Engine, tenant: Tenant) -> None:
    before = snapshot(engine, tenant.project_id)
    for route in ID_ROUTES:
        response = api.call(route.method, route.url(UNKNOWN), tenant.key, body=route.json_body(UNKNOWN))
        assert assert_json_error(response, 404)["error"] == NOT_FOUND["error"]
    assert snapshot(engine, tenant.project_id) == before


def test_a_batch_with_one_unknown_or_malformed_id_changes_nothing(api: Api, engine: Engine, tenant: Tenant) -> None:
    before = snapshot(engine, tenant.project_id)
    for other, status in ((UNKNOWN, 404), ("nope", 400)):
        update = {"memories": [{"memory_id": tenant.ids[0], "text": "changed"}, {"memory_id": other, "text": "x"}]}
        assert_json_error(api.call("PUT", "/v1/batch/", tenant.key, body=update), status)
        delete = {"memories": [{"memory_id": tenant.ids[0]}, {"memory_id": other}]}
        assert_json_error(api.call("DELETE", "/v1/batch/", tenant.key, body=delete), status)
    duplicate = {"memories": [{"memory_id": tenant.ids[0], "text": "a"}, {"memory_id": tenant.ids[0], "text": "b"}]}
    assert_json_error(api.call("PUT", "/v1/batch/", tenant.key, body=duplicate), 400)
    assert snapshot(engine, tenant.project_id) == before


def test_a_batch_over_1000_is_400_and_changes_nothing(api: Api, engine: Engine, tenant: Tenant) -> None:
    before = snapshot(engine, tenant.project_id)
    ids = [tenant.ids[0], tenant.ids[1]] + [f"00000000-0000-4000-8000-{i:012d}" for i in range(999)]
    assert len(ids) == 1001
    update = {"memories": [{"memory_id": i, "text": "changed"} for i in ids]}
    body = assert_json_error(api.call("PUT", "/v1/batch/", tenant.key, body=update), 400)
    assert "1000" in body["error"]
    delete = {"memories": [{"memory_id": i} for i in ids]}
    body = assert_json_error(api.call("DELETE", "/v1/batch/", tenant.key, body=delete), 400)
    assert "1000" in body["error"]
    assert snapshot(engine, tenant.project_id) == before


# size limit -----------------------------------------------------------------------------
@pytest.fixture
def small_server(engine: Engine) -> Iterator[Server]:
    with Server(engine, max_body_bytes=2048) as srv:
        yield srv


def test_a_body_over_the_limit_is_413_json_and_changes_nothing(small_server: Server, engine: Engine) -> None:
    tenant = seed(engine, small_server, "alpha")
    before = snapshot(engine, tenant.project_id)
    api = Api(small_server)
    try:
        for route in BODY_ROUTES:
            big = dict(route.json_body(tenant.ids[0]))
            big["padding"] = "x" * 4096
            response = api.call(route.method, route.url(tenant.ids[0]), tenant.key, body=big)
            assert_json_error(response, 413)

            def chunks(payload: bytes = json.dumps(big).encode()) -> Iterator[bytes]:
                for start in range(0, len(payload), 512):
                    yield payload[start:start + 512]

            streamed = api.http.request(route.method, route.url(tenant.ids[0]), content=chunks(),
                                        headers={"Authorization": f"Token {tenant.key}",
                                                 "Content-Type": "application/json"})
            assert "content-length" not in streamed.request.headers
            assert_json_error(streamed, 413)
        # Just under the limit still works.
        ok = api.call("POST", "/v3/memories/add/", tenant.key,
                      body={"messages": [{"role": "user", "content": "y" * 1500}], "user_id": "bob", "infer": False})
        assert ok.status_code == 200
    finally:
        api.http.close()
    after = snapshot(engine, tenant.project_id)[0]
    assert sorted(m[1] for m in after) == sorted([m[1] for m in before[0]] + ["y" * 1500])
    assert set(before[0]) <= set(after)


# tenants --------------------------------------------------------------------------------
def test_another_projects_key_sees_exactly_what_an_unknown_id_shows(api: Api, engine: Engine, server: Server,
                                                                     tenant: Tenant) -> None:
    intruder = seed(engine, server, "beta")
    before = snapshot(engine, tenant.project_id)
    for route in ID_ROUTES:
        theirs = api.call(route.method, route.url(tenant.ids[0]), intruder.key, body=route.json_body(tenant.ids[0]))
        unknown = api.call(route.method, route.url(UNKNOWN), intruder.key, body=route.json_body(UNKNOWN))
        assert (theirs.status_code, theirs.json()) == (unknown.status_code, unknown.json()) == (
            404, {**NOT_FOUND, "detail": NOT_FOUND["error"]})
    # Counting: entities and list totals show only the intruder's own memories.
    mine = {"alice": 2}
    entities = api.call("GET", "/v1/entities/", intruder.key).json()
    assert {e["name"]: e["total_memories"] for e in entities["results"] if e["type"] == "user"} == mine
    listed = api.call("POST", "/v3/memories/", intruder.key, body={"filters": {"user_id": "alice"}}).json()
    assert listed["count"] == 2 and {m["id"] for m in listed["results"]} == set(intruder.ids)
    found = api.call("POST", "/v3/memories/search/", intruder.key,
                     body={"query": "alpha drinks green tea", "filters": {"user_id": "*"}, "top_k": 100}).json()
    assert {m["id"] for m in found["results"]} <= set(intruder.ids)
    assert all("alpha" not in m["memory"] for m in found["results"])
    by_ids = api.call("POST", "/v3/memories/", intruder.key, body={"filters": {"memory_ids": tenant.ids}}).json()
    assert by_ids["count"] == 0 and by_ids["results"] == []
    # Deleting by owner or entity only reaches the intruder's own memories.
    assert api.call("DELETE", "/v1/memories/?user_id=alice", intruder.key).status_code == 200
    gone = api.call("DELETE", "/v2/entities/user/alice/", intruder.key)
    missing = api.call("DELETE", "/v2/entities/user/nobody/", intruder.key)
    assert (gone.status_code, gone.json()) == (missing.status_code, missing.json())
    assert api.call("POST", "/v3/memories/", intruder.key, body={"filters": {"user_id": "*"}}).json()["count"] == 0
    assert snapshot(engine, tenant.project_id) == before


def test_no_route_answers_500_to_odd_but_well_formed_input(api: Api, engine: Engine, tenant: Tenant) -> None:
    odd_filters: list[Any] = [
        {"user_id": "alice", "metadata": {"it's": {"ne": "x"}}},
        {"user_id": "alice", "metadata": {"p": {"nin": ["alpha"]}}},
        {"user_id": "alice", "categories": {"nin": ["a"]}},
        {"NOT": {"user_id": "bob"}, "agent_id": "helper"},
        {"OR": [], "user_id": "alice"},
        {"user_id": "alice", "created_at": {"gte": "2020-01-01", "lt": 4102444800}},
        {"user_id": "alice", "keywords": "tea"},
        {"user_id": "\u0000\u2603'\"; DROP TABLE memories;--"},
    ]
    for filters in odd_filters:
        for path, extra in (("/v3/memories/", {}), ("/v3/memories/search/", {"query": "tea \" OR * NEAR("})):
            response = api.call("POST", path, tenant.key, body={"filters": filters, **extra})
            assert response.status_code in (200, 400), (filters, path, response.text)
            assert response.headers["content-type"].startswith("application/json")


def test_out_of_range_numbers_and_dates_are_400_not_500(api: Api, engine: Engine, tenant: Tenant) -> None:
    before = snapshot(engine, tenant.project_id)
    huge = 10**30
    requests: list[tuple[str, str, Any]] = [
        ("POST", f"/v3/memories/?page={huge}", {"filters": {"user_id": "alice"}}),
        ("POST", "/v3/memories/?page=9223372036854775807", {"filters": {"user_id": "alice"}}),
        ("POST", "/v3/memories/", {"filters": {"user_id": "alice"}, "page": huge}),
        ("POST", f"/v2/memories/?page={huge}&page_size=10", {"user_id": "alice"}),
        ("GET", f"/v1/memories/?user_id=alice&page={huge}&page_size=10", None),
        ("POST", "/v3/memories/", {"filters": {"user_id": "alice", "created_at": {"gt": 1e20}}}),
        ("POST", "/v3/memories/", {"filters": {"user_id": "alice", "created_at": {"lt": -1e20}}}),
        ("POST", "/v3/memories/", {"filters": {"user_id": "alice", "created_at": "0001-01-01T00:00:00+05:00"}}),
        ("POST", "/v3/memories/", {"filters": {"user_id": "alice", "metadata": {"p": huge}}}),
        ("POST", "/v3/memories/search/", {"query": "tea", "filters": {"user_id": "alice", "metadata": {"p": {"in": [huge]}}}}),
        ("POST", "/v3/memories/add/", {"messages": MESSAGES, "user_id": "alice", "infer": False,
                                       "expiration_date": "9999-12-31T23:59:59-05:00"}),
    ]
    for method, path, body in requests:
        assert_json_error(api.call(method, path, tenant.key, body=body), 400)
    assert snapshot(engine, tenant.project_id) == before
