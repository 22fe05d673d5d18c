"""The lifecycle of memories: what each new fact does to what an owner already has (ADD, UPDATE, SUPERSEDE or NONE),
and superseding a memory explicitly.

A decider (memvault.decide) only proposes; the rules are here. A fact is shown the owner's few most similar *live*
memories (same project, same owner ids, neither superseded nor expired), numbered; a decision's number is mapped back
to one of them, so a decision can only ever name a memory that was shown. A decision naming no shown memory falls back
to ADD (and is logged); a memory is updated or superseded by one fact of an add at most; a superseded memory never
supersedes (no cycles) and superseding never crosses owners or projects.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .. import filters as F
from ..decide import EVENTS, Decider, Known, build_decider
from ..decide.base import Event
from ..errors import MEMORY_NOT_FOUND, MODEL_ANSWER_UNUSABLE, Conflict, InvalidInput, NotFound, Unavailable
from ..models import ENTITY_FIELDS, Memory, Owners, utcnow
from ..store.base import Supersession
from .core import EngineCore, check_uuid, memory_not_found, text_hash

log = logging.getLogger(__name__)

KNOWN_PER_FACT = 5  # the similar live memories a fact is shown


@dataclass(frozen=True)
class Planned:
    """What one fact of an add does, once the engine's rules have been applied to the decider's proposal.

    `text` is what is written (ADD, UPDATE, SUPERSEDE); `target` the memory updated, superseded or, for NONE, the
    one that already says it (None when nothing names one)."""

    event: Event
    text: str
    target: Memory | None = None


def may_supersede(old: Memory, new_owners: dict[str, str | None]) -> bool:
    """Superseding never crosses owners: every owner id of the new memory is the old one's too, and a memory without
    owner ids replaces only memories without owner ids. (Projects are never crossed: the store reads one.)"""
    given = {f: v for f, v in new_owners.items() if v is not None}
    if not given:
        return not any(old.owners().values())
    return all(getattr(old, f) == v for f, v in given.items())


def owners_scope(owners: Owners) -> F.Node:
    """The memories of exactly these owners as an add sees them: every owner id given matches; when none is given,
    the memories without any owner id."""
    scope = F.owned_by(owners)
    if scope is None:
        return F.And(tuple(F.Not(F.Cond(f, "exists")) for f in ENTITY_FIELDS))
    return scope


class Lifecycle(EngineCore):
    _decider: Decider | None = None

    @property
    def decider(self) -> Decider:
        """The decider given to the engine; by default the offline one, built on first use."""
        if self._decider is None:
            self._decider = build_decider("offline")
        return self._decider

    @decider.setter
    def decider(self, value: Decider | None) -> None:
        self._decider = value

    # the decision step of an add (infer=True) -------------------------------------------------------------------
    def _plan(self, project_id: str, owners: Owners, facts: Sequence[str], vectors: Any,
              instructions: str | None = None) -> list[Planned]:
        """One plan per fact, in order. Facts the owner's live memories already hold (the same text, or a cosine at
        `Limits.near_duplicate` or above) are NONE without asking; facts with no similar live memory are ADD; the
        decider is asked about the others, in one call."""
        scope = self._live(owners_scope(owners))
        plans: list[Planned | None] = []
        asked: list[int] = []
        shown: list[list[Memory]] = []
        known: list[list[Known]] = []
        for i, fact in enumerate(facts):
            hits = self.store.vector_search(project_id, vectors[i], scope, KNOWN_PER_FACT)
            by_id = {m.id: m for m in self.store.get(project_id, [h[0] for h in hits])}
            near = [(by_id[mid], sim) for mid, sim in hits if mid in by_id]
            same = next((m for m, _ in near if m.hash == text_hash(fact)), None)
            if same is not None or (near and near[0][1] >= self.limits.near_duplicate):
                plans.append(Planned("NONE", fact, same or near[0][0]))
            elif not near:
                plans.append(Planned("ADD", fact))
            else:
                plans.append(None)
                asked.append(i)
                shown.append([m for m, _ in near])
                known.append([Known(n, m.text, float(sim)) for n, (m, sim) in enumerate(near)])
        if asked:
            decisions = self.decider.decide([facts[i] for i in asked], known, instructions=instructions)
            if len(decisions) != len(asked):
                raise Unavailable(f"the {self.decider.name} decider gave {len(decisions)} decisions for "
                                  f"{len(asked)} facts", code=MODEL_ANSWER_UNUSABLE)
            claimed: set[str] = set()
            for i, memories, decision in zip(asked, shown, decisions, strict=True):
                plans[i] = self._ruled(facts[i], memories, decision, claimed, owners)
        return [p for p in plans if p is not None]

    def _ruled(self, fact: str, shown: list[Memory], decision: Any, claimed: set[str], owners: Owners) -> Planned:
        """The decider's proposal for one fact, under the engine's rules (see the module docstring)."""
        event = getattr(decision, "event", None)
        if event not in EVENTS:
            log.warning("the %s decider proposed %r for a fact: added instead", self.decider.name, event)
            return Planned("ADD", fact)
        text = fact
        proposed = getattr(decision, "text", None)
        if event in ("UPDATE", "SUPERSEDE", "ADD") and isinstance(proposed, str) and proposed.strip():
            try:
                text = self._text(proposed, "a decided text")
            except InvalidInput:
                log.warning("the %s decider proposed an unusable text: the fact is kept as said", self.decider.name)
        if event == "ADD":
            return Planned("ADD", text)
        number = getattr(decision, "target", None)
        if event == "NONE" and number is None:
            return Planned("NONE", fact)
        if not isinstance(number, int) or isinstance(number, bool) or not 0 <= number < len(shown):
            log.warning("the %s decider named memory %r, which it was not shown: the fact is added",
                        self.decider.name, number)
            return Planned("ADD", text)
        target = shown[number]
        if event == "NONE":
            return Planned("NONE", fact, target)
        if target.id in claimed or target.superseded_by is not None or not may_supersede(target, owners.__dict__):
            log.warning("the %s decider proposed %s of a memory another fact of this add already changed: "
                        "the fact is added", self.decider.name, event)
            return Planned("ADD", text)
        claimed.add(target.id)
        return Planned(event, text, target)

    # explicit supersede -----------------------------------------------------------------------------------------
    def supersede(self, project_id: str, memory_id: Any, by: Any) -> Memory:
        """Mark memory `memory_id` superseded by memory `by` (both of the project, live, of the same owners); returns
        it as committed. InvalidInput when `by` is malformed, the memory itself, superseded already (a memory no
        longer true supersedes nothing) or another owner's; NotFound when either is not in the project; Conflict
        when `memory_id` is superseded already. Nothing changes on any failure."""
        old_id = check_uuid(memory_id)
        new_id = check_uuid(by, "superseded_by")
        if old_id == new_id:
            raise InvalidInput("a memory cannot supersede itself")
        found = {m.id: m for m in self.store.get(project_id, [old_id, new_id])}
        if old_id not in found:
            raise memory_not_found()
        if new_id not in found:
            raise NotFound("superseded_by names no memory of this project", code=MEMORY_NOT_FOUND)
        old, new = found[old_id], found[new_id]
        if new.superseded_by is not None:
            raise InvalidInput("superseded_by names a superseded memory: a memory no longer true supersedes nothing")
        if old.superseded_by is not None:
            raise Conflict("the memory is already superseded")
        if not may_supersede(old, new.owners()):
            raise InvalidInput("superseded_by names a memory of other owners")
        # the store checks again inside its transaction: a race meanwhile is a Conflict or NotFound, never a cycle
        [marked] = self.store.supersede(project_id, [Supersession(old_id, new_id, str(uuid.uuid4()), utcnow())])
        return marked
