"""MemoryPlugin's chat-history API against a real server on both stores: import (upsert, limits), list, read,
search, recall and delete; errors in MemoryPlugin's `{"error"}` shape, never a 500; tenants never meet."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest

from memvault.store.base import Store
from memvault.testing.clients import (  # noqa: F401 (the *_fixture names register pytest fixtures)
    MP,
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


def ok(answer: httpx.Response) -> Any:
    assert answer.status_code == 200, answer.text
    return answer.json()


def conversation(cid: str, turns: list[tuple[str, str]], *, title: str = "A chat", day: int = 1,
                 start: int = 0) -> dict[str, Any]:
    return {"id": cid, "title": title, "createdAt": f"2025-03-{day:02d}T10:00:00Z",
            "updatedAt": f"2025-03-{day:02d}T11:00:00Z",
            "messages": [{"id": f"{cid}-{start + n}", "role": role, "content": text,
                          "createdAt": f"2025-03-{day:02d}T10:{start + n:02d}:00Z"} for n, (role, text) in enumerate(turns)]}


def ingest(mp: MP, conv: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return dict(ok(mp.http.post("/chat-history/ingest/custom-online", json={"conversation": conv, **extra})))


TRIP = [("human", "I am planning a trip to Lisbon in May"), ("assistant", "Lisbon in May is lovely and warm"),
        ("human", "Which pastry should I try there?"), ("assistant", "Try the pastel de nata in Belem"),
        ("human", "And a good viewpoint?"), ("assistant", "Miradouro da Senhora do Monte at sunset")]


def test_an_ingest_answers_the_conversation_and_it_is_listed_and_readable(mp: MP) -> None:
    answer = ingest(mp, conversation("chat-1", TRIP, title="Lisbon trip"), platform="chatgpt",
                    platformDisplayName="ChatGPT")
    conv = answer["conversation"]
    assert answer["queued"] is True and answer["platform"] == "chatgpt" and answer["importId"]
    assert conv["id"] == answer["conversationId"] and conv["platformConversationId"] == "chat-1"
    assert (conv["title"], conv["messageCount"], conv["status"]) == ("Lisbon trip", 6, "completed")
    listed = ok(mp.http.get("/chat-history/chats"))
    assert (listed["total"], listed["page"], listed["pageSize"], listed["totalPages"]) == (1, 1, 25, 1)
    [item] = listed["items"]
    assert item["id"] == conv["id"] and item["platform"] == "chatgpt" and item["messageCount"] == 6
    assert item["tokenCount"] > 0 and item["pinned"] is False and item["createdAt"].startswith("2025-03-01")
    read = ok(mp.http.get("/chat-history/conversation", params={"conversationId": conv["id"]}))
    assert read["total"] == 6 and read["platformConversationId"] == "chat-1"
    assert [(m["message_index"], m["text"]) for m in read["messages"]] == [(n, t) for n, (_, t) in enumerate(TRIP)]
    assert read["messages"][3]["timestamp"].startswith("2025-03-01T10:03")


def test_the_same_conversation_again_adds_only_its_new_messages(mp: MP) -> None:
    first = ingest(mp, conversation("chat-2", TRIP[:4]))
    again = ingest(mp, conversation("chat-2", TRIP))  # the first four again, and two new ones
    assert again["conversationId"] == first["conversationId"] and again["conversation"]["messageCount"] == 6
    same = ingest(mp, conversation("chat-2", TRIP))
    assert same["conversation"]["messageCount"] == 6
    read = ok(mp.http.get("/chat-history/conversation", params={"conversationId": first["conversationId"]}))
    assert [m["text"] for m in read["messages"]] == [t for _, t in TRIP]
    assert ok(mp.http.get("/chat-history/chats"))["total"] == 1
    # messages without ids: the same message twice is one message
    bare = {"id": "chat-3", "messages": [{"role": "human", "content": "no id here"}]}
    ingest(mp, bare)
    assert ingest(mp, bare)["conversation"]["messageCount"] == 1
    # the same id on another platform is another conversation
    assert ingest(mp, conversation("chat-2", TRIP[:1]), platform="claude")["conversationId"] != first["conversationId"]
    hits = ok(mp.http.post("/chat-history/search", json={"query": "pastel de nata", "limit": 100}))["results"]
    texts = [h["text"] for h in hits]
    assert len(texts) == len(set(texts))  # nothing was indexed twice
    assert sum("pastel de nata" in t for t in texts) == 2  # message 3 ends chunk 0-3 and starts chunk 3-5


def test_search_finds_passages_with_their_sender_and_context(mp: MP) -> None:
    conv = ingest(mp, conversation("chat-4", TRIP, title="Lisbon trip"), platform="chatgpt")
    ingest(mp, conversation("chat-5", [("human", "My cat is called Miso"), ("assistant", "Miso is a nice name")],
                            title="Pets", day=2), platform="claude")
    found = ok(mp.http.post("/chat-history/search", json={"query": "pastel in Belem", "contextChunks": 1}))
    assert found["query"] == "pastel in Belem" and found["provider"] == "all"
    assert found["totalResults"] == len(found["results"]) >= 1 and isinstance(found["processingTime"], int)
    best = found["results"][0]
    assert best["conversationId"] == conv["conversationId"] and best["title"] == "Lisbon trip"
    assert "pastel de nata" in best["text"] and best["sender"] == "assistant" and 0 < best["score"] <= 1
    assert best["timestamp"].startswith("2025-03-01T10:03") and best["context"]
    assert all(set(c) == {"text", "sender", "timestamp"} for c in best["context"])
    only = ok(mp.http.post("/chat-history/search", json={"query": "Miso the cat", "provider": "chatgpt"}))["results"]
    assert all(h["conversationId"] == conv["conversationId"] for h in only)


def test_inject_answers_the_best_passages_in_date_order_within_the_budget(mp: MP) -> None:
    ingest(mp, conversation("late", [("human", "The Lisbon hotel is the Memmo Alfama")], title="Hotel", day=20))
    ingest(mp, conversation("early", [("human", "I booked flights to Lisbon for May 3")], title="Flights", day=2))
    ingest(mp, conversation("other", [("human", "Tomatoes need sun and water")], title="Garden", day=9))
    answer = ok(mp.http.post("/chat-history/inject", json={"query": "Lisbon trip flights hotel", "maxTokens": 200}))
    content = answer["content"]
    assert content.index("flights to Lisbon") < content.index("Memmo Alfama")  # date order, not score order
    assert "[2025-03-02 · Flights]" in content and answer["model"] == "offline"
    assert 0 < answer["tokenCount"] <= 200
    titles = [s["conversationTitle"] for s in answer["sources"]]
    assert titles.index("Flights") < titles.index("Hotel")
    assert all(set(s) == {"conversationId", "conversationTitle", "messageId", "date", "relevanceScore"}
               for s in answer["sources"])
    small = ok(mp.http.post("/chat-history/inject", json={"queries": [{"query": "Lisbon hotel", "maxTokens": 30}]}))
    assert 0 < small["tokenCount"] <= 30 and len(small["sources"]) == 1


def test_delete_takes_a_conversation_from_every_read(mp: MP) -> None:
    gone = ingest(mp, conversation("gone", [("human", "The vault code is zanzibar42")]))["conversationId"]
    kept = ingest(mp, conversation("kept", [("human", "The garden gate is zanzibar blue")]))["conversationId"]
    answer = ok(mp.http.request("DELETE", "/chat-history/chats", json={"ids": [gone, "no-such-id", gone]}))
    receipt_id = answer.pop("receipt_id")
    assert answer == {"deleted": [gone], "count": 1}
    root = str(mp.http.base_url).rstrip("/").removesuffix("/api")
    receipt = httpx.get(f"{root}/v1/receipts/{receipt_id}/", headers={"Authorization": f"Token {mp.key}"}).json()
    assert receipt["conversation_ids"] == [gone] and receipt["count"] == 1 and "zanzibar" not in str(receipt)
    assert [c["id"] for c in ok(mp.http.get("/chat-history/chats"))["items"]] == [kept]
    error_of(mp.http.get("/chat-history/conversation", params={"conversationId": gone}), 404)
    found = ok(mp.http.post("/chat-history/search", json={"query": "zanzibar42 vault code"}))["results"]
    assert [h["conversationId"] for h in found] == [kept]
    assert "zanzibar42" not in ok(mp.http.post("/chat-history/inject", json={"query": "vault code"}))["content"]
    assert ok(mp.http.request("DELETE", "/chat-history/chats", json={"ids": [gone]})) == {"deleted": [], "count": 0}


def test_tenants_never_meet(mp: MP, other: MP) -> None:
    mine = ingest(mp, conversation("shared-id", [("human", "My secret recipe uses saffron")]))["conversationId"]
    theirs = ingest(other, conversation("shared-id", [("human", "Their note about saffron")]))["conversationId"]
    assert mine != theirs
    assert [c["id"] for c in ok(other.http.get("/chat-history/chats"))["items"]] == [theirs]
    error_of(other.http.get("/chat-history/conversation", params={"conversationId": mine}), 404)
    assert all(h["conversationId"] == theirs for h in
               ok(other.http.post("/chat-history/search", json={"query": "saffron recipe"}))["results"])
    assert ok(other.http.request("DELETE", "/chat-history/chats", json={"ids": [mine]}))["count"] == 0
    assert ok(mp.http.get("/chat-history/conversation", params={"conversationId": mine}))["total"] == 1


def test_a_conversation_over_the_token_limit_is_rejected_with_its_reason_and_nothing_of_it_stored(mp: MP) -> None:
    first = ingest(mp, conversation("big", TRIP[:2]))
    huge = conversation("big", [("human", "word " * 60_000), ("assistant", "more " * 50_000)], start=2)
    answer = ingest(mp, huge)
    assert answer["conversationId"] == first["conversationId"]
    assert answer["conversation"]["status"] == "rejected" and "100,000" in answer["conversation"]["statusReason"]
    [item] = ok(mp.http.get("/chat-history/chats"))["items"]
    assert item["status"] == "rejected" and "100,000" in item["statusReason"] and item["messageCount"] == 2
    read = ok(mp.http.get("/chat-history/conversation", params={"conversationId": first["conversationId"]}))
    assert [m["text"] for m in read["messages"]] == [t for _, t in TRIP[:2]]  # as it was
    new = ingest(mp, conversation("huge-new", [("human", "x " * 100_001)]))["conversation"]
    assert (new["status"], new["messageCount"]) == ("rejected", 0)
    assert ingest(mp, conversation("big", TRIP))["conversation"]["status"] == "completed"  # a fitting import again


def test_the_ingest_route_alone_takes_bodies_above_the_default_limit(mp: MP) -> None:
    big = conversation("bulky", [("human", "filler " * 700_000)])  # ~5 MB, over the 4 MB default
    body = json.dumps({"conversation": big}).encode()
    assert len(body) > 4 * 1024 * 1024
    answer = mp.http.post("/chat-history/ingest/custom-online", content=body,
                          headers={"Content-Type": "application/json"})
    assert answer.status_code == 200 and answer.json()["conversation"]["status"] == "rejected"
    error_of(mp.http.post("/chat-history/search", content=body, headers={"Content-Type": "application/json"}), 413)


BAD_INGESTS: dict[str, Any] = {
    "no conversation": {},
    "conversation not an object": {"conversation": "hello"},
    "no messages": {"conversation": {"id": "c"}},
    "empty messages": {"conversation": {"id": "c", "messages": []}},
    "a message without content": {"conversation": {"id": "c", "messages": [{"role": "human"}]}},
    "a message with blank content": {"conversation": {"id": "c", "messages": [{"role": "human", "content": "  "}]}},
    "a message without role": {"conversation": {"id": "c", "messages": [{"content": "hi"}]}},
    "a bad platform": {"conversation": {"id": "c", "messages": [{"role": "human", "content": "hi"}]},
                       "platform": "chat gpt!"},
    "a platform too long": {"conversation": {"id": "c", "messages": [{"role": "human", "content": "hi"}]},
                            "platform": "p" * 101},
    "a display name too long": {"conversation": {"id": "c", "messages": [{"role": "human", "content": "hi"}]},
                                "platformDisplayName": "d" * 201},
    "a bad date": {"conversation": {"id": "c", "createdAt": "yesterday",
                                    "messages": [{"role": "human", "content": "hi"}]}},
    "a NUL in content": {"conversation": {"id": "c", "messages": [{"role": "human", "content": "a\x00b"}]}},
    "an empty id": {"conversation": {"id": "", "messages": [{"role": "human", "content": "hi"}]}},
}


@pytest.mark.parametrize("case", list(BAD_INGESTS))
def test_a_bad_ingest_is_a_400_and_stores_nothing(mp: MP, case: str) -> None:
    error_of(mp.http.post("/chat-history/ingest/custom-online", json=BAD_INGESTS[case]), 400)
    error_of(mp.http.post("/chat-history/ingest/custom-online", content=b"{not json",
                          headers={"Content-Type": "application/json"}), 400)
    assert ok(mp.http.get("/chat-history/chats"))["total"] == 0


def test_bad_reads_and_deletes_are_400_or_404_in_the_error_shape(mp: MP) -> None:
    assert "100" in error_of(mp.http.get("/chat-history/chats", params={"pageSize": 101}), 400)
    error_of(mp.http.get("/chat-history/chats", params={"page": 0}), 400)
    error_of(mp.http.get("/chat-history/chats", params={"provider": "bad provider"}), 400)
    error_of(mp.http.get("/chat-history/chats", params={"dateFrom": "soon"}), 400)
    error_of(mp.http.get("/chat-history/conversation"), 400)
    assert error_of(mp.http.get("/chat-history/conversation", params={"conversationId": str(uuid.uuid4())}),
                    404) == "Conversation not found"
    error_of(mp.http.request("DELETE", "/chat-history/chats", json={"ids": []}), 400)
    error_of(mp.http.request("DELETE", "/chat-history/chats", json={}), 400)
    error_of(mp.http.post("/chat-history/search", json={"query": ""}), 400)
    error_of(mp.http.post("/chat-history/search", json={"query": "x", "limit": 101}), 400)
    error_of(mp.http.post("/chat-history/search", json={"query": "x", "contextChunks": -1}), 400)
    error_of(mp.http.post("/chat-history/inject", json={}), 400)
    error_of(mp.http.post("/chat-history/inject", json={"query": "x", "maxTokens": 0}), 400)
    error_of(mp.http.post("/chat-history/inject", json={"queries": [{"query": "x"}] * 11}), 400)


def test_listing_pages_and_filters(mp: MP) -> None:
    for n in range(5):
        ingest(mp, conversation(f"c{n}", [("human", f"note {n}")], title=f"Rome {n}" if n % 2 else f"Work {n}",
                                day=n + 1), platform="chatgpt" if n < 3 else "claude")
    page = ok(mp.http.get("/chat-history/chats", params={"page": 2, "pageSize": 2}))
    assert (page["total"], page["totalPages"], [c["title"] for c in page["items"]]) == (5, 3, ["Work 2", "Rome 1"])
    assert [c["title"] for c in ok(mp.http.get("/chat-history/chats", params={"title": "rome"}))["items"]] == [
        "Rome 3", "Rome 1"]
    assert ok(mp.http.get("/chat-history/chats", params={"provider": "claude"}))["total"] == 2
    assert ok(mp.http.get("/chat-history/chats", params={"dateFrom": "2025-03-02", "dateTo": "2025-03-03T23:59:59Z"}
                          ))["total"] == 2
    one = ok(mp.http.get("/chat-history/chats"))["items"][0]["importId"]
    assert [c["title"] for c in ok(mp.http.get("/chat-history/chats", params={"importId": one}))["items"]] == ["Work 4"]
    assert ok(mp.http.get("/chat-history/chats", params={"pinnedOnly": "true"}))["total"] == 0


def test_no_row_of_a_deleted_conversation_is_left_in_any_table(server: Server, mp: MP) -> None:
    """Rows, seen through a connection of its own (the raw SQLite files are checked byte by byte in
    tests/adversarial/test_forget_files.py)."""
    store: Store = server.engine.store
    word = "qx" + uuid.uuid4().hex[:12]
    gone = ingest(mp, conversation(f"c-{word}", [("human", f"secret {word} one"), ("assistant", f"echo {word}")],
                                   title=f"title {word}"))["conversationId"]
    ok(mp.http.request("DELETE", "/chat-history/chats", json={"ids": [gone]}))
    tables = ("chat_conversations", "chat_messages", "chat_chunks")
    if type(store).__name__ == "PostgresStore":
        import psycopg

        with psycopg.connect(store.url) as conn:  # type: ignore[attr-defined]
            for table in tables:
                with conn.execute(f"SELECT count(*) FROM {table} t WHERE t::text LIKE %s", (f"%{word}%",)) as cur:
                    row = cur.fetchone()
                assert row is not None and row[0] == 0, table
    else:
        from contextlib import closing

        import sqlean as sqlite3

        with closing(sqlite3.connect(store.path)) as conn:  # type: ignore[attr-defined]
            for table in (*tables, "chat_chunks_fts"):
                text = " ".join(str(r) for r in conn.execute(f"SELECT * FROM {table}").fetchall())
                assert word not in text, table
