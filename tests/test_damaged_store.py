"""Issue 14, item 8: a transcript file cut short is refused at start, never replaced.

A 0-byte SQLite file used to start an empty store (13 sessions and the write-ahead log gone
without a word); a file cut in half gave a 27-line traceback. Now the app and the command line
stop with one line naming the file and how to restore it, and leave the file (and its log) alone.
The real app in a subprocess, the real command line, real SQLite files.
"""

from __future__ import annotations

import hashlib
import sqlite3

import pytest

from interviewer.bench.common import copy_built_bank
from interviewer.store import TranscriptStore
from interviewer.testing.app_server import AppServer
from tests.test_export import cli, fill


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else None


def damaged(data, how: str):
    """A data dir whose store is 0 bytes (with a write-ahead log beside it) or cut in half."""
    db = data / "mianshi.sqlite3"
    store = TranscriptStore(db)
    for i in range(40):
        fill(store, sid=f"sess-{i}")
    store.close()
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    if how == "empty":
        (data / "mianshi.sqlite3-wal").write_bytes(b"\x37\x7f\x06\x82" + b"\x00" * 4096)  # a log left behind
        db.write_bytes(b"")
    else:
        db.write_bytes(db.read_bytes()[: db.stat().st_size // 2])
    return db


def last_line(text: str) -> str:
    return [line for line in text.splitlines() if line.strip()][-1]


@pytest.mark.parametrize("how", ["empty", "half"])
def test_cli_refuses_a_cut_store_in_one_line(tmp_path, how):
    db = damaged(tmp_path, how)
    before = digest(db), digest(tmp_path / "mianshi.sqlite3-wal")
    r = cli(tmp_path, "sessions")
    assert r.returncode == 1
    assert len(r.stderr.strip().splitlines()) == 1 and str(db) in r.stderr and "restore" in r.stderr
    assert (digest(db), digest(tmp_path / "mianshi.sqlite3-wal")) == before


@pytest.mark.slow
@pytest.mark.parametrize("how", ["empty", "half"])
def test_app_refuses_to_start_on_a_cut_store(tmp_path, bank, bank_settings, how):
    data = tmp_path / "data"
    copy_built_bank(bank_settings.data_dir, data)
    db = damaged(data, how)
    before = digest(db), digest(data / "mianshi.sqlite3-wal")
    app = AppServer(data)
    with pytest.raises(RuntimeError, match="app exited"):
        app.start()
    app.stop()
    log = app.log()
    assert "Traceback" not in log, log
    line = last_line(log)
    assert line.startswith("Mianshi cannot start") and str(db) in line and "restore" in line
    assert (digest(db), digest(data / "mianshi.sqlite3-wal")) == before
