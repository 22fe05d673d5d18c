"""One memory crosses every face on one data dir: added over MCP (stdio, a subprocess), found by the CLI,
deleted by the library, and gone for the official Mem0 SDK talking to a real server on the same data."""

from __future__ import annotations

import json
from pathlib import Path

import anyio
import httpx
import pytest
from mem0 import MemoryClient
from mem0.exceptions import MemoryNotFoundError
from typer.testing import CliRunner

from memvault import Memory
from memvault.cli import app
from memvault.embed.hashing import HashingEmbedder
from memvault.engine import Engine
from memvault.extract.offline import OfflineExtractor
from memvault.store.sqlite import SQLiteStore
from memvault.testing.mcp_client import call, stdio_session
from memvault.testing.server import Server


def test_added_by_mcp_found_by_cli_deleted_by_library_gone_for_the_mem0_sdk(tmp_path: Path) -> None:
    data = tmp_path / "data"
    server_engine = Engine(SQLiteStore(data / "memvault.db"), HashingEmbedder(), OfflineExtractor())
    with Server(server_engine) as server:
        key = server.key("default")  # the project stdio, the CLI and the library use by default
        sdk = MemoryClient(api_key=key, host=server.url, client=httpx.Client(timeout=30))
        sdk.get_all(filters={"user_id": "alice"})  # the server's vector index is warm before the others write

        async def add_over_mcp() -> str:
            async with stdio_session(data) as session:
                added = await call(session, "add_memory", text="Alice keeps bees on her roof", user_id="alice")
                return str(added["results"][0]["id"])

        memory_id = anyio.run(add_over_mcp)
        assert sdk.get(memory_id)["memory"] == "Alice keeps bees on her roof"

        found = CliRunner().invoke(app, ["search", "bees on the roof", "--user-id", "alice", "--json",
                                         "--data-dir", str(data)], env={"MEMVAULT_EMBEDDER": "hashing"})
        assert found.exit_code == 0, found.output
        assert [h["id"] for h in json.loads(found.stdout)["results"]] == [memory_id]

        library_engine = Engine(SQLiteStore(data / "memvault.db"), HashingEmbedder(), OfflineExtractor())
        try:
            with Memory(engine=library_engine) as m:
                assert m.delete(memory_id)["message"] == "Memory deleted successfully!"
        finally:
            library_engine.close()

        with pytest.raises(MemoryNotFoundError):
            sdk.get(memory_id)
        assert sdk.search("bees on the roof", filters={"user_id": "alice"})["results"] == []
        sdk.client.close()
    server_engine.close()
