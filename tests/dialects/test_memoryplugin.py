"""The MemoryPlugin API against a real server: every endpoint, its errors in MemoryPlugin's `{"error"}`
shape (never a 500), tenant isolation, and one memory seen, changed and deleted through both dialects."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from mem0 import MemoryClient

from memvault.embed.hashing import HashingEmbedder
from memvault.engine import Engine, Limits
from memvault.extract.offline import OfflineExtractor
from memvault.store.base import Store
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

server = module_server  # one server for this module: each test below works in projects of its own


def error_of(answer: httpx.Response, status: int) -> str:
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert set(body) == {"error"} and isinstance(body["error"], str) and body["error"]
    return str(body["error"])


# POST /api/memory ----------------------------------------------------------------------
def test_add_without_bucket_lands_in_general_with_its_source(mp: MP) -> None:
    memory_id = mp.add("I take my coffee black", source="chatgpt")
    [item] = mp.everything()["data"]
    general = mp.buckets()["General"]
    assert item["id"] == memory_id
    assert item["text"] == "I take my coffee black"
    assert item["metadata"]["text"] == "I take my coffee black"
    assert item["metadata"]["bucketId"] == general["id"]
    assert item["metadata"]["bucketName"] == "General"
    assert item["metadata"]["source"] == "chatgpt"
    assert item["metadata"]["createdAt"]
    assert general["memoryCount"] == 1


def test_add_to_a_bucket_by_id(mp: MP) -> None:
    work = mp.bucket("Work")
    mp.add("Standup is at nine", bucketId=work)
    [item] = mp.everything()["data"]
    assert (item["metadata"]["bucketId"], item["metadata"]["bucketName"]) == (work, "Work")
    assert "source" not in item["metadata"]
    assert mp.buckets()["Work"]["memoryCount"] == 1


@pytest.mark.parametrize("bucket", [12345, "no-such-bucket"])
def test_add_to_an_unknown_bucket_is_404_and_stores_nothing(mp: MP, bucket: Any) -> None:
    assert error_of(mp.http.post("/memory", json={"text": "lost", "bucketId": bucket}), 404) == "Bucket not found"
    assert mp.texts() == set()


@pytest.mark.parametrize("body", [{}, {"text": ""}, {"text": "   "}, {"text": 42}, {"text": None}, [], "text",
                                  {"text": "ok", "bucketId": True}, {"text": "x" * 20_001}])
def test_add_refuses_a_bad_body(mp: MP, body: Any) -> None:
    error_of(mp.http.post("/memory", json=body), 400)
    assert mp.texts() == set()


def test_add_refuses_malformed_json(mp: MP) -> None:
    answer = mp.http.post("/memory", content=b'{"text": "half', headers={"Content-Type": "application/json"})
    assert error_of(answer, 400) == "Malformed JSON body"


# GET /api/memory -------------------------------------------------------------------------
@pytest.fixture
def twelve(mp: MP) -> list[str]:
    """Twelve memories, oldest first."""
    return [mp.add(f"numbered fact {i:02d}") for i in range(12)]


def test_list_gives_the_ten_newest_and_counts_every_match(mp: MP, twelve: list[str]) -> None:
    body = mp.http.get("/memory").json()
    assert [m["id"] for m in body["data"]] == twelve[::-1][:10]
    assert body["count"] == 12


def test_list_pages_with_count_and_skip(mp: MP, twelve: list[str]) -> None:
    body = mp.http.get("/memory", params={"latest": "true", "count": 3, "skip": 2}).json()
    assert [m["id"] for m in body["data"]] == twelve[::-1][2:5]
    assert body["count"] == 12
    assert mp.http.get("/memory", params={"skip": 12}).json() == {"data": [], "count": 12}


def test_list_all_gives_every_memory(mp: MP, twelve: list[str]) -> None:
    body = mp.everything()
    assert [m["id"] for m in body["data"]] == twelve[::-1]
    assert body["count"] == 12
    tail = mp.http.get("/memory", params={"all": "true", "skip": 10}).json()
    assert [m["id"] for m in tail["data"]] == twelve[::-1][10:]


def test_list_all_is_bounded_by_the_page_size_and_pages_with_skip(store: Store) -> None:
    """`all=true` answers at most the engine's page size; `skip` reads on, and `count` says how many there are."""
    engine = Engine(store, HashingEmbedder(), OfflineExtractor(), limits=Limits(max_page_size=5))
    with Server(engine) as small:
        client = MP(small, small.key())
        try:
            added = [client.add(f"bounded fact {i:02d}") for i in range(12)]
            newest_first = added[::-1]
            seen: list[str] = []
            while True:
                body = client.http.get("/memory", params={"all": "true", "skip": len(seen)}).json()
                assert body["count"] == 12 and len(body["data"]) <= 5
                if not body["data"]:
                    break
                seen += [m["id"] for m in body["data"]]
            assert seen == newest_first
            v2 = client.http.get("/v2/memory", params={"all": "true", "skip": 5, "includeIds": "true"}).json()
            assert [m["id"] for m in v2["memories"]] == newest_first[5:10]
        finally:
            client.close()


