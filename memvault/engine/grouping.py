"""Group commit: adds whose rows are ready at the same moment are written in one write transaction.

The batching embedder (memvault/embed/batching.py) hands back the vectors of adds that came together at the same
moment, and each request's thread then has its rows to write. Instead of taking the store's write lock one after
the other (a transaction and a commit each, and on SQLite a writer sleeping in its busy handler while another
commits), the first thread to arrive writes every write waiting at that moment (`Store.insert_group`), and the
others wait for their outcome:

* each write goes in a savepoint of its own: one that fails (its bucket deleted meanwhile, a value the database
  refuses) is rolled back alone, its error raised in its own request's thread, and the others commit;
* each write runs in the context of the request that made it (`contextvars`), so the change log records that
  request's key and request id (memvault/origin.py), not the writing thread's;
* a thread writes one group at most: the writes that arrived while it wrote are handed to the first of their
  threads, which writes them together. A writer alone writes at once, in one transaction, as without grouping;
* a group holds at most MAX_GROUP writes (PostgreSQL slows every session down once a transaction has more than 64
  subtransactions, and a savepoint is one); the rest go in the next;
* when the transaction fails as a whole (its begin or its commit), every write in it gets that error.

Within one process the groups are written one at a time: on SQLite, as its writers were anyway; on PostgreSQL,
where adds used to write side by side on several connections, the writes that wait meanwhile go together into the
next group instead.
"""

from __future__ import annotations

import contextvars
import threading
from dataclasses import dataclass, field

from ..store.base import AddWrite, Store

MAX_GROUP = 32  # writes in one transaction


@dataclass
class _Waiting:
    write: AddWrite
    context: contextvars.Context
    done: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None
    lead: bool = False  # handed the writes that arrived meanwhile: this thread writes them


class WriteGroups:
    """`insert(write)` from any thread: the write commits, alone or in one transaction with the writes that wait
    beside it; raises the write's own error."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._lock = threading.Lock()
        self._waiting: list[_Waiting] = []
        self._writing = False  # a thread is writing a group
        self.transactions = 0  # write transactions made (for tests and benchmarks)
        self.grouped = 0  # writes that shared their transaction with another

    @property
    def waiting(self) -> int:
        """Writes waiting for the group being written to finish."""
        with self._lock:
            return len(self._waiting) if self._writing else 0

    @property
    def writing(self) -> bool:
        return self._writing

    def insert(self, write: AddWrite) -> None:
        me = _Waiting(write, contextvars.copy_context())
        with self._lock:
            self._waiting.append(me)
            lead, self._writing = not self._writing, True
        if not lead:
            me.done.wait()
            if not me.lead:
                if me.error is not None:
                    raise me.error
                return
        self._lead()
        if me.error is not None:
            raise me.error

    def _lead(self) -> None:
        """Write what waits (this thread's own write first), then hand what arrived meanwhile to its first thread."""
        with self._lock:
            group, self._waiting = self._waiting[:MAX_GROUP], self._waiting[MAX_GROUP:]
        try:
            errors = self._write(group)
        except BaseException as exc:  # the transaction as a whole: every write in it failed
            errors = [exc] * len(group)
        for waiting, error in zip(group, errors, strict=True):
            waiting.error = error
            waiting.done.set()
        with self._lock:
            self.transactions += 1
            self.grouped += len(group) if len(group) > 1 else 0
            if self._waiting:
                self._waiting[0].lead = True
                self._waiting[0].done.set()
            else:
                self._writing = False

    def _write(self, group: list[_Waiting]) -> list[BaseException | None]:
        if len(group) == 1:  # this thread's own write, alone: as without grouping
            w = group[0].write
            self.store.insert(w.memories, w.vectors, w.events, supersede=w.supersede, changes=w.changes)
            return [None]
        return list(self.store.insert_group([w.write for w in group], [w.context for w in group]))
