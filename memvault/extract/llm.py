"""Facts extracted by a chat model behind any OpenAI-compatible API (Ollama, vLLM, llama.cpp, OpenAI).

One ``POST {base_url}/chat/completions`` per call: a system prompt, then the conversation rendered
as one user message ("user: ..." / "assistant: ..." lines; system messages are left out, the
assistant's turns are kept only as context), with ``response_format`` asking for a JSON object
``{"facts": [...]}``. Facts come back in the first person, as the offline extractor keeps them.

The answer is read leniently: reasoning blocks (``<think>...</think>``) and Markdown code fences are
removed, prose around the JSON is skipped, and a bare list, a single fact as a string, another key
than ``facts`` holding the only list, and items shaped ``{"fact": "..."}`` are all accepted. Any
failure of the service (unreachable, timed out, a non-2xx status, an answer that is no list of
facts) raises :class:`~memvault.errors.Unavailable`, whose message names the endpoint without
credentials and never contains the API key.

With a project's guidance (``extract_guided``), the system prompt also carries the project's instructions and its
categories, and asks for ``{"facts": [{"fact": "...", "categories": ["..."]}]}``; a fact may come without
categories (or as a plain string), and ``categories`` may be one name as a string. The engine drops the names that
are not the project's.
"""

from __future__ import annotations

from memvault.chat import complete, read_json
from memvault.errors import MODEL_ANSWER_UNUSABLE, InvalidInput, Unavailable
from memvault.extract.base import Fact, Guidance, Message
from memvault.remote import Endpoint

SYSTEM_PROMPT = """\
You read a conversation between a user and an assistant and write down the facts worth \
remembering about the user in later conversations: who they are, their preferences, plans, \
relationships, circumstances and history, and facts about their world that they state.

Rules:
- Take facts only from what the user says; use the assistant's turns only to understand the \
user's replies.
- Skip questions, requests to the assistant, greetings, thanks and small talk.
- Write each fact as one short sentence that stands on its own, in the first person as the user \
would say it ("I moved to Lyon", "My sister Anna is a nurse"), in the user's language.
- Replace pronouns with what they refer to. Do not add anything the user did not say.
- Write each fact once.

Answer with JSON only, in this shape: {"facts": ["...", "..."]}
If there is nothing worth remembering, answer {"facts": []}"""

GUIDED_ANSWER = """\
Tag each fact with the categories above that fit it (at most three, by name; none when none fits).
Answer with JSON only, in this shape: {"facts": [{"fact": "...", "categories": ["name", ...]}, ...]}
If there is nothing worth remembering, answer {"facts": []}"""

_CONVERSATION_ROLES = ("user", "assistant")
_ITEM_KEYS = ("fact", "text", "content", "memory")


class LLMExtractor:
    """Asks a chat model for the user's facts; see the module docstring for the exchange."""

    name = "llm"

    def __init__(self, base_url: str, model: str, api_key: str | None = None, timeout: float = 60) -> None:
        self._endpoint = Endpoint(
            base_url, api_key, timeout, service="the extraction model",
            bad_url="the llm extractor needs base_url, an http(s) URL such as http://localhost:11434/v1",
        )
        if not isinstance(model, str) or not model.strip():
            raise InvalidInput("the llm extractor needs model, the name of the chat model to use")
        self.base_url = self._endpoint.base_url
        self.model = model.strip()
        self.timeout = timeout

    def __repr__(self) -> str:
        return f"LLMExtractor(base_url={self._endpoint.where!r}, model={self.model!r})"

    def extract(self, messages: list[Message]) -> list[str]:
        conversation = render_conversation(messages)
        if not conversation:
            return []
        content = self._complete(self.request_body(conversation))
        try:
            return parse_facts(content)
        except ValueError as exc:
            raise Unavailable(f"{self._endpoint.service} gave no list of facts: {exc}",
                              code=MODEL_ANSWER_UNUSABLE) from None

    def extract_guided(self, messages: list[Message], guidance: Guidance) -> list[Fact]:
        """The facts, each with the categories the model tagged it with, following the project's instructions."""
        conversation = render_conversation(messages)
        if not conversation:
            return []
        content = self._complete(self.request_body(conversation, system_prompt(guidance)))
        try:
            return parse_tagged_facts(content)
        except ValueError as exc:
            raise Unavailable(f"{self._endpoint.service} gave no list of facts: {exc}",
                              code=MODEL_ANSWER_UNUSABLE) from None

    def request_body(self, conversation: str, system: str = SYSTEM_PROMPT) -> dict[str, object]:
        """The JSON body of the chat completion request for a rendered conversation."""
        return {
            "model": self.model,
            "messages": [
                {"role": "system", "content": system},
                {"role": "user", "content": f"Conversation:\n\n{conversation}"},
            ],
            "response_format": {"type": "json_object"},
            "temperature": 0,
        }

    def _complete(self, body: dict[str, object]) -> str:
        """The assistant message content the service answers with."""
        return complete(self._endpoint, body)


