"""Purge: forgetting for real what expired or was superseded long enough ago, across every project.

A memory whose expiration date has passed is hidden from list and search at once (`EngineCore._live`), and kept: a
client can still read it by id, list it with `show_expired`, or give it a new date. `purge` deletes it for good once
`expired_after_days` whole days have passed since its expiration day; a superseded memory once
`superseded_after_days` days have passed since it was superseded (None: never). A purge is a delete, with every
guarantee of one (row, vector, keyword entry and history texts in one transaction; on SQLite the compaction follows),
and its DELETE events say why: "expired" or "superseded"; each project's deletes of a batch leave a deletion receipt
(route "purge expired" or "purge superseded").

The store finds the candidates a batch at a time (`Store.purge_candidates`); each batch is deleted project by
project with the rule written again as the delete's filter, so a memory given a new date, or no longer superseded,
between the two is judged as it is when its delete runs.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from itertools import groupby
from typing import Any

from .. import filters as F
from .. import validate as V
from ..errors import InvalidInput
from ..models import MAX_PURGE_DAYS, Purged, PurgeReason, PurgeReport, utcnow
from ..store.base import PurgeField
from .core import start_of_day
from .receipts import Receipts, receipting

PURGE_BATCH = 500  # candidates read, then deleted, at a time


def purge_days(value: Any, what: str) -> int | None:
    """A number of whole days (0..MAX_PURGE_DAYS), or None for never."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_PURGE_DAYS:
        raise InvalidInput(f"{what} must be a whole number of days from 0 to {MAX_PURGE_DAYS}, or none (never)")
    return value


class Purge(Receipts):
    def purge(self, expired_after_days: int | None = 30, superseded_after_days: int | None = None, *,
              dry_run: bool = False, batch: int = PURGE_BATCH,
              keep_going: Callable[[], bool] | None = None) -> PurgeReport:
        """Delete, in every project, the memories whose expiration day ended `expired_after_days` days ago or more
        (0: every expired memory) and those superseded `superseded_after_days` days ago or more; None skips either.
        `dry_run`: delete nothing, answer what would go. `keep_going` is asked between batches (a sweep stopping
        for a shutdown answers False): the report then holds what was done until then."""
        expired_after_days = purge_days(expired_after_days, "expired_after_days")
        superseded_after_days = purge_days(superseded_after_days, "superseded_after_days")
        if isinstance(batch, bool) or not isinstance(batch, int) or not 1 <= batch <= V.MAX_FILTER_VALUES:
            raise InvalidInput(f"batch must be a whole number from 1 to {V.MAX_FILTER_VALUES}")
        now = utcnow()
        rules: list[tuple[PurgeReason, PurgeField, datetime, F.Node]] = []
        if expired_after_days is not None:
            # Live through its expiration day, expired from the next midnight: due N days after that midnight.
            cut = start_of_day(now) - timedelta(days=expired_after_days)
            rules.append(("expired", "expiration_date", cut, F.Cond("expiration_date", "lt", cut)))
        if superseded_after_days is not None:
            cut = now - timedelta(days=superseded_after_days)
            rules.append(("superseded", "superseded_at", cut,
                          F.And((F.Cond("superseded_by", "exists"), F.Cond("superseded_at", "lt", cut)))))
        purged: list[Purged] = []
        seen: set[tuple[str, str]] = set()
        for reason, field, cut, due in rules:
            after: tuple[str, str] | None = None
            while keep_going is None or keep_going():
                found = self.store.purge_candidates(field, cut, after, batch)
                for project_id, keys in groupby(found, key=lambda key: key[0]):
                    ids = [memory_id for _, memory_id in keys if (project_id, memory_id) not in seen]
                    if dry_run:  # nothing goes: a memory both expired and superseded would be found twice
                        seen.update((project_id, memory_id) for memory_id in ids)
                    elif ids:
                        ids = self.store.delete_where(project_id, F.And((F.Cond("id", "in", tuple(ids)), due)),
                                                      utcnow(), reason)
                        with receipting(f"purge {reason}"):  # one receipt per project and batch: ids, never a text
                            self._receipt(project_id, ids)
                        self.watchers.memories_deleted(len(ids))
                    purged += [Purged(project_id, memory_id, reason) for memory_id in sorted(ids)]
                if len(found) < batch:
                    break
                after = found[-1]
        return PurgeReport(dry_run, purged)