def test_query_gives_the_five_most_relevant(mp: MP, twelve: list[str]) -> None:
    wanted = mp.add("My dentist appointment is on Friday")
    body = mp.http.get("/memory", params={"query": "dentist appointment"}).json()
    assert body["data"][0]["id"] == wanted
    assert len(body["data"]) == body["count"] <= 5


def test_source_identifies_the_client_and_does_not_filter(mp: MP) -> None:
    mp.add("saved from the browser", source="extension")
    body = mp.http.get("/memory", params={"source": "chatgpt"}).json()
    assert [m["text"] for m in body["data"]] == ["saved from the browser"]


@pytest.mark.parametrize("params", [{"count": 0}, {"count": 1001}, {"count": "ten"}, {"skip": -1},
                                    {"all": "maybe"}, {"query": " "}])
def test_list_refuses_bad_parameters(mp: MP, params: dict[str, Any]) -> None:
    error_of(mp.http.get("/memory", params=params), 400)


# GET /api/v2/memory -----------------------------------------------------------------------
def test_v2_gives_texts_and_buckets(mp: MP) -> None:
    work = mp.bucket("Work", "office things")
    mp.add("older general fact")
    mp.add("newer work fact", bucketId=work)
    body = mp.http.get("/v2/memory").json()
    assert body["memories"] == ["newer work fact", "older general fact"]
    buckets = {b["name"]: b for b in body["buckets"]}
    assert buckets["Work"] == {"id": work, "name": "Work", "description": "office things", "memoryCount": 1}
    assert buckets["General"]["memoryCount"] == 1


def test_v2_filters_by_bucket_and_includes_ids(mp: MP) -> None:
    work = mp.bucket("Work")
    mp.add("general fact")
    wid = mp.add("work fact", bucketId=work)
    body = mp.http.get("/v2/memory", params={"bucketId": work, "includeIds": "true"}).json()
    [item] = body["memories"]
    assert item["id"] == wid and item["text"] == "work fact" and item["metadata"]["bucketName"] == "Work"


def test_v2_searches_within_a_bucket(mp: MP) -> None:
    work = mp.bucket("Work")
    mp.add("the quarterly report is due", bucketId=work)
    mp.add("the quarterly dentist visit")
    body = mp.http.get("/v2/memory", params={"query": "quarterly", "bucketId": work}).json()
    assert body["memories"] == ["the quarterly report is due"]


def test_v2_pages_and_gives_all(mp: MP, twelve: list[str]) -> None:
    page = mp.http.get("/v2/memory", params={"count": 2, "skip": 1}).json()["memories"]
    assert page == ["numbered fact 10", "numbered fact 09"]
    assert len(mp.http.get("/v2/memory", params={"all": "true"}).json()["memories"]) == 12


def test_v2_with_an_unknown_bucket_is_404(mp: MP) -> None:
    assert error_of(mp.http.get("/v2/memory", params={"bucketId": "nope"}), 404) == "Bucket not found"


