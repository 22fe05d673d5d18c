"""Finished async adds do not pile up: `serve`'s sweep (memvault/sweep.py) trims the SUCCEEDED and FAILED jobs that
ended longer ago than the feed's retention (MEMVAULT_EVENTS_RETENTION_DAYS), on both stores, even when no purge is
configured; waiting and running jobs stay, and so do recent ones."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from memvault.config import Settings
from memvault.engine import Engine, Owners
from memvault.extract.base import Message
from memvault.models import utcnow
from memvault.sweep import Sweeper

ALICE = Owners(user_id="alice")


def submit(engine: Engine, project: str, text: str) -> str:
    return engine.submit_add(project, [Message("user", text)], ALICE).id


def test_the_sweep_trims_finished_jobs_past_the_retention_and_keeps_the_rest(engine: Engine, project: str,
                                                                              tmp_path: Path) -> None:
    done = submit(engine, project, "I like green tea")
    engine.run_jobs_once("w1")
    running = submit(engine, project, "I live in Oslo")
    now = utcnow()
    assert engine.store.claim_job("w2", now, now + timedelta(hours=1)) is not None
    waiting = submit(engine, project, "I play chess")
    sweeper = Sweeper.from_settings(engine, Settings(data_dir=tmp_path, purge_expired_after_days="never"))

    sweeper.sweep()  # within the retention (90 days): nothing goes
    assert engine.job(project, done)["status"] == "SUCCEEDED"

    engine.configure_events(retention_days=0)  # every job that ended is now past it
    sweeper.sweep()
    assert engine.store.get_job(project, done) is None
    assert [engine.job(project, j)["status"] for j in (running, waiting)] == ["RUNNING", "PENDING"]
    assert engine.list(project).total == 1  # the memory the trimmed job made stays
    assert engine.feed(project, status="SUCCEEDED")[1] == 1  # its change event, not the job


def test_trim_jobs_counts_every_page_and_every_project(engine: Engine, project: str) -> None:
    other = engine.project("other").id
    for pid in (project, other):
        for i in range(3):
            submit(engine, pid, f"fact number {i} of {pid}")
    while engine.run_jobs_once("w1") is not None:
        pass
    assert engine.trim_jobs(now=utcnow() + timedelta(days=89)) == 0
    assert engine.trim_jobs(now=utcnow() + timedelta(days=91)) == 6
    assert engine.feed(project)[1] == 3 and engine.feed(other)[1] == 3  # the changes stay (trimmed on their own)
