"""A small local server that speaks the OpenAI HTTP API, for tests that need a real endpoint.

A protocol-level fake: the code under test makes real HTTP requests, nothing is patched::

    from memvault.testing.openai_server import FakeOpenAIServer

    with FakeOpenAIServer(chat_handler=lambda request: '{"facts": ["I moved to Lyon"]}') as server:
        embedder = OpenAICompatEmbedder(server.base_url, "fake-embed")   # base_url ends in /v1
        ...
        assert server.requests[-1].path == "/v1/embeddings"
        assert server.requests[-1].body["input"] == ["I moved to Lyon"]

Endpoints (JSON in, JSON out; the ``model`` of a request is echoed back):

``POST /v1/embeddings``
    ``input`` is a string or a list of strings. Each text gets the :class:`HashingEmbedder` vector
    of dimension ``dim`` times ``index + 2``, so the vectors are deterministic but *not* unit
    length, and ``data`` lists them in *reverse* order: a client must normalise and sort by
    ``index`` itself.
``POST /v1/chat/completions``
    The assistant message content is ``chat_handler(request_body)``, a string; the default handler
    answers ``'{"facts": []}'``. If the handler raises, the answer is a 500 with its message.
``POST /v1/rerank``
    The Cohere/Jina rerank exchange: ``query`` and ``documents`` in; ``results`` out, one
    ``{"index", "relevance_score"}`` per document, *best first* (a client must put them back in order by
    ``index``). A document's score is ``rerank_handler(query, documents)[i]``; the default handler gives the
    share of the query's words the document holds (0..1). If the handler raises, the answer is a 500.
``GET /v1/models``
    Lists the one model ``"fake"``.

Anything else is a 404. Setting ``server.fail_status = 500`` (any status) makes every request fail
with that status and an OpenAI-style error body, until it is set back to ``None``.

Every request, failed or not, is appended to ``server.requests`` as a :class:`RecordedRequest`
(method, path, headers with lowercased names, JSON body or ``None``), in arrival order.
The server listens on 127.0.0.1 on a free port and serves from a background thread between
:meth:`FakeOpenAIServer.start` and :meth:`FakeOpenAIServer.stop` (or inside ``with``).
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from memvault.embed.hashing import HashingEmbedder

_WORDS = re.compile(r"\w+")

ChatHandler = Callable[[dict[str, Any]], str]
"""Turns a chat completion request body into the assistant's message content."""
RerankHandler = Callable[[str, list[str]], list[float]]
"""Turns a query and documents into one score per document."""


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the fake server received it."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any  # the parsed JSON body, None when there is none or it is not JSON


def echo_no_facts(request: dict[str, Any]) -> str:
    """The default chat handler: an extraction answer without facts."""
    return json.dumps({"facts": []})


def word_overlap(query: str, documents: list[str]) -> list[float]:
    """The default rerank handler: the share of the query's distinct words (lower case) each document holds."""
    asked = set(_WORDS.findall(query.lower()))
    return [len(asked & set(_WORDS.findall(d.lower()))) / len(asked) if asked else 0.0 for d in documents]


class FakeOpenAIServer:
    """The OpenAI API on 127.0.0.1 for tests; see the module docstring for what it answers."""

    def __init__(self, *, dim: int = 64, chat_handler: ChatHandler = echo_no_facts,
                 rerank_handler: RerankHandler = word_overlap) -> None:
        self.dim = dim
        self.chat_handler = chat_handler
        self.rerank_handler = rerank_handler
        self.fail_status: int | None = None
        self.requests: list[RecordedRequest] = []
        self._embedder = HashingEmbedder(dim)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>/v1``; only while the server runs."""
        if self._server is None:
            raise RuntimeError("the fake OpenAI server is not running")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    def start(self) -> FakeOpenAIServer:
        if self._server is not None:
            raise RuntimeError("the fake OpenAI server is already running")
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_class(self))
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.02}, name="fake-openai", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, thread, self._server, self._thread = self._server, self._thread, None, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if thread is not None:
            thread.join()

    def __enter__(self) -> FakeOpenAIServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)

    def _answer(self, method: str, path: str, body: Any) -> tuple[int, dict[str, Any]]:
        """The status and JSON answer to one request."""
        if self.fail_status is not None:
            return self.fail_status, _error(f"the fake server is set to fail with {self.fail_status}")
        if (method, path) == ("POST", "/v1/embeddings"):
            return self._embeddings(body)
        if (method, path) == ("POST", "/v1/chat/completions"):
            return self._chat(body)
        if (method, path) == ("POST", "/v1/rerank"):
            return self._rerank(body)
        if (method, path) == ("GET", "/v1/models"):
            model = {"id": "fake", "object": "model", "owned_by": "memvault"}
            return 200, {"object": "list", "data": [model]}
        return 404, _error(f"no route {method} {path}", "not_found_error")

    def _embeddings(self, body: Any) -> tuple[int, dict[str, Any]]:
        texts = body.get("input") if isinstance(body, dict) else None
        if isinstance(texts, str):
            texts = [texts]
        if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
            return 400, _error("'input' must be a string or a non-empty list of strings")
        vectors = self._embedder.embed(texts)
        data = [
            {"object": "embedding", "index": i, "embedding": [float(x) * (i + 2) for x in vectors[i]]}
            for i in reversed(range(len(texts)))
        ]
        tokens = sum(len(t.split()) for t in texts)
        return 200, {
            "object": "list",
            "data": data,
            "model": body.get("model"),
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }

    def _chat(self, body: Any) -> tuple[int, dict[str, Any]]:
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
            return 400, _error("'messages' must be a list")
        try:
            content = self.chat_handler(body)
        except Exception as exc:  # the test's handler failed: say so in the answer
            return 500, _error(f"chat_handler raised {type(exc).__name__}: {exc}")
        return 200, {
            "id": f"chatcmpl-fake-{len(self.requests)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model"),
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}
            ],
            "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
        }


    def _rerank(self, body: Any) -> tuple[int, dict[str, Any]]:
        query = body.get("query") if isinstance(body, dict) else None
        documents = body.get("documents") if isinstance(body, dict) else None
        if not isinstance(query, str) or not isinstance(documents, list) \
                or not all(isinstance(d, str) for d in documents):
            return 400, _error("'query' must be a string and 'documents' a list of strings")
        try:
            scores = self.rerank_handler(query, documents)
        except Exception as exc:  # the test's handler failed: say so in the answer
            return 500, _error(f"rerank_handler raised {type(exc).__name__}: {exc}")
        ranked = sorted(range(len(scores)), key=lambda i: -scores[i])
        return 200, {"model": body.get("model"),
                     "results": [{"index": i, "relevance_score": scores[i]} for i in ranked]}


def _error(message: str, kind: str = "server_error") -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": None, "code": None}}


def _handler_class(fake: FakeOpenAIServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            self._serve("POST")

        def _serve(self, method: str) -> None:
            path = self.path.split("?", 1)[0]
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = None
            headers = {name.lower(): value for name, value in self.headers.items()}
            fake._record(RecordedRequest(method, path, headers, body))
            status, answer = fake._answer(method, path, body)
            payload = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
            pass

    return Handler
