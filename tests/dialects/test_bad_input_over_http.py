"""Bad input over real HTTP, in both dialects and on both stores: a 400 with a JSON body (never a 500 or a reset
connection), nothing stored, and afterwards every read path answers."""

from __future__ import annotations

import json
from typing import Any

import httpx

from memvault.testing.server import Server

SURROGATE = "\ud800"


def send(http: httpx.Client, method: str, path: str, body: Any) -> httpx.Response:
    """The body as a client would write it: JSON with the lone surrogate as a \\ud800 escape."""
    return http.request(method, path, content=json.dumps(body).encode("ascii"),
                        headers={"Content-Type": "application/json"})


def nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(depth):
        value = {"k": value}
    return value


def test_mem0_bad_input_is_400_and_every_read_path_still_works(server: Server) -> None:
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Token {server.key()}"}, timeout=60) as http:
        mem0_requests(http)


def mem0_requests(http: httpx.Client) -> None:
    said = [{"role": "user", "content": "I like green tea"}]
    kept = send(http, "POST", "/v1/memories/", {"messages": said, "user_id": "alice", "infer": False,
                                                 "metadata": {"city": "Lyon"}})
    assert kept.status_code == 200, kept.text
    other = send(http, "POST", "/v1/memories/", {"messages": [{"role": "user", "content": "I cycle to work"}],
                                                  "user_id": "alice", "infer": False})
    assert other.status_code == 200, other.text
    bad: list[tuple[str, str, Any]] = [
        ("POST", "/v1/memories/", {"messages": [{"role": "user", "content": "tea " + SURROGATE}], "user_id": "alice"}),
        ("POST", "/v1/memories/", {"messages": said, "user_id": SURROGATE, "infer": False}),
        ("POST", "/v1/memories/", {"messages": said, "user_id": "alice", "metadata": {"k": [SURROGATE]}}),
        ("POST", "/v1/memories/", {"messages": said, "user_id": "alice", "metadata": nested(400), "infer": False}),
        ("POST", "/v1/memories/", {"messages": said, "user_id": "alice", "expiration_date": "0999-06-01"}),
        ("POST", "/v1/memories/", {"messages": said, "user_id": "u" * 300, "infer": False}),
        ("POST", "/v1/memories/", {"messages": said, "user_id": "alice", "categories": ["c" * 1000] * 3000}),
        ("POST", "/v1/memories/", {"messages": [{"role": "user", "content": "I like tea" + "." * 60_000 + "x"}],
                                   "user_id": "alice", "infer": True}),
        ("POST", "/v3/memories/search/", {"query": "tea " + SURROGATE, "filters": {"user_id": "alice"}}),
        ("POST", "/v3/memories/search/", {"query": "tea", "filters": {"user_id": "alice", "metadata": {"k": SURROGATE}}}),
        ("POST", "/v3/memories/", {"filters": {"OR": [{"user_id": f"u{i}"} for i in range(1001)]}}),
        ("POST", "/v3/memories/", {"filters": {"user_id": "alice", "metadata": {f"k{i}": i for i in range(1001)}}}),
        ("POST", "/v3/memories/", {"filters": {"user_id": "alice", "metadata": {"city\u0000": "Lyon"}}}),
        ("POST", "/v3/memories/", {"filters": {"user_id": "alice", "created_at": {"gte": "0999-01-01"}}}),
        ("POST", "/v3/memories/", {"filters": {"user_id": "alice", "OR": {}}}),
    ]
    for method, path, body in bad:
        answer = send(http, method, path, body)
        assert answer.status_code == 400, (path, answer.status_code, answer.text[:300])
        assert answer.headers["content-type"].startswith("application/json") and answer.json()["error"]
    # exists: false means "not there"
    without = send(http, "POST", "/v3/memories/", {"filters": {"AND": [{"user_id": "alice"},
                                                                       {"metadata": {"city": {"exists": False}}}]}})
    assert [m["memory"] for m in without.json()["results"]] == ["I cycle to work"]
    # every read path still answers, and nothing of the refused requests was stored
    listed = http.get("/v1/memories/", params={"user_id": "alice"})
    assert listed.status_code == 200 and {m["memory"] for m in listed.json()} == {"I like green tea", "I cycle to work"}
    mid = kept.json()["results"][0]["id"]
    assert http.get(f"/v1/memories/{mid}/").json()["memory"] == "I like green tea"
    assert http.get(f"/v1/memories/{mid}/history/").status_code == 200
    found = send(http, "POST", "/v3/memories/search/", {"query": "green tea", "filters": {"user_id": "alice"}})
    assert found.status_code == 200 and found.json()["results"][0]["memory"] == "I like green tea"
    assert http.get("/v1/entities/").json()["results"][0]["total_memories"] == 2
    assert http.get("/healthz").status_code == 200


def test_memoryplugin_bad_input_is_400_and_every_read_path_still_works(server: Server) -> None:
    with httpx.Client(base_url=server.url + "/api", headers={"Authorization": f"Bearer {server.key()}"},
                      timeout=60) as http:
        memoryplugin_requests(http)


def memoryplugin_requests(http: httpx.Client) -> None:
    assert send(http, "POST", "/memory", {"text": "I like green tea"}).status_code == 200
    assert send(http, "POST", "/buckets", {"name": "Émile"}).status_code == 200
    bad: list[tuple[str, str, Any, int]] = [
        ("POST", "/memory", {"text": "tea " + SURROGATE}, 400),
        ("POST", "/memory", {"text": "tea", "source": SURROGATE}, 400),
        ("POST", "/memory", {"text": "tea", "source": "s" * 5000}, 400),
        ("POST", "/memory", {"text": "tea", "bucketId": "Work" + SURROGATE}, 400),
        ("POST", "/buckets", {"name": "zero\u200bwidth"}, 400),
        ("POST", "/buckets", {"name": "\u202egnp.exe"}, 400),
        ("POST", "/buckets", {"name": "Work", "description": "d" * 100_000}, 400),
        ("POST", "/buckets", {"name": SURROGATE}, 400),
        ("POST", "/memories/bulk-delete", {"memoryIds": ["\ud800"]}, 400),
        ("POST", "/v2/memory/update", {"memoryIds": ["\udfff"], "bucketId": "Émile"}, 400),
        ("POST", "/buckets", {"name": "émile"}, 409),
        ("POST", "/buckets", {"name": "ÉMILE"}, 409),
    ]
    for method, path, body, status in bad:
        answer = send(http, method, path, body)
        assert answer.status_code == status, (path, body if len(str(body)) < 200 else "...", answer.text[:300])
        assert answer.headers["content-type"].startswith("application/json")
    everything = http.get("/memory", params={"all": "true"})
    assert everything.status_code == 200 and [m["text"] for m in everything.json()["data"]] == ["I like green tea"]
    assert http.get("/memory", params={"query": "green tea"}).status_code == 200
    buckets = http.get("/buckets")
    assert buckets.status_code == 200 and sorted(b["name"] for b in buckets.json()) == ["General", "Émile"]
    assert http.get("/v2/memory", params={"bucketId": "émile"}).status_code == 200
