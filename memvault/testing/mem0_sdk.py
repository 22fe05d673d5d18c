"""The official `mem0ai` SDK's client against a real memvault server, for tests: `connect`, a `client` fixture of
its own project, and `add_plain`. A test module imports `client_fixture` by name to use the fixture."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

os.environ.setdefault("MEM0_TELEMETRY", "False")  # before mem0 is imported: it phones home otherwise

from mem0 import MemoryClient  # noqa: E402

from .server import Server  # noqa: E402


def connect(server: Server, key: str) -> MemoryClient:
    return MemoryClient(api_key=key, host=server.url, client=httpx.Client(timeout=30))


@pytest.fixture(name="client")
def client_fixture(server: Server) -> Iterator[MemoryClient]:
    """The SDK with a key of the project "test" on the module's `server`."""
    made = connect(server, server.key("test"))
    yield made
    made.client.close()


def add_plain(client: MemoryClient, texts: list[str], **extra: Any) -> list[str]:
    """Store each text as one memory (infer=False), one add; their ids in order."""
    answer = client.add([{"role": "user", "content": t} for t in texts], infer=False, **extra)
    return [r["id"] for r in answer["results"]]
