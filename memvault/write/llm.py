"""A writer behind any OpenAI-compatible chat API (the same endpoint and model as the llm extractor).

Each method sends one chat completion through memvault.chat.complete: a system prompt (with the project's own
instructions when it has some) and the material as a user message. `fill` answers the JSON the model wrote (read
leniently by memvault.chat.read_json; ValueError when there is none): checking it against the schema, and asking
again, is the engine's rule. `summary` and `synthesis` answer the model's text. A failure of the service raises
Unavailable (a 503 on every face), whose message never holds the API key.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from memvault.chat import complete, read_json, without_thinking
from memvault.errors import InvalidInput, Unavailable
from memvault.remote import Endpoint

FILL_PROMPT = """\
You fill a JSON Schema with what a list of stored memories says. Use only what the memories say; leave out \
what they do not say (unless the schema requires it). Keep the ids of the memories you use when the schema \
has a place for them.
Answer with one JSON value only, valid against this schema:
{schema}"""

SUMMARY_PROMPT = """\
You write a short summary, in plain prose, of what a list of stored memories says about their owner. Use only \
what the memories say. Answer with the summary only."""

SYNTHESIS_PROMPT = """\
You answer a question from passages of past conversations. Write a short synthesis of what the passages say \
that bears on the question, using only the passages, and cite each passage you use by its number in brackets, \
like [1]. Answer with the synthesis only."""


class Writer:
    """Writes with a chat model; see the module docstring for the exchanges."""

    def __init__(self, base_url: str, model: str, api_key: str | None = None, timeout: float = 60) -> None:
        self._endpoint = Endpoint(base_url, api_key, timeout, service="the writing model",
                                  bad_url="the writer needs MEMVAULT_LLM_URL, an http(s) URL such as "
                                          "http://localhost:11434/v1")
        if not isinstance(model, str) or not model.strip():
            raise InvalidInput("the writer needs MEMVAULT_LLM_MODEL, the name of the chat model to use")
        self.model = model.strip()

    def __repr__(self) -> str:
        return f"Writer(base_url={self._endpoint.where!r}, model={self.model!r})"

    def fill(self, schema: dict[str, Any], items: Sequence[dict[str, Any]], instructions: Sequence[str] = (),
             mistake: str | None = None) -> object:
        """The JSON the model filled `schema` with from `items`; `mistake` says what was wrong the time before."""
        material = "Memories:\n" + json.dumps(list(items), ensure_ascii=False, default=str)
        if mistake:
            material += f"\n\nYour previous answer did not fit the schema: {mistake}\nAnswer again."
        system = FILL_PROMPT.format(schema=json.dumps(schema, ensure_ascii=False))
        content = self._complete(system, material, instructions, json_answer=True)
        return read_json(content)

    def summary(self, items: Sequence[dict[str, Any]], instructions: Sequence[str] = ()) -> str:
        material = "Memories:\n" + "\n".join(f"- {item['memory']}" for item in items)
        return self._text(self._complete(SUMMARY_PROMPT, material, instructions))

    def synthesis(self, query: str, passages: Sequence[str], instructions: Sequence[str] = ()) -> str:
        numbered = "\n\n".join(f"[{n}] {p}" for n, p in enumerate(passages, 1))
        return self._text(self._complete(SYNTHESIS_PROMPT, f"Question: {query}\n\nPassages:\n\n{numbered}",
                                         instructions))

    def _complete(self, system: str, material: str, instructions: Sequence[str], json_answer: bool = False) -> str:
        given = [i for i in instructions if i]
        if given:
            system += "\n\nThe project's own instructions:\n" + "\n".join(given)
        body: dict[str, object] = {"model": self.model, "temperature": 0,
                                   "messages": [{"role": "system", "content": system},
                                                {"role": "user", "content": material}]}
        if json_answer:
            body["response_format"] = {"type": "json_object"}
        return complete(self._endpoint, body)

    def _text(self, content: str) -> str:
        text = without_thinking(content).strip()
        if not text:
            raise Unavailable(f"{self._endpoint.service} wrote nothing")
        return text

    def close(self) -> None:
        self._endpoint.close()
