"""`GET /metrics` (memvault.metrics) against a real server: requests by route template and status, memories added
and deleted as the engine counts them, search latency, the vector index state; one registry per app; and when the
server offers the path at all."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import anyio
import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from memvault.config import Settings
from memvault.engine import Engine
from memvault.metrics import metrics_enabled
from memvault.testing.mcp_client import call, http_session
from memvault.testing.server import Server

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(server: Server) -> Samples:
    answer = httpx.get(server.url + "/metrics")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(answer.text) for s in family.samples}


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


@pytest.fixture
def metered(engine: Engine) -> Iterator[Server]:
    with Server(engine, metrics=True) as server:
        yield server


def test_requests_are_counted_by_route_template_and_status(metered: Server) -> None:
    mem0 = {"Authorization": f"Token {metered.key()}"}
    ids = [str(uuid.uuid4()) for _ in range(3)]
    for memory_id in ids:
        assert httpx.get(metered.url + f"/v1/memories/{memory_id}/", headers=mem0).status_code == 404
    assert httpx.get(metered.url + "/v1/ping/", headers={"Authorization": "Token mv_wrong"}).status_code == 401
    assert httpx.get(metered.url + "/v1/no-such-route/", headers=mem0).status_code == 404

    samples = scrape(metered)
    route = "/v1/memories/{memory_id}/"
    assert value(samples, "memvault_http_requests_total", method="GET", route=route, status="404") == 3
    assert value(samples, "memvault_http_request_duration_seconds_count", method="GET", route=route) == 3
    assert value(samples, "memvault_http_requests_total", method="GET", route="unrouted", status="401") == 1
    assert value(samples, "memvault_http_requests_total", method="GET", route="unrouted", status="404") == 1
    labels = {v for _, pairs in samples for _, v in pairs}
    assert not any(memory_id in label for memory_id in ids for label in labels)  # never a raw path
    assert not any("no-such-route" in label for label in labels)
    again = scrape(metered)  # the first scrape is counted too
    assert value(again, "memvault_http_requests_total", method="GET", route="/metrics", status="200") == 1


def test_memories_added_and_deleted_are_counted_by_the_engine_whatever_the_face(metered: Server) -> None:
    key = metered.key()
    mem0, mp = {"Authorization": f"Token {key}"}, {"Authorization": f"Bearer {key}"}
    added = httpx.post(metered.url + "/v1/memories/", headers=mem0, json={
        "messages": [{"role": "user", "content": "I like green tea"}, {"role": "user", "content": "I live in Lyon"}],
        "user_id": "alice", "infer": False}).json()["results"]
    ids = [httpx.post(metered.url + "/api/memory", headers=mp, json={"text": f"note {n}"}).json()["memoryId"]
           for n in range(3)]
    project = metered.engine.project("test").id
    metered.engine.add_text(project, "added by the library, not over HTTP")  # the engine counts, not the face

    async def over_mcp() -> None:
        async with http_session(metered.url, key) as session:
            await call(session, "add_memory", text="added over MCP", user_id="bob", infer=False)

    anyio.run(over_mcp)
    assert value(scrape(metered), "memvault_memories_added_total") == 7

    assert httpx.delete(metered.url + f"/v1/memories/{added[0]['id']}/", headers=mem0).status_code == 200
    bulk = httpx.post(metered.url + "/api/memories/bulk-delete", headers=mp,
                      json={"memoryIds": [*ids[:2], str(uuid.uuid4()), "not-an-id"]}).json()
    assert (bulk["deleted"], bulk["failed"]) == (2, 2)
    assert httpx.delete(metered.url + "/v1/memories/", headers=mem0, params={"user_id": "alice"}).status_code == 200
    assert httpx.delete(metered.url + f"/v1/memories/{added[0]['id']}/", headers=mem0).status_code == 404  # gone
    samples = scrape(metered)
    assert value(samples, "memvault_memories_deleted_total") == 4  # 1 + 2 + alice's last one; failures not counted
    assert value(samples, "memvault_memories_added_total") == 7


def test_searches_are_timed_and_the_vector_index_state_is_shown(metered: Server) -> None:
    mem0 = {"Authorization": f"Token {metered.key()}"}
    httpx.post(metered.url + "/v1/memories/", headers=mem0, json={"messages": "I like green tea", "user_id": "a",
                                                                     "infer": False})
    for query in ("tea", "green"):
        assert httpx.post(metered.url + "/v2/memories/search/", headers=mem0,
                          json={"query": query, "filters": {"user_id": "a"}}).status_code == 200
    assert httpx.post(metered.url + "/v2/memories/search/", headers=mem0, json={"query": ""}).status_code == 400
    samples = scrape(metered)
    assert value(samples, "memvault_search_duration_seconds_count") == 2  # the refused one is no search
    assert value(samples, "memvault_search_duration_seconds_sum") > 0
    state = metered.engine.vector_index_state()
    assert value(samples, "memvault_vector_index_state", memvault_vector_index_state=state) == 1
    other = "building" if state == "ready" else "ready"
    assert value(samples, "memvault_vector_index_state", memvault_vector_index_state=other) == 0
    assert value(samples, "process_resident_memory_bytes") > 0


def test_two_apps_in_one_process_count_apart(engine: Engine) -> None:
    with Server(engine, metrics=True) as one, Server(engine, metrics=True) as two:
        key = one.key()
        httpx.get(one.url + "/v1/ping/", headers={"Authorization": f"Token {key}"})
        assert value(scrape(one), "memvault_http_requests_total", method="GET", route="/v1/ping/", status="200") == 1
        assert value(scrape(two), "memvault_http_requests_total", method="GET", route="/v1/ping/", status="200") == 0


def test_an_app_that_stopped_counts_no_more(engine: Engine) -> None:
    """An app stops watching the engine when it stops: nothing keeps counting into a registry nobody reads."""
    with Server(engine, metrics=True):
        assert len(engine.watchers) == 1
    assert len(engine.watchers) == 0


def test_without_metrics_there_is_no_metrics_path(server: Server) -> None:
    assert httpx.get(server.url + "/metrics").status_code == 401  # like any path that is not public
    assert httpx.get(server.url + "/metrics", headers={"Authorization": f"Token {server.key()}"}).status_code == 404
    assert "/metrics" not in httpx.get(server.url + "/openapi.json").json()["paths"]


# when the server offers /metrics ------------------------------------------------------------------
@pytest.mark.parametrize(("host", "offered"), [
    ("127.0.0.1", True), ("127.0.0.53", True), ("localhost", True), ("::1", True), ("[::1]", True),
    ("0.0.0.0", False), ("::", False), ("192.168.1.20", False), ("10.0.0.1", False), ("memvault.example", False),
])
def test_metrics_are_on_by_default_only_on_loopback(host: str, offered: bool) -> None:
    assert metrics_enabled(host, None) is offered


@pytest.mark.parametrize("host", ["127.0.0.1", "0.0.0.0", "192.168.1.20"])
def test_memvault_metrics_decides_on_any_bind(host: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEMVAULT_METRICS", "true")
    assert metrics_enabled(host, Settings().metrics) is True
    monkeypatch.setenv("MEMVAULT_METRICS", "false")
    assert metrics_enabled(host, Settings().metrics) is False
    monkeypatch.delenv("MEMVAULT_METRICS")
    assert Settings().metrics is None
