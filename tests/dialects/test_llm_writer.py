"""The paths a chat model writes (exports, summaries, schema profiles through the official `mem0ai` SDK; chat-history
inject over MemoryPlugin's HTTP API) against a real server on both stores, with a writer on a local service that
speaks the OpenAI protocol and answers what each test scripts."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from mem0 import MemoryClient

from memvault.embed.hashing import HashingEmbedder
from memvault.engine import Engine
from memvault.extract.offline import OfflineExtractor
from memvault.store.base import Store
from memvault.testing.openai_server import FakeOpenAIServer
from memvault.testing.server import Server
from memvault.write import Writer

SCHEMA = {"type": "object", "required": ["facts"], "properties": {"facts": {"type": "array", "items": {
    "type": "object", "required": ["id", "memory"],
    "properties": {"id": {"type": "string"}, "memory": {"type": "string"}}}}}}


class Script:
    """The chat answers of the service, in order (the last one repeats), and the requests that asked for them."""

    def __init__(self) -> None:
        self.answers: list[str] = []
        self.asked: list[dict[str, Any]] = []

    def __call__(self, request: dict[str, Any]) -> str:
        self.asked.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if answer == "SLOW":
            time.sleep(2)
        return answer

    def prompt(self, n: int = -1) -> str:
        return "\n".join(m["content"] for m in self.asked[n]["messages"])


@pytest.fixture
def script() -> Script:
    return Script()


@pytest.fixture
def service(script: Script) -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(chat_handler=script) as fake:
        yield fake


@pytest.fixture
def server(store: Store, service: FakeOpenAIServer) -> Iterator[Server]:
    engine = Engine(store, HashingEmbedder(), OfflineExtractor(),
                    writer=Writer(service.base_url, "writer-model", timeout=0.5))
    with Server(engine) as made:
        yield made


@pytest.fixture
def client(server: Server) -> Iterator[MemoryClient]:
    made = MemoryClient(api_key=server.key("test"), host=server.url, client=httpx.Client(timeout=30))
    yield made
    made.client.close()


@pytest.fixture
def raw(server: Server) -> Iterator[httpx.Client]:
    """The same project's key over plain HTTP, to read statuses the SDK turns into exceptions."""
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Token {server.key('test')}"},
                      timeout=30) as http:
        yield http


def add(client: MemoryClient, texts: list[str], **extra: Any) -> list[str]:
    answer = client.add([{"role": "user", "content": t} for t in texts], infer=False, **extra)
    return [r["id"] for r in answer["results"]]


def facts(*pairs: tuple[str, str]) -> str:
    return json.dumps({"facts": [{"id": i, "memory": m} for i, m in pairs]})


# exports ----------------------------------------------------------------------------------------------------------
def test_the_model_fills_the_export_schema_from_the_live_memories(client: MemoryClient, script: Script) -> None:
    jazz, lyon = add(client, ["Alice likes jazz", "Alice lives in Lyon"], user_id="alice")
    add(client, ["Bob lives in Rome"], user_id="bob")
    client.update_project(custom_instructions="Write every memory in French.")
    made = client.create_memory_export(json.dumps(SCHEMA), user_id="alice", export_instructions="only hobbies")
    script.answers = ["Here it is:\n```json\n" + facts((jazz, "Alice aime le jazz")) + "\n```"]  # read leniently
    assert client.get_memory_export(memory_export_id=made["id"]) == {"facts": [{"id": jazz, "memory": "Alice aime le jazz"}]}
    prompt = script.prompt()
    assert jazz in prompt and lyon in prompt and "Alice lives in Lyon" in prompt and "Bob" not in prompt
    assert "Write every memory in French." in prompt and "only hobbies" in prompt and '"facts"' in prompt
    client.delete(lyon)  # filled when fetched: a deleted memory is never sent to the model again
    client.get_memory_export(memory_export_id=made["id"])
    assert lyon not in script.prompt() and "Alice lives in Lyon" not in script.prompt() and jazz in script.prompt()


def test_an_answer_that_does_not_fit_is_asked_again_once(client: MemoryClient, script: Script) -> None:
    (jazz,) = add(client, ["Alice likes jazz"], user_id="alice")
    made = client.create_memory_export(json.dumps(SCHEMA), user_id="alice")
    script.answers = [json.dumps({"facts": [{"id": jazz}]}), facts((jazz, "Alice likes jazz"))]
    assert client.get_memory_export(memory_export_id=made["id"]) == {"facts": [{"id": jazz, "memory": "Alice likes jazz"}]}
    assert len(script.asked) == 2 and "'memory' is a required property" in script.prompt()


@pytest.mark.parametrize("answers", [["not json at all", "{still not"], [json.dumps({"facts": "x"})] * 2])
def test_two_answers_that_do_not_fit_make_the_export_failed(client: MemoryClient, script: Script,
                                                            answers: list[str]) -> None:
    add(client, ["Alice likes jazz"], user_id="alice")
    made = client.create_memory_export(json.dumps(SCHEMA), user_id="alice")
    script.answers = answers
    got = client.get_memory_export(memory_export_id=made["id"])
    assert got["id"] == made["id"] and got["status"] == "FAILED" and "after a retry" in got["error"]
    assert len(script.asked) == 2


