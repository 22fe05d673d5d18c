"""`memvault.Memory`: the engine in-process, with `mem0.Memory`'s methods and return shapes.

Code written for mem0's library moves over by changing the import::

    from memvault import Memory

    with Memory(data_dir="./memories") as m:
        m.add("I moved to Lyon", user_id="alice")
        m.search("where does alice live?", user_id="alice")  # {"results": [{"id", "memory", "score", ...}]}

No server: every call runs in the caller's thread, except the embedding model's, which one thread serves for
every thread of the process (memvault/embed/batching.py); `close()` (or leaving the `with` block) releases the
database and that thread. Errors are memvault's (`memvault.errors`): NotFound for an unknown id (where
mem0 raises ValueError), InvalidInput for a bad argument.
"""

from __future__ import annotations

from pathlib import Path
from types import TracebackType
from typing import Any

from . import filters as F
from .config import Settings
from .engine import Engine, Owners, SearchOptions
from .errors import InvalidInput, NotFound
from .extract.base import Message
from .models import HistoryEvent, SearchHit
from .models import Memory as Stored
from .shapes import effect_out, iso

PROMOTED = ("user_id", "agent_id", "app_id", "run_id")


def _item(m: Stored, score: float | None = None) -> dict[str, Any]:
    """One memory as mem0's library shows it (MemoryItem, plus the owner ids that are set)."""
    out: dict[str, Any] = {"id": m.id, "memory": m.text, "hash": m.hash, "metadata": m.metadata or None,
                           "score": score, "created_at": iso(m.created_at), "updated_at": iso(m.updated_at)}
    out.update({k: v for k in PROMOTED if (v := getattr(m, k)) is not None})
    if m.expiration_date is not None:
        out["expiration_date"] = iso(m.expiration_date)
    if m.superseded_by is not None:
        out["superseded_by"], out["superseded_at"] = m.superseded_by, iso(m.superseded_at)
    return out


def _hit(h: SearchHit) -> dict[str, Any]:
    return _item(h.memory, h.score)


def _event(e: HistoryEvent) -> dict[str, Any]:
    role = e.input[0].get("role") if e.input and len(e.input) == 1 else None
    return {"id": e.id, "memory_id": e.memory_id, "old_memory": e.old_text, "new_memory": e.new_text,
            "event": e.event, "created_at": iso(e.created_at), "updated_at": iso(e.created_at),
            "is_deleted": e.event == "DELETE", "actor_id": None, "role": role}


def _messages(messages: Any) -> list[Message]:
    """mem0 takes a string, a message dict or a list of them."""
    if isinstance(messages, str):
        return [Message("user", messages)]
    if isinstance(messages, dict):
        messages = [messages]
    if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
        raise InvalidInput("messages must be a string, a message dict or a list of message dicts")
    return [Message(str(m.get("role", "user")), m.get("content"), m.get("name")) for m in messages]


