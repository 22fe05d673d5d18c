"""Dynamic batching in front of an embedder: texts asked for at the same moment share one model call.

Many requests at once (eight clients each adding one memory, a search beside an import) would each run the
model on a batch of one, and the calls would fight for the same cores. `BatchingEmbedder` puts every request in
one queue served by one thread, so one batch is in flight per model instance:

* the thread takes what is waiting: while a batch runs, the requests that arrive queue up and go together into
  the next. With `max_wait` > 0 (0 by default: measured best here) and requests coming several at a time, it
  first waits that long for more, unless `max_batch` texts are already there; one caller alone never waits;
* queries (`embed_query`, a search's one text) go first: they are taken before any document text, and a large
  request (an import of 1,000 texts) is cut into slices of `max_batch`, so a query waits for one slice at most;
* results go back to each request in its own order; when a batch fails, each request in it is run again on its
  own, so one failing text fails only its own request;
* `submit` returns a Future: a request cancelled before the thread takes it is never run.

It has the `Embedder` protocol itself, so the engine does not know it is there.
"""

from __future__ import annotations

import threading
from collections import deque
from concurrent.futures import Future
from dataclasses import dataclass, field

import numpy as np

from memvault.embed.base import Embedder, Vectors

# Seconds the thread waits for more texts when requests come several at a time. 0: it takes what queued while the
# last batch ran (bench/bench_concurrent_add.py, 8 clients adding one memory per call, one run: 285 /s at 0,
# 269 /s at 2 ms, 237 /s at 5 ms; the model's ceiling 553-561 /s).
MAX_WAIT = 0.0
MAX_BATCH = 64  # texts in one model call (the bundled model's own batch size)


@dataclass
class _Request:
    texts: list[str]
    future: Future[Vectors]
    urgent: bool
    out: Vectors | None = None
    taken: int = 0  # texts handed to a batch so far
    done: int = 0  # texts whose vectors are in `out`
    failed: bool = False
    slices: list[tuple[int, int]] = field(default_factory=list)  # (start, stop) of this request in the batch underway


class BatchingEmbedder:
    """An `Embedder` whose calls, from any thread, are served in shared batches by one worker thread."""

    def __init__(self, inner: Embedder, *, max_wait: float = MAX_WAIT, max_batch: int = MAX_BATCH) -> None:
        if max_batch < 1 or max_wait < 0:
            raise ValueError("max_batch must be at least 1 and max_wait at least 0")
        self.inner = inner
        self.max_wait = max_wait
        self.max_batch = max_batch
        self._urgent: deque[_Request] = deque()
        self._normal: deque[_Request] = deque()
        self._cond = threading.Condition()
        self._closed = False
        self._thread: threading.Thread | None = None
        self._shared = False  # the last batch served more than one request
        self.batches = 0  # model calls made (for tests and benchmarks)

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def dim(self) -> int:
        return self.inner.dim

    def __repr__(self) -> str:
        return f"BatchingEmbedder({self.inner!r}, max_wait={self.max_wait}, max_batch={self.max_batch})"

    # the Embedder protocol --------------------------------------------------------------------
    def embed(self, texts: list[str]) -> Vectors:
        return self.submit(texts).result()

    def embed_query(self, text: str) -> Vectors:
        """One query's vector, shape (1, dim), ahead of every document text that waits."""
        return self.submit([text], urgent=True).result()

    def submit(self, texts: list[str], *, urgent: bool = False) -> Future[Vectors]:
        future: Future[Vectors] = Future()
        if not texts:
            future.set_result(np.zeros((0, self.dim), dtype=np.float32))
            return future
        request = _Request(list(texts), future, urgent)
        with self._cond:
            if self._closed:
                raise RuntimeError("the embedder is closed")
            (self._urgent if urgent else self._normal).append(request)
            if self._thread is None:
                self._thread = threading.Thread(target=self._serve, name="memvault-embed", daemon=True)
                self._thread.start()
            self._cond.notify()
        return future

    def close(self) -> None:
        """Finish what was asked, then stop the thread."""
        with self._cond:
            self._closed = True
            self._cond.notify()
            thread = self._thread
        if thread is not None:
            thread.join()
        close = getattr(self.inner, "close", None)
        if callable(close):
            close()

    # the worker -------------------------------------------------------------------------------
    def _waiting(self) -> int:
        return sum(len(r.texts) - r.taken for q in (self._urgent, self._normal) for r in q)

    def _serve(self) -> None:
        while True:
            with self._cond:
                while not (self._urgent or self._normal or self._closed):
                    self._cond.wait()
                if not (self._urgent or self._normal):
                    return  # closed and nothing left
                # Requests come several at a time (the last batch served more than one, or more than one waits):
                # let those made at the same moment join. One caller alone never waits.
                crowded = self._shared or len(self._urgent) + len(self._normal) > 1
                if crowded and self.max_wait > 0 and self._waiting() < self.max_batch and not self._closed:
                    self._cond.wait(self.max_wait)
                batch, texts = self._take()
                self._shared = len(batch) > 1
            if batch:
                self._run(batch, texts)

    def _take(self) -> tuple[list[_Request], list[str]]:
        """Up to max_batch texts: queries first, then documents in arrival order (a large request in slices).
        Caller holds the condition."""
        batch: list[_Request] = []
        texts: list[str] = []
        for queue in (self._urgent, self._normal):
            while queue and len(texts) < self.max_batch:
                request = queue[0]
                if request.taken == 0 and not request.future.set_running_or_notify_cancel():
                    queue.popleft()  # cancelled while it waited: never run
                    continue
                start = request.taken
                stop = min(len(request.texts), start + self.max_batch - len(texts))
                request.slices = [(len(texts), len(texts) + stop - start)]
                texts += request.texts[start:stop]
                request.taken = stop
                batch.append(request)
                if request.taken == len(request.texts):
                    queue.popleft()
                else:
                    break  # the batch is full
        return batch, texts

    def _run(self, batch: list[_Request], texts: list[str]) -> None:
        try:
            vectors = self.inner.embed(texts)
            self.batches += 1
        except BaseException:
            if len(batch) == 1:
                self._fail(batch[0])
                return
            for request in batch:  # find whose text failed: each request again, on its own
                start, stop = request.slices[0]
                request.slices = [(0, stop - start)]
                self._run([request], texts[start:stop])
            return
        for request in batch:
            if request.failed:
                continue
            start, stop = request.slices[0]
            if request.out is None:
                request.out = np.empty((len(request.texts), vectors.shape[1]), dtype=np.float32)
            request.out[request.done : request.done + stop - start] = vectors[start:stop]
            request.done += stop - start
            if request.done == len(request.texts):
                request.future.set_result(request.out)

    def _fail(self, request: _Request) -> None:
        import sys

        exc = sys.exc_info()[1]
        request.failed = True
        with self._cond:  # the rest of a sliced request is dropped
            for queue in (self._urgent, self._normal):
                if request in queue:
                    queue.remove(request)
        if not request.future.done():
            request.future.set_exception(exc if isinstance(exc, Exception) else RuntimeError("embedding failed"))


def embed_query(embedder: Embedder, text: str) -> Vectors:
    """A search's query vector, shape (1, dim): ahead of queued document texts when the embedder batches."""
    urgent = getattr(embedder, "embed_query", None)
    if callable(urgent):
        result: Vectors = urgent(text)
        return result
    return embedder.embed([text])
