"""The server's door (memvault.http.Door), over raw sockets against the real server: a request's framing is
checked, then its key, before its body is read; the body is limited by the bytes received whatever the
framing, and the server holds no more of it than the limit and one chunk."""

from __future__ import annotations

import json
import socket
import threading
import tracemalloc
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

import httpx
import pytest

from memvault.embed.hashing import HashingEmbedder
from memvault.engine import Engine, Limits
from memvault.extract.llm import LLMExtractor
from memvault.extract.offline import OfflineExtractor
from memvault.store.base import Store
from memvault.testing.openai_server import FakeOpenAIServer
from memvault.testing.server import Server

T = TypeVar("T")

LIMIT = 64 * 1024
BIG = 8 * 1024 * 1024  # bytes of body sent where the limit is LIMIT
PIECE = 64 * 1024
HELD = 2 * 1024 * 1024  # what the server may allocate while such a body comes in (limit, a chunk, buffers)
ADD = b'{"messages": "I like green tea", "user_id": "alice", "infer": false'  # an add, closed after padding


@pytest.fixture
def small(engine: Engine) -> Iterator[Server]:
    with Server(engine, max_body_bytes=LIMIT) as srv:
        yield srv


def padded_add(size: int) -> Iterator[bytes]:
    """A valid JSON add of `size` bytes or more: the add, then spaces (JSON whitespace), then its closing brace."""
    yield ADD
    spaces = b" " * PIECE
    for _ in range(size // PIECE):
        yield spaces
    yield b"}"


def chunked(pieces: Iterable[bytes]) -> Iterator[bytes]:
    for piece in pieces:
        yield b"%x\r\n%s\r\n" % (len(piece), piece)
    yield b"0\r\n\r\n"


def exchange(server: Server, head: str, body: Iterable[bytes] = (), timeout: float = 10) -> tuple[int, dict[str, str], bytes]:
    """Send a request head, then its body from another thread (a server that stops reading must not block the
    answer), and read the answer: status, headers (lower-case names), body."""
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=timeout)

    def pump() -> None:
        try:
            for piece in body:
                sock.sendall(piece)
        except OSError:  # the server answered and closed: the rest is not wanted
            pass

    try:
        sock.sendall(head.replace("\n", "\r\n").encode() + b"\r\n")
        sender = threading.Thread(target=pump, daemon=True)
        sender.start()
        received = b""
        while b"\r\n\r\n" not in received:
            data = sock.recv(65536)
            assert data, f"the connection closed before an answer: {received!r}"
            received += data
        raw_head, rest = received.split(b"\r\n\r\n", 1)
        status_line, *lines = raw_head.decode("latin-1").split("\r\n")
        headers = {name.strip().lower(): value.strip() for name, value in (line.split(":", 1) for line in lines)}
        length = int(headers.get("content-length", "0"))
        while len(rest) < length:
            data = sock.recv(65536)
            assert data, "the connection closed in the middle of the answer"
            rest += data
        return int(status_line.split()[1]), headers, rest[:length]
    finally:
        sock.close()


