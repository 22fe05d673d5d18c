"""The LLM extractor, against a fake OpenAI-compatible server speaking real HTTP."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest

from memvault.errors import InvalidInput, Unavailable
from memvault.extract import build_extractor
from memvault.extract.base import Fact, Guidance, GuidedExtractor, Message
from memvault.extract.llm import SYSTEM_PROMPT, LLMExtractor
from memvault.testing.openai_server import FakeOpenAIServer

SECRET = "sk-test-secret-key"

CONVERSATION = [
    Message("system", "You are a travel agent."),
    Message("user", "I moved to Lyon and I am vegetarian."),
    Message("assistant", "Lyon has great vegetarian bouchons."),
    Message("user", "Where should I eat tonight?", name="anna"),
]


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as fake:
        yield fake


def answering(server: FakeOpenAIServer, content: str) -> LLMExtractor:
    server.chat_handler = lambda request: content
    return LLMExtractor(server.base_url, "qwen2.5:7b", api_key=SECRET, timeout=5)


def test_request_is_one_chat_completion_asking_for_a_json_object(server: FakeOpenAIServer) -> None:
    extractor = LLMExtractor(server.base_url + "/", "qwen2.5:7b", api_key=SECRET)
    extractor.extract(CONVERSATION)

    [request] = server.requests
    assert (request.method, request.path) == ("POST", "/v1/chat/completions")
    assert request.headers["authorization"] == f"Bearer {SECRET}"
    body = request.body
    assert body["model"] == "qwen2.5:7b"
    assert body["response_format"] == {"type": "json_object"}
    assert body["temperature"] == 0
    system, user = body["messages"]
    assert system == {"role": "system", "content": SYSTEM_PROMPT}
    assert user["role"] == "user"
    assert user["content"] == (
        "Conversation:\n\n"
        "user: I moved to Lyon and I am vegetarian.\n"
        "assistant: Lyon has great vegetarian bouchons.\n"
        "user (anna): Where should I eat tonight?"
    )
    assert "travel agent" not in user["content"]


def test_guided_request_carries_the_projects_instructions_and_categories(server: FakeOpenAIServer) -> None:
    extractor = answering(server, '{"facts": []}')
    assert isinstance(extractor, GuidedExtractor)
    extractor.extract_guided(CONVERSATION, Guidance("Never remember places.", (("pets", "Animals I own"), ("x", ""))))
    system = server.requests[-1].body["messages"][0]["content"]
    assert system.startswith(SYSTEM_PROMPT.partition("Answer with JSON only")[0].rstrip())
    assert "Never remember places." in system and "- pets: Animals I own\n- x\n" in system
    assert '{"facts": [{"fact": "...", "categories": ["name", ...]}, ...]}' in system
    extractor.extract_guided(CONVERSATION, Guidance())
    assert server.requests[-1].body["messages"][0]["content"] == SYSTEM_PROMPT  # nothing to add: the plain prompt


@pytest.mark.parametrize(("content", "expected"), [
    ('{"facts": [{"fact": "I have a cat", "categories": ["pets", " Home ", "pets", 3, ""]}]}',
     [Fact("I have a cat", ("pets", "Home"))]),
    ('{"facts": [{"text": "I have a cat", "category": "pets"}, "I live in Lyon"]}',
     [Fact("I have a cat", ("pets",)), Fact("I live in Lyon")]),
    ('{"facts": [{"fact": "I have a cat", "categories": {"pets": true}}]}', [Fact("I have a cat")]),
    ('["I have a cat"]', [Fact("I have a cat")]),
])
def test_tagged_facts_are_read_leniently(server: FakeOpenAIServer, content: str, expected: list[Fact]) -> None:
    assert answering(server, content).extract_guided(CONVERSATION, Guidance(categories=(("pets", ""),))) == expected


def test_no_api_key_sends_no_authorization(server: FakeOpenAIServer) -> None:
    LLMExtractor(server.base_url, "llama3").extract([Message("user", "I am vegetarian.")])
    assert "authorization" not in server.requests[0].headers


def test_facts_come_back_in_order(server: FakeOpenAIServer) -> None:
    extractor = answering(server, '{"facts": ["I moved to Lyon", "I am vegetarian"]}')
    assert extractor.extract(CONVERSATION) == ["I moved to Lyon", "I am vegetarian"]


@pytest.mark.parametrize(
    "content",
    [
        '```json\n{"facts": ["I moved to Lyon", "I am vegetarian"]}\n```',
        '```\n["I moved to Lyon", "I am vegetarian"]\n```',
        '["I moved to Lyon", "I am vegetarian"]',
        'Here are the facts:\n{"facts": ["I moved to Lyon", "I am vegetarian"]}\nHope this helps!',
        '<think>The user moved {somewhere}.</think>\n{"facts": ["I moved to Lyon", "I am vegetarian"]}',
        '{"memories": [{"fact": "I moved to Lyon"}, {"text": "I am vegetarian"}]}',
        '{"facts": ["  I moved   to Lyon ", "", "I am vegetarian", "i am vegetarian"]}',
    ],
    ids=["fenced", "fenced-bare-list", "bare-list", "prose-around", "think-block", "other-shapes", "untidy"],
)
def test_lenient_parsing_of_answers(server: FakeOpenAIServer, content: str) -> None:
    assert answering(server, content).extract(CONVERSATION) == ["I moved to Lyon", "I am vegetarian"]


def test_single_fact_as_a_string_is_one_fact(server: FakeOpenAIServer) -> None:
    assert answering(server, '{"facts": "I moved to Lyon"}').extract(CONVERSATION) == ["I moved to Lyon"]


def test_nothing_worth_remembering_is_an_empty_list(server: FakeOpenAIServer) -> None:
    assert answering(server, '{"facts": []}').extract(CONVERSATION) == []


def test_conversation_without_user_text_is_not_sent(server: FakeOpenAIServer) -> None:
    extractor = answering(server, '{"facts": ["I am invented"]}')
    messages = [Message("system", "Be brief."), Message("assistant", "Hello!"), Message("user", "  ")]
    assert extractor.extract(messages) == []
    assert server.requests == []


@pytest.mark.parametrize(
    "content",
    [
        "I'm sorry, I can't help with that.",
        '{"answer": "I moved to Lyon", "confidence": 0.9}',
        '{"facts": [1, 2]}',
        '{"facts": {"city": "Lyon"}}',
        '{"facts": ["I moved to Lyon"',
        "",
    ],
    ids=["prose", "no-list", "numbers", "object", "truncated", "empty"],
)
def test_garbage_answer_is_unavailable(server: FakeOpenAIServer, content: str) -> None:
    with pytest.raises(Unavailable, match=r"gave no list of facts") as caught:
        answering(server, content).extract(CONVERSATION)
    assert server.base_url in caught.value.message


@pytest.mark.parametrize("status", [500, 503, 401, 404])
def test_error_status_is_unavailable_with_the_server_message(server: FakeOpenAIServer, status: int) -> None:
    server.fail_status = status
    with pytest.raises(
        Unavailable, match=rf"answered HTTP {status}: the fake server is set to fail"
    ) as caught:
        answering(server, '{"facts": []}').extract(CONVERSATION)
    assert SECRET not in caught.value.message


def test_api_key_echoed_in_an_error_is_masked(server: FakeOpenAIServer) -> None:
    def reject(request: dict[str, Any]) -> str:
        raise PermissionError(f"Incorrect API key provided: {SECRET}")

    server.chat_handler = reject
    extractor = LLMExtractor(server.base_url, "gpt-4o-mini", api_key=SECRET)
    with pytest.raises(Unavailable, match=r"HTTP 500: .*Incorrect API key provided: \*\*\*") as caught:
        extractor.extract(CONVERSATION)
    assert SECRET not in str(caught.value)


def test_unreachable_service_is_unavailable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    extractor = LLMExtractor(f"http://user:password@127.0.0.1:{port}/v1", "llama3", api_key=SECRET, timeout=5)
    with pytest.raises(
        Unavailable, match=rf"cannot reach the extraction model at http://127.0.0.1:{port}/v1"
    ) as caught:
        extractor.extract(CONVERSATION)
    assert "password" not in caught.value.message
    assert SECRET not in caught.value.message


def test_silent_service_is_unavailable_after_the_timeout() -> None:
    with socket.socket() as silent:  # accepts connections (the kernel does), never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        extractor = LLMExtractor(f"http://127.0.0.1:{port}/v1", "llama3", timeout=0.1)
        with pytest.raises(Unavailable, match=r"did not answer within 0.1s"):
            extractor.extract(CONVERSATION)


def test_answer_that_is_not_a_chat_completion_is_unavailable(server: FakeOpenAIServer) -> None:
    extractor = LLMExtractor(
        server.base_url.removesuffix("/v1"), "llama3"
    )  # /chat/completions is a 404 there
    with pytest.raises(Unavailable, match=r"answered HTTP 404"):
        extractor.extract(CONVERSATION)


@pytest.mark.parametrize(
    ("options", "problem"),
    [
        ({"base_url": None, "model": "llama3"}, "needs base_url"),
        ({"base_url": "localhost:11434/v1", "model": "llama3"}, "needs base_url"),
        ({"base_url": "ftp://example.com/v1", "model": "llama3"}, "needs base_url"),
        ({"base_url": "http://localhost:11434/v1", "model": None}, "needs model"),
        ({"base_url": "http://localhost:11434/v1", "model": " "}, "needs model"),
        ({"base_url": "http://localhost:11434/v1", "model": "llama3", "timeout": 0}, "timeout"),
    ],
)
def test_bad_configuration_is_invalid_input(options: dict[str, Any], problem: str) -> None:
    with pytest.raises(InvalidInput, match=problem):
        LLMExtractor(**options)


def test_repr_shows_neither_key_nor_credentials() -> None:
    extractor = LLMExtractor("https://user:pw@api.example.com/v1?x=1", "gpt-4o-mini", api_key=SECRET)
    assert repr(extractor) == "LLMExtractor(base_url='https://api.example.com/v1', model='gpt-4o-mini')"


def test_registry_builds_the_llm_extractor(server: FakeOpenAIServer) -> None:
    server.chat_handler = lambda request: '{"facts": ["I moved to Lyon"]}'
    extractor = build_extractor("llm", base_url=server.base_url, model="llama3", api_key=None, timeout=5)
    assert extractor.name == "llm"
    assert extractor.extract(CONVERSATION) == ["I moved to Lyon"]


def test_registry_needs_base_url_and_model_for_llm() -> None:
    with pytest.raises(InvalidInput, match="extractor 'llm'.*base_url"):
        build_extractor("llm", model="llama3")
