"""The writer as the settings build it, and what it sends: one chat completion on the llm endpoint, the key only in
the header, the project's instructions in the prompt, a model answer without text refused."""

from __future__ import annotations

import pytest

from memvault.config import Settings
from memvault.errors import InvalidInput, Unavailable
from memvault.factory import build_writer_from
from memvault.testing.openai_server import FakeOpenAIServer
from memvault.write import Writer


def test_the_writer_is_built_only_when_the_llm_url_and_model_are_set() -> None:
    assert build_writer_from(Settings(llm_url=None, llm_model=None)) is None
    assert build_writer_from(Settings(llm_url="http://127.0.0.1:9/v1", llm_model=None)) is None
    built = build_writer_from(Settings(llm_url="http://127.0.0.1:9/v1", llm_model=" m ", llm_api_key="sk-secret"))
    assert isinstance(built, Writer) and built.model == "m" and "sk-secret" not in repr(built)
    built.close()
    with pytest.raises(InvalidInput):
        Writer("ftp://example", "m")


def test_a_synthesis_is_one_chat_completion_with_the_instructions() -> None:
    with FakeOpenAIServer(chat_handler=lambda body: "<think>x</think> Lisbon in May [1]") as service:
        writer = Writer(service.base_url, "w", api_key="sk-secret")
        try:
            assert writer.synthesis("trip?", ["a passage"], ["Answer in French.", ""]) == "Lisbon in May [1]"
            (request,) = service.requests
            assert request.path == "/v1/chat/completions" and request.body["model"] == "w"
            assert request.headers["authorization"] == "Bearer sk-secret"
            system, user = (m["content"] for m in request.body["messages"])
            assert "Answer in French." in system and "[1] a passage" in user and "sk-secret" not in system + user
            service.chat_handler = lambda body: "<think>only thinking</think>"
            with pytest.raises(Unavailable, match="wrote nothing"):
                writer.summary([{"memory": "I like jazz"}])
        finally:
            writer.close()
