"""Forget means forget, for the change log and what it delivers: after a delete, the deleted text is in no event of
the feed, in no delivery made after it (an add not yet delivered goes out without its text), in no delete payload,
and, once compacted, in no byte of the SQLite files."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

from mem0 import MemoryClient

from memvault.delivery import DeliveryOptions
from memvault.embed.hashing import HashingEmbedder
from memvault.engine import Engine, RetryPolicy
from memvault.extract.offline import OfflineExtractor
from memvault.store.sqlite import SQLiteStore
from memvault.testing.receiver import Receiver
from memvault.testing.server import Server

FAST = DeliveryOptions(poll=0.05, timeout=2.0, lease=2.0)
FILES = ("memvault.db", "memvault.db-wal", "memvault.db-shm")
TYPES = ["memory_add", "memory_update", "memory_delete"]


def marker() -> str:
    return "mk" + uuid.uuid4().hex[:14].translate(str.maketrans("0123456789", "ghijklmnop"))


def test_an_add_delivered_after_its_delete_carries_no_text_nor_does_the_feed(engine: Engine) -> None:
    engine.configure_events(retry=RetryPolicy(first=0.05, cap=0.2))
    secret_word, kept_word = marker(), marker()
    receiver = Receiver()  # down while the memory is added, updated and deleted
    with Server(engine, deliveries=FAST) as server:
        client = MemoryClient(api_key=server.key("forget"), host=server.url)
        receiver.secret = client.create_webhook(receiver.url, "late", client.project_id, TYPES)["secret"]
        mid = client.add(f"The vault code is {secret_word}", user_id="alice", infer=False)["results"][0]["id"]
        client.update(mid, text=f"The vault code is now {secret_word}x")
        client.add(f"The garden gate is {kept_word}", user_id="alice", infer=False)
        client.delete(mid)
        feed = client.client.get("/v1/events/").json()
        with receiver:
            deliveries = receiver.wait_for(4)
        client.client.close()
    assert [d.payload["event_type"] for d in deliveries] == ["memory_add", "memory_update", "memory_add",
                                                            "memory_delete"]
    assert all(d.signed for d in deliveries)
    sent = b"".join(d.body for d in deliveries).decode()
    assert secret_word not in sent and kept_word in sent
    assert [d.payload["event_details"]["data"]["memory"] for d in deliveries[:2]] == [None, None]
    assert secret_word not in str(feed) and kept_word in str(feed) and feed["count"] == 4


def test_the_deleted_text_leaves_the_log_and_the_sqlite_files(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "memvault.db")
    engine = Engine(store, HashingEmbedder(), OfflineExtractor())
    gone, kept = marker(), marker()
    with Receiver() as receiver, Server(engine, deliveries=FAST) as server:
        client = MemoryClient(api_key=server.key("forget"), host=server.url)
        receiver.secret = client.create_webhook(receiver.url, "files", client.project_id, TYPES)["secret"]
        mid = client.add(f"My passport number is {gone}", user_id="bob", infer=False)["results"][0]["id"]
        client.update(mid, text=f"My passport number is {gone}, renewed")
        client.add(f"My library card is {kept}", user_id="bob", infer=False)
        receiver.wait_for(3)
        logged = engine.events(engine.project("forget").id, memory_id=mid)[0]
        assert all(gone in (e.text or "") for e in logged) and len(logged) == 2  # the log holds it until the delete
        client.delete(mid)
        [*_, delete] = receiver.wait_for(4)
        assert delete.payload["event_type"] == "memory_delete" and gone not in delete.body.decode()
        client.client.close()
        deadline = time.monotonic() + 10
        while True:  # the compaction runs ~2 s after a delete
            blob = b"".join((tmp_path / f).read_bytes() for f in FILES if (tmp_path / f).exists())
            if gone.encode() not in blob or time.monotonic() > deadline:
                break
            time.sleep(0.2)
    assert gone.encode() not in blob
    assert [e.text for e in engine.events(engine.project("forget").id, memory_id=mid)[0]] == [None, None, None]
    engine.close()
    blob = b"".join((tmp_path / f).read_bytes() for f in FILES if (tmp_path / f).exists())
    assert gone.encode() not in blob and gone[-9:].encode() not in blob and kept.encode() in blob
