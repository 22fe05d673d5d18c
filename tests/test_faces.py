"""Faces are objects handed to `create_app` (memvault/faces.py): each app keeps its own table of faces on
`app.state`, importing a dialect changes nothing, and no module of memvault imports itself back (the
dialects once imported `memvault.http`, which imported them)."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import memvault
from memvault.dialects.mem0 import Mem0Dialect
from memvault.dialects.memoryplugin import MemoryPluginDialect
from memvault.engine import Engine
from memvault.errors import MEMORY_NOT_FOUND
from memvault.testing.server import Server

UNKNOWN = "00000000-0000-4000-8000-00000000abcd"
PACKAGE = Path(memvault.__file__).parent


def _python(code: str) -> str:
    """Run `code` in a fresh interpreter (nothing of memvault imported yet) and return what it printed."""
    env = {**os.environ, "PYTHONPATH": str(PACKAGE.parent)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def _imports() -> dict[str, set[str]]:
    """memvault's modules and the memvault modules each imports, anywhere in its body (inside functions too)."""
    files: dict[str, tuple[Path, list[str]]] = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
            files[".".join(parts)] = (path, parts)
        else:
            files[".".join(parts)] = (path, parts[:-1])
    graph: dict[str, set[str]] = {}
    for name, (path, package) in files.items():
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = ".".join(package[: len(package) - node.level + 1] + ([node.module] if node.module else [])) \
                    if node.level else str(node.module)
                found.update(f"{base}.{a.name}" if f"{base}.{a.name}" in files else base for a in node.names)
        graph[name] = {m for m in found if m in files and m != name}
    return graph


def test_no_module_of_memvault_imports_itself_back() -> None:
    graph = _imports()
    assert "memvault.http" in graph["memvault.cli"]  # the walk sees imports made inside functions
    loops: list[list[str]] = []
    state: dict[str, str] = {}
    path: list[str] = []

    def visit(module: str) -> None:
        state[module] = "open"
        path.append(module)
        for dep in sorted(graph[module]):
            if state.get(dep) == "open":
                loops.append([*path[path.index(dep):], dep])
            elif dep not in state:
                visit(dep)
        path.pop()
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module)
    assert loops == []


def test_importing_the_dialects_imports_no_app_and_changes_no_table() -> None:
    shown = _python(
        "import sys, memvault.faces as faces\n"
        "before = {k: repr(v) for k, v in vars(faces).items() if isinstance(v, (list, dict, set))}\n"
        "import memvault.dialects.mem0, memvault.dialects.memoryplugin\n"
        "after = {k: repr(v) for k, v in vars(faces).items() if isinstance(v, (list, dict, set))}\n"
        "print('memvault.http' in sys.modules, before == after)\n"
    )
    assert shown == "False True"


class LoudMem0(Mem0Dialect):
    """Mem0's routes with errors in a shape of their own and a word of their own."""

    words = {**Mem0Dialect.words, MEMORY_NOT_FOUND: "No such memory"}

    def error_body(self, status: int, message: str) -> dict[str, Any]:
        return {"message": message.upper(), "status": status}


@pytest.fixture
def two_servers(engine: Engine) -> Iterator[tuple[Server, Server]]:
    with Server(engine, dialects=(LoudMem0(),)) as loud, Server(engine) as plain:
        yield loud, plain


def test_two_apps_in_one_process_keep_their_own_faces(two_servers: tuple[Server, Server]) -> None:
    loud, plain = two_servers
    key = loud.key("faces")  # one engine: a key works on both
    token = {"Authorization": f"Token {key}"}
    answer = httpx.get(f"{loud.url}/v1/memories/{UNKNOWN}/", headers=token, timeout=30)
    assert (answer.status_code, answer.json()) == (404, {"message": "NO SUCH MEMORY", "status": 404})
    answer = httpx.get(f"{plain.url}/v1/memories/{UNKNOWN}/", headers=token, timeout=30)
    assert (answer.status_code, answer.json()) == (404, {"error": "Memory not found!", "detail": "Memory not found!"})

    # the loud app speaks no MemoryPlugin: /api/ is nobody's there, memvault's own shape and scheme answer
    bare = httpx.get(f"{loud.url}/api/memory", timeout=30)
    assert bare.status_code == 401 and bare.headers["www-authenticate"] == "Token"
    assert bare.json()["error"] == bare.json()["detail"]
    assert httpx.get(f"{loud.url}/api/memory", headers=token, timeout=30).status_code == 404
    bare = httpx.get(f"{plain.url}/api/memory", timeout=30)
    assert bare.status_code == 401 and bare.headers["www-authenticate"] == "Bearer" and "detail" not in bare.json()


def test_two_faces_cannot_claim_one_prefix(engine: Engine) -> None:
    from memvault.http import create_app

    with pytest.raises(ValueError, match="'/api/'"):
        create_app(engine, dialects=(MemoryPluginDialect(), MemoryPluginDialect()))
