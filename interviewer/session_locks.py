"""One lock per session, so the actions on a session run one at a time.

Each tab holds its own copy of a session; two tabs (or two requests of one tab) acting at the
same moment would otherwise both number their next turn from the same copy. The lock makes
them take turns; the service then compares each copy with the store (see Services.exclusive).

A lock lives as long as someone holds or waits for it (a weak dictionary), so the registry does
not grow with every session ever played. Re-entrant: resuming inside an action takes it again.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager


class SessionLocks:
    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: weakref.WeakValueDictionary[str, _Lock] = weakref.WeakValueDictionary()

    @contextmanager
    def hold(self, session_id: str) -> Iterator[None]:
        with self._guard:
            lock = self._locks.get(session_id)
            if lock is None:
                lock = self._locks[session_id] = _Lock()
        with lock.inner:
            yield


class _Lock:
    """An RLock that a weak dictionary can refer to (RLock objects take no weak references)."""

    __slots__ = ("inner", "__weakref__")

    def __init__(self) -> None:
        self.inner = threading.RLock()
