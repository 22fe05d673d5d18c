"""MCP sessions for tests, through the real `mcp` client: over stdio (`memvault mcp` as a subprocess) and over
streamable HTTP (a server's /mcp), and the two ways a test calls a tool (`call` expects an answer, `fails` an error).
"""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx2
from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client


@asynccontextmanager
async def stdio_session(data_dir: Path) -> AsyncIterator[ClientSession]:
    """`memvault mcp --data-dir data_dir` as a subprocess (hashing embedder); its stderr goes to mcp-stderr.log
    beside the data dir."""
    params = StdioServerParameters(command=sys.executable, args=["-m", "memvault", "mcp", "--data-dir", str(data_dir)],
                                   env={"MEMVAULT_EMBEDDER": "hashing", "PYTHONPATH": os.pathsep.join(sys.path)})
    with (data_dir.parent / "mcp-stderr.log").open("w") as errlog:
        async with stdio_client(params, errlog=errlog) as (read, write), ClientSession(read, write) as session:
            await session.initialize()
            yield session


@asynccontextmanager
async def http_session(url: str, key: str) -> AsyncIterator[ClientSession]:
    """A session with the server at `url` (its /mcp route), sending `key` as a Bearer token."""
    async with (httpx2.AsyncClient(headers={"Authorization": f"Bearer {key}"}) as http,
                streamable_http_client(url + "/mcp", http_client=http) as (read, write),
                ClientSession(read, write) as session):
        await session.initialize()
        yield session


async def call(session: ClientSession, tool: str, **arguments: Any) -> dict[str, Any]:
    """The tool's structured answer; AssertionError when the tool answers an error."""
    result = await session.call_tool(tool, arguments)
    assert not result.is_error, result.content
    assert result.structured_content is not None
    return result.structured_content


async def fails(session: ClientSession, tool: str, **arguments: Any) -> str:
    """The text of the error the tool answers; AssertionError when it answers without one."""
    result = await session.call_tool(tool, arguments)
    assert result.is_error
    return " ".join(getattr(c, "text", "") for c in result.content)
