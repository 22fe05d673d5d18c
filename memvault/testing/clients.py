"""Small HTTP clients of the two dialects for tests: one speaks MemoryPlugin (Bearer), one speaks Mem0 (Token).

Plain httpx against the real server, so what is tested is exactly what a curl or browser client sends. The
fixtures at the end give a test module one real server per backend and a fresh project per test: a module imports
them by name and names its server `server = module_server`.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from ..embed.hashing import HashingEmbedder
from ..engine import Engine
from ..extract.offline import OfflineExtractor
from .server import Server
from .stores import BACKENDS, STORE_FACTORIES


@pytest.fixture(scope="module", params=BACKENDS)
def module_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One real server per test module and backend; each test works in projects of its own (`fresh_project`)."""
    store = STORE_FACTORIES[request.param](tmp_path_factory.mktemp("mp"), request)
    with Server(Engine(store, HashingEmbedder(), OfflineExtractor())) as server:
        yield server
    store.close()


def fresh_project() -> str:
    return f"p-{uuid.uuid4().hex[:12]}"


class MP:
    """A MemoryPlugin client of one project."""

    def __init__(self, server: Server, key: str) -> None:
        self.key = key
        self.http = httpx.Client(base_url=server.url + "/api", headers={"Authorization": f"Bearer {key}"}, timeout=30)

    def close(self) -> None:
        self.http.close()

    def add(self, text: str, **extra: Any) -> str:
        answer = self.http.post("/memory", json={"text": text, **extra})
        assert answer.status_code == 200, answer.text
        assert answer.json()["done"] == "ok"
        return str(answer.json()["memoryId"])

    def everything(self) -> dict[str, Any]:
        answer = self.http.get("/memory", params={"all": "true"})
        assert answer.status_code == 200, answer.text
        return dict(answer.json())

    def texts(self) -> set[str]:
        return {m["text"] for m in self.everything()["data"]}

    def buckets(self) -> dict[str, dict[str, Any]]:
        answer = self.http.get("/buckets")
        assert answer.status_code == 200, answer.text
        return {b["name"]: b for b in answer.json()}

    def bucket(self, name: str, description: str | None = None) -> str:
        answer = self.http.post("/buckets", json={"name": name, "description": description})
        assert answer.status_code == 200, answer.text
        return str(answer.json()["id"])


class Mem0:
    """A Mem0 platform client of one project (what the `mem0ai` SDK sends, over plain HTTP)."""

    def __init__(self, server: Server, key: str) -> None:
        self.http = httpx.Client(base_url=server.url, headers={"Authorization": f"Token {key}"}, timeout=30)

    def close(self) -> None:
        self.http.close()

    def add(self, text: str, user_id: str = "alice") -> str:
        answer = self.http.post("/v3/memories/add/", json={"messages": [{"role": "user", "content": text}],
                                                           "user_id": user_id, "infer": False})
        assert answer.status_code == 200, answer.text
        return str(answer.json()["results"][0]["id"])

    def get(self, memory_id: str) -> httpx.Response:
        return self.http.get(f"/v1/memories/{memory_id}/")

    def search(self, query: str) -> list[dict[str, Any]]:
        answer = self.http.post("/v2/memories/search/", json={"query": query, "top_k": 50})
        assert answer.status_code == 200, answer.text
        return list(answer.json())

    # `list` comes last: a method named list would shadow the builtin in annotations below it.
    def list(self, filters: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        answer = self.http.post("/v2/memories/", json={"filters": filters} if filters else {})
        assert answer.status_code == 200, answer.text
        return list(answer.json())

UNKNOWN = "00000000-0000-4000-8000-00000000abcd"


# Fixtures: a test module imports them and names its module server `server`.
@pytest.fixture(name="project")
def project_fixture() -> str:
    return fresh_project()


@pytest.fixture(name="mp")
def mp_fixture(server: Server, project: str) -> Iterator[MP]:
    client = MP(server, server.key(project))
    yield client
    client.close()


@pytest.fixture(name="other")
def other_fixture(server: Server) -> Iterator[MP]:
    """A MemoryPlugin client of another project."""
    client = MP(server, server.key(fresh_project()))
    yield client
    client.close()


@pytest.fixture(name="mem0")
def mem0_fixture(server: Server, project: str) -> Iterator[Mem0]:
    """A Mem0 client of the same project as `mp`."""
    client = Mem0(server, server.key(project))
    yield client
    client.close()
