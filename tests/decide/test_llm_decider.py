"""The llm decider wired into the engine, on both stores, against the protocol-level OpenAI fake with scripted
answers: valid decisions, answers read leniently, unknown numbers, malformed answers, failures and a timeout."""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from memvault import filters as F
from memvault.decide import build_decider
from memvault.decide.base import Known
from memvault.decide.llm import SYSTEM_PROMPT, LLMDecider, parse_decisions
from memvault.embed.hashing import HashingEmbedder
from memvault.engine import Engine, Owners
from memvault.errors import Unavailable
from memvault.extract.base import Message
from memvault.extract.offline import OfflineExtractor
from memvault.store.base import Store
from memvault.testing.openai_server import FakeOpenAIServer
from memvault.testing.server import Server

ALICE = Owners(user_id="alice")
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-")


@pytest.fixture
def model() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as fake:
        yield fake


@pytest.fixture
def engine(store: Store, model: FakeOpenAIServer) -> Engine:
    decider = build_decider("llm", base_url=model.base_url, model="qwen2.5:7b", api_key="sk-decide", timeout=0.5)
    return Engine(store, HashingEmbedder(), OfflineExtractor(), decider=decider)


@pytest.fixture
def project(engine: Engine) -> str:
    return engine.project("lifecycle").id


def answer(model: FakeOpenAIServer, content: Any) -> None:
    model.chat_handler = lambda request: content if isinstance(content, str) else json.dumps(content)


def remember(engine: Engine, project: str, text: str, owners: Owners = ALICE) -> str:
    return engine.add(project, [Message("user", text)], owners, infer=False)[0].memory.id


def infer(engine: Engine, project: str, text: str, owners: Owners = ALICE) -> list[tuple[str, str]]:
    return [(r.event, r.memory.text) for r in engine.add(project, [Message("user", text)], owners, infer=True)]


def everything(engine: Engine, project: str) -> list[tuple[str, str | None]]:
    return sorted((m.text, m.superseded_by) for m in engine.list(project, None, latest_only=False).items)


def test_supersede_adds_the_fact_and_marks_the_numbered_memory(engine: Engine, project: str,
                                                               model: FakeOpenAIServer) -> None:
    paris = remember(engine, project, "I live in Paris")
    answer(model, {"decisions": [{"fact": 0, "event": "SUPERSEDE", "memory": 0}]})
    results = engine.add(project, [Message("user", "I moved to Lyon last month.")], ALICE, infer=True)

    assert [(r.event, r.memory.text) for r in results] == [("ADD", "I moved to Lyon last month"),
                                                          ("SUPERSEDE", "I live in Paris")]
    lyon = results[0].memory.id
    assert results[1].memory.id == paris and results[1].memory.superseded_by == lyon
    old = engine.get(project, paris)
    assert old.superseded_by == lyon and old.superseded_at is not None
    assert [(e.event, e.metadata) for e in engine.history(project, paris)][1:] == [
        ("SUPERSEDE", {"superseded_by": lyon})]
    assert [m.id for m in engine.list(project, F.eq("user_id", "alice")).items] == [lyon]
    [request] = model.requests
    system, user = request.body["messages"]
    assert system["content"] == SYSTEM_PROMPT and request.body["response_format"] == {"type": "json_object"}
    assert user["content"] == 'Fact 0: "I moved to Lyon last month"\nMemories:\n  [0] "I live in Paris"'
    assert not UUID.search(user["content"])  # memories go in by number, never by id


def test_update_replaces_the_text_in_place_and_keeps_the_old_one_in_history(engine: Engine, project: str,
                                                                            model: FakeOpenAIServer) -> None:
    mid = remember(engine, project, "I like tea")
    answer(model, '{"decisions": [{"fact": 0, "event": "UPDATE", "memory": 0, "text": "I like green tea a lot"}]}')
    [result] = engine.add(project, [Message("user", "I like green tea a lot")], ALICE, infer=True)
    assert (result.event, result.memory.id, result.memory.text, result.previous_memory) == (
        "UPDATE", mid, "I like green tea a lot", "I like tea")
    assert [(e.event, e.old_text, e.new_text) for e in engine.history(project, mid)][1:] == [
        ("UPDATE", "I like tea", "I like green tea a lot")]
    assert everything(engine, project) == [("I like green tea a lot", None)]


