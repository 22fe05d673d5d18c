"""The compaction that drops a deleted memory's bytes from the SQLite files survives a crash: the delete marks it
pending in its own transaction, and the next open of the file compacts. A process killed (-9) at once after its
delete commits leaves no byte of the deleted memory in memvault.db, -wal or -shm once the file is opened again."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from contextlib import closing
from pathlib import Path

import pytest
import sqlean as sqlite3

from memvault.store.sqlite import SQLiteStore

# A process that adds a memory with a unique word, makes the keyword index hold it in a merged segment (as an old
# memory's would be), deletes it and dies by SIGKILL `pause` seconds after the delete commits (the compaction
# would run COMPACT_DELAY seconds after it).
CHILD = textwrap.dedent("""
    import os, signal, sys, time, uuid
    import numpy as np
    from memvault.models import HistoryEvent, Memory, utcnow
    from memvault.store.sqlite import SQLiteStore
    from memvault.store.sqlite import store as sqlite_store

    # no background checkpoint or compaction may clean the files before the kill: only the crash path can
    sqlite_store.CHECKPOINT_DELAY = sqlite_store.COMPACT_DELAY = 600

    path, word, pause = sys.argv[1], sys.argv[2], float(sys.argv[3])
    store = SQLiteStore(path)
    pid = store.ensure_project("p").id
    bucket = store.find_bucket(pid, "General").id
    def add(text):
        now = utcnow()
        m = Memory(str(uuid.uuid4()), pid, text, text, bucket, now, now)
        store.insert([m], np.eye(1, 8, dtype=np.float32),
                     [HistoryEvent(str(uuid.uuid4()), m.id, pid, "ADD", None, text, None, now)])
        return m.id
    for i in range(30):
        add(f"filler memory number {i}")
    secret = add(f"the safe combination is {word}")
    store.compact()
    assert store.delete(pid, [secret], utcnow()) == [secret]
    time.sleep(pause)
    os.kill(os.getpid(), signal.SIGKILL)
""")


def files(path: Path) -> bytes:
    return b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")) if p.exists())


@pytest.mark.parametrize("pause", [0.0, 0.01, 0.1, 0.4])
def test_a_kill_right_after_a_delete_leaves_no_byte_of_it_once_the_file_is_reopened(tmp_path: Path,
                                                                                    pause: float) -> None:
    path = tmp_path / "memvault.db"
    word = f"zanzibarquokka{int(pause * 1000)}"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parents[2]), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-c", CHILD, str(path), word, str(pause)], env=env, capture_output=True,
                          timeout=120, check=False)
    assert done.returncode == -signal.SIGKILL, done.stderr.decode()
    assert word.encode() in files(path)  # the crash came before the compaction
    store = SQLiteStore(path)
    try:
        deadline = time.monotonic() + 10
        while word.encode() in files(path) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert word.encode() not in files(path)
        with closing(sqlite3.connect(str(path))) as conn:  # the compaction cleared its mark
            assert conn.execute("SELECT value FROM meta WHERE key = 'compact_pending'").fetchall() == []
        pid = store.ensure_project("p").id
        assert store.keyword_search(pid, [word], None, 5) == []
        assert len(store.list(pid, None, 100).items) == 30
    finally:
        store.close()