def held_while(run: Callable[[], T]) -> tuple[T, int]:
    """What `run()` returns and the peak of memory the process allocated meanwhile (the server runs in it)."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        result = run()
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def stored(engine: Engine) -> list[str]:
    return [m.text for m in engine.list(engine.project("test").id).items]


# framing and the limit ----------------------------------------------------------------------
def test_content_length_with_transfer_encoding_is_400_and_the_body_is_not_read(small: Server, engine: Engine) -> None:
    key = small.key()
    head = (f"POST /v1/memories/ HTTP/1.1\nHost: x\nAuthorization: Token {key}\nContent-Type: application/json\n"
            "Content-Length: 2\nTransfer-Encoding: chunked\n")
    (status, _, body), peak = held_while(lambda: exchange(small, head, chunked(padded_add(BIG))))
    assert status == 400
    assert "Content-Length and Transfer-Encoding" in json.loads(body)["error"]
    assert peak < HELD, f"the server held {peak} bytes of a body refused at the door"
    assert stored(engine) == []


def test_a_chunked_body_over_the_limit_is_413_and_never_held_whole(small: Server, engine: Engine) -> None:
    key = small.key()
    head = (f"POST /v1/memories/ HTTP/1.1\nHost: x\nAuthorization: Token {key}\nContent-Type: application/json\n"
            "Transfer-Encoding: chunked\n")
    (status, _, body), peak = held_while(lambda: exchange(small, head, chunked(padded_add(BIG))))
    assert status == 413 and json.loads(body)["detail"] == f"Request body is larger than {LIMIT} bytes"
    assert peak < HELD
    assert stored(engine) == []


@pytest.mark.parametrize("path", ["/v1/memories/", "/api/memory", "/mcp"])
def test_a_chunked_body_over_the_limit_without_a_key_is_401_before_it_is_read(small: Server, engine: Engine,
                                                                             path: str) -> None:
    head = f"POST {path} HTTP/1.1\nHost: x\nContent-Type: application/json\nTransfer-Encoding: chunked\n"
    (status, headers, _), peak = held_while(lambda: exchange(small, head, chunked(padded_add(BIG))))
    assert status == 401 and "www-authenticate" in headers
    assert peak < HELD
    assert stored(engine) == []


@pytest.mark.parametrize("lengths", [["100"], ["2", str(BIG)], ["abc"], ["-5"]], ids=["short", "two", "word", "negative"])
def test_a_lying_content_length_gets_no_more_than_it_declares(small: Server, engine: Engine, lengths: list[str]) -> None:
    """A Content-Length below what is sent: the rest is no part of this request (and a second request made of
    it is refused); an ambiguous or malformed one is refused. Either way the body is not held."""
    key = small.key()
    declared = "".join(f"Content-Length: {n}\n" for n in lengths)
    head = (f"POST /v1/memories/ HTTP/1.1\nHost: x\nAuthorization: Token {key}\nContent-Type: application/json\n"
            f"{declared}")
    (status, _, _), peak = held_while(lambda: exchange(small, head, padded_add(BIG)))
    assert status == 400
    assert peak < HELD
    assert stored(engine) == []


def test_a_declared_length_over_the_limit_is_413_without_waiting_for_the_body(small: Server) -> None:
    head = (f"POST /v1/memories/ HTTP/1.1\nHost: x\nAuthorization: Token {small.key()}\n"
            f"Content-Type: application/json\nContent-Length: {BIG}\n")
    status, _, _ = exchange(small, head, timeout=5)
    assert status == 413


def test_a_route_with_a_limit_of_its_own_takes_bodies_over_the_servers_up_to_its_own(small: Server, engine: Engine) -> None:
    """MemoryPlugin's chat-history ingest may carry 50 MB (Face.body_limits); every other route keeps the server's."""
    key = small.key()
    turns = [{"role": "human", "content": f"turn {n} " + "word " * 100} for n in range(2 * LIMIT // 500)]
    body = json.dumps({"conversation": {"id": "big", "messages": turns}})
    assert LIMIT < len(body) < 10 * LIMIT
    mp = httpx.Client(base_url=small.url + "/api", headers={"Authorization": f"Bearer {key}"}, timeout=30)
    with mp:
        answer = mp.post("/chat-history/ingest/custom-online", content=body, headers={"Content-Type": "application/json"})
        assert answer.status_code == 200 and answer.json()["conversation"]["messageCount"] == len(turns)
        assert mp.post("/chat-history/search", content=body, headers={"Content-Type": "application/json"}).status_code == 413
    head = (f"POST /api/chat-history/ingest/custom-online HTTP/1.1\nHost: x\nAuthorization: Bearer {key}\n"
            f"Content-Type: application/json\nContent-Length: {50 * 1024 * 1024 + 1}\n")
    status, _, answer_body = exchange(small, head, timeout=5)
    assert status == 413 and json.loads(answer_body) == {"error": f"Request body is larger than {50 * 1024 * 1024} bytes"}


# the key before the body ----------------------------------------------------------------------
@pytest.mark.parametrize("path", ["/v1/memories/", "/api/memory", "/mcp"])
@pytest.mark.parametrize("authorization", ["", "Authorization: Token mv_unknown\n", "Authorization: Basic abc\n"],
                         ids=["none", "unknown", "malformed"])
def test_the_key_is_checked_before_a_byte_of_the_body_arrives(server: Server, path: str, authorization: str) -> None:
    """The head alone gets the 401: the server does not wait for the body it announces."""
    head = f"POST {path} HTTP/1.1\nHost: x\n{authorization}Content-Type: application/json\nContent-Length: 1000\n"
    status, _, _ = exchange(server, head, timeout=5)
    assert status == 401


@pytest.mark.parametrize("path", ["/v3/memories/add/", "/api/memory", "/api/v2/memory/update", "/mcp"])
def test_malformed_json_without_a_key_is_401(server: Server, path: str) -> None:
    answer = httpx.post(server.url + path, content=b'{"messages": [oops', headers={"Content-Type": "application/json"})
    assert answer.status_code == 401
    good = httpx.post(server.url + path, content=b'{"messages": [oops',
                      headers={"Content-Type": "application/json", "Authorization": f"Bearer {server.key()}",
                               "Accept": "application/json, text/event-stream"})
    assert good.status_code == 400  # with a key, the same body is read: malformed (a JSON-RPC parse error on /mcp)


@pytest.mark.parametrize(("path", "scheme", "shape"), [
    ("/v1/ping/", "Token", {"error", "detail"}),
    ("/v3/memories/search/", "Token", {"error", "detail"}),
    ("/api/memory", "Bearer", {"error"}),
    ("/api/buckets", "Bearer", {"error"}),
    ("/mcp", "Bearer", {"error", "detail"}),
])
def test_a_missing_key_names_the_faces_own_scheme(server: Server, path: str, scheme: str, shape: set[str]) -> None:
    method = "GET" if path in ("/v1/ping/", "/api/memory", "/api/buckets") else "POST"
    answer = httpx.request(method, server.url + path, json={} if method == "POST" else None)
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"] == scheme
    body = answer.json()
    assert set(body) == shape
    assert body["error"] == f"Missing API key: send 'Authorization: {scheme} <key>'"


def test_either_scheme_opens_every_face(server: Server) -> None:
    key = server.key()
    for scheme in ("Token", "Bearer"):
        headers = {"Authorization": f"{scheme} {key}"}
        assert httpx.get(server.url + "/v1/ping/", headers=headers).status_code == 200
        assert httpx.get(server.url + "/api/buckets", headers=headers).status_code == 200


@pytest.mark.parametrize("path", ["/healthz", "/openapi.json", "/docs", "/redoc"])
def test_public_paths_need_no_key(server: Server, path: str) -> None:
    assert httpx.get(server.url + path).status_code == 200


def test_an_unknown_path_without_a_key_is_401_not_404(server: Server) -> None:
    """Only the public paths are open: the door does not tell a caller without a key which routes exist."""
    assert httpx.get(server.url + "/v1/nothing-here/").status_code == 401
    assert httpx.get(server.url + "/v1/nothing-here/", headers={"Authorization": f"Token {server.key()}"}).status_code == 404


# the event loop stays free ------------------------------------------------------------------
def test_health_answers_while_an_add_waits_on_a_slow_extraction_model(store: Store) -> None:
    """Extraction runs off the event loop: while an add waits on its model, the server answers other requests."""
    entered, release = threading.Event(), threading.Event()

    def slow_model(request: dict[str, Any]) -> str:
        entered.set()
        release.wait(60)
        return json.dumps({"facts": ["I like green tea"]})

    with FakeOpenAIServer(chat_handler=slow_model) as model:
        engine = Engine(store, HashingEmbedder(), LLMExtractor(model.base_url, "fake", timeout=60))
        with Server(engine) as srv:
            key = srv.key()
            answers: list[httpx.Response] = []
            add = threading.Thread(target=lambda: answers.append(httpx.post(
                srv.url + "/v1/memories/", json={"messages": "I like green tea", "user_id": "alice"},
                headers={"Authorization": f"Token {key}"}, timeout=90)))
            add.start()
            try:
                assert entered.wait(30), "the add never reached the model"
                assert httpx.get(srv.url + "/healthz", timeout=5).status_code == 200
                assert httpx.get(srv.url + "/v1/ping/", headers={"Authorization": f"Token {key}"},
                                 timeout=5).status_code == 200
                assert add.is_alive() and not answers  # the add is still waiting on its model
            finally:
                release.set()
                add.join(90)
            assert answers[0].status_code == 200, answers[0].text
            assert [m.text for m in engine.list(engine.project("test").id).items] == ["I like green tea"]


def test_health_answers_while_an_add_extracts_a_pathological_text(store: Store) -> None:
    """The offline extractor on a run of punctuation (issue 12: 27 s holding the interpreter for 40,000 dots):
    /healthz keeps answering within 5 s, and the add answers. The engine's text limit is raised so that the
    text reaches the extractor whatever size checks come before it."""
    engine = Engine(store, HashingEmbedder(), OfflineExtractor(),
                    limits=Limits(max_text_chars=200_000, max_message_chars=200_000))
    with Server(engine) as srv:
        key = srv.key()
        answers: list[httpx.Response] = []
        add = threading.Thread(target=lambda: answers.append(httpx.post(
            srv.url + "/v1/memories/", json={"messages": "I like tea" + "." * 100_000 + "x", "user_id": "alice"},
            headers={"Authorization": f"Token {key}"}, timeout=60)))
        add.start()
        try:
            while True:
                assert httpx.get(srv.url + "/healthz", timeout=5).status_code == 200
                if not add.is_alive():
                    break
        finally:
            add.join(60)
        assert answers and answers[0].status_code < 500, answers
