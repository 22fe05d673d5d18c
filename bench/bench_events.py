"""What the change log costs the write path, and how soon a webhook hears of a change; one run, both stores.

1. Adds and deletes with and without the log, interleaved call by call on two stores of the same type: `engine.add`
   of 100 messages per call (infer off, the `hashing` embedder, so the model does not hide the write path), then
   `engine.delete_many` of those 100 ids. "Without the log" is the same store with its `_log` step left out (on
   SQLite: finding the seqs its history events took and writing the log rows keyed by them; on PostgreSQL: the
   project's log lock and the log rows): what the store wrote before the change log, history included.
2. The same over HTTP, as a client sees it: two real servers, `POST /v1/memories/` of 100 messages then
   `DELETE /v1/batch/` of their ids.
3. Delivery latency: a real server with its delivery thread, one webhook to a real receiver on loopback; each add
   is made over HTTP after the previous one arrived; latency = arrival at the receiver − the add's answer (its
   commit is a little earlier); each add waits a random part of a poll first, so adds do not fall in step with the
   loop. At the default poll and at 0.05 s.

    python bench/bench_events.py [--calls 60] [--deliveries 100] [--stores sqlite,postgres] [--parts write,http,latency]
                                 [--calibrate]

`--calibrate`: the same measures with the log on both sides (an A/A run): how far apart two identical stores come
out in one run on this machine, the resolution of the ratios above.

Needs the `test` extra (embedded PostgreSQL 18 + pgvector 0.8).
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import httpx

from memvault.delivery import DeliveryOptions
from memvault.embed.hashing import HashingEmbedder
from memvault.engine import Engine
from memvault.extract.base import Message
from memvault.extract.offline import OfflineExtractor
from memvault.models import HistoryEvent
from memvault.store.base import Store
from memvault.store.postgres import PostgresStore
from memvault.store.sqlite import SQLiteStore
from memvault.testing.postgres import EmbeddedPostgres
from memvault.testing.receiver import Receiver
from memvault.testing.server import Server

BATCH = 100


class SQLiteWithoutLog(SQLiteStore):
    def _log(self, c: Any, events: Sequence[HistoryEvent]) -> None:
        pass


class PostgresWithoutLog(PostgresStore):
    def _log(self, c: Any, events: Sequence[HistoryEvent]) -> None:
        pass


def engine_over(store: Store) -> Engine:
    return Engine(store, HashingEmbedder(), OfflineExtractor())


def add_and_delete(engine: Engine, project: str, tag: str) -> tuple[float, float]:
    """Seconds for one add of BATCH memories, then one delete of them."""
    messages = [Message("user", f"{tag} fact {i}: the meeting moved to room {i % 97}") for i in range(BATCH)]
    start = time.perf_counter()
    ids = [r.memory.id for r in engine.add(project, messages)]
    added = time.perf_counter()
    engine.delete_many(project, ids)
    return added - start, time.perf_counter() - added


def write_path(name: str, make: Callable[[bool], Store], calls: int) -> None:
    """Per-call interleaving (with, without, without, with, ...): on a shared machine whose speed drifts, both
    variants meet the same drift; medians of the calls."""
    engines = {"with the log": engine_over(make(True)), "without": engine_over(make(False))}
    projects = {label: e.project("bench").id for label, e in engines.items()}
    for label, e in engines.items():  # warm-up: first-use costs out of the figures
        for w in range(3):
            add_and_delete(e, projects[label], f"warm{w}")
    times: dict[str, list[tuple[float, float]]] = {label: [] for label in engines}
    for i in range(calls):
        for label in (list(engines) if i % 2 == 0 else list(reversed(engines))):
            times[label].append(add_and_delete(engines[label], projects[label], f"c{i}"))
    print(f"\n{name}: {calls} calls of each, adding {BATCH} memories then deleting them (one call each), interleaved")
    medians = {}
    for label, found in times.items():
        add = statistics.median(a for a, _ in found)
        delete = statistics.median(d for _, d in found)
        medians[label] = (add, delete)
        print(f"  {label:13s} add {BATCH / add:7.0f} memories/s ({add * 1000:.1f} ms per call)   "
              f"delete {BATCH / delete:7.0f} memories/s ({delete * 1000:.1f} ms per call)")
    (wa, wd), (na, nd) = medians["with the log"], medians["without"]
    print(f"  throughput with the log, relative to without: add {na / wa:.1%}, delete {nd / wd:.1%}")
    for e in engines.values():
        e.close()


def over_http(name: str, make: Callable[[bool], Store], calls: int) -> None:
    """The same, as a client sees it: `POST /v1/memories/` of 100 messages, then `DELETE /v1/batch/` of their ids,
    against two real servers (with and without the log), interleaved call by call."""
    engines = {"with the log": engine_over(make(True)), "without": engine_over(make(False))}
    times: dict[str, list[tuple[float, float]]] = {label: [] for label in engines}
    with Server(engines["with the log"]) as a, Server(engines["without"]) as b:
        clients = {label: httpx.Client(base_url=srv.url, headers={"Authorization": f"Token {srv.key('bench')}"},
                                       timeout=60) for label, srv in (("with the log", a), ("without", b))}

        def one(label: str, tag: str) -> tuple[float, float]:
            http = clients[label]
            body = {"messages": [{"role": "user", "content": f"{tag} fact {i}: room {i % 97}"} for i in range(BATCH)],
                    "user_id": "u", "infer": False}
            start = time.perf_counter()
            added = http.post("/v1/memories/", json=body)
            middle = time.perf_counter()
            assert added.status_code == 200, added.text
            gone = http.request("DELETE", "/v1/batch/",
                                json={"memories": [{"memory_id": r["id"]} for r in added.json()["results"]]})
            assert gone.status_code == 200, gone.text
            return middle - start, time.perf_counter() - middle

        for label in engines:
            for w in range(3):
                one(label, f"warm{w}")
        for i in range(calls):
            for label in (list(engines) if i % 2 == 0 else list(reversed(engines))):
                times[label].append(one(label, f"c{i}"))
        for http in clients.values():
            http.close()
    medians = {label: (statistics.median(a for a, _ in found), statistics.median(d for _, d in found))
               for label, found in times.items()}
    print(f"\n{name} over HTTP: {calls} calls of each (POST /v1/memories/ of {BATCH}, DELETE /v1/batch/ of them)")
    for label, (add, delete) in medians.items():
        print(f"  {label:13s} add {BATCH / add:7.0f} memories/s ({add * 1000:.1f} ms per call)   "
              f"delete {BATCH / delete:7.0f} memories/s ({delete * 1000:.1f} ms per call)")
    (wa, wd), (na, nd) = medians["with the log"], medians["without"]
    print(f"  throughput with the log, relative to without: add {na / wa:.1%}, delete {nd / wd:.1%}")
    for e in engines.values():
        e.close()


def latency(name: str, store: Store, deliveries: int, poll: float) -> None:
    engine = engine_over(store)
    lags = []
    with Receiver() as receiver, Server(engine, deliveries=DeliveryOptions(poll=poll)) as server:
        key = server.key("latency")
        with httpx.Client(base_url=server.url, headers={"Authorization": f"Token {key}"}, timeout=30) as http:
            project = http.get("/v1/ping/").json()["project_id"]
            made = http.post(f"/api/v1/webhooks/projects/{project}/",
                             json={"url": receiver.url, "name": "bench", "event_types": ["memory_add"]}).json()
            receiver.secret = made["secret"]
            for i in range(deliveries):
                time.sleep(random.uniform(0, poll))  # out of step with the delivery loop's polls
                answer = http.post("/v1/memories/", json={"messages": f"latency probe {i}", "user_id": "u",
                                                          "infer": False})
                answered = time.monotonic()
                assert answer.status_code == 200, answer.text
                arrived = receiver.wait_for(i + 1)[i]
                assert arrived.signed
                lags.append((arrived.at - answered) * 1000)
    engine.close()
    lags.sort()
    p50, p95 = lags[len(lags) // 2], lags[int(len(lags) * 0.95) - 1]
    print(f"{name}: delivery latency at poll {poll:g} s over {deliveries} adds: p50 {p50:.0f} ms, p95 {p95:.0f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=60)
    parser.add_argument("--deliveries", type=int, default=100)
    parser.add_argument("--stores", default="sqlite,postgres", help="which stores (comma-separated)")
    parser.add_argument("--parts", default="write,http,latency", help="which measures (comma-separated)")
    parser.add_argument("--calibrate", action="store_true", help="the log on both sides (A/A): the noise of a ratio")
    args = parser.parse_args()
    stores, parts = args.stores.split(","), args.parts.split(",")
    with tempfile.TemporaryDirectory() as tmp, EmbeddedPostgres(Path(tmp) / "pg") as pg:
        made = iter(range(1000))

        def sqlite(with_log: bool) -> Store:
            with_log = with_log or args.calibrate
            return (SQLiteStore if with_log else SQLiteWithoutLog)(Path(tmp) / f"{with_log}_{next(made)}.db")

        def postgres(with_log: bool) -> Store:
            with_log = with_log or args.calibrate
            url = pg.create_database(f"bench_{'log' if with_log else 'nolog'}_{next(made)}")
            return (PostgresStore if with_log else PostgresWithoutLog)(url, migrate=True)

        makers = {"sqlite": ("SQLite", sqlite), "postgres": ("PostgreSQL", postgres)}
        if "write" in parts:
            for store in stores:
                write_path(*makers[store], args.calls)
        if "http" in parts:
            for store in stores:
                over_http(*makers[store], args.calls)
        if "latency" in parts:
            print()
            for poll in (DeliveryOptions().poll, 0.05):
                if "sqlite" in stores:
                    latency("SQLite", SQLiteStore(Path(tmp) / f"latency{poll}.db"), args.deliveries, poll)
                if "postgres" in stores:
                    latency("PostgreSQL", PostgresStore(pg.create_database(f"latency_{int(poll * 100)}"),
                                                        migrate=True), args.deliveries, poll)


if __name__ == "__main__":
    main()