def system_prompt(guidance: Guidance) -> str:
    """The system prompt with a project's instructions and categories."""
    rules, _, _ = SYSTEM_PROMPT.partition("Answer with JSON only")
    parts = [rules.rstrip()]
    if guidance.instructions:
        parts.append("The project's own instructions (they refine the rules above):\n" + guidance.instructions)
    if guidance.categories:
        listed = "\n".join(f"- {name}: {description}" if description else f"- {name}"
                            for name, description in guidance.categories)
        parts.append("Categories:\n" + listed)
        parts.append(GUIDED_ANSWER)
    else:
        parts.append(SYSTEM_PROMPT[len(rules):])
    return "\n\n".join(parts)


def render_conversation(messages: list[Message]) -> str:
    """The user and assistant turns as "role: content" lines; empty when the user said nothing."""
    if not any(m.role.strip().lower() == "user" and m.content.strip() for m in messages):
        return ""
    lines = []
    for message in messages:
        role = message.role.strip().lower()
        if role in _CONVERSATION_ROLES and message.content.strip():
            speaker = f"{role} ({message.name})" if message.name else role
            lines.append(f"{speaker}: {message.content.strip()}")
    return "\n".join(lines)


def parse_facts(content: str) -> list[str]:
    """The facts in a model's answer, in order and without repeats; ValueError when there are none.

    An empty list is a valid answer. See the module docstring for the shapes accepted.
    """
    return [fact.text for fact in parse_tagged_facts(content)]


def parse_tagged_facts(content: str) -> list[Fact]:
    """`parse_facts`, each fact with the category names the model gave it (read leniently: a list of names or one
    name; anything else counts as none)."""
    value = read_json(content)
    if isinstance(value, dict):
        value = _facts_entry(value)
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        raise ValueError(f"expected a list of facts, got {type(value).__name__}")
    facts: list[Fact] = []
    seen: set[str] = set()
    for item in value:
        fact = " ".join(_item_text(item).split())
        if fact and fact.casefold() not in seen:
            seen.add(fact.casefold())
            facts.append(Fact(fact, _item_categories(item)))
    return facts


def _facts_entry(value: dict[str, object]) -> object:
    if "facts" in value:
        return value["facts"]
    lists = [entry for entry in value.values() if isinstance(entry, list)]
    if len(lists) == 1:
        return lists[0]
    raise ValueError(f"expected a 'facts' key, got keys {sorted(value)[:5]}")


def _item_categories(item: object) -> tuple[str, ...]:
    named = item.get("categories", item.get("category")) if isinstance(item, dict) else None
    if isinstance(named, str):
        named = [named]
    if not isinstance(named, list):
        return ()
    return tuple(dict.fromkeys(n.strip() for n in named if isinstance(n, str) and n.strip()))[:10]


def _item_text(item: object) -> str:
    if isinstance(item, str):
        return item
    if isinstance(item, dict):
        for key in _ITEM_KEYS:
            if isinstance(item.get(key), str):
                return str(item[key])
    raise ValueError(f"a fact is not text: {str(item)[:80]!r}")
