"""`POST /api/memories/bulk-delete` (seed 001) against a real server.

The contract: one transaction; `deleted` counts the ids that existed in the caller's project and are
now gone; `failed` counts every other distinct id (unknown, malformed, another project's, already
deleted), a repeated id once, so deleted + failed == distinct ids sent; `results` gives each distinct
id's outcome, and another project's id reads exactly like an unknown one. A bad request (400) or a bad
key (401) deletes nothing. After a bulk delete no read path of either dialect shows a deleted memory.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from memvault.testing.clients import (  # noqa: F401 (the *_fixture names register pytest fixtures)
    MP,
    UNKNOWN,
    Mem0,
    fresh_project,
    mem0_fixture,
    module_server,
    mp_fixture,
    other_fixture,
    project_fixture,
)
from memvault.testing.server import Server

server = module_server  # one server for this module: each test works in projects of its own


def bulk(mp: MP, ids: Any) -> httpx.Response:
    return mp.http.post("/memories/bulk-delete", json={"memoryIds": ids})


def ok(answer: httpx.Response) -> dict[str, Any]:
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


# what it deletes and how it counts ---------------------------------------------------------------
def test_deletes_the_given_memories_and_reports_each_id(mp: MP) -> None:
    a, b, c = mp.add("alpha"), mp.add("beta"), mp.add("gamma")
    body = ok(bulk(mp, [a, UNKNOWN, c]))
    assert (body["deleted"], body["failed"]) == (2, 1)
    assert body["results"] == [
        {"id": a, "status": "deleted"},
        {"id": UNKNOWN, "status": "failed", "reason": "not_found"},
        {"id": c, "status": "deleted"},
    ]
    assert {m["id"]: m["text"] for m in mp.everything()["data"]} == {b: "beta"}  # the one not named is kept whole


def test_a_repeated_id_counts_once(mp: MP) -> None:
    a, b = mp.add("alpha"), mp.add("beta")
    body = ok(bulk(mp, [a, a, b, UNKNOWN, b, UNKNOWN, a]))
    assert (body["deleted"], body["failed"]) == (2, 1)
    assert [r["id"] for r in body["results"]] == [a, b, UNKNOWN]
    assert mp.texts() == set()


def test_two_spellings_of_one_id_delete_it_once(mp: MP) -> None:
    a = mp.add("alpha")
    body = ok(bulk(mp, [a, a.upper()]))
    assert body.pop("receipt_id")
    assert body == {"deleted": 1, "failed": 1, "results": [{"id": a, "status": "deleted"},
                                                           {"id": a.upper(), "status": "failed", "reason": "not_found"}]}
    assert mp.texts() == set()


def test_unknown_malformed_foreign_and_already_deleted_ids_fail(mp: MP, other: MP) -> None:
    gone = mp.add("deleted before")
    assert mp.http.delete(f"/memories/{gone}").status_code == 200
    kept = mp.add("kept")
    theirs = other.add("their memory")
    body = ok(bulk(mp, [UNKNOWN, "not-an-id", theirs, gone, ""]))
    assert (body["deleted"], body["failed"]) == (0, 5)
    by_id = {r["id"]: r for r in body["results"]}
    assert by_id[theirs] == {"id": theirs, "status": "failed", "reason": "not_found"}
    assert {k: v for k, v in by_id[theirs].items() if k != "id"} == {k: v for k, v in by_id[UNKNOWN].items() if k != "id"}
    assert by_id[gone]["reason"] == "not_found"
    assert by_id["not-an-id"]["status"] == by_id[""]["status"] == "failed"
    assert other.texts() == {"their memory"}
    assert mp.texts() == {"kept"}
    assert kept


def test_another_projects_ids_answer_exactly_like_unknown_ones(mp: MP, other: MP) -> None:
    theirs = other.add("their memory")
    unknown = str(uuid.uuid4())
    a, b = ok(bulk(mp, [theirs])), ok(bulk(mp, [unknown]))
    assert a["results"][0].pop("id") == theirs and b["results"][0].pop("id") == unknown
    assert a == b
    assert other.texts() == {"their memory"}


def test_a_thousand_ids_is_allowed(mp: MP) -> None:
    real = [mp.add(f"fact {i}") for i in range(3)]
    ids = real + [str(uuid.uuid4()) for _ in range(997)]
    body = ok(bulk(mp, ids))
    assert (body["deleted"], body["failed"]) == (3, 997)
    assert len(body["results"]) == 1000
    assert mp.texts() == set()


def test_mem0_memories_are_deleted_for_the_mem0_side_too(mp: MP, mem0: Mem0) -> None:
    mid = mem0.add("Bob likes chess", user_id="bob")
    assert ok(bulk(mp, [mid]))["deleted"] == 1
    assert mem0.get(mid).status_code == 404
    assert mem0.http.get("/v1/entities/").json()["results"] == []


# refusals delete nothing -------------------------------------------------------------------------
@pytest.fixture
def three(mp: MP) -> list[str]:
    return [mp.add("one"), mp.add("two"), mp.add("three")]


REFUSED: list[Any] = [
    {},
    {"memoryIds": None},
    {"memoryIds": "{id}"},
    {"memoryIds": {"id": "{id}"}},
    {"memoryIds": []},
    {"memoryIds": ["{id}", 1]},
    {"memoryIds": ["{id}", None]},
    {"memoryIds": ["{id}", ["{id}"]]},
    {"memoryIds": ["{id}", True]},
    {"ids": ["{id}"]},
    ["{id}"],
    "{id}",
]


@pytest.mark.parametrize("body", REFUSED)
def test_a_bad_body_is_400_and_deletes_nothing(mp: MP, three: list[str], body: Any) -> None:
    sent = json.loads(json.dumps(body).replace("{id}", three[0]))
    answer = mp.http.post("/memories/bulk-delete", json=sent)
    assert answer.status_code == 400, answer.text
    assert set(answer.json()) == {"error"}
    assert mp.texts() == {"one", "two", "three"}


def test_over_a_thousand_ids_is_400_and_deletes_nothing(mp: MP, three: list[str]) -> None:
    answer = bulk(mp, three + [str(uuid.uuid4()) for _ in range(998)])
    assert answer.status_code == 400 and "1000" in answer.json()["error"]
    repeats = bulk(mp, [three[0]] * 1001)  # the limit counts ids sent, repeats included
    assert repeats.status_code == 400
    assert mp.texts() == {"one", "two", "three"}


@pytest.mark.parametrize("raw", [b'{"memoryIds": ["', b"", b"memoryIds=x", b"\xff"])
def test_malformed_json_is_400_and_deletes_nothing(mp: MP, three: list[str], raw: bytes) -> None:
    answer = mp.http.post("/memories/bulk-delete", content=raw, headers={"Content-Type": "application/json"})
    assert answer.status_code == 400 and set(answer.json()) == {"error"}
    assert mp.texts() == {"one", "two", "three"}


@pytest.mark.parametrize("header", [None, "Bearer mv_wrong", "Bearer", "Token", "nonsense"])
def test_no_key_or_a_bad_key_is_401_and_deletes_nothing(server: Server, mp: MP, three: list[str],
                                                        header: str | None) -> None:
    headers = {"Authorization": header} if header is not None else {}
    answer = httpx.post(server.url + "/api/memories/bulk-delete", json={"memoryIds": three}, headers=headers)
    assert answer.status_code == 401 and set(answer.json()) == {"error"}
    assert mp.texts() == {"one", "two", "three"}


# no read path shows a deleted memory -----------------------------------------------------------------
plans = st.fixed_dictionaries({
    "memories": st.lists(st.tuples(st.sampled_from(["mp", "mem0"]), st.text("abcdefgh", min_size=1, max_size=6)),
                         min_size=1, max_size=6),
    "delete": st.lists(st.integers(0, 5), max_size=8),  # indices into memories (mod n), repeats allowed
    "extra": st.lists(st.sampled_from(["unknown", "malformed", "theirs", "already"]), max_size=4),
    "order": st.randoms(use_true_random=False),
})


@settings(max_examples=30, deadline=None)
@given(plan=plans)
def test_after_any_bulk_delete_no_read_path_returns_a_deleted_memory(server: Server, plan: dict[str, Any]) -> None:
    project = fresh_project()
    mp, mem0, other = MP(server, server.key(project)), Mem0(server, server.key(project)), MP(server, server.key(fresh_project()))
    try:
        made = [(i, side, f"{word} {i}") for i, (side, word) in enumerate(plan["memories"])]
        ids = [mp.add(text) if side == "mp" else mem0.add(text) for _, side, text in made]
        text_of = dict(zip(ids, (t for _, _, t in made), strict=True))
        targets = [ids[i % len(ids)] for i in plan["delete"]]
        extras = {"unknown": str(uuid.uuid4()), "malformed": "mem-id-1", "theirs": other.add("their memory")}
        if "already" in plan["extra"]:
            extras["already"] = mp.add("deleted beforehand")
            assert mp.http.delete(f"/memories/{extras['already']}").status_code == 200
        sent = targets + [extras[k] for k in plan["extra"]]
        plan["order"].shuffle(sent)
        if not sent:
            sent = [extras["unknown"]]

        body = ok(bulk(mp, sent))
        gone = set(targets)
        kept = [i for i in ids if i not in gone]
        assert body["deleted"] == len(gone)
        assert body["deleted"] + body["failed"] == len(set(sent))
        assert [r["id"] for r in body["results"]] == list(dict.fromkeys(sent))
        dead = {text_of[i] for i in gone} | ({"deleted beforehand"} if "already" in extras else set())
        alive = {text_of[i] for i in kept}

        # MemoryPlugin: list, v2, search, bucket counts
        listed = mp.everything()
        assert {m["text"] for m in listed["data"]} == alive and listed["count"] == len(kept)
        v2 = mp.http.get("/v2/memory", params={"all": "true", "includeIds": "true"}).json()
        assert {m["text"] for m in v2["memories"]} == alive
        assert sum(b["memoryCount"] for b in v2["buckets"]) == len(kept)
        for text in dead:
            assert not {m["text"] for m in mp.http.get("/memory", params={"query": text}).json()["data"]} & dead
            assert not set(mp.http.get("/v2/memory", params={"query": text}).json()["memories"]) & dead
            # Mem0: search
            assert not {h["memory"] for h in mem0.search(text)} & dead

        # Mem0: get, list, history, entities
        for i in gone:
            assert mem0.get(i).status_code == 404
            for event in mem0.http.get(f"/v1/memories/{i}/history/").json():
                assert event["old_memory"] is None and event["new_memory"] is None and event["input"] is None
        for i in kept:
            assert mem0.get(i).json()["memory"] == text_of[i]
        assert {m["memory"] for m in mem0.list()} == alive
        alice = [e for e in mem0.http.get("/v1/entities/").json()["results"] if e["name"] == "alice"]
        kept_mem0 = sum(1 for i in kept if made[ids.index(i)][1] == "mem0")
        assert [e["total_memories"] for e in alice] == ([kept_mem0] if kept_mem0 else [])

        assert other.texts() == {"their memory"}  # another project's id failed and stayed
    finally:
        for client in (mp, mem0, other):
            client.close()
