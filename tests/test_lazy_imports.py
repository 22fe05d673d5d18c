"""What a server imports before a face is used: each check runs in a fresh interpreter reading its sys.modules."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

MCP_ON_FIRST_REQUEST = """
import json, sys, threading
from pathlib import Path

import httpx

from memvault.embed.hashing import HashingEmbedder
from memvault.engine import Engine
from memvault.extract.offline import OfflineExtractor
from memvault.store.sqlite import SQLiteStore
from memvault.testing.server import Server

engine = Engine(SQLiteStore(Path(sys.argv[1]) / "memvault.db"), HashingEmbedder(), OfflineExtractor())
seen = {}
server = Server(engine)
with server:
    key = server.key("lazy")
    httpx.post(server.url + "/v1/memories/", json={"messages": [{"role": "user", "content": "Tea"}], "user_id": "u",
               "infer": False}, headers={"Authorization": f"Token {key}"}).raise_for_status()
    seen["before"] = sorted(m for m in sys.modules if m == "mcp" or m.startswith("mcp."))
    headers = {"Authorization": f"Bearer {key}", "Accept": "application/json, text/event-stream"}
    call = {"jsonrpc": "2.0", "id": 1, "method": "tools/call",
            "params": {"name": "list_memories", "arguments": {"user_id": "u"}}}
    answers = [httpx.post(server.url + "/mcp", json=call, headers=headers, timeout=30) for _ in range(2)]
    seen["status"] = [a.status_code for a in answers]
    seen["answers"] = [a.json()["result"]["structuredContent"] for a in answers]
    seen["after"] = "mcp" in sys.modules
seen["stopped"] = not server._thread.is_alive()
print(json.dumps(seen))
"""


def run(script: str, *args: str) -> dict[str, object]:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    done = subprocess.run([sys.executable, "-c", script, *args], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    found: dict[str, object] = json.loads(done.stdout.splitlines()[-1])
    return found


def test_the_mcp_sdk_is_imported_on_the_first_mcp_request_and_stops_with_the_server(tmp_path: Path) -> None:
    seen = run(MCP_ON_FIRST_REQUEST, str(tmp_path))
    assert seen["before"] == []  # a server that has answered Mem0 calls only has not loaded MCP
    assert seen["status"] == [200, 200]
    for answer in seen["answers"]:  # type: ignore[attr-defined]
        assert [m["memory"] for m in answer["results"]] == ["Tea"]
    assert seen["after"] is True
    assert seen["stopped"] is True
