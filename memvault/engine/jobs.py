"""Async adds (Mem0's `async_mode`): an add checked at once and run later by a worker (memvault/workers.py).

`submit_add` checks every argument as `add` does (bad input is a 400 at submit time, never a FAILED job) and queues
a job whose id is the `event_id` answered. `run_jobs_once` is one worker's turn: it takes expired leases back, claims
the oldest waiting job, runs the add and records its result in the transaction that writes the add's memories, and
only while the lease is still the worker's (`JobStore.finish_job`). So a job runs at most once to a result: a worker
killed mid-job wrote nothing, and the job runs again once its lease ran out; a worker that outlived its lease finds
the job taken and writes nothing. The job keeps the request (the user's messages) only until it has run, and its
results name memory ids and event kinds only: a later delete of those memories leaves no text in the job table. A
FAILED job's `error` is one fixed sentence per kind of failure (`failure`), never the failing part's own message,
which may quote the model's answer or the user's words; the log names the error's code and class only. Finished
jobs are trimmed after the feed's retention (`Engine.trim_jobs`, run by the sweeper).
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, Literal

from .. import logs
from .. import validate as V
from ..errors import MODEL_ANSWER_UNUSABLE, InvalidInput, MemvaultError, NotFound, Unavailable
from ..extract.base import Message
from ..models import Job, Owners, utcnow
from ..origin import Origin, acting, current
from .core import check_uuid
from .events import EVENT_NOT_FOUND, job_view
from .memories import CheckedAdd, Memories

log = logging.getLogger("memvault.jobs")

AsyncMode = Literal["auto", "always", "never"]
ASYNC_MODES: tuple[AsyncMode, ...] = ("auto", "always", "never")
DEFAULT_LEASE_SECONDS = 30.0
MAX_ATTEMPTS = 3  # a job whose worker died this many times ends FAILED

# What a FAILED job says, by kind of failure: fixed words, so no model answer or user text is ever stored with it.
FAILED_MODEL_ANSWER = ("the language model's answer could not be used (it held no list of facts or decisions); "
                       "nothing was added")
FAILED_UNAVAILABLE = ("a service the add needs (the language model, the embedding service or the database) could "
                      "not be reached, did not answer in time or answered with an error; nothing was added")
FAILED_GONE = "the bucket or project the add was for no longer exists; nothing was added"
FAILED_REFUSED = ("the add was refused when it ran (a limit or a project setting changed since it was submitted); "
                  "nothing was added")
FAILED_OTHER = "the add could not be made; nothing was added"
FAILED_INTERNAL = "an internal error stopped the add (the server's log has the details); nothing was added"


def failure(exc: BaseException) -> str:
    """The `error` a job that raised `exc` records (see the FAILED_* sentences)."""
    if isinstance(exc, Unavailable):
        return FAILED_MODEL_ANSWER if exc.code == MODEL_ANSWER_UNUSABLE else FAILED_UNAVAILABLE
    if isinstance(exc, NotFound):
        return FAILED_GONE
    if isinstance(exc, InvalidInput):
        return FAILED_REFUSED
    return FAILED_OTHER if isinstance(exc, MemvaultError) else FAILED_INTERNAL


class Jobs(Memories):
    async_add: AsyncMode = "auto"  # what an add without `async_mode` does (MEMVAULT_ASYNC_ADD)
    job_lease_seconds: float = DEFAULT_LEASE_SECONDS  # how long a worker holds a job (MEMVAULT_JOB_LEASE_SECONDS)

    def add_is_async(self, infer: Any, async_mode: Any = None) -> bool:
        """Whether an add runs as a job: `async_mode` when the caller gave it, else the `async_add` setting
        (`auto`: inferred adds when the extractor calls a language model, the slow ones)."""
        if async_mode is not None:
            return V.flag(async_mode, "async_mode")
        if self.async_add == "auto":
            return bool(infer) and getattr(self.extractor, "name", "") == "llm"
        return self.async_add == "always"

    def submit_add(self, project_id: str, messages: Sequence[Message], owners: Owners = Owners(), *,
                   infer: bool = False, metadata: dict[str, Any] | None = None, categories: Sequence[str] | None = None,
                   bucket: str | None = None, source: str | None = None,
                   expiration_date: datetime | None = None) -> Job:
        """Check the add as `add` would and queue it; returns the PENDING job (its id is the add's event_id)."""
        checked = self._check_add(project_id, messages, owners, infer=infer, metadata=metadata,
                                  categories=categories, bucket=bucket, source=source, expiration_date=expiration_date)
        now, job_id = utcnow(), str(uuid.uuid4())
        request = {
            "messages": [{"role": m.role, "content": m.content, "name": m.name} for m in checked.messages],
            "owners": dict(checked.owners.__dict__),
            "infer": checked.infer,
            "metadata": checked.metadata,
            "categories": checked.categories,
            "bucket_id": checked.bucket.id,
            "source": checked.source,
            "expiration_date": checked.expiration_date.isoformat() if checked.expiration_date else None,
            "origin": dict(current().__dict__),  # the change log names the submitter (key id and name, request id)
        }
        self.store.enqueue_job(job_id, project_id, request, now)
        return Job(job_id, project_id, "PENDING", request, None, None, 0, now, now)

    def run_jobs_once(self, worker_id: str) -> Job | None:
        """One worker's turn: take expired leases back, claim the oldest waiting job and run it to its end. Returns
        the job as claimed (None when none waited)."""
        now = utcnow()
        self.store.reclaim_jobs(now, MAX_ATTEMPTS)
        job = self.store.claim_job(worker_id, now, now + timedelta(seconds=self.job_lease_seconds))
        if job is None:
            return None
        done = threading.Event()
        keeper = threading.Thread(target=self._keep_lease, args=(job, worker_id, done), daemon=True,
                                  name=f"memvault-lease-{job.id[:8]}")
        keeper.start()
        try:
            self._run_job(job, worker_id)
        except MemvaultError as exc:  # its message may quote the model or the user: the log and the job do not
            log.warning("async add %s failed (%s, %s)", job.id, exc.code, type(exc).__name__,
                        extra=logs.fields(event="job_failed", job_id=job.id, code=exc.code))
            self._fail_job(job, worker_id, failure(exc))
        except Exception as exc:  # a bug or a part that broke: the job says so, the worker goes on
            log.exception("async add %s failed", job.id)
            self._fail_job(job, worker_id, failure(exc))
        finally:
            done.set()
            keeper.join()
        return job

    def _keep_lease(self, job: Job, worker_id: str, done: threading.Event) -> None:
        """Renew the job's lease every third of it while it runs (a slow model does not lose it); a worker that
        dies stops renewing, and the job is taken up again once the lease ran out."""
        while not done.wait(self.job_lease_seconds / 3):
            try:
                if not self.store.renew_job(job.project_id, job.id, worker_id,
                                            utcnow() + timedelta(seconds=self.job_lease_seconds)):
                    return  # lost (reclaimed meanwhile): its finish will be refused
            except Exception:  # the database away for a moment: the next turn tries again
                log.warning("async add %s: the lease could not be renewed", job.id, exc_info=True)

    def _run_job(self, job: Job, worker_id: str) -> None:
        request = job.request or {}
        bucket = self.store.get_bucket(job.project_id, request.get("bucket_id", ""))
        if bucket is None:
            raise NotFound("Bucket not found")
        expiration = request.get("expiration_date")
        checked = CheckedAdd(
            job.project_id, [Message(m["role"], m["content"], m.get("name")) for m in request.get("messages", [])],
            Owners(**request.get("owners", {})), bool(request.get("infer")), request.get("metadata") or {},
            list(request.get("categories") or []), bucket, request.get("source"),
            datetime.fromisoformat(expiration) if expiration else None,
        )
        origin = Origin(**request["origin"]) if isinstance(request.get("origin"), dict) else Origin("system")
        with acting(origin):  # the change log records the add as its submitter's, in the job's transaction
            prepared = self._prepare_add(checked)
            results: list[dict[str, Any]] = []
            if prepared is not None:
                results = [{"id": r.memory.id, "event": r.event} for r in prepared.results()]
            done = self.store.finish_job(job.project_id, job.id, worker_id, utcnow(), results=results,
                                         write=prepared.write if prepared is not None else None)
        if not done:
            log.warning("async add %s: the lease ran out before it finished; another worker runs it", job.id)
        elif prepared is not None:
            self.watchers.memories_added(len(prepared.write.memories))

    def _fail_job(self, job: Job, worker_id: str, reason: str) -> None:
        self.store.finish_job(job.project_id, job.id, worker_id, utcnow(), error=reason)

    def job(self, project_id: str, job_id: Any) -> dict[str, Any]:
        """An async add as Mem0's event API shows it (`memvault.engine.events.job_view`): each result with the
        memory's text while the memory exists. InvalidInput for an id that is no UUID, NotFound for an unknown id or
        another project's."""
        found = self.store.get_job(project_id, check_uuid(job_id, "event_id"))
        if found is None:
            raise NotFound("Event not found", code=EVENT_NOT_FOUND)
        ids = [r["id"] for r in found.results or []]
        texts = {m.id: m.text for m in self.store.get(project_id, ids)} if ids else {}
        return job_view(found, texts)