def test_none_writes_nothing_and_names_the_memory_that_says_it(engine: Engine, project: str,
                                                               model: FakeOpenAIServer) -> None:
    mid = remember(engine, project, "I like tea")
    answer(model, [{"event": "none", "memory": "0"}])  # a bare list, the event in lower case, the number as text
    [result] = engine.add(project, [Message("user", "I really do like my tea")], ALICE, infer=True)
    assert (result.event, result.memory.id) == ("NONE", mid)
    assert everything(engine, project) == [("I like tea", None)]


def test_a_decision_naming_an_unknown_number_falls_back_to_add_and_is_logged(
        engine: Engine, project: str, model: FakeOpenAIServer, caplog: pytest.LogCaptureFixture) -> None:
    remember(engine, project, "I live in Paris")
    answer(model, {"decisions": [{"fact": 0, "event": "SUPERSEDE", "memory": 7}]})
    with caplog.at_level(logging.WARNING):
        assert infer(engine, project, "I moved to Lyon last month.") == [("ADD", "I moved to Lyon last month")]
    assert "not shown" in caplog.text
    assert everything(engine, project) == [("I live in Paris", None), ("I moved to Lyon last month", None)]


def test_the_answer_is_read_leniently() -> None:
    shown = [[Known(0, "I live in Paris", 0.4), Known(1, "I like tea", 0.1)], []]
    content = ("<think>Paris is stale.</think>Here you go:\n```json\n"
               '{"result": [{"fact": "1", "event": "add"}, {"fact": 0, "event": "Supersede", "target": "[0]"}]}\n```')
    decisions = parse_decisions(content, ["I moved to Lyon", "I have a cat"], shown)
    assert [(d.event, d.text, d.target) for d in decisions] == [("SUPERSEDE", "I moved to Lyon", 0),
                                                               ("ADD", "I have a cat", None)]
    # a fact the answer leaves out is added; an unknown event is an ADD
    assert [d.event for d in parse_decisions('{"decisions": [{"event": "MERGE"}]}', ["a", "b"], [[], []])] == [
        "ADD", "ADD"]


@pytest.mark.parametrize("content", ["Sure! Lyon it is.", '{"verdict": "supersede"}', '{"decisions": "SUPERSEDE"}',
                                     "[1, 2]"])
def test_an_answer_that_is_no_list_of_decisions_fails_the_add_and_writes_nothing(
        engine: Engine, project: str, model: FakeOpenAIServer, content: str) -> None:
    remember(engine, project, "I live in Paris")
    answer(model, content)
    with pytest.raises(Unavailable, match=r"decision model at \S+ gave no list of decisions"):
        infer(engine, project, "I moved to Lyon last month.")
    assert everything(engine, project) == [("I live in Paris", None)]


def test_a_failing_service_fails_the_add_and_writes_nothing(engine: Engine, project: str,
                                                            model: FakeOpenAIServer) -> None:
    remember(engine, project, "I live in Paris")
    model.fail_status = 500
    with pytest.raises(Unavailable, match="HTTP 500") as caught:
        infer(engine, project, "I moved to Lyon last month.")
    assert "sk-decide" not in str(caught.value)
    assert everything(engine, project) == [("I live in Paris", None)]


def test_a_silent_service_fails_the_add_after_the_timeout(engine: Engine, project: str,
                                                          model: FakeOpenAIServer) -> None:
    remember(engine, project, "I live in Paris")

    def slow(request: dict[str, Any]) -> str:
        time.sleep(1.5)
        return '{"decisions": [{"fact": 0, "event": "SUPERSEDE", "memory": 0}]}'

    model.chat_handler = slow
    with pytest.raises(Unavailable, match="did not answer within"):
        infer(engine, project, "I moved to Lyon last month.")
    assert everything(engine, project) == [("I live in Paris", None)]


def test_the_model_is_not_asked_without_similar_memories_and_sees_only_the_owners_own(
        engine: Engine, project: str, model: FakeOpenAIServer) -> None:
    assert infer(engine, project, "I live in Paris") == [("ADD", "I live in Paris")]
    assert model.requests == []
    remember(engine, project, "I live in Rome", Owners(user_id="bob"))
    other = engine.project("elsewhere").id
    remember(engine, other, "I live in Oslo")
    answer(model, {"decisions": [{"fact": 0, "event": "SUPERSEDE", "memory": 0}]})
    infer(engine, project, "I moved to Lyon last month.")
    [request] = model.requests
    shown = request.body["messages"][1]["content"]
    assert "Paris" in shown and "Rome" not in shown and "Oslo" not in shown
    assert engine.list(project, F.eq("user_id", "bob")).items[0].superseded_by is None