@pytest.mark.parametrize("failure", ["status", "timeout"])
def test_a_failing_service_is_a_503(client: MemoryClient, raw: httpx.Client, script: Script,
                                    service: FakeOpenAIServer, failure: str) -> None:
    add(client, ["Alice likes jazz"], user_id="alice")
    made = client.create_memory_export(json.dumps(SCHEMA), user_id="alice")
    if failure == "status":
        service.fail_status = 500
    script.answers = ["SLOW"]
    for path, body in (("/v1/exports/get/", {"memory_export_id": made["id"]}),
                       ("/v1/summary/", {"filters": {"user_id": "alice"}})):
        answer = raw.post(path, json=body)
        assert answer.status_code == 503, answer.text
        assert "writing model" in answer.text


# summary ----------------------------------------------------------------------------------------------------------
def test_the_summary_is_written_by_the_model(client: MemoryClient, script: Script) -> None:
    add(client, ["Alice likes jazz", "Alice lives in Lyon"], user_id="alice")
    client.update_project(custom_instructions="Be brief.")
    script.answers = ["<think>hmm</think>Alice is a jazz lover living in Lyon."]
    got = client.get_summary(filters={"user_id": "alice"})
    assert got["summary"] == "Alice is a jazz lover living in Lyon." and got["memory_count"] == 2
    assert sum(got["categories"].values()) == 2
    assert "Alice likes jazz" in script.prompt() and "Be brief." in script.prompt()


# profiles ---------------------------------------------------------------------------------------------------------
PROFILE = {"type": "object", "required": ["city"], "properties": {
    "city": {"type": "string", "description": "where the user lives"},
    "music": {"type": "string", "description": "the music they like"}}}


def test_the_model_fills_the_profile_schema(client: MemoryClient, script: Script) -> None:
    add(client, ["I live in Lyon", "I like jazz"], user_id="dana")
    client.update_profile_settings(schema=PROFILE, custom_instructions="lower case only")
    script.answers = [json.dumps({"city": "lyon", "music": "jazz"})]
    got = client.get_profile("dana")
    assert got["status"] == "succeeded" and got["profile"] == {"city": "lyon", "music": "jazz"}
    assert "I like jazz" in script.prompt() and "lower case only" in script.prompt()


def test_a_profile_the_model_cannot_fit_is_failed_with_the_reason(client: MemoryClient, script: Script) -> None:
    add(client, ["I live in Lyon"], user_id="dana")
    client.update_profile_settings(schema=PROFILE)
    script.answers = [json.dumps({"music": "jazz"})]
    got = client.get_profile("dana")
    assert got["status"] == "failed" and got["profile"] is None and "'city' is a required property" in got["error"]
    assert len(script.asked) == 2


# chat-history inject ----------------------------------------------------------------------------------------------
def test_inject_answers_the_models_synthesis_citing_the_offline_sources(server: Server, store: Store,
                                                                        script: Script) -> None:
    turns = [("human", "I am planning a trip to Lisbon in May"), ("assistant", "Lisbon in May is lovely"),
             ("human", "Which pastry should I try there?"), ("assistant", "Try the pastel de nata in Belem")]
    conversation = {"id": "chat-1", "title": "Lisbon trip", "createdAt": "2025-03-01T10:00:00Z",
                    "updatedAt": "2025-03-01T11:00:00Z",
                    "messages": [{"id": f"m{n}", "role": r, "content": c, "createdAt": f"2025-03-01T10:0{n}:00Z"}
                                 for n, (r, c) in enumerate(turns)]}
    name = f"p-{uuid.uuid4().hex[:8]}"
    key = server.key(name)
    with httpx.Client(base_url=server.url + "/api", headers={"Authorization": f"Bearer {key}"}, timeout=30) as mp:
        assert mp.post("/chat-history/ingest/custom-online", json={"conversation": conversation}).status_code == 200
        offline = Engine(store, HashingEmbedder(), OfflineExtractor())  # the same archive, without a writer
        try:
            expected = offline.recall_chats(offline.project(name).id, [("Lisbon pastry", 500)])
        finally:
            offline._beside.close()  # its search threads; the store stays the server's
        assert expected.model == "offline"
        script.answers = ["You planned Lisbon in May and were told to try the pastel de nata [1]."]
        answer = mp.post("/chat-history/inject", json={"query": "Lisbon pastry", "maxTokens": 500})
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["content"] == "You planned Lisbon in May and were told to try the pastel de nata [1]."
        assert body["model"] == "writer-model"
        assert [(s["conversationId"], s["messageId"]) for s in body["sources"]] == [
            (s.conversation_id, s.message_id) for s in expected.sources] and body["sources"]
        assert "[1]" in script.prompt() and "pastel de nata" in script.prompt() and "Lisbon pastry" in script.prompt()
        script.answers = ["SLOW"]
        assert mp.post("/chat-history/inject", json={"query": "Lisbon pastry", "maxTokens": 500}).status_code == 503


def test_profile_settings_say_the_model_makes_profiles(client: MemoryClient) -> None:
    capabilities = client.get_profile_settings()["capabilities"]
    assert capabilities == {"generation": "writer-model", "schema": True, "custom_instructions": True}
