"""One SQLite connection shared by every thread of a process, one thread at a time.

SQLite has one writer at a time anyway: a lock hands the connection over at once, where
separate connections wait in SQLite's busy handler (sleeps of 1-100 ms), and no call pays for
opening a connection. Held open, it also keeps a WAL database's log: when the last connection
closes, SQLite checkpoints and deletes it. Other processes still share the file through
SQLite's own locking.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager


class SharedConnection:
    def __init__(self, connect: Callable[[], sqlite3.Connection]):
        """`connect` opens a connection that any thread may use (check_same_thread=False)."""
        self._connect = connect
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    @contextmanager
    def use(self) -> Iterator[sqlite3.Connection]:
        """The connection, held by this thread until the block ends (opened if needed).

        A connection that failed (disk full, file gone read-only or replaced) is not reused: after
        an sqlite3.Error the next use opens a new one, which sees the disk and the file as they
        are then."""
        with self._lock:
            try:
                if self._conn is None:
                    self._conn = self._connect()
                yield self._conn
            except sqlite3.Error:
                self._drop()
                raise

    def close(self) -> None:
        """Close the connection; the next use opens a new one."""
        with self._lock:
            self._drop()

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except sqlite3.Error:
                pass
