"""The keyword index's scope column (memories_fts.scope): the tokens that mark a row's project and its owners, so
FTS5 can intersect a term with them. Written by every write of a memories_fts row (store.py) and by migration 0015
(schema.py gives it `fts_scope` as an SQL function)."""

from __future__ import annotations

import hashlib

__all__ = ["OWNER_FIELDS", "fts_scope", "owner_token", "scope_token"]


def scope_token(project_id: str) -> str:
    """The one keyword-index token that marks a project's rows (the project id without its dashes)."""
    return "p" + "".join(ch for ch in project_id.lower() if ch.isalnum())


# The owner fields whose values the keyword index holds, each as a token of its own kind (scope column, beside the
# project's): a search whose filter requires an owner lets FTS5 intersect the term with it (`keyword_search`).
_OWNER_MARKS = {"user_id": "ou", "agent_id": "oa", "app_id": "ox", "run_id": "or"}
OWNER_FIELDS = frozenset(_OWNER_MARKS)


def owner_token(project_id: str, field: str, value: str | bytes) -> str:
    """The keyword-index token of one owner value in one project: a mark, then a 64-bit hash of the project, the
    field and the value in decimal digits. Any value (quotes, any script, 2,000 characters) is one plain token the
    tokenizer keeps whole (no stemming: it ends in a digit); the raw id is not written into the index; the same
    user in two projects has two tokens, so an owner's token alone already keeps to its project. Two values may
    share a token: a token only narrows, the filter still decides."""
    digest = hashlib.blake2b(digest_size=8, person=field.encode())
    digest.update(project_id.encode() + b"\x00")
    digest.update(value.encode() if isinstance(value, str) else value)
    return _OWNER_MARKS[field] + str(int.from_bytes(digest.digest()))


def fts_scope(project_id: str, user_id: str | bytes | None, agent_id: str | bytes | None, app_id: str | bytes | None,
              run_id: str | bytes | None) -> str:
    """The scope column of a memory's keyword-index row: its project's token and one token per owner it has."""
    owners = zip(("user_id", "agent_id", "app_id", "run_id"), (user_id, agent_id, app_id, run_id), strict=True)
    return " ".join([scope_token(project_id), *(owner_token(project_id, f, v) for f, v in owners if v is not None)])
