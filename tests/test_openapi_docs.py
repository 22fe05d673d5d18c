"""The API documents itself: every operation of `/openapi.json` has a summary and a description of its own, the
seed endpoints carry examples, and `/docs` and `/redoc` load only assets the server serves itself."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlparse

import httpx
import pytest

from memvault.embed.hashing import HashingEmbedder
from memvault.engine import Engine
from memvault.extract.offline import OfflineExtractor
from memvault.store.sqlite import SQLiteStore
from memvault.testing.server import Server

METHODS = {"get", "put", "post", "delete", "patch", "head", "options"}


def operations(schema: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(method.upper(), path, op) for path, item in schema["paths"].items()
            for method, op in item.items() if method in METHODS]


def generated_summary(method: str, path: str, op: dict[str, Any]) -> str:
    """The summary FastAPI makes up from the handler's name when none is given ("Add V3"): the operation id is the
    name, then the path and the method."""
    suffix = re.sub(r"\W", "_", path) + "_" + method.lower()
    return op["operationId"].removesuffix(suffix).replace("_", " ").title()


@pytest.fixture
def sqlite_server(tmp_path: Path) -> Iterator[Server]:
    engine = Engine(SQLiteStore(tmp_path / "memvault.db"), HashingEmbedder(), OfflineExtractor())
    with Server(engine, metrics=True) as srv:
        yield srv
    engine.close()


def test_every_operation_has_a_summary_and_a_description(sqlite_server: Server) -> None:
    schema = httpx.get(sqlite_server.url + "/openapi.json").json()
    found = operations(schema)
    assert len(found) >= 29
    lacking = [f"{method} {path}" for method, path, op in found
               if not op.get("description", "").strip() or not op.get("summary", "").strip()]
    assert lacking == []
    # a summary written for the operation, not the one made up from the handler's name
    made_up = [f"{method} {path}: {op['summary']}" for method, path, op in found
               if op["summary"] == generated_summary(method, path, op)]
    assert made_up == []


def test_the_seed_endpoints_carry_examples(sqlite_server: Server) -> None:
    schema = httpx.get(sqlite_server.url + "/openapi.json").json()
    delete_one = schema["paths"]["/v1/memories/{memory_id}/"]["delete"]
    assert delete_one["responses"]["200"]["content"]["application/json"]["example"] == \
        {"message": "Memory deleted successfully!"}
    assert "Memory not found!" in str(delete_one["responses"]["404"])
    [memory_id] = [p for p in delete_one["parameters"] if p["name"] == "memory_id"]
    assert memory_id.get("example") or memory_id.get("examples")

    bulk = schema["paths"]["/api/memories/bulk-delete"]["post"]
    body = bulk["requestBody"]["content"]["application/json"]
    ref = body["schema"]["$ref"].rsplit("/", 1)[-1]
    assert schema["components"]["schemas"][ref]["examples"][0]["memoryIds"]
    answer = bulk["responses"]["200"]["content"]["application/json"]["example"]
    assert set(answer) == {"deleted", "failed", "results"}
    assert "401" in bulk["responses"]


class _Refs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.refs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.refs += [value for name, value in attrs if name in ("src", "href", "spec-url") and value]


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_the_docs_pages_load_only_local_assets(sqlite_server: Server, page: str) -> None:
    answer = httpx.get(sqlite_server.url + page)
    assert answer.status_code == 200
    parser = _Refs()
    parser.feed(answer.text)
    assert parser.refs, answer.text
    for ref in parser.refs:
        url = urljoin(sqlite_server.url + page, ref)
        assert urlparse(url).netloc == urlparse(sqlite_server.url).netloc, ref
        asset = httpx.get(url)
        assert asset.status_code == 200, ref
        assert len(asset.content) > 0
    # nothing else in the page names another host: no CDN, no fonts, no validator
    assert re.findall(r"https?://", answer.text) == []
    assert '"validatorUrl": null' in answer.text or page == "/redoc"
    # and the browser is held to this server: ReDoc's sidebar would load Redocly's logo from a CDN
    policy = dict(d.strip().split(" ", 1) for d in answer.headers["Content-Security-Policy"].split(";"))
    assert policy["default-src"] == "'self'" and policy["img-src"] == "'self' data:"
    assert policy["script-src"].startswith("'self'") and "unsafe" not in policy["script-src"]
    assert "http" not in answer.headers["Content-Security-Policy"]
    inline = re.findall(r"<script>(.*?)</script>", answer.text, flags=re.S)
    for script in inline:  # Swagger UI's set-up script is allowed by its hash, nothing else inline
        digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in policy["script-src"]