class Memory:
    """mem0's `Memory`, over a memvault engine. Give a data dir (SQLite), a database URL (PostgreSQL),
    a ready `Engine`, or nothing (Settings from the environment: $MEMVAULT_DATA_DIR, ...)."""

    def __init__(self, data_dir: str | Path | None = None, *, database_url: str | None = None,
                 engine: Engine | None = None, project: str | None = None, settings: Settings | None = None) -> None:
        if engine is None:
            from .factory import build_engine

            overrides: dict[str, Any] = {}
            if data_dir is not None:
                overrides["data_dir"] = Path(data_dir)
            if database_url is not None:
                overrides["database_url"] = database_url
            base = settings or Settings()
            engine = build_engine(base.model_copy(update=overrides) if overrides else base)
            self._owns_engine = True
        else:
            self._owns_engine = False
        self.engine = engine
        self.project_id = engine.project(project).id

    # lifecycle -----------------------------------------------------------------------
    def close(self) -> None:
        """Release the database (only when this object opened it)."""
        if self._owns_engine:
            self.engine.close()

    def __enter__(self) -> Memory:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    # mem0's methods ------------------------------------------------------------------
    def add(self, messages: Any, *, user_id: str | None = None, agent_id: str | None = None,
            run_id: str | None = None, app_id: str | None = None, metadata: dict[str, Any] | None = None,
            infer: bool = True) -> dict[str, Any]:
        """Remember `messages` (a string, a message dict or a list of them). With `infer` (the default, as
        in mem0) standalone facts are extracted and each decided: ADD, UPDATE (with `previous_memory`) or
        SUPERSEDE (the memory no longer true, with `superseded_by`); known ones are left out, as mem0 leaves out
        its NONE; without, each message is stored."""
        results = self.engine.add(self.project_id, _messages(messages), Owners(user_id, agent_id, app_id, run_id),
                                  infer=infer, metadata=metadata, source="library")
        return {"results": [effect_out(r) for r in results if r.event != "NONE"]}

    def search(self, query: str, *, user_id: str | None = None, agent_id: str | None = None,
               run_id: str | None = None, app_id: str | None = None, filters: dict[str, Any] | None = None,
               limit: int | None = None, top_k: int | None = None, threshold: float | None = None,
               rerank: bool = True, latest_only: bool = True, show_expired: bool = False) -> dict[str, Any]:
        """The best memories first; superseded ones too with `latest_only=False`, expired ones with `show_expired`."""
        where = F.all_of(F.parse(filters), F.owned_by(Owners(user_id, agent_id, app_id, run_id)))
        options = SearchOptions(top_k=top_k or limit or 20, threshold=threshold, context=rerank, rerank=rerank,
                                show_expired=show_expired)
        hits = self.engine.search(self.project_id, query, where, options, latest_only=latest_only)
        return {"results": [_hit(h) for h in hits]}

    def get(self, memory_id: str) -> dict[str, Any] | None:
        """The memory, or None when there is none of that id (as mem0)."""
        try:
            return _item(self.engine.get(self.project_id, memory_id))
        except NotFound:
            return None

    def get_all(self, *, user_id: str | None = None, agent_id: str | None = None, run_id: str | None = None,
                app_id: str | None = None, filters: dict[str, Any] | None = None, limit: int | None = None,
                top_k: int | None = None, latest_only: bool = True, show_expired: bool = False) -> dict[str, Any]:
        """Newest first; superseded memories too with `latest_only=False`, expired ones with `show_expired`."""
        where = F.all_of(F.parse(filters), F.owned_by(Owners(user_id, agent_id, app_id, run_id)))
        page = self.engine.list(self.project_id, where, limit=top_k or limit or 100, latest_only=latest_only,
                                show_expired=show_expired)
        return {"results": [{k: v for k, v in _item(m).items() if k != "score"} for m in page.items]}

    def update(self, memory_id: str, data: str | None = None, *, text: str | None = None,
               metadata: dict[str, Any] | None = None) -> dict[str, str]:
        self.engine.update(self.project_id, memory_id, text=text if text is not None else data, metadata=metadata)
        return {"message": "Memory updated successfully!"}

    def delete(self, memory_id: str) -> dict[str, str]:
        self.engine.delete(self.project_id, memory_id)
        return {"message": "Memory deleted successfully!"}

    def delete_all(self, *, user_id: str | None = None, agent_id: str | None = None, run_id: str | None = None,
                   app_id: str | None = None) -> dict[str, str]:
        """Delete every memory of the given owner(s); at least one is required (`reset()` deletes all)."""
        self.engine.delete_where(self.project_id, F.owned_by(Owners(user_id, agent_id, app_id, run_id)))
        return {"message": "Memories deleted successfully!"}

    def history(self, memory_id: str) -> list[dict[str, Any]]:
        return [_event(e) for e in self.engine.history(self.project_id, memory_id)]

    def reset(self) -> None:
        """Delete every memory of this project."""
        self.engine.reset(self.project_id)
