"""The access log and the request id (memvault.access), against a real server: one JSON line per request with its
id, route template, status and project; never a key, a memory's text, a path's words or a query string."""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from memvault.embed.hashing import HashingEmbedder
from memvault.engine import Engine
from memvault.extract.offline import OfflineExtractor
from memvault.logs import JsonFormatter, TextFormatter, fields
from memvault.store.sqlite import SQLiteStore
from memvault.store.sqlite.store import connect
from memvault.testing.mcp_client import call, fails, http_session
from memvault.testing.server import Server

SECRET_TEXT = "Quokka Zephyrine keeps her bank PIN 7731 under the blue teapot"
WORDS = ["Quokka", "Zephyrine", "7731", "teapot"]  # none of them may reach a log line


class Lines(logging.Handler):
    """Every record of the process, formatted as the server writes it (memvault.logs.JsonFormatter)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(JsonFormatter())
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))

    def parsed(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.lines]

    def access(self) -> list[dict[str, Any]]:
        return [line for line in self.parsed() if line["logger"] == "memvault.access" and "status" in line]

    def of(self, request_id: str) -> dict[str, Any]:
        [line] = [line for line in self.access() if line["request_id"] == request_id]
        return line


@pytest.fixture
def logged() -> Iterator[Lines]:
    """All log output, memvault's at debug: the root logger and uvicorn's own (which does not propagate)."""
    lines = Lines()
    watched = [logging.getLogger(), logging.getLogger("uvicorn"), logging.getLogger("uvicorn.access")]
    memvault, level = logging.getLogger("memvault"), logging.getLogger("memvault").level
    for logger in watched:
        logger.addHandler(lines)
    memvault.setLevel(logging.DEBUG)
    yield lines
    memvault.setLevel(level)
    for logger in watched:
        logger.removeHandler(lines)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "memvault.db"


@pytest.fixture
def srv(db: Path) -> Iterator[Server]:
    engine = Engine(SQLiteStore(db), HashingEmbedder(), OfflineExtractor())
    with Server(engine) as server:
        yield server
    engine.close()


def drop_memories(db: Path) -> None:
    conn = connect(db)
    try:
        conn.execute("DROP TABLE memories")
        conn.commit()
    finally:
        conn.close()


def everywhere(key: str) -> dict[str, Any]:
    """The key in every place a client might put one: the header, X-API-Key, Token, a cookie, the query string."""
    return {"headers": {"Authorization": f"Token {key}", "X-API-Key": key, "Token": key, "Cookie": f"api_key={key}"},
            "params": {"api_key": key, "key": key}}


def assert_never_logged(lines: Lines, *secrets: str) -> None:
    assert lines.lines, "nothing was logged"
    for secret in secrets:
        for piece in (secret, secret[3:15]):  # the whole of it, and a part of what follows the "mv_" prefix
            leaked = [line for line in lines.lines if piece in line]
            assert leaked == [], f"{piece!r} logged"


# the key ---------------------------------------------------------------------------------
def test_a_key_reaches_no_log_line_on_a_401_404_400_or_500(srv: Server, db: Path, logged: Lines) -> None:
    key = srv.key()
    wrong = key[:-4] + "abcd"
    answers = [
        httpx.get(srv.url + "/v1/memories/", **everywhere(wrong)),  # 401: a key memvault does not know
        httpx.get(srv.url + "/api/buckets", **everywhere(wrong)),  # 401 on the other face
        httpx.get(srv.url + f"/v1/memories/{uuid.uuid4()}/", **everywhere(key)),  # 404
        httpx.post(srv.url + "/v1/memories/", content=b'{"messages": ', **everywhere(key)),  # 400: malformed JSON
        httpx.get(srv.url + "/v1/nothing-here/", **everywhere(key)),  # 404: no such route
    ]
    assert [a.status_code for a in answers] == [401, 401, 404, 400, 404]
    drop_memories(db)  # the database loses a table under the running server: a real 500
    crash = httpx.get(srv.url + f"/v1/memories/{uuid.uuid4()}/", **everywhere(key))
    assert crash.status_code == 500
    answers.append(crash)

    statuses = {line["request_id"]: line["status"] for line in logged.access()}
    assert [statuses[a.headers["X-Request-ID"]] for a in answers] == [401, 401, 404, 400, 404, 500]
    assert_never_logged(logged, key, wrong)


def test_a_401_is_a_warning_with_the_doors_reason_and_no_project(srv: Server, logged: Lines) -> None:
    answer = httpx.get(srv.url + "/v1/ping/", headers={"Authorization": "Token mv_not-a-key-at-all"})
    assert answer.status_code == 401
    line = logged.of(answer.headers["X-Request-ID"])
    assert line["level"] == "warning"
    assert line["refusal"] == "Invalid API key"
    assert "project_id" not in line and line.get("route") is None
    missing = httpx.get(srv.url + "/v1/ping/")
    assert logged.of(missing.headers["X-Request-ID"])["refusal"].startswith("Missing API key")


def test_a_500_is_an_error_line_with_the_exceptions_type_and_frames(srv: Server, db: Path, logged: Lines) -> None:
    key = srv.key()
    drop_memories(db)
    answer = httpx.get(srv.url + f"/v1/memories/{uuid.uuid4()}/", headers={"Authorization": f"Token {key}"})
    assert answer.status_code == 500
    assert answer.json() == {"error": "Internal server error", "detail": "Internal server error"}
    line = logged.of(answer.headers["X-Request-ID"])
    assert line["level"] == "error"
    assert line["route"] == "/v1/memories/{memory_id}/"
    assert line["project_id"] == srv.engine.project("test").id
    assert line["error"].endswith("OperationalError")
    assert "memvault/store/sqlite" in line["trace"] and "no such table" not in line["trace"]  # frames, no message


# memory text, paths and query strings --------------------------------------------------------------
def test_memory_text_and_query_words_reach_no_log_line(srv: Server, logged: Lines) -> None:
    key = srv.key()
    mem0 = {"Authorization": f"Token {key}"}
    mp = {"Authorization": f"Bearer {key}"}
    added = httpx.post(srv.url + "/v1/memories/", headers=mem0,
                       json={"messages": SECRET_TEXT, "user_id": "alice", "infer": False})
    assert added.status_code == 200
    memory_id = added.json()["results"][0]["id"]
    assert httpx.post(srv.url + "/api/memory", headers=mp, json={"text": SECRET_TEXT + " again"}).status_code == 200
    assert httpx.post(srv.url + "/v2/memories/search/", headers=mem0,
                      json={"query": "Zephyrine teapot", "filters": {"user_id": "alice"}}).json()
    assert httpx.get(srv.url + "/api/memory", headers=mp, params={"query": "Quokka 7731"}).json()["data"]
    assert httpx.get(srv.url + "/v1/memories/", headers=mem0, params={"user_id": "alice"}).status_code == 200
    assert httpx.put(srv.url + f"/v1/memories/{memory_id}/", headers=mem0,
                     json={"text": "Zephyrine moved the teapot"}).status_code == 200
    assert httpx.get(srv.url + f"/v1/memories/{memory_id}/history/", headers=mem0).status_code == 200
    assert httpx.get(srv.url + "/v1/memories/Quokka-7731/", headers=mem0).status_code == 400  # words in a path
    assert httpx.get(srv.url + "/v1/Zephyrine/teapot/", headers=mem0).status_code == 404
    assert httpx.delete(srv.url + f"/v1/memories/{memory_id}/", headers=mem0).status_code == 200
    for word in WORDS:
        assert [line for line in logged.lines if word.lower() in line.lower()] == []
    assert len(logged.access()) == 10


def test_mcp_calls_leave_no_memory_text_in_the_logs(srv: Server, logged: Lines) -> None:
    """MCP over HTTP is logged like any request (route /mcp), and what its tools were given stays out of the logs,
    also when a tool refuses it."""

    async def main() -> None:
        async with http_session(srv.url, srv.key()) as session:
            added = (await call(session, "add_memory", text=SECRET_TEXT, user_id="alice", infer=False))["results"][0]
            assert (await call(session, "search_memories", query="Zephyrine teapot", user_id="alice"))["results"]
            assert (await call(session, "get_memory", id=added["id"]))["memory"] == SECRET_TEXT
            await fails(session, "add_memory", text=SECRET_TEXT, user_id="alice", metadata={"Quokka\u0000": 1})
            await fails(session, "get_memory", id="Quokka-7731")
            await call(session, "delete_memory", id=added["id"])

    anyio.run(main)
    assert {line["route"] for line in logged.access()} == {"/mcp"}
    for word in WORDS:
        assert [line for line in logged.lines if word.lower() in line.lower()] == []


def test_an_access_line_carries_the_route_template_never_the_path(srv: Server, logged: Lines) -> None:
    key = srv.key()
    memory_id = str(uuid.uuid4())
    answer = httpx.get(srv.url + f"/v1/memories/{memory_id}/", headers={"Authorization": f"Token {key}"})
    assert answer.status_code == 404
    line = logged.of(answer.headers["X-Request-ID"])
    assert {k: line[k] for k in ("logger", "level", "method", "route", "status")} == {
        "logger": "memvault.access", "level": "info", "method": "GET", "route": "/v1/memories/{memory_id}/",
        "status": 404}
    assert line["project_id"] == srv.engine.project("test").id
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", line["time"])
    assert memory_id not in "".join(logged.lines)
    bulk = httpx.post(srv.url + "/api/memories/bulk-delete", headers={"Authorization": f"Bearer {key}"},
                      json={"memoryIds": [memory_id]})
    assert logged.of(bulk.headers["X-Request-ID"])["route"] == "/api/memories/bulk-delete"
    unknown = httpx.get(srv.url + "/v1/no/such/route/", headers={"Authorization": f"Token {key}"})
    assert logged.of(unknown.headers["X-Request-ID"]).get("route") is None


def test_an_mcp_request_is_logged_under_its_route(srv: Server, logged: Lines) -> None:
    answer = httpx.post(srv.url + "/mcp", headers={"Authorization": f"Bearer {srv.key()}"}, content=b"{")
    assert logged.of(answer.headers["X-Request-ID"])["route"] == "/mcp"


# the request id ---------------------------------------------------------------------------------
@pytest.mark.parametrize("given", ["abc-123", "req_01HZY3J8K9", "x" * 128, "a.b:c/d=e+f@g"])
def test_a_good_request_id_is_kept_and_returned(srv: Server, logged: Lines, given: str) -> None:
    answer = httpx.get(srv.url + "/healthz", headers={"X-Request-ID": given})
    assert answer.headers["X-Request-ID"] == given
    assert logged.of(given)["route"] == "/healthz"


@pytest.mark.parametrize("given", ["", "two words", "x" * 129, "tab\there", "caf\u00e9"])
def test_a_bad_request_id_is_replaced_by_a_new_one(srv: Server, logged: Lines, given: str) -> None:
    answer = httpx.get(srv.url + "/healthz", headers={"X-Request-ID": given.encode("utf-8")})
    made = answer.headers["X-Request-ID"]
    assert made != given and re.fullmatch(r"[0-9a-f]{32}", made)
    assert logged.of(made)["status"] == 200


def test_every_answer_has_a_request_id_even_the_doors_refusals(srv: Server, logged: Lines) -> None:
    answers = [
        httpx.get(srv.url + "/healthz"),
        httpx.get(srv.url + "/v1/ping/"),  # 401, answered by the door
        httpx.delete(srv.url + "/healthz"),  # 405
    ]
    ids = [a.headers.get("X-Request-ID") for a in answers]
    assert all(ids) and len(set(ids)) == 3
    assert [logged.of(i)["status"] for i in ids if i] == [a.status_code for a in answers]


# the formatters ---------------------------------------------------------------------------------
def record(message: str, **values: Any) -> logging.LogRecord:
    made = logging.LogRecord("memvault.access", logging.INFO, __file__, 1, message, (), None)
    made.__dict__.update(fields(**values))
    return made


def test_the_json_formatter_writes_one_object_on_one_line() -> None:
    line = JsonFormatter().format(record("GET /x 200", request_id="r1\nforged", status=200, project_id=None))
    assert "\n" not in line
    parsed = json.loads(line)
    assert parsed["request_id"] == "r1\nforged" and parsed["status"] == 200 and "project_id" not in parsed
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", parsed["time"])


def test_the_text_formatter_writes_the_message_and_the_fields() -> None:
    line = TextFormatter().format(record("GET /healthz 200 1.00ms", request_id="r1", status=200))
    assert re.fullmatch(r"\S+Z INFO memvault\.access: GET /healthz 200 1\.00ms request_id=r1 status=200", line)
