"""`memvault chats import FILE`: a ChatGPT export (`conversations.json`) and the MemoryPlugin ingest API's JSON, into the
chat-history archive of a temporary data dir (typer's CliRunner, in-process; a real engine opened afterwards)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from memvault.cli import app
from memvault.embed.hashing import HashingEmbedder
from memvault.engine import Engine
from memvault.extract.offline import OfflineExtractor
from memvault.models import ConversationQuery
from memvault.store.sqlite import SQLiteStore

ENV = {"MEMVAULT_EMBEDDER": "hashing"}
runner = CliRunner()


def run(data: Path, *args: str, code: int = 0) -> Result:
    result = runner.invoke(app, [*args, "--data-dir", str(data)], env=ENV)
    assert result.exit_code == code, result.output
    return result


@pytest.fixture
def data(tmp_path: Path) -> Path:
    return tmp_path / "data"


def opened(data: Path) -> Iterator[tuple[Engine, str]]:
    engine = Engine(SQLiteStore(data / "memvault.db"), HashingEmbedder(), OfflineExtractor())
    try:
        yield engine, engine.project().id
    finally:
        engine.close()


def node(nid: str, parent: str | None, children: list[str], role: str | None = None, parts: list[Any] | None = None,
         at: float = 1_700_000_000.0) -> dict[str, Any]:
    message = None if role is None else {"id": f"msg-{nid}", "author": {"role": role}, "create_time": at,
                                         "content": {"content_type": "text", "parts": parts or []}}
    return {"id": nid, "parent": parent, "children": children, "message": message}


def chatgpt_export() -> list[dict[str, Any]]:
    """Two conversations as ChatGPT exports them; the first was edited (two branches), ChatGPT shows the second."""
    edited = {
        "id": "conv-a", "conversation_id": "conv-a", "title": "Sourdough help", "create_time": 1_700_000_000.5,
        "update_time": 1_700_000_900.0, "current_node": "n5",
        "mapping": {
            "root": node("root", None, ["n1"]),
            "n1": node("n1", "root", ["n2"], "system", ["You are ChatGPT."]),
            "n2": node("n2", "n1", ["n3", "n4"], "user", ["My sourdough starter smells like nail polish"]),
            "n3": node("n3", "n2", [], "assistant", ["An abandoned first answer about rye flour"]),
            "n4": node("n4", "n2", ["n5"], "assistant", ["That acetone smell means it is hungry: feed it twice a day"],
                       at=1_700_000_100.0),
            "n5": node("n5", "n4", [], "user", ["Thanks! ", {"content_type": "image_asset_pointer"}, "Will do."],
                       at=1_700_000_200.0),
        },
    }
    plain = {
        "id": "conv-b", "title": "Bike repair", "create_time": 1_700_100_000.0, "update_time": 1_700_100_500.0,
        "mapping": {
            "r": node("r", None, ["m1"]),
            "m1": node("m1", "r", ["m2"], "user", ["How do I fix a squeaky disc brake?"]),
            "m2": node("m2", "m1", [], "assistant", ["Clean the rotor with isopropyl alcohol"]),
        },
    }
    return [edited, plain]


def test_a_chatgpt_export_is_imported_once_along_the_branch_chatgpt_shows(data: Path, tmp_path: Path) -> None:
    path = tmp_path / "conversations.json"
    path.write_text(json.dumps(chatgpt_export()))
    summary = json.loads(run(data, "chats", "import", str(path), "--json").stdout)
    assert (summary["imported"], summary["messages"], summary["refused"]) == (2, 5, [])
    again = json.loads(run(data, "chats", "import", str(path), "--json").stdout)
    assert (again["imported"], again["messages"]) == (2, 5)  # nothing added twice
    for engine, pid in opened(data):
        page = engine.list_conversations(pid, ConversationQuery(platform="chatgpt"))
        assert page.total == 2
        by_title = {c.title: c for c in page.items}
        conv, messages = engine.conversation(pid, by_title["Sourdough help"].id)
        assert [(m.role, m.content) for m in messages] == [
            ("user", "My sourdough starter smells like nail polish"),
            ("assistant", "That acetone smell means it is hungry: feed it twice a day"),
            ("user", "Thanks! \nWill do."),
        ]
        assert messages[1].id == "msg-n4" and messages[1].created_at is not None
        assert conv.platform_conversation_id == "conv-a" and conv.created_at.year == 2023
        assert conv.import_id == again["importId"]
        [hit, *_] = engine.search_chats(pid, "starter smells of acetone")
        assert hit.conversation.title == "Sourdough help" and "rye flour" not in hit.chunk.text
    human = run(data, "chats", "import", str(path)).stdout
    assert "imported 2 conversations (5 messages in all)" in human


def test_the_apis_own_json_is_imported_and_a_refused_conversation_does_not_stop_the_others(data: Path,
                                                                                          tmp_path: Path) -> None:
    bodies = [
        {"conversation": {"id": "api-1", "title": "Garden", "createdAt": "2025-04-01T09:00:00Z",
                          "messages": [{"id": "1", "role": "human", "content": "Tomatoes need six hours of sun"}]},
         "platform": "myapp"},
        {"conversation": {"id": "api-2", "messages": [{"role": "human"}]}},  # no content
        {"conversation": {"id": 3, "messages": [{"role": "assistant", "content": "A numeric id is fine"}]}},
    ]
    path = tmp_path / "chats.json"
    path.write_text(json.dumps(bodies))
    result = run(data, "chats", "import", str(path), "--json", code=1)
    summary = json.loads(result.stdout)
    assert summary["imported"] == 2 and [r["conversation"] for r in summary["refused"]] == [2]
    assert "content" in summary["refused"][0]["reason"]
    for engine, pid in opened(data):
        titles = {c.platform_conversation_id: c.platform for c in engine.list_conversations(pid).items}
        assert titles == {"api-1": "myapp", "3": "custom"}


def test_a_file_that_is_no_conversation_file_is_refused_with_its_reason(data: Path, tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("just some notes")
    assert "not a JSON file" in run(data, "chats", "import", str(path), code=1).output
    assert "no file" in run(data, "chats", "import", str(tmp_path / "missing.json"), code=1).output
