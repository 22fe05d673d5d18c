"""Deliveries across kill -9 and across servers: the real `memvault serve` as a subprocess. A server killed while a
delivery is in flight leaves nothing lost (the restarted server sends it again: at least once, in order, the event
id lets a receiver collapse the repeat); two servers on one PostgreSQL deliver each event, in order, once."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
import pytest

from memvault.testing.receiver import Delivery, Receiver
from memvault.testing.serve_process import (
    ServeProcess,
    make_key,
    target_fixture,  # noqa: F401 (registers the `target` fixture)
)
from memvault.testing.stores import make_postgres

pytestmark = pytest.mark.slow

ENV = {"MEMVAULT_EMBEDDER": "hashing", "MEM0_TELEMETRY": "False", "MEMVAULT_WEBHOOK_POLL_SECONDS": "0.05",
       "MEMVAULT_WEBHOOK_TIMEOUT_SECONDS": "2", "MEMVAULT_WEBHOOK_LEASE_SECONDS": "4",
       "MEMVAULT_WEBHOOK_RETRY_SECONDS": "0.05", "MEMVAULT_WEBHOOK_RETRY_MAX_SECONDS": "0.2"}


class Serve(ServeProcess):
    def __init__(self, args: list[str], log: Path) -> None:
        super().__init__(args, log, ENV)


def client(url: str, key: str) -> httpx.Client:
    return httpx.Client(base_url=url, headers={"Authorization": f"Token {key}"}, timeout=30)


def subscribe(http: httpx.Client, receiver: Receiver) -> None:
    project = http.get("/v1/ping/").json()["project_id"]
    made = http.post(f"/api/v1/webhooks/projects/{project}/",
                     json={"url": receiver.url, "name": "crash", "event_types": ["memory_add"]})
    assert made.status_code == 200, made.text
    receiver.secret = made.json()["secret"]


def first_arrivals(deliveries: list[Delivery]) -> list[str]:
    seen: dict[str, None] = {}
    for d in deliveries:
        assert d.signed and d.event_id == d.payload["event_id"]
        seen.setdefault(d.payload["event_details"]["id"])
    return list(seen)


def add(http: httpx.Client, texts: list[str]) -> list[str]:
    answer = http.post("/v1/memories/", json={"messages": [{"role": "user", "content": t} for t in texts],
                                              "user_id": "crash", "infer": False})
    assert answer.status_code == 200, answer.text
    return [r["id"] for r in answer.json()["results"]]


def test_a_server_killed_during_a_delivery_loses_nothing_once_restarted(target: list[str], tmp_path: Path) -> None:
    key = make_key(target)
    with Receiver() as receiver:
        first = Serve(target, tmp_path / "serve.log")
        try:
            with client(first.url, key) as http:
                subscribe(http, receiver)
                receiver.hold = threading.Event()
                ids = add(http, ["first fact", "second fact", "third fact"])
            receiver.wait_arrivals(1)
            first.kill9()  # the first delivery is in flight
        finally:
            first.stop()
        receiver.hold.set()
        receiver.hold = None
        again = Serve(target, tmp_path / "serve.log")
        try:
            with client(again.url, key) as http:
                ids += add(http, ["fourth fact"])
            deadline = time.monotonic() + 30
            while len(set(first_arrivals(receiver.received))) < 4:
                assert time.monotonic() < deadline, f"received {len(receiver.received)}"
                receiver.wait_for(len(receiver.received) + 1, timeout=30)
        finally:
            again.stop()
    assert first_arrivals(receiver.received) == ids  # each event, in order; a repeat only of the one in flight
    assert len(receiver.received) <= len(ids) + 1


def test_two_servers_on_one_postgres_deliver_each_event_once_in_order(request: pytest.FixtureRequest,
                                                                       tmp_path: Path) -> None:
    store = make_postgres(request)
    url = store.url  # type: ignore[attr-defined]
    store.close()
    args = ["--database-url", url]
    key = make_key(args)
    with Receiver() as receiver:
        servers = [Serve(args, tmp_path / f"serve{i}.log") for i in range(2)]
        try:
            ids: list[str] = []
            with client(servers[0].url, key) as a, client(servers[1].url, key) as b:
                subscribe(a, receiver)
                for i in range(10):
                    ids += add(a if i % 2 == 0 else b, [f"fact {i}"])
            receiver.wait_for(10, timeout=30)
            time.sleep(0.5)  # a few more polls of both servers: no repeat comes
        finally:
            for server in servers:
                server.stop()
    assert first_arrivals(receiver.received) == ids
    assert len(receiver.received) == 10