# POST /api/v2/memory/update ------------------------------------------------------------------
def test_edit_changes_the_text_and_answers_the_memory(mp: MP, mem0: Mem0) -> None:
    mid = mp.add("I live in Lyon")
    answer = mp.http.post("/v2/memory/update", json={"memoryId": mid, "text": "I live in Porto"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["id"] == mid and answer.json()["text"] == "I live in Porto"
    assert mem0.get(mid).json()["memory"] == "I live in Porto"
    assert [e["event"] for e in mem0.http.get(f"/v1/memories/{mid}/history/").json()] == ["ADD", "UPDATE"]


@pytest.mark.parametrize("by", ["bucketId", "bucketName"])
def test_edit_moves_one_memory_by_bucket_id_or_name(mp: MP, by: str) -> None:
    work = mp.bucket("Work")
    mid = mp.add("a fact")
    answer = mp.http.post("/v2/memory/update", json={"memoryId": mid, by: work if by == "bucketId" else "work"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["metadata"]["bucketId"] == work
    assert mp.buckets()["Work"]["memoryCount"] == 1


def test_move_reports_moved_and_rejected_ids(mp: MP, other: MP) -> None:
    work = mp.bucket("Work")
    mine = [mp.add("one"), mp.add("two")]
    theirs = other.add("not yours")
    answer = mp.http.post("/v2/memory/update", json={"memoryIds": [*mine, UNKNOWN, theirs, "junk"], "bucketId": work})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["moved"] == 2 and set(body["movedIds"]) == set(mine)
    assert set(body["rejectedIds"]) == {UNKNOWN, theirs, "junk"}
    assert mp.buckets()["Work"]["memoryCount"] == 2
    assert other.buckets()["General"]["memoryCount"] == 1


def test_move_of_nothing_known_is_404_with_the_rejected_ids(mp: MP) -> None:
    work = mp.bucket("Work")
    answer = mp.http.post("/v2/memory/update", json={"memoryIds": [UNKNOWN, "junk"], "bucketId": work})
    assert answer.status_code == 404
    assert answer.json()["error"] and set(answer.json()["rejectedIds"]) == {UNKNOWN, "junk"}


@pytest.mark.parametrize("body", [
    {},
    {"memoryId": "{mid}", "memoryIds": ["{mid}"], "bucketId": "General"},
    {"memoryIds": ["{mid}"]},
    {"memoryIds": []},
    {"memoryIds": ["{mid}"] * 101, "bucketId": "General"},
    {"memoryIds": [1], "bucketId": "General"},
    {"memoryId": "{mid}"},
    {"memoryId": "{mid}", "text": ""},
    {"memoryId": "{mid}", "bucketId": "General", "bucketName": "General"},
    {"memoryId": 7, "text": "x"},
])
def test_update_refuses_a_bad_body_and_changes_nothing(mp: MP, body: dict[str, Any]) -> None:
    mid = mp.add("unchanged")
    error_of(mp.http.post("/v2/memory/update", json=json.loads(json.dumps(body).replace("{mid}", mid))), 400)
    assert mp.everything()["data"][0]["text"] == "unchanged"


def test_update_of_an_unknown_memory_or_bucket_is_404(mp: MP) -> None:
    mid = mp.add("here")
    assert error_of(mp.http.post("/v2/memory/update", json={"memoryId": UNKNOWN, "text": "x"}), 404) == "Memory not found"
    assert error_of(mp.http.post("/v2/memory/update", json={"memoryId": mid, "bucketId": "nope"}), 404) == "Bucket not found"
    moving = {"memoryIds": [mid], "bucketId": "nope"}
    assert error_of(mp.http.post("/v2/memory/update", json=moving), 404) == "Bucket not found"


# DELETE /api/memories/{id} ----------------------------------------------------------------------
def test_delete_removes_the_memory(mp: MP, mem0: Mem0) -> None:
    mid = mp.add("forget me")
    answer = mp.http.delete(f"/memories/{mid}")
    assert (answer.status_code, answer.json()["message"]) == (200, "Memory deleted")
    assert answer.json()["receipt_id"] == answer.headers["x-memvault-receipt"]
    assert mp.texts() == set()
    assert mem0.get(mid).status_code == 404
    assert error_of(mp.http.delete(f"/memories/{mid}"), 404) == "Memory not found"


@pytest.mark.parametrize("memory_id", [UNKNOWN, "not-a-uuid", "42"])
def test_delete_of_an_unknown_or_malformed_id_is_404(mp: MP, memory_id: str) -> None:
    mp.add("stays")
    assert error_of(mp.http.delete(f"/memories/{memory_id}"), 404) == "Memory not found"
    assert mp.texts() == {"stays"}


def test_delete_without_an_id_is_an_error_not_a_crash(mp: MP) -> None:
    assert mp.http.delete("/memories/").status_code in (404, 405)
    assert "error" in mp.http.delete("/memories/").json()


# buckets -------------------------------------------------------------------------------------------
def test_a_new_project_has_the_general_bucket(mp: MP) -> None:
    [general] = mp.http.get("/buckets").json()
    assert general["name"] == "General" and general["memoryCount"] == 0 and general["id"]


def test_create_bucket_answers_its_id(mp: MP) -> None:
    answer = mp.http.post("/buckets", json={"name": "Recipes", "description": "food"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["message"] == "Bucket created successfully"
    assert mp.buckets()["Recipes"] == {"id": answer.json()["id"], "name": "Recipes", "description": "food",
                                       "memoryCount": 0}


@pytest.mark.parametrize("name", ["recipes", "RECIPES", "general"])
def test_bucket_names_are_unique_ignoring_case(mp: MP, name: str) -> None:
    mp.bucket("Recipes")
    error_of(mp.http.post("/buckets", json={"name": name}), 409)
    assert sorted(mp.buckets()) == ["General", "Recipes"]


@pytest.mark.parametrize("body", [{}, {"name": ""}, {"name": 5}, {"name": "x" * 101}, {"name": "ok", "description": 3}])
def test_create_bucket_refuses_a_bad_body(mp: MP, body: dict[str, Any]) -> None:
    error_of(mp.http.post("/buckets", json=body), 400)
    assert list(mp.buckets()) == ["General"]


def test_rename_bucket_and_change_its_description(mp: MP) -> None:
    bid = mp.bucket("Recipes")
    mp.add("pancakes need eggs", bucketId=bid)
    renamed = mp.http.patch(f"/buckets/{bid}", json={"name": "Cooking"})
    assert renamed.status_code == 200, renamed.text
    assert renamed.json() == {"id": bid, "name": "Cooking", "description": "", "memoryCount": 1}
    described = mp.http.patch(f"/buckets/{bid}", json={"description": "food"}).json()
    assert (described["name"], described["description"]) == ("Cooking", "food")
    assert mp.everything()["data"][0]["metadata"]["bucketName"] == "Cooking"


def test_rename_bucket_refusals(mp: MP) -> None:
    bid = mp.bucket("Recipes")
    mp.bucket("Travel")
    general = mp.buckets()["General"]["id"]
    error_of(mp.http.patch(f"/buckets/{bid}", json={"name": "travel"}), 409)
    error_of(mp.http.patch(f"/buckets/{general}", json={"name": "Misc"}), 409)
    error_of(mp.http.patch(f"/buckets/{bid}", json={}), 400)
    error_of(mp.http.patch(f"/buckets/{bid}", json={"name": ""}), 400)
    error_of(mp.http.patch("/buckets/nope", json={"name": "x"}), 404)
    assert sorted(mp.buckets()) == ["General", "Recipes", "Travel"]
    assert mp.http.patch(f"/buckets/{general}", json={"description": "everything else"}).status_code == 200


@pytest.mark.parametrize("choice", [None, "", "keep"])
def test_delete_bucket_without_a_choice_is_400_and_loses_nothing(mp: MP, choice: str | None) -> None:
    bid = mp.bucket("Recipes")
    mp.add("pancakes need eggs", bucketId=bid)
    params = {"memories": choice} if choice is not None else {}
    message = error_of(mp.http.delete(f"/buckets/{bid}", params=params), 400)
    assert "move" in message and "delete" in message
    assert mp.buckets()["Recipes"]["memoryCount"] == 1


def test_delete_bucket_moving_its_memories_to_general(mp: MP) -> None:
    bid = mp.bucket("Recipes")
    mp.add("pancakes need eggs", bucketId=bid)
    answer = mp.http.delete(f"/buckets/{bid}", params={"memories": "move"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["moved"] == 1
    assert list(mp.buckets()) == ["General"]
    assert mp.everything()["data"][0]["metadata"]["bucketName"] == "General"


def test_delete_bucket_deleting_its_memories(mp: MP, mem0: Mem0) -> None:
    bid = mp.bucket("Recipes")
    gone = mp.add("pancakes need eggs", bucketId=bid)
    mp.add("kept in general")
    answer = mp.http.delete(f"/buckets/{bid}", params={"memories": "delete"})
    assert answer.status_code == 200 and answer.json()["deleted"] == 1
    assert mp.texts() == {"kept in general"}
    assert mem0.get(gone).status_code == 404


def test_general_cannot_be_deleted_and_unknown_buckets_are_404(mp: MP) -> None:
    general = mp.buckets()["General"]["id"]
    error_of(mp.http.delete(f"/buckets/{general}", params={"memories": "delete"}), 409)
    error_of(mp.http.delete("/buckets/nope", params={"memories": "move"}), 404)
    assert list(mp.buckets()) == ["General"]


# auth and error shape ---------------------------------------------------------------------------------
ROUTES: list[tuple[str, str, Any]] = [
    ("POST", "/memory", {"text": "x"}),
    ("GET", "/memory", None),
    ("GET", "/v2/memory", None),
    ("POST", "/v2/memory/update", {"memoryId": UNKNOWN, "text": "x"}),
    ("DELETE", f"/memories/{UNKNOWN}", None),
    ("POST", "/memories/bulk-delete", {"memoryIds": [UNKNOWN]}),
    ("GET", "/buckets", None),
    ("POST", "/buckets", {"name": "x"}),
    ("PATCH", "/buckets/General", {"name": "General"}),
    ("DELETE", "/buckets/x?memories=move", None),
]


@pytest.mark.parametrize(("method", "path", "body"), ROUTES)
@pytest.mark.parametrize("header", [None, "Bearer mv_not-a-key", "Bearer", "Basic abc"])
def test_every_route_wants_a_valid_key(server: Server, method: str, path: str, body: Any, header: str | None) -> None:
    headers = {"Authorization": header} if header is not None else {}
    answer = httpx.request(method, server.url + "/api" + path, json=body, headers=headers)
    error_of(answer, 401)


def test_a_revoked_key_is_refused(server: Server) -> None:
    key, clear = server.engine.create_key(fresh_project(), "soon gone")
    server.engine.revoke_key(key.id)
    answer = httpx.get(server.url + "/api/memory", headers={"Authorization": f"Bearer {clear}"})
    assert error_of(answer, 401) == "Invalid API key"


GARBAGE = [b"", b"null", b"[]", b"7", b'"text"', b"{", b'{"text": {"a": 1}}', b'{"memoryIds": "x"}', b"\xff\xfe"]


@pytest.mark.parametrize(("method", "path", "body"), [r for r in ROUTES if r[2] is not None])
@pytest.mark.parametrize("raw", GARBAGE)
def test_garbage_bodies_are_400_never_500(mp: MP, method: str, path: str, body: Any, raw: bytes) -> None:
    answer = mp.http.request(method, path, content=raw, headers={"Content-Type": "application/json"})
    assert 400 <= answer.status_code < 500, answer.text
    assert "error" in answer.json()


def test_unknown_paths_under_api_answer_in_the_error_shape(mp: MP) -> None:
    error_of(mp.http.get("/nothing-here"), 404)
    error_of(mp.http.put("/memory", json={}), 405)


# tenant isolation --------------------------------------------------------------------------------------
def test_a_key_never_sees_or_touches_another_projects_memories(mp: MP, other: MP, server: Server) -> None:
    theirs_bucket = other.bucket("Secret")
    theirs = other.add("their secret", bucketId=theirs_bucket)
    mine = mp.add("my note")

    assert mp.everything() == {"data": [mp.everything()["data"][0]], "count": 1}
    assert mp.texts() == {"my note"}
    assert mp.http.get("/memory", params={"query": "their secret"}).json()["data"][0]["id"] == mine
    v2 = mp.http.get("/v2/memory", params={"all": "true"}).json()
    assert v2["memories"] == ["my note"] and [b["name"] for b in v2["buckets"]] == ["General"]
    assert mp.buckets()["General"]["memoryCount"] == 1

    assert error_of(mp.http.delete(f"/memories/{theirs}"), 404) == "Memory not found"
    assert error_of(mp.http.post("/v2/memory/update", json={"memoryId": theirs, "text": "mine now"}), 404)
    moved = mp.http.post("/v2/memory/update", json={"memoryIds": [theirs], "bucketId": "General"})
    assert moved.status_code == 404 and moved.json()["rejectedIds"] == [theirs]
    assert error_of(mp.http.get("/v2/memory", params={"bucketId": theirs_bucket}), 404) == "Bucket not found"
    error_of(mp.http.post("/memory", json={"text": "sneak", "bucketId": theirs_bucket}), 404)
    error_of(mp.http.post("/v2/memory/update", json={"memoryId": mine, "bucketId": theirs_bucket}), 404)
    error_of(mp.http.delete(f"/buckets/{theirs_bucket}", params={"memories": "delete"}), 404)
    error_of(mp.http.patch(f"/buckets/{theirs_bucket}", json={"name": "Mine"}), 404)

    assert other.everything()["data"][0]["text"] == "their secret"
    assert other.buckets()["Secret"]["memoryCount"] == 1
    assert mp.bucket("Secret")  # the same name is free in another project


# one memory, two dialects ---------------------------------------------------------------------------------
def test_a_memoryplugin_memory_is_read_changed_and_deleted_through_mem0(mp: MP, mem0: Mem0) -> None:
    work = mp.bucket("Work")
    mid = mp.add("The build server is called kestrel", bucketId=work, source="extension")
    got = mem0.get(mid).json()
    assert got["memory"] == "The build server is called kestrel" and got["bucket"] == "Work"
    assert got["user_id"] is None
    assert [m["id"] for m in mem0.list()] == [mid]
    assert mem0.search("kestrel build server")[0]["id"] == mid

    assert mem0.http.put(f"/v1/memories/{mid}/", json={"text": "The build server is called osprey"}).status_code == 200
    assert mp.texts() == {"The build server is called osprey"}
    assert mp.everything()["data"][0]["metadata"]["bucketName"] == "Work"

    assert mem0.http.delete(f"/v1/memories/{mid}/").status_code == 200
    assert mp.texts() == set()
    assert mp.buckets()["Work"]["memoryCount"] == 0
    error_of(mp.http.delete(f"/memories/{mid}"), 404)


def test_a_mem0_memory_is_read_changed_and_deleted_through_memoryplugin(mp: MP, mem0: Mem0) -> None:
    mid = mem0.add("Alice is allergic to peanuts", user_id="alice")
    [item] = mp.everything()["data"]
    assert item["id"] == mid and item["metadata"]["bucketName"] == "General"
    assert mp.http.get("/memory", params={"query": "peanuts allergy"}).json()["data"][0]["id"] == mid

    work = mp.bucket("Health")
    changed = mp.http.post("/v2/memory/update", json={"memoryId": mid, "text": "Alice is allergic to walnuts",
                                                      "bucketId": work})
    assert changed.status_code == 200, changed.text
    got = mem0.get(mid).json()
    assert (got["memory"], got["bucket"], got["user_id"]) == ("Alice is allergic to walnuts", "Health", "alice")

    assert mp.http.delete(f"/memories/{mid}").status_code == 200
    assert mem0.get(mid).status_code == 404
    assert mem0.http.get("/v1/entities/").json()["results"] == []


@pytest.mark.parametrize("by", ["name", "lower name", "id"])
def test_mem0_filters_by_bucket_name_or_id(mp: MP, mem0: Mem0, by: str) -> None:
    work = mp.bucket("Work")
    wid = mp.add("work fact", bucketId=work)
    mem0.add("general fact")
    value = {"name": "Work", "lower name": "work", "id": work}[by]
    assert [m["id"] for m in mem0.list({"bucket": value})] == [wid]
    assert [m["memory"] for m in mem0.list({"NOT": [{"bucket": value}]})] == ["general fact"]


def test_the_official_mem0_client_works_on_memoryplugin_memories(server: Server, mp: MP) -> None:
    mid = mp.add("The wifi password is on the fridge")
    with httpx.Client(timeout=30) as http:
        client = MemoryClient(api_key=mp.key, host=server.url, client=http)
        assert client.get(mid)["memory"] == "The wifi password is on the fridge"
        client.update(mid, text="The wifi password is in the drawer")
        assert mp.texts() == {"The wifi password is in the drawer"}
        assert [m["id"] for m in client.get_all(filters={"memory_ids": [mid]})["results"]] == [mid]
        client.delete(mid)
    assert mp.texts() == set()
