"""`memvault`'s public face is exactly its `__all__`, and each name is the object the library documents."""

from __future__ import annotations

import memvault
from memvault import errors
from memvault.config import Settings
from memvault.engine import Engine
from memvault.factory import build_engine
from memvault.library import Memory

PUBLIC = [
    "Conflict",
    "Engine",
    "InvalidInput",
    "Memory",
    "MemvaultError",
    "NotFound",
    "Settings",
    "TooLarge",
    "Unauthorized",
    "Unavailable",
    "build_engine",
]


def test_all_is_exactly_the_public_api() -> None:
    assert memvault.__all__ == PUBLIC


def test_every_public_name_is_the_real_object() -> None:
    assert memvault.Memory is Memory
    assert memvault.Engine is Engine
    assert memvault.build_engine is build_engine
    assert memvault.Settings is Settings
    for name in ("Conflict", "InvalidInput", "MemvaultError", "NotFound", "TooLarge", "Unauthorized", "Unavailable"):
        assert getattr(memvault, name) is getattr(errors, name)
        assert issubclass(getattr(memvault, name), errors.MemvaultError)


def test_star_import_gives_the_public_api_only() -> None:
    namespace: dict[str, object] = {}
    exec("from memvault import *", namespace)
    assert sorted(k for k in namespace if not k.startswith("__")) == sorted(PUBLIC)


def test_every_setting_is_documented_in_the_readme() -> None:
    """Each Settings field appears in the README's configuration table, alone (`MEMVAULT_PORT`) or as a suffix
    in the row of its group (`MEMVAULT_LLM_URL`, `_MODEL`, `_API_KEY`)."""
    from pathlib import Path

    lines = (Path(__file__).parent.parent / "README.md").read_text().splitlines()
    rows = [line for line in lines if line.startswith("| `MEMVAULT_")]

    def documented(field: str) -> bool:
        name = field.upper()
        parts = name.split("_")
        heads = ["_".join(parts[:i]) for i in range(1, len(parts))]
        return any(f"MEMVAULT_{name}`" in row or f"MEMVAULT_{name}," in row
                   or any(f"MEMVAULT_{head}_" in row and f"`_{name[len(head) + 1:]}`" in row for head in heads)
                   for row in rows)

    missing = [field for field in Settings.model_fields if not documented(field)]
    assert missing == []
