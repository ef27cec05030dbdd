"""One lock per session, so the actions on a session run one at a time, in this process and,
given the store's lock, in every process sharing the store.

Each tab holds its own copy of a session; two tabs (or two requests of one tab, or two replicas
behind a load balancer) acting at the same moment would otherwise both number their next turn
from the same copy. The lock makes them take turns; the service then compares each copy with the
store (see Services.exclusive), and the store refuses a snapshot from a copy that is behind.

Two layers: a re-entrant thread lock per session (resuming inside an action takes it again),
and, around the outermost hold only, the store's cross-process lock (``across``: a PostgreSQL
advisory lock, or a byte-range lock file beside the SQLite database). Threads of one process
queue on the thread lock, so a process waits for another one at most once per session.

A lock lives as long as someone holds or waits for it (a weak dictionary), so the registry does
not grow with every session ever played.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager

Across = Callable[[str], AbstractContextManager[object]]


class SessionLocks:
    def __init__(self, across: Across | None = None) -> None:
        """``across(session_id)``: the store's lock that holds across processes (None: this process only)."""
        self._guard = threading.Lock()
        self._locks: weakref.WeakValueDictionary[str, _Lock] = weakref.WeakValueDictionary()
        self._across = across

    @contextmanager
    def hold(self, session_id: str) -> Iterator[None]:
        with self._guard:
            lock = self._locks.get(session_id)
            if lock is None:
                lock = self._locks[session_id] = _Lock()
        with lock.inner:
            if lock.depth or self._across is None:  # re-entered: the outer hold has the store's lock
                lock.depth += 1
                try:
                    yield
                finally:
                    lock.depth -= 1
                return
            with self._across(session_id):
                lock.depth += 1
                try:
                    yield
                finally:
                    lock.depth -= 1


class _Lock:
    """An RLock that a weak dictionary can refer to (RLock objects take no weak references), and
    how deep its holder is in it (only the holder changes it)."""

    __slots__ = ("inner", "depth", "__weakref__")

    def __init__(self) -> None:
        self.inner = threading.RLock()
        self.depth = 0
