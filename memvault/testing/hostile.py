"""What the adversarial tests share: raw hostile requests, the dialects' error shapes, and `Probe`, which checks
after each hostile request that the server still keeps its promises.

Requests are built by hand (`content=` bytes and percent-encoded URLs) so they can carry what a well-behaved
client library refuses to send: lone UTF-16 surrogates as `"\\ud800"` JSON escapes, NUL, invalid UTF-8 in a
query string, JSON nested thousands deep, NaN.

The promises `Probe.check` holds the server to, in the project the hostile requests went to:
- every read path answers (get, history, list in each dialect, search in each dialect, entities, buckets);
- a key revoked through a second store handle (as the `memvault keys revoke` command does from another
  process) is refused at once, on every face, and a key created that way is accepted;
- a memory deleted through the second handle (as `memvault delete` does) or over HTTP is gone from get,
  search and list.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx

from ..embed.hashing import HashingEmbedder
from ..engine import Engine
from ..extract.offline import OfflineExtractor
from ..models import ApiKey
from ..store.base import Store

# Generous: a healthy server answers each request in well under a second; this only stops a stalled one
# (an extraction holding the GIL for minutes) from hanging the suite.
REQUEST_TIMEOUT = 60.0
MCP_ACCEPT = "application/json, text/event-stream"


class Hole:
    """Where the hostile value goes in a request template (a value, or a key / path segment when a string)."""

    def __repr__(self) -> str:
        return "V"


V = Hole()
KEY_HOLE = "\x00<V>\x00"  # a dict key replaced by the hostile value (when it is a string)


def fill(template: Any, value: Any) -> Any:
    """`template` with every `V` replaced by `value` (and every KEY_HOLE key by `value` when it is a string)."""
    if template is V:
        return value
    if isinstance(template, dict):
        out = {}
        for k, v in template.items():
            key = (value if isinstance(value, str) else json.dumps(value)) if k == KEY_HOLE else k
            out[key] = fill(v, value)
        return out
    if isinstance(template, list):
        return [fill(v, value) for v in template]
    return template


def to_json(obj: Any) -> bytes:
    """JSON as bytes, every non-ASCII character escaped: a lone surrogate travels as `\\ud800`, NaN as `NaN`."""
    return json.dumps(obj, ensure_ascii=True, allow_nan=True).encode("ascii")


URL_PART_BYTES = 8_000  # the HTTP server refuses a request line over ~16 KB before memvault sees it


def url_part(value: Any, budget: int = URL_PART_BYTES) -> str:
    """A path segment or query value, percent-encoded byte for byte (a lone surrogate as its CESU-8 bytes), cut to
    URL_PART_BYTES (at an escape's boundary) so the request line is one a server reads: a 100 kB value goes in part."""
    text = value if isinstance(value, str) else json.dumps(value)
    encoded = quote(text.encode("utf-8", "surrogatepass"), safe="")
    if len(encoded) > budget:
        encoded = encoded[:budget]
        tail = encoded.rfind("%", len(encoded) - 2)
        encoded = encoded[:tail] if tail >= 0 else encoded
    return encoded


@dataclass(frozen=True)
class Call:
    """One request: `path` may hold `{V}` (the hostile value) and `{keeper}`, `{target}`, `{bucket}` (known ids)."""

    method: str
    path: str
    body: Any = None  # a template (may contain V); None: no body
    query: dict[str, Any] = field(default_factory=dict)  # values may be V
    raw: bytes | None = None  # a body sent as it is

    def label(self) -> str:
        return f"{self.method} {self.path} {self.body!r:.120} {self.query!r:.60}"


def short(value: Any) -> str:
    """A value's repr, cut to 80 characters (and safe for values nested deeper than repr can go)."""
    try:
        return repr(value)[:80]
    except RecursionError:
        return f"<{type(value).__name__} nested too deep to print>"


def is_mem0(path: str) -> bool:
    return path.startswith("/v")


def check_answer(response: httpx.Response, what: str) -> Any:
    """No 5xx; a JSON body; a 4xx in the dialect's error shape. Returns the decoded body."""
    path = response.request.url.path
    if response.status_code >= 500:
        # The server logs the crash's traceback after it has answered. Python 3.11 builds a traceback's carets
        # with the AST parser, whose recursion counter the interpreter shares between threads: if pytest formats
        # this failure at the same moment, it dies with "AST constructor recursion depth mismatch".
        time.sleep(1.0)
    assert response.status_code < 500, f"{what}: {response.status_code} {response.text[:300]}"
    content_type = response.headers.get("content-type", "")
    assert content_type.startswith("application/json"), f"{what}: {response.status_code} {content_type} {response.text[:200]}"
    body = response.json()
    if response.status_code >= 400:
        assert isinstance(body, dict) and isinstance(body.get("error"), str) and body["error"], f"{what}: {body!r:.300}"
        if is_mem0(path):  # Mem0: {"error": msg, "detail": msg}; MemoryPlugin: {"error": msg}
            assert body.get("detail") == body["error"], f"{what}: {body!r:.300}"
    return body


def check_mcp_answer(response: httpx.Response, what: str) -> Any:
    """A JSON-RPC answer, never a 5xx; a failed tool call says why. (The MCP SDK words an exception the tool did not
    map as a bare "Error executing tool <name>": that is a crash the caller cannot act on.)"""
    if response.status_code >= 500:
        time.sleep(1.0)  # see check_answer
    assert response.status_code < 500, f"{what}: {response.status_code} {response.text[:300]}"
    assert response.headers.get("content-type", "").startswith("application/json"), f"{what}: {response.text[:200]}"
    body = response.json()
    if "error" in body:
        assert body["error"]["code"] != -32603, f"{what}: internal error {body['error']}"
        return body
    result = body["result"]
    if result.get("isError"):
        text = " ".join(c.get("text", "") for c in result.get("content", []))
        assert not re.fullmatch(r"Error executing tool \w+", text.strip()), f"{what}: the tool crashed ({text})"
    return body


@dataclass
class Probe:
    """A real server, a project with a key, the known memories, and a second handle on the same database."""

    url: str
    engine: Engine
    twin: Engine
    project: str  # the project's name
    key: str
    keeper: str = ""  # a memory nothing hostile touches; must stay readable
    keeper_word: str = ""
    target: str = ""  # a memory the hostile updates are aimed at
    bucket: str = ""  # a scratch bucket the hostile bucket edits are aimed at
    http: httpx.Client = field(init=False)

    def __post_init__(self) -> None:
        self.http = httpx.Client(base_url=self.url, timeout=REQUEST_TIMEOUT)
        self.project_id = self.engine.project(self.project).id
        self.keeper_word = "keeper" + uuid.uuid4().hex[:10]
        self.keeper = self.ok("POST", "/v3/memories/add/", {
            "messages": [{"role": "user", "content": f"The {self.keeper_word} likes green tea"}],
            "user_id": "keeper", "infer": False})["results"][0]["id"]
        self.target = self.ok("POST", "/v3/memories/add/", {
            "messages": [{"role": "user", "content": "Target memory for updates"}], "user_id": "target",
            "infer": False})["results"][0]["id"]
        self.bucket = self.ok("POST", "/api/buckets", {"name": "Scratch"})["id"]

    def close(self) -> None:
        self.http.close()

    def reconnect(self) -> None:
        """Fresh connections (the server drops a connection whose request crashed, even after answering it)."""
        self.http.close()
        self.http = httpx.Client(base_url=self.url, timeout=REQUEST_TIMEOUT)

    # requests -------------------------------------------------------------------------
    def headers(self, path: str, key: str | None = None) -> dict[str, str]:
        scheme = "Token" if is_mem0(path) else "Bearer"
        return {"Authorization": f"{scheme} {key or self.key}", "Content-Type": "application/json", "Accept": MCP_ACCEPT}

    def send(self, method: str, path: str, body: Any = None, *, raw: bytes | None = None, query: str = "",
             key: str | None = None, headers: dict[str, str] | None = None) -> httpx.Response:
        content = raw if raw is not None else (to_json(body) if body is not None else None)
        url = path + (("?" + query) if query else "")
        try:
            return self.http.request(method, url, content=content, headers={**self.headers(path, key), **(headers or {})})
        except httpx.TransportError as exc:
            time.sleep(1.0)  # let the server finish logging whatever broke (see check_answer)
            raise AssertionError(f"{method} {path}: no answer ({type(exc).__name__}: {exc})") from None

    def ok(self, method: str, path: str, body: Any = None, *, query: str = "", key: str | None = None) -> Any:
        response = self.send(method, path, body, query=query, key=key)
        assert response.status_code == 200, f"{method} {path}: {response.status_code} {response.text[:300]}"
        return response.json()

    def call(self, call: Call, value: Any) -> httpx.Response:
        """Send `call` with `value` in its holes; assert the answer is well-formed (no 5xx, JSON, error shape)."""
        shown = short(value)
        value = value.build() if hasattr(value, "build") else value
        known = {"{keeper}": self.keeper, "{target}": self.target, "{bucket}": self.bucket}
        path = call.path
        for hole, replacement in known.items():
            path = path.replace(hole, replacement)
        holes = path.count("{V}") + len(call.query)  # the URL's parts share one budget
        budget = URL_PART_BYTES // max(1, holes)
        path = path.replace("{V}", url_part(value, budget))
        query = "&".join(f"{k}={url_part(fill(v, value), budget)}" for k, v in call.query.items())
        raw = call.raw if call.raw is not None else to_json(fill(call.body, value)) if call.body is not None else None
        for hole, replacement in known.items():
            raw = raw.replace(hole.encode(), replacement.encode()) if raw is not None else None
        response = self.send(call.method, path, raw=raw, query=query)
        if path == "/mcp":
            check_mcp_answer(response, f"{call.label()} with {shown}")
        else:
            check_answer(response, f"{call.label()} with {shown}")
        return response

    # the promises ----------------------------------------------------------------------
    def check(self) -> None:
        self.check_reads()
        self.check_revocation()
        self.check_forgetting()

    def check_reads(self) -> None:
        """Every read path answers 200, in the hostile project (whatever the hostile requests stored there)."""
        keeper = self.ok("GET", f"/v1/memories/{self.keeper}/")
        assert self.keeper_word in keeper["memory"]
        assert self.ok("GET", f"/v1/memories/{self.keeper}/history/")
        listed = self.ok("POST", "/v3/memories/", {"filters": {"user_id": "keeper"}})
        assert self.keeper in [m["id"] for m in listed["results"]]
        self.ok("POST", "/v2/memories/", {})  # every memory of the project is decoded
        self.ok("POST", "/v2/memories/", {}, query="page=1&page_size=1000")
        self.ok("GET", "/v1/memories/", query="page=1&page_size=1000")
        found = self.ok("POST", "/v3/memories/search/", {"query": self.keeper_word, "filters": {"user_id": "keeper"}})
        assert self.keeper in [m["id"] for m in found["results"]]
        self.ok("POST", "/v2/memories/search/", {"query": "green tea likes", "top_k": 1000})
        self.ok("GET", "/v1/entities/")
        self.ok("GET", "/api/buckets")
        self.ok("GET", "/api/memory", query="all=true")
        self.ok("GET", "/api/v2/memory", query="all=true&includeIds=true")
        hits = self.ok("GET", "/api/memory", query=f"query={self.keeper_word}")
        assert self.keeper in [m["id"] for m in hits["data"]]
        tools = self.mcp("tools/call", {"name": "list_memories", "arguments": {"limit": 1000}})
        assert "result" in tools and not tools["result"].get("isError"), tools

    def mcp(self, method: str, params: dict[str, Any] | None = None, *, key: str | None = None) -> Any:
        body: dict[str, Any] = {"jsonrpc": "2.0", "id": 1, "method": method}
        if params is not None:
            body["params"] = params
        response = self.send("POST", "/mcp", body, key=key, headers={"Accept": MCP_ACCEPT})
        assert response.status_code == 200, f"MCP {method}: {response.status_code} {response.text[:300]}"
        return response.json()

    def check_revocation(self, made: ApiKey | None = None, clear: str = "") -> None:
        """A key made through the second handle works (`made`: one made earlier); once revoked there, every face
        refuses it."""
        if made is None:
            made, clear = self.twin.create_key(self.project, "probe")
        for _ in range(3):
            self.ok("GET", "/v1/ping/", key=clear)
        self.twin.revoke_key(made.id)
        for _ in range(3):  # different worker threads may answer; none may remember the key
            for method, path in (("GET", "/v1/ping/"), ("POST", "/v3/memories/"), ("GET", "/api/buckets"),
                                 ("GET", "/api/memory"), ("POST", "/mcp")):
                body = {"filters": {"user_id": "keeper"}} if path == "/v3/memories/" else \
                    {"jsonrpc": "2.0", "id": 1, "method": "tools/list"} if path == "/mcp" else None
                response = self.send(method, path, body, key=clear, headers={"Accept": MCP_ACCEPT})
                assert response.status_code == 401, f"revoked key: {method} {path} → {response.status_code}"

    def check_forgetting(self, whole_project: bool = True) -> None:
        """A memory deleted through the second handle (as the CLI does) and one deleted over HTTP are gone.
        `whole_project`: also search the whole project (MemoryPlugin search has no filter)."""
        words = ["doomed" + uuid.uuid4().hex[:10] for _ in range(2)]
        ids = [self.ok("POST", "/v3/memories/add/", {"messages": f"The {w} fact", "user_id": "keeper",
                                                       "infer": False})["results"][0]["id"] for w in words]
        self.twin.delete(self.project_id, ids[0])
        assert self.ok("DELETE", f"/v1/memories/{ids[1]}/")["message"]
        for mid, word in zip(ids, words, strict=True):
            assert self.send("GET", f"/v1/memories/{mid}/").status_code == 404, f"deleted {mid} still answers get"
            found = self.ok("POST", "/v3/memories/search/", {"query": f"{word} fact", "filters": {"user_id": "keeper"}})
            assert mid not in [m["id"] for m in found["results"]], f"deleted {mid} still found by search"
            listed = self.ok("POST", "/v3/memories/", {"filters": {"user_id": "keeper"}})
            assert mid not in [m["id"] for m in listed["results"]], f"deleted {mid} still listed"
            if whole_project:
                hits = self.ok("GET", "/api/memory", query=f"query={word}")
                assert mid not in [m["id"] for m in hits["data"]], f"deleted {mid} still found by MemoryPlugin search"


def twin_engine(store: Store) -> Engine:
    return Engine(store, HashingEmbedder(), OfflineExtractor())


def probe_for(url: str, engine: Engine, twin: Store, key: str, project: str) -> Iterator[Probe]:
    probe = Probe(url, engine, twin_engine(twin), project, key)
    try:
        yield probe
    finally:
        probe.close()
