"""Hostile input against a real server, on both stores: every field of every route of both dialects that takes user
input gets nasty strings, dates at the edges, deep and wide JSON and huge values.

Each answer must be a well-formed answer (no 5xx, no dropped connection, JSON, a 4xx in the dialect's error shape),
and after each example the server must still keep its promises (`Probe.check`): every read path answers, a key
revoked through a second store handle is refused, a deleted memory is gone from get, search and list.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

from memvault.engine import Engine
from memvault.store.base import Store
from memvault.testing.hostile import KEY_HOLE, REQUEST_TIMEOUT, Call, Probe, V, check_answer, probe_for, short, to_json
from memvault.testing.hostile_strategies import Deep, Run, deep_values, edge_dates, nasty_strings, nested, odd_numbers
from memvault.testing.server import Server

# No shrinking: a failing example is reported as drawn (a broken server makes every later example fail too).
HOSTILE = settings(max_examples=20, deadline=None, database=None, phases=[Phase.explicit, Phase.generate],
                   suppress_health_check=list(HealthCheck))


@pytest.fixture
def probe(server: Server, engine: Engine, store_twin: Store) -> Iterator[Probe]:
    yield from probe_for(server.url, engine, store_twin, server.key("hostile"), "hostile")


def add(**fields: Any) -> Call:
    return Call("POST", "/v3/memories/add/", {"messages": "Alice likes tea", "user_id": "u", "infer": False, **fields})


# Every place a string from the client lands ----------------------------------------------------------------
STRING_CALLS = [
    # Mem0 add (v3 and v1)
    Call("POST", "/v3/memories/add/", {"messages": [{"role": "user", "content": V}], "user_id": "u", "infer": False}),
    Call("POST", "/v1/memories/", {"messages": V, "user_id": "u", "infer": False, "output_format": "v1.1"}),
    Call("POST", "/v3/memories/add/", {"messages": [{"role": V, "content": "hello there"}], "user_id": "u",
                                       "infer": False}),
    Call("POST", "/v3/memories/add/", {"messages": [{"role": "user", "content": "hi", "name": V}], "user_id": "u",
                                       "infer": False}),
    add(user_id=V), add(agent_id=V), add(app_id=V), add(run_id=V),
    add(metadata={"k": V}), add(metadata={KEY_HOLE: "v"}), add(metadata={"k": [V, {"n": V}]}),
    add(categories=[V]), add(output_format=V), add(org_id=V),
    # Mem0 list
    Call("POST", "/v3/memories/", {"filters": {"user_id": V}}),
    Call("POST", "/v3/memories/", {"filters": {"AND": [{"user_id": "u"}, {"metadata": {"k": V}}]}}),
    Call("POST", "/v3/memories/", {"filters": {"user_id": "u", "metadata": {KEY_HOLE: "v"}}}),
    Call("POST", "/v3/memories/", {"filters": {"user_id": "u", "categories": {"contains": V}}}),
    Call("POST", "/v3/memories/", {"filters": {"user_id": "u", "keywords": V}}),
    Call("POST", "/v3/memories/", {"filters": {"user_id": "u", "memory_ids": [V]}}),
    Call("POST", "/v2/memories/", {"filters": {"OR": [{"agent_id": V}, {"run_id": {"in": [V]}}]}}),
    Call("POST", "/v2/memories/", {"filters": {"user_id": {"icontains": V}}}),
    Call("POST", "/v2/memories/", {"filters": {"NOT": [{"app_id": {"ne": V}}]}}),
    Call("POST", "/v2/memories/", {"filters": {KEY_HOLE: "x"}}),
    Call("POST", "/v2/memories/", {"user_id": V}),
    Call("GET", "/v1/memories/", query={"user_id": V}),
    Call("GET", "/v1/memories/", query={"agent_id": V, "page": "1", "page_size": "10"}),
    # Mem0 search
    Call("POST", "/v3/memories/search/", {"query": V, "filters": {"user_id": "keeper"}}),
    Call("POST", "/v2/memories/search/", {"query": V}),
    Call("POST", "/v1/memories/search/", {"query": V, "user_id": "keeper"}),
    Call("POST", "/v2/memories/search/", {"query": "tea", "filters": {"metadata": {"k": {"ne": V}}}}),
    Call("POST", "/v3/memories/search/", {"query": "tea", "filters": {"user_id": V}}),
    Call("POST", "/v3/memories/search/", {"query": "tea", "filters": {"user_id": "u", "keywords": {"contains": V}}}),
    # Mem0 get, history, update, delete
    Call("GET", "/v1/memories/{V}/"),
    Call("GET", "/v1/memories/{V}/history/"),
    Call("PUT", "/v1/memories/{target}/", {"text": V}),
    Call("PUT", "/v1/memories/{target}/", {"memory": V}),
    Call("PUT", "/v1/memories/{target}/", {"metadata": {"k": V}}),
    Call("PUT", "/v1/memories/{target}/", {"metadata": {KEY_HOLE: 1}}),
    Call("PUT", "/v1/memories/{target}/", {"categories": [V]}),
    Call("PUT", "/v1/memories/{V}/", {"text": "x"}),
    Call("DELETE", "/v1/memories/{V}/"),
    Call("DELETE", "/v1/memories/", query={"user_id": V}),
    Call("DELETE", "/v1/memories/", query={"run_id": V}),
    Call("DELETE", "/v2/entities/user/{V}/"),
    Call("DELETE", "/v2/entities/{V}/someone/"),
    # Mem0 batch
    Call("PUT", "/v1/batch/", {"memories": [{"memory_id": "{target}", "text": V}]}),
    Call("PUT", "/v1/batch/", {"memories": [{"memory_id": "{target}", "metadata": {KEY_HOLE: V}}]}),
    Call("PUT", "/v1/batch/", {"memories": [{"memory_id": V, "text": "x"}]}),
    Call("DELETE", "/v1/batch/", {"memories": [{"memory_id": V}]}),
    # MemoryPlugin memories
    Call("POST", "/api/memory", {"text": V}),
    Call("POST", "/api/memory", {"text": "hello there", "source": V}),
    Call("POST", "/api/memory", {"text": "hello there", "bucketId": V}),
    Call("GET", "/api/memory", query={"query": V}),
    Call("GET", "/api/memory", query={"source": V, "all": "true"}),
    Call("GET", "/api/memory", query={"count": V}),
    Call("GET", "/api/memory", query={"skip": V}),
    Call("GET", "/api/v2/memory", query={"bucketId": V}),
    Call("GET", "/api/v2/memory", query={"query": V, "includeIds": "true"}),
    Call("POST", "/api/v2/memory/update", {"memoryId": "{target}", "text": V}),
    Call("POST", "/api/v2/memory/update", {"memoryId": V, "text": "x"}),
    Call("POST", "/api/v2/memory/update", {"memoryId": "{target}", "bucketName": V}),
    Call("POST", "/api/v2/memory/update", {"memoryId": "{target}", "bucketId": V}),
    Call("POST", "/api/v2/memory/update", {"memoryIds": [V], "bucketId": "{bucket}"}),
    Call("DELETE", "/api/memories/{V}"),
    Call("POST", "/api/memories/bulk-delete", {"memoryIds": [V]}),
    # MemoryPlugin buckets
    Call("POST", "/api/buckets", {"name": V}),
    Call("POST", "/api/buckets", {"name": "Described", "description": V}),
    Call("PATCH", "/api/buckets/{bucket}", {"name": V}),
    Call("PATCH", "/api/buckets/{bucket}", {"description": V}),
    Call("PATCH", "/api/buckets/{V}", {"name": "x"}),
    Call("DELETE", "/api/buckets/{V}", query={"memories": "delete"}),
    Call("DELETE", "/api/buckets/{bucket}", query={"memories": V}),
]

def tool(tool_name: str, /, **arguments: Any) -> Call:
    """An MCP tool call over streamable HTTP (stateless JSON-RPC at /mcp)."""
    return Call("POST", "/mcp", {"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                                 "params": {"name": tool_name, "arguments": arguments}})


MCP_CALLS = [
    tool("add_memory", text=V), tool("add_memory", text="Alice likes tea", user_id=V),
    tool("add_memory", text="Alice likes tea", metadata={"k": V}), tool("add_memory", text="Alice likes tea", bucket=V),
    tool("add_memory", text="Alice likes tea", metadata={KEY_HOLE: 1}),
    tool("search_memories", query=V), tool("search_memories", query="tea", user_id=V),
    tool("search_memories", query="tea", filters={"metadata": {"k": V}}),
    tool("search_memories", query="tea", filters={"OR": [{"user_id": V}, {"agent_id": {"in": [V]}}]}),
    tool("list_memories", user_id=V), tool("list_memories", bucket=V),
    tool("get_memory", id=V), tool("update_memory", id="{target}", text=V),
    tool("update_memory", id="{target}", metadata={"k": V}), tool("update_memory", id="{target}", bucket=V),
    tool("delete_memory", id=V), tool("delete_memories", ids=[V]),
    tool("create_bucket", name=V), tool("create_bucket", name="Described", description=V),
]

INFER_CALLS = [
    Call("POST", "/v3/memories/add/", {"messages": [{"role": "user", "content": V}], "user_id": "u", "infer": True}),
    Call("POST", "/v1/memories/", {"messages": V, "user_id": "u"}),  # infer is Mem0's default
    Call("POST", "/v3/memories/add/", {"messages": [{"role": "user", "content": "I like tea"},
                                                    {"role": "assistant", "content": V}], "user_id": "u"}),
]

DATE_CALLS = [
    add(expiration_date=V),
    Call("POST", "/v1/memories/", {"messages": "Bob likes coffee", "user_id": "u", "infer": False, "expiration_date": V}),
    Call("PUT", "/v1/memories/{target}/", {"expiration_date": V}),
    Call("POST", "/v3/memories/", {"filters": {"user_id": "u", "created_at": {"gte": V}}}),
    Call("POST", "/v3/memories/", {"filters": {"user_id": "u", "updated_at": V}}),
    Call("POST", "/v2/memories/", {"filters": {"expiration_date": {"lt": V}}}),
    Call("POST", "/v2/memories/search/", {"query": "tea", "filters": {"created_at": {"lte": V}}}),
    Call("POST", "/v3/memories/search/", {"query": "tea", "filters": {"user_id": "u", "expiration_date": {"in": [V]}}}),
]

DEEP_CALLS = [
    add(metadata={"k": V}),
    Call("PUT", "/v1/memories/{target}/", {"metadata": {"k": V}}),
    Call("PUT", "/v1/batch/", {"memories": [{"memory_id": "{target}", "metadata": {"k": V}}]}),
    add(categories=V),
    Call("POST", "/v2/memories/", {"filters": V}),
    Call("POST", "/v2/memories/", {"filters": {"metadata": V}}),
    Call("POST", "/v3/memories/search/", {"query": "tea", "filters": {"user_id": "u", "metadata": {"k": V}}}),
    Call("POST", "/api/memory", {"text": "hello", "source": V}),
    Call("POST", "/api/buckets", {"name": V}),
]


FULL_CHECK_EVERY = 5  # examples between two checks of keys and forgetting; every read path is checked after each


def run_examples(probe: Probe, calls: list[Call], values: st.SearchStrategy[Any],
                 known: list[tuple[Call, Any]]) -> None:
    """Hypothesis draws a call and a value (first the `known` (call, value) pairs: the issue's reproductions);
    the first broken promise ends the run (the examples after it pass at once: a broken server would fail them all,
    slowly) and is reported with the call and value that broke it."""
    failures: list[str] = []
    done = [0]

    @given(call=st.sampled_from(calls), value=values)
    @HOSTILE
    def run(call: Call, value: Any) -> None:
        if failures:
            return
        try:
            probe.call(call, value)
            probe.check_reads()
            done[0] += 1
            if done[0] % FULL_CHECK_EVERY == 0:
                probe.check()
        except AssertionError as exc:
            failures.append(f"after {call.label()} with {short(value)}:\n{exc}")

    for call, value in known:
        assert call in calls
        run = example(call=call, value=value)(run)
    run()
    if not failures:
        try:
            probe.check()
        except AssertionError as exc:
            failures.append(f"after every example: {exc}")
    assert not failures, failures[0]


def test_hostile_strings_in_every_field_leave_the_server_whole(probe: Probe) -> None:
    run_examples(probe, STRING_CALLS, nasty_strings(), [
        (add(user_id=V), "a\ud800"),
        (Call("POST", "/v3/memories/search/", {"query": V, "filters": {"user_id": "keeper"}}), "\udfff"),
        (Call("POST", "/api/memory", {"text": "hello there", "source": V}), "\ud800"),
        (Call("POST", "/v3/memories/", {"filters": {"user_id": "u", "metadata": {KEY_HOLE: "v"}}}), "k\x00")])


def test_hostile_strings_in_mcp_tool_arguments_leave_the_server_whole(probe: Probe) -> None:
    run_examples(probe, MCP_CALLS, nasty_strings(), [(tool("add_memory", text="Alice likes tea", user_id=V), "\ud800")])


def test_wide_and_deep_mcp_tool_arguments_leave_the_server_whole(probe: Probe) -> None:
    for call, value in [(tool("search_memories", query="tea", filters=V), {"OR": [{"user_id": f"u{i}"} for i in range(1_001)]}),
                        (tool("search_memories", query="tea", filters=V), {"metadata": {f"k{i}": i for i in range(1_001)}}),
                        (tool("add_memory", text="Alice likes tea", metadata=V), nested(100)),
                        (tool("add_memory", text="Alice likes tea", user_id=V), "u" * 100_000)]:
        probe.call(call, value)
        probe.check()


def test_hostile_strings_in_inferred_adds_leave_the_server_whole(probe: Probe) -> None:
    """With infer on (Mem0's default) the text goes to the extractor: 100 kB runs of punctuation included."""
    run_examples(probe, INFER_CALLS, nasty_strings(), [(INFER_CALLS[0], Run("I like tea", ".", 100_000, "x"))])


def test_dates_at_the_edges_leave_the_server_whole(probe: Probe) -> None:
    run_examples(probe, DATE_CALLS, edge_dates(), [(add(expiration_date=V), "0999-06-01"),
                                                   (Call("PUT", "/v1/memories/{target}/", {"expiration_date": V}), "0001-01-01")])


def test_deep_json_leaves_the_server_whole(probe: Probe) -> None:
    run_examples(probe, DEEP_CALLS, st.one_of(deep_values(), odd_numbers()), [(add(metadata={"k": V}), Deep(400, "object"))])


def slug(label: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-")


def deep_filter(depth: int, op: str = "AND") -> dict[str, Any]:
    node: dict[str, Any] = {"user_id": "u"}
    for _ in range(depth):
        node = {op: [node]}
    return node


# Wide and huge: each case alone, the server checked after every one ----------------------------------------
MB = 1024 * 1024
WIDE_CASES: list[tuple[str, Call, Any]] = [
    ("metadata of 1,001 keys", add(metadata=V), {f"k{i}": i for i in range(1_001)}),
    ("metadata nested 200 deep", add(metadata=V), nested(200)),
    ("filters nested 40 deep (AND)", Call("POST", "/v2/memories/", {"filters": V}), deep_filter(40)),
    ("filters nested 40 deep (NOT)", Call("POST", "/v2/memories/", {"filters": V}), deep_filter(40, "NOT")),
    ("filters nested 300 deep", Call("POST", "/v2/memories/search/", {"query": "tea", "filters": V}), deep_filter(300)),
    ("OR of 1,001 conditions", Call("POST", "/v2/memories/", {"filters": V}),
     {"OR": [{"user_id": f"u{i}"} for i in range(1_001)]}),
    ("OR of 1,001 conditions in a search", Call("POST", "/v3/memories/search/", {"query": "tea", "filters": V}),
     {"OR": [{"user_id": f"u{i}"} for i in range(1_001)]}),
    ("1,001 metadata filter keys", Call("POST", "/v2/memories/", {"filters": V}),
     {"metadata": {f"k{i}": i for i in range(1_001)}}),
    ("in of 70,000 values", Call("POST", "/v2/memories/", {"filters": V}),
     {"user_id": {"in": [f"u{i}" for i in range(70_000)]}}),
    ("memory_ids of 70,000", Call("POST", "/v2/memories/", {"filters": V}),
     {"memory_ids": [f"00000000-0000-4000-8000-{i:012d}" for i in range(70_000)]}),
    ("3,000 categories of 1 KB", add(categories=V), [f"c{i}-" + "x" * 1_000 for i in range(3_000)]),
    ("1,001 messages", Call("POST", "/v3/memories/add/", {"messages": V, "user_id": "u", "infer": False}),
     [{"role": "user", "content": f"fact {i}"} for i in range(1_001)]),
    ("a 3.5 MB user_id", add(user_id=V), "u" * (3 * MB + MB // 2)),
    ("a 3.5 MB agent_id in a filter", Call("POST", "/v2/memories/", {"filters": {"agent_id": V}}), "a" * (3 * MB + MB // 2)),
    ("a 3.5 MB query", Call("POST", "/v2/memories/search/", {"query": V}), "tea " * (7 * MB // 8)),
    ("a 3.5 MB metadata value", add(metadata={"k": V}), "m" * (3 * MB + MB // 2)),
    ("a 3.5 MB bucket description", Call("POST", "/api/buckets", {"name": "Huge", "description": V}),
     "d" * (3 * MB + MB // 2)),
    ("a 3.5 MB MemoryPlugin source", Call("POST", "/api/memory", {"text": "hello", "source": V}), "s" * (3 * MB + MB // 2)),
    ("an 8,000-character entity name", Call("DELETE", "/v2/entities/user/{V}/"), "e" * 8_000),
    ("1,001 ids to bulk delete", Call("POST", "/api/memories/bulk-delete", {"memoryIds": V}),
     [f"00000000-0000-4000-8000-{i:012d}" for i in range(1_001)]),
    ("1,001 ids to move", Call("POST", "/api/v2/memory/update", {"memoryIds": V, "bucketId": "{bucket}"}),
     [f"00000000-0000-4000-8000-{i:012d}" for i in range(1_001)]),
    # A path or query past ~16 KB is refused by the HTTP server itself (h11), before memvault: 8,000 characters.
    ("an 8,000-character memory id", Call("GET", "/v1/memories/{V}/"), "1" * 8_000),
    ("an 8,000-character bucket id", Call("GET", "/api/v2/memory", query={"bucketId": V}), "b" * 8_000),
    ("an 8,000-character user_id in a query", Call("GET", "/v1/memories/", query={"user_id": V}), "u" * 8_000),
    ("top_k of 10**30", Call("POST", "/v2/memories/search/", {"query": "tea", "top_k": V}), 10**30),
    ("page of 10**30", Call("POST", "/v2/memories/", {"filters": {"user_id": "u"}, "page": V, "page_size": 10}), 10**30),
    ("skip of 10**30", Call("GET", "/api/memory", query={"skip": V}), 10**30),
    ("count of 10**30", Call("GET", "/api/memory", query={"count": V}), 10**30),
    ("count of -1", Call("GET", "/api/memory", query={"count": V}), -1),
    ("a numeric bucket id of 10**30", Call("POST", "/api/memory", {"text": "hello", "bucketId": V}), 10**30),
]


def run_cases(probe: Probe, cases: list[tuple[str, Call, Any]]) -> None:
    """Each case alone on one server, the server checked after every one; every broken case is reported."""
    failures = []
    for label, call, value in cases:
        try:
            probe.call(call, value)
            probe.check()
        except AssertionError as exc:
            failures.append(f"{label}: {str(exc)[:400]}")
            probe.reconnect()
    assert not failures, f"{len(failures)} of {len(cases)} cases broke a promise:\n" + "\n".join(failures)


def test_wide_and_huge_json_leaves_the_server_whole(probe: Probe) -> None:
    run_cases(probe, WIDE_CASES)


# Bodies no JSON library would write -------------------------------------------------------------------------
RAW_BODIES: list[tuple[str, str, bytes]] = [
    ("NaN in metadata", "/v3/memories/add/", b'{"messages":"hi there","user_id":"u","infer":false,"metadata":{"k":NaN}}'),
    ("Infinity in metadata", "/v3/memories/add/",
     b'{"messages":"hi there","user_id":"u","infer":false,"metadata":{"k":-Infinity}}'),
    ("array nested 100,000 deep", "/v3/memories/add/", b"[" * 100_000 + b"]" * 100_000),
    ("metadata nested 100,000 deep", "/v3/memories/add/",
     b'{"messages":"hi","user_id":"u","metadata":' + b'{"k":' * 100_000 + b"1" + b"}" * 100_001),
    ("filters nested 100,000 deep", "/v2/memories/", b'{"filters":' + b'{"AND":[' * 100_000 + b"]}" * 100_000 + b"}"),
    ("invalid UTF-8", "/v3/memories/add/", b'{"messages":"\xff\xfe tea","user_id":"u","infer":false}'),
    ("a CESU-8 surrogate", "/v3/memories/add/", b'{"messages":"\xed\xa0\x80 tea","user_id":"u","infer":false}'),
    ("UTF-16", "/v3/memories/add/", '{"messages":"tea","user_id":"u","infer":false}'.encode("utf-16")),
    ("a duplicate key", "/v3/memories/add/", b'{"messages":"tea","user_id":"u","user_id":"\\ud800","infer":false}'),
    ("a bare string", "/v3/memories/add/", b'"\\ud800"'),
    ("null", "/v2/memories/", b"null"),
    ("empty", "/v2/memories/search/", b""),
    ("truncated", "/api/memory", b'{"text":"hello'),
    ("a lone surrogate in a key", "/api/memory", b'{"text":"hello","\\ud800":1}'),
    ("a 10**5-digit number", "/v2/memories/search/", b'{"query":"tea","top_k":' + b"9" * 100_000 + b"}"),
]


def test_bodies_no_json_library_would_write_leave_the_server_whole(probe: Probe) -> None:
    run_cases(probe, [(label, Call("POST", path, raw=raw), None) for label, path, raw in RAW_BODIES])


# Fields the issue says must be bounded: refused, and nothing megabytes-long shows up in the listings ---------
@pytest.mark.parametrize("label", ["a 3.5 MB user_id", "3,000 categories of 1 KB", "a 3.5 MB bucket description",
                                   "a 3.5 MB MemoryPlugin source", "metadata nested 200 deep"], ids=slug)
def test_unbounded_fields_are_refused(probe: Probe, label: str) -> None:
    _, call, value = next(c for c in WIDE_CASES if c[0] == label)
    response = probe.call(call, value)
    assert 400 <= response.status_code < 500, f"{label}: accepted ({response.status_code})"
    for path in ("/v1/entities/", "/api/buckets", "/api/v2/memory"):
        assert len(probe.send("GET", path).content) < 100_000, f"{path} answers megabytes after {label}"


def test_a_metadata_filter_key_with_a_nul_does_not_match_the_key_without_it(probe: Probe) -> None:
    made = probe.ok("POST", "/v3/memories/add/", {"messages": "Carol likes jazz", "user_id": "nul", "infer": False,
                                                  "metadata": {"k": "v"}})["results"][0]["id"]
    response = probe.send("POST", "/v3/memories/", {"filters": {"user_id": "nul", "metadata": {"k\x00": "v"}}})
    body = check_answer(response, "NUL in a metadata filter key")
    if response.status_code == 200:
        assert made not in [m["id"] for m in body["results"]], "metadata key 'k\\x00' matched key 'k'"


@pytest.mark.parametrize("filters", [{"metadata": {"k": {"exists": False}}}, {"agent_id": {"exists": False}}])
def test_exists_false_means_absent(probe: Probe, filters: dict[str, Any]) -> None:
    with_k = probe.ok("POST", "/v3/memories/add/", {"messages": "Dan likes chess", "user_id": "ex", "agent_id": "a",
                                                    "infer": False, "metadata": {"k": 1}})["results"][0]["id"]
    without = probe.ok("POST", "/v3/memories/add/", {"messages": "Dan likes go", "user_id": "ex",
                                                     "infer": False})["results"][0]["id"]
    response = probe.send("POST", "/v3/memories/", {"filters": {"user_id": "ex", **filters}})
    body = check_answer(response, f"exists false: {filters}")
    if response.status_code == 200:  # refusing the operator is fine; reading it as "exists" is not
        assert [m["id"] for m in body["results"]] == [without], f"{filters} matched {body['results']}"
    assert with_k


def test_an_empty_or_matches_nothing_or_is_refused(probe: Probe) -> None:
    response = probe.send("POST", "/v3/memories/", {"filters": {"user_id": "keeper", "OR": {}}})
    body = check_answer(response, "empty OR")
    if response.status_code == 200:
        assert body["results"] == [], "an empty OR matched everything"


# The key and the body ----------------------------------------------------------------------------------------
def test_malformed_json_without_a_key_is_401(probe: Probe) -> None:
    for path in ("/v3/memories/add/", "/api/memory"):
        response = probe.http.post(path, content=b'{"broken', headers={"Content-Type": "application/json"})
        assert response.status_code == 401, f"{path}: {response.status_code} {response.text[:200]}"


def raw_request(probe: Probe, head: str, chunks: list[bytes], *, chunked: bool) -> tuple[int, bytes]:
    """Send a request over a bare socket (headers as given); returns (status, body) of the answer."""
    host, port = probe.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=REQUEST_TIMEOUT) as sock:
        sock.sendall(head.encode("latin-1"))
        try:
            for chunk in chunks:
                sock.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n" if chunked else chunk)
            if chunked:
                sock.sendall(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered and closed before reading everything: the answer is what counts
        data = b""
        while b"\r\n\r\n" not in data:
            part = sock.recv(65536)
            if not part:
                break
            data += part
    status = int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/") else 0
    return status, data


def test_the_body_limit_counts_bytes_whatever_content_length_says(probe: Probe) -> None:
    """Content-Length: 2 with Transfer-Encoding: chunked, then 6 MB: refused, and nothing stored."""
    marker = "smuggled" + probe.keeper_word
    body = to_json({"messages": f"The {marker} fact", "user_id": "smuggler", "infer": False, "pad": "p" * (6 * 1024 * 1024)})
    head = (f"POST /v3/memories/add/ HTTP/1.1\r\nHost: {probe.url[7:]}\r\nAuthorization: Token {probe.key}\r\n"
            "Content-Type: application/json\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n")
    status, answer = raw_request(probe, head, [body[i:i + 65536] for i in range(0, len(body), 65536)], chunked=True)
    assert status in (400, 411, 413), f"answered {status}: {answer[:300]!r}"
    listed = probe.ok("POST", "/v3/memories/", {"filters": {"user_id": "smuggler"}})
    assert listed["results"] == [], "a body past the limit was stored"
    probe.check()


def test_a_chunked_body_without_a_key_is_refused_before_it_is_read(probe: Probe) -> None:
    """No key: 401 after the first chunk, without waiting for the megabytes behind it."""
    head = (f"POST /v3/memories/add/ HTTP/1.1\r\nHost: {probe.url[7:]}\r\nContent-Type: application/json\r\n"
            "Transfer-Encoding: chunked\r\n\r\n")
    host, port = probe.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:  # a 401 needs no body: no wait
        sock.sendall(head.encode() + b"4000\r\n" + b"[" * 0x4000 + b"\r\n")  # 16 KB, then nothing more
        data = sock.recv(65536)
    assert data.startswith(b"HTTP/1.1 401"), data[:200]


# A read that fails must not leave anything behind ----------------------------------------------------------------
POISON = [
    ("a year before 1000", add(expiration_date="0999-06-01")),
    ("a lone surrogate in metadata", add(metadata={"k": "\ud800"})),
    ("metadata nested 400 deep", add(metadata=nested(400))),
]


@pytest.mark.parametrize("label", [label for label, _ in POISON], ids=slug)
def test_a_read_that_meets_a_bad_row_pins_no_stale_snapshot(probe: Probe, label: str) -> None:
    """Whatever the poison does (refused at the door, or stored and then failing reads), afterwards a key revoked
    through a second handle is refused, a key made there is accepted, and memories deleted there are gone, at once,
    on every worker thread. (Reads that do not meet the poison are used for the checks.)"""
    _, call = next(p for p in POISON if p[0] == label)
    older, older_clear = probe.twin.create_key(probe.project, "made before the poison")
    probe.ok("GET", "/v1/ping/", key=older_clear)
    for i in range(20):  # rows after the bad one: a read that fails on it stops mid-way
        probe.ok("POST", "/v3/memories/add/", {"messages": f"Filler memory {i}", "user_id": "u", "infer": False})
    stored = probe.send(call.method, call.path, call.body)

    def read(body: dict[str, Any]) -> int:
        try:
            return probe.send("POST", "/v2/memories/search/" if body else "/v2/memories/", body).status_code
        except AssertionError:  # no answer (a dropped connection): counted, and the checks below still run
            return 0

    statuses = [read({}) for _ in range(3)]
    for _ in range(3):  # reads in parallel land on several worker threads, each with its own connection
        with ThreadPoolExecutor(8) as pool:
            statuses += list(pool.map(read, [{}, {"query": "green tea"}] * 4))
    probe.reconnect()
    probe.check_revocation(older, older_clear)
    probe.check_revocation()
    probe.check_forgetting(whole_project=False)
    assert stored.status_code < 500 and all(0 < s < 500 for s in statuses), \
        f"{label}: add {stored.status_code}, reads {sorted(set(statuses))} (0: no answer)"


@pytest.mark.parametrize(("first", "second"), [("Émile", "émile"), ("Straße", "STRASSE"), ("ǅemal", "ǆemal")])
def test_bucket_names_are_unique_after_unicode_case_folding(probe: Probe, first: str, second: str) -> None:
    probe.ok("POST", "/api/buckets", {"name": first})
    response = probe.send("POST", "/api/buckets", {"name": second})
    check_answer(response, f"bucket {second!r} after {first!r}")
    assert response.status_code == 409, f"{second!r} was created beside {first!r}"


@pytest.mark.parametrize("name", ["\u200b", " \u200b ", "\ufeff", "\u2060\u200d", "\u202e"])
def test_an_invisible_bucket_name_is_refused(probe: Probe, name: str) -> None:
    response = probe.send("POST", "/api/buckets", {"name": name})
    check_answer(response, f"bucket {name!r}")
    assert response.status_code == 400, f"bucket {name!r} answered {response.status_code}"
