"""The transcript store on PostgreSQL: the same store (and SQL) as on SQLite, on pooled connections.

Only the connection handling differs from ``store.TranscriptStore``: reads and writes take a
connection from the pool; every write is one transaction committed before the call returns
(synchronous commit, so an answered turn survives a killed replica); a session's writes take a
transaction-level advisory lock, so a check and the write that depends on it stay atomic as
SQLite's single writer makes them; the session lock is a session-level advisory lock held on
a connection of its own for the whole action (``postgres.Database``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from interviewer.config import Settings
from interviewer.store.errors import StoreUnavailable
from interviewer.store.postgres import Database, PgConnection, _param
from interviewer.store.privacy import Scrubber
from interviewer.store.schema import SCHEMA_VERSION
from interviewer.store.store import TranscriptStore


class PostgresTranscriptStore(TranscriptStore):
    def __init__(
        self,
        url: str,
        *,
        scrubber: Scrubber | None = None,
        card_topics: Callable[[str], list[str]] | None = None,
        readonly: bool = False,
        pool_size: int = 10,
        lock_pool_size: int = 32,
        migrate: bool = True,
        check_version: bool = True,
    ) -> None:
        """Connect (StoreUnavailable if the server cannot be reached) and, unless read-only or
        ``migrate=False``, bring the schema up to date. A store that finds an older schema and may
        not migrate it refuses to open, as on SQLite (unless ``check_version=False``: `db version`)."""
        self.path = None  # type: ignore[assignment]  # no file: see `where`
        self.readonly = readonly
        self.scrubber = scrubber or Scrubber.from_settings(None)
        self._card_topics = card_topics
        self.db = Database(url, pool_size=pool_size, lock_pool_size=lock_pool_size)
        self.where = self.db.where
        try:
            version = self.db.migrate() if migrate and not readonly else self.db.schema_version()
        except BaseException:
            self.db.close()
            raise
        if check_version and version != SCHEMA_VERSION:
            self.db.close()
            raise StoreUnavailable(
                f"the transcript store at {self.where} has schema version {version}, expected "
                f"{SCHEMA_VERSION}; run `python -m interviewer db migrate` to bring it up to date")

    @classmethod
    def from_settings(cls, settings: Settings, *, card_topics: Callable[[str], list[str]] | None = None,
                      readonly: bool = False) -> PostgresTranscriptStore:
        assert settings.database_url is not None
        return cls(settings.database_url.get_secret_value(), scrubber=Scrubber.from_settings(settings),
                   card_topics=card_topics, readonly=readonly, pool_size=settings.db_pool_size,
                   # one held connection per action in progress; a few more than the app runs at once
                   lock_pool_size=settings.concurrency + 4)

    # ------------------------------------------------------------------ connections

    @contextmanager
    def _read(self) -> Iterator[PgConnection]:  # type: ignore[override]
        with self.db.read() as conn:
            yield conn

    @contextmanager
    def _write(self, session_id: str | None = None) -> Iterator[PgConnection]:  # type: ignore[override]
        if self.readonly:
            raise StoreUnavailable(f"the transcript store at {self.where} is open read-only; "
                                   "the session was not saved")
        with self.db.write(session_id) as conn:
            yield conn

    @contextmanager
    def session_lock(self, session_id: str) -> Iterator[None]:
        with self.db.session_lock(session_id):
            yield

    @staticmethod
    def _as_stored(value: Any) -> Any:
        return _param(value)

    def schema_version(self) -> int:
        return self.db.schema_version()

    def reconnect(self) -> None:
        """Connections are checked by the pool; nothing to do."""

    def close(self) -> None:
        self.db.close()
