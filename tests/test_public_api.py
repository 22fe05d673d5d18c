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