def test_a_superseded_memory_is_never_shown_again(engine: Engine, project: str, model: FakeOpenAIServer) -> None:
    remember(engine, project, "I live in Paris")
    answer(model, {"decisions": [{"fact": 0, "event": "SUPERSEDE", "memory": 0}]})
    infer(engine, project, "I moved to Lyon last month.")
    infer(engine, project, "I moved to Nice this year.")
    shown = model.requests[-1].body["messages"][1]["content"]
    assert "Lyon" in shown and "Paris" not in shown
    chain = {text: by for text, by in everything(engine, project)}
    assert chain["I live in Paris"] is not None and chain["I moved to Lyon last month"] is not None
    assert chain["I moved to Nice this year"] is None


def test_a_non_json_answer_is_a_503_over_http_and_nothing_is_written(engine: Engine, project: str,
                                                                     model: FakeOpenAIServer) -> None:
    remember(engine, project, "I live in Paris")
    answer(model, "I think the user moved.")
    with Server(engine) as server, httpx.Client(base_url=server.url, timeout=30,
                                                headers={"Authorization": f"Token {server.key('lifecycle')}"}) as http:
        got = http.post("/v3/memories/add/", json={"messages": "I moved to Lyon last month.", "user_id": "alice"})
    assert got.status_code == 503, got.text
    assert everything(engine, project) == [("I live in Paris", None)]


def test_the_llm_decider_rejects_a_missing_model() -> None:
    with pytest.raises(Exception, match="needs model"):
        LLMDecider("http://127.0.0.1:9/v1", " ")


def test_a_memory_is_changed_by_one_fact_of_an_add_at_most(engine: Engine, project: str,
                                                          model: FakeOpenAIServer) -> None:
    paris = remember(engine, project, "I live in Paris")
    answer(model, {"decisions": [{"fact": 0, "event": "SUPERSEDE", "memory": 0},
                                 {"fact": 1, "event": "UPDATE", "memory": 0, "text": "I live in Nice"}]})
    results = engine.add(project, [Message("user", "I moved to Lyon and I moved to Nice.")], ALICE, infer=True)
    assert [(r.event, r.memory.text) for r in results] == [
        ("ADD", "I moved to Lyon"), ("SUPERSEDE", "I live in Paris"), ("ADD", "I live in Nice")]
    assert engine.get(project, paris).text == "I live in Paris"  # superseded, not also rewritten
    assert [e.event for e in engine.history(project, paris)] == ["ADD", "SUPERSEDE"]


def test_the_mem0_sdk_reads_every_effect_in_the_add_answer(engine: Engine, project: str,
                                                          model: FakeOpenAIServer) -> None:
    from mem0 import MemoryClient

    paris = remember(engine, project, "I live in Paris")
    tea = remember(engine, project, "I like tea")

    def decide(request: dict[str, Any]) -> str:
        shown = request["messages"][1]["content"].split("\n\n")
        numbers = [re.search(r'\[(\d+)\] "[^"]*' + needle, block).group(1)  # type: ignore[union-attr]
                   for block, needle in zip(shown, ("Paris", "tea"), strict=True)]
        return json.dumps({"decisions": [
            {"fact": 0, "event": "SUPERSEDE", "memory": int(numbers[0])},
            {"fact": 1, "event": "UPDATE", "memory": int(numbers[1]), "text": "I like green tea a lot"}]})

    model.chat_handler = decide
    with Server(engine) as server, httpx.Client(timeout=30) as http:
        client = MemoryClient(api_key=server.key("lifecycle"), host=server.url, client=http)
        results = client.add("I moved to Lyon. I like green tea a lot.", user_id="alice")["results"]
        lyon = results[0]["id"]
        assert [(r["event"], r["id"]) for r in results] == [("ADD", lyon), ("SUPERSEDE", paris), ("UPDATE", tea)]
        assert results[1]["superseded_by"] == lyon and results[1]["superseded_at"]
        assert (results[2]["memory"], results[2]["previous_memory"]) == ("I like green tea a lot", "I like tea")
        assert all(r["data"] == {"memory": r["memory"]} for r in results)
        v1 = http.post(server.url + "/v1/memories/", headers={"Authorization": f"Token {server.key('lifecycle')}"},
                       json={"messages": "I like green tea a lot.", "user_id": "alice", "output_format": "v1.0"})
        assert [(r["event"], r["id"]) for r in v1.json()] == [("NONE", tea)]
