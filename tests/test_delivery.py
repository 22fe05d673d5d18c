"""Webhook deliveries from the change log, end to end on both stores: a real server with its delivery thread, the
official mem0ai SDK, and real HTTP receivers on loopback that check each signature. No timed assertion: every wait
is for an outcome, with a deadline."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from mem0 import MemoryClient

from memvault.delivery import DeliveryOptions, sign, verify
from memvault.engine import Engine, RetryPolicy
from memvault.testing.receiver import Receiver
from memvault.testing.server import Server

FAST = DeliveryOptions(poll=0.05, timeout=2.0, lease=2.0)
TYPES = ["memory_add", "memory_update", "memory_delete"]


@pytest.fixture
def fast_engine(engine: Engine) -> Engine:
    engine.configure_events(retry=RetryPolicy(first=0.05, cap=0.2, disable_after=3600))
    return engine


@pytest.fixture
def site(fast_engine: Engine) -> Iterator[Server]:
    with Server(fast_engine, deliveries=FAST) as server:
        yield server


@pytest.fixture
def client(site: Server) -> Iterator[MemoryClient]:
    made = MemoryClient(api_key=site.key("hooks"), host=site.url)
    yield made
    made.client.close()


def subscribe(client: MemoryClient, receiver: Receiver, types: list[str] = TYPES) -> dict:
    made = client.create_webhook(receiver.url, "test", client.project_id, types)
    receiver.secret = made["secret"]
    return made


def until(check: object, what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"waited {timeout:g} s for {what}"
        time.sleep(0.02)


def test_the_sdks_own_add_update_and_delete_arrive_signed_in_order(client: MemoryClient) -> None:
    with Receiver() as receiver:
        subscribe(client, receiver)
        added = client.add([{"role": "user", "content": "I live in Lyon"}], user_id="alice", infer=False)
        mid = added["results"][0]["id"]
        [add] = receiver.wait_for(1)
        client.update(mid, text="I live in Paris")
        receiver.wait_for(2)
        client.delete(mid)
        deliveries = receiver.wait_for(3)
    assert all(d.signed for d in deliveries)
    assert [d.payload["event_type"] for d in deliveries] == TYPES
    assert [d.payload["event_details"]["event"] for d in deliveries] == ["ADD", "UPDATE", "DELETE"]
    assert add.payload["event_details"] == {"id": mid, "event": "ADD", "data": {"memory": "I live in Lyon"},
                                            "user_id": "alice", "agent_id": None, "app_id": None, "run_id": None}
    assert add.payload["event_id"] == added["event_id"] == add.event_id
    assert deliveries[1].payload["event_details"]["data"] == {"memory": "I live in Paris"}
    assert deliveries[2].payload["event_details"]["data"] == {"memory": None}
    assert "Paris" not in deliveries[2].body.decode() and "Lyon" not in deliveries[2].body.decode()
    assert all(d.payload["user_id"] == "alice" and d.payload["created_at"] for d in deliveries)


def test_a_receiver_down_for_a_while_gets_every_event_in_order_once_back(client: MemoryClient) -> None:
    receiver = Receiver()
    made = subscribe(client, receiver)  # not started: connections are refused
    ids = [client.add(f"fact number {i}", user_id="bob", infer=False)["results"][0]["id"] for i in range(5)]
    until(lambda: (client.get_webhooks(client.project_id)[0]["last_error"] or "") != "", "a failed delivery")
    [failing] = client.get_webhooks(client.project_id)
    assert failing["failing_since"] and failing["is_active"] and failing["webhook_id"] == made["webhook_id"]
    with receiver:
        deliveries = receiver.wait_for(5)
    assert [d.payload["event_details"]["id"] for d in deliveries][:5] == ids
    assert all(d.signed for d in deliveries)
    until(lambda: client.get_webhooks(client.project_id)[0]["last_error"] is None, "the failure to be over")


def test_a_webhook_failing_too_long_is_disabled_and_an_update_brings_it_back(
        fast_engine: Engine, client: MemoryClient) -> None:
    fast_engine.configure_events(retry=RetryPolicy(first=0.05, cap=0.1, disable_after=0.3))
    with Receiver() as receiver:
        made = subscribe(client, receiver)
        receiver.failing = True
        client.add("kept for later", user_id="carol", infer=False)
        until(lambda: not client.get_webhooks(client.project_id)[0]["is_active"], "the webhook to be disabled")
        [disabled] = client.get_webhooks(client.project_id)
        assert disabled["disabled_at"] and disabled["last_error"] == "HTTP 500" and receiver.refused >= 2
        refused = receiver.refused
        client.add("while disabled", user_id="carol", infer=False)
        time.sleep(0.3)  # a few rounds of the loop: nothing is tried while disabled
        assert receiver.refused == refused and receiver.received == []
        receiver.failing = False
        back = client.update_webhook(made["webhook_id"], name="fixed")
        assert back["is_active"] and back["disabled_at"] is None
        deliveries = receiver.wait_for(2)
    assert [d.payload["event_details"]["data"]["memory"] for d in deliveries] == ["kept for later", "while disabled"]


def test_deliveries_survive_a_restart_of_the_server(fast_engine: Engine) -> None:
    with Receiver() as receiver:
        with Server(fast_engine, deliveries=FAST) as first:
            client = MemoryClient(api_key=first.key("hooks"), host=first.url)
            subscribe(client, receiver)
            receiver.failing = True
            client.add("sent before the restart", user_id="dave", infer=False)
            receiver.wait_refused(1)
            client.client.close()
        receiver.failing = False
        assert receiver.received == []
        with Server(fast_engine, deliveries=FAST):
            [delivery] = receiver.wait_for(1)
    assert delivery.signed and delivery.payload["event_details"]["data"]["memory"] == "sent before the restart"


def test_a_webhook_gets_only_its_event_types_and_only_its_projects_events(site: Server, client: MemoryClient) -> None:
    other = MemoryClient(api_key=site.key("elsewhere"), host=site.url)
    with Receiver() as deletes, Receiver() as theirs:
        subscribe(client, deletes, ["memory_delete"])
        subscribe(other, theirs, TYPES)
        mid = client.add("mine, then gone", user_id="erin", infer=False)["results"][0]["id"]
        client.update(mid, text="mine, changed")
        client.delete(mid)
        other.add("theirs", user_id="frank", infer=False)
        [only] = deletes.wait_for(1)
        [their] = theirs.wait_for(1)
    other.client.close()
    assert only.payload["event_type"] == "memory_delete" and only.payload["event_details"]["id"] == mid
    assert their.payload["event_details"]["data"]["memory"] == "theirs"
    assert len(deletes.received) == 1 and len(theirs.received) == 1


def test_a_hanging_receiver_never_holds_up_the_api(client: MemoryClient) -> None:
    with Receiver() as receiver:
        receiver.hold = threading.Event()  # every delivery waits until released
        subscribe(client, receiver)
        client.add("first", user_id="gina", infer=False)
        answered = [client.add(f"while the receiver hangs {i}", user_id="gina", infer=False) for i in range(3)]
        assert all(a["results"] for a in answered) and receiver.received == []
        receiver.hold.set()
        deliveries = receiver.wait_for(4)
    assert [d.payload["event_details"]["data"]["memory"] for d in deliveries][:4] == \
        ["first", *(f"while the receiver hangs {i}" for i in range(3))]


def test_with_private_targets_denied_a_delivery_is_refused_on_the_resolved_address(
        fast_engine: Engine, client: MemoryClient) -> None:
    with Receiver() as receiver:
        subscribe(client, receiver)  # allowed when made
        fast_engine.configure_events(deny_private=True)
        try:
            client.add("never sent to a private address", user_id="hank", infer=False)
            until(lambda: "private" in (client.get_webhooks(client.project_id)[0]["last_error"] or ""),
                  "the delivery to be refused")
            assert receiver.received == []
        finally:
            fast_engine.configure_events(deny_private=False)
        receiver.wait_for(1)


def test_a_signature_checks_only_with_its_secret_its_body_and_a_fresh_time() -> None:
    body, now = b'{"event_id":"e1"}', int(time.time())
    header = sign("whsec_a", body, now)
    assert header.startswith(f"t={now},v1=") and verify("whsec_a", body, header)
    assert not verify("whsec_b", body, header)
    assert not verify("whsec_a", body + b" ", header)
    assert not verify("whsec_a", body, sign("whsec_a", body, now - 301))
    assert not verify("whsec_a", body, None) and not verify("whsec_a", body, "t=x,v1=y")


def test_a_receiver_gets_deliveries_over_plain_httpx_too(site: Server) -> None:
    """The payload is JSON with the event id header equal to its event_id (a receiver collapses repeats by it)."""
    key = site.key("plain")
    with Receiver() as receiver, httpx.Client(base_url=site.url, headers={"Authorization": f"Token {key}"}) as http:
        project = http.get("/v1/ping/").json()["project_id"]
        made = http.post(f"/api/v1/webhooks/projects/{project}/",
                         json={"url": receiver.url, "name": "plain", "event_types": ["memory_add"]}).json()
        receiver.secret = made["secret"]
        http.post("/v1/memories/", json={"messages": "over plain HTTP", "user_id": "ivy", "infer": False})
        [delivery] = receiver.wait_for(1)
    assert delivery.signed and delivery.event_id == delivery.payload["event_id"]


def test_the_readme_snippet_verifies_what_the_server_signs() -> None:
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    snippet = readme.split("## Events and webhooks", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    scope: dict = {}
    exec(snippet, scope)  # the README's own code, as a receiver would paste it
    body, now = b'{"event_id":"e1"}', int(time.time())
    assert scope["verify"]("whsec_a", body, sign("whsec_a", body, now))
    assert not scope["verify"]("whsec_b", body, sign("whsec_a", body, now))
    assert not scope["verify"]("whsec_a", body, sign("whsec_a", body, now - 301))


def test_metrics_count_deliveries_by_outcome(fast_engine: Engine) -> None:
    with Server(fast_engine, deliveries=FAST, metrics=True) as site, Receiver() as receiver:
        client = MemoryClient(api_key=site.key("metered"), host=site.url)
        try:
            subscribe(client, receiver)
            receiver.failing = True
            client.add([{"role": "user", "content": "I live in Lyon"}], user_id="alice", infer=False)
            until(lambda: receiver.refused >= 1, "a refused delivery")
            receiver.failing = False
            receiver.wait_for(1)

            def count(outcome: str) -> float:
                text = httpx.get(site.url + "/metrics").text
                line = next((x for x in text.splitlines()
                             if x.startswith(f'memvault_webhook_deliveries_total{{outcome="{outcome}"}}')), None)
                return float(line.split()[-1]) if line else 0.0

            until(lambda: count("delivered") >= 1, "the delivered count")
            assert count("failed") >= 1
        finally:
            client.client.close()
