"""PostgreSQL plumbing shared by the transcript store, the grade cache and the browser secret.

* Connections come from psycopg_pool pools, in autocommit mode: a write opens its own
  transaction (``Database.write``), committed before the call returns (synchronous commit: durable).
* The store's SQL is written once, SQLite style (``?`` placeholders); ``PgConnection`` turns it
  into psycopg's (``%s``) and returns rows that read like ``sqlite3.Row`` (by name and by index).
* PostgreSQL text cannot hold NUL characters (SQLite can): a NUL in a value becomes U+FFFD.
* The schema is migrated once, under a transaction-level advisory lock, so replicas that start
  together do not race.
* Advisory lock keys are (namespace, 32-bit hash); each use has its own namespace, so the lock
  a turn holds never blocks that turn's own writes.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from typing import Any
from urllib.parse import urlparse

import psycopg
import psycopg_pool

from interviewer.store.errors import StoreUnavailable
from interviewer.store.schema import MIGRATIONS, SCHEMA_VERSION, newer_than_program

log = logging.getLogger(__name__)

# Advisory lock namespaces (the first key of pg_advisory_lock(int, int)).
NS_SCHEMA = 0x4D530001      # migrations
NS_SESSION_TURN = 0x4D530002  # a session's turn, held across replicas for the whole action
NS_SESSION_WRITE = 0x4D530003  # one write transaction of a session (check-then-write stays atomic)

CONNECT_TIMEOUT_S = 10


def label(url: str) -> str:
    """The URL without user and password, for messages."""
    try:
        parsed = urlparse(url)
        host = f"{parsed.hostname}:{parsed.port}" if parsed.port else (parsed.hostname or "local socket")
    except ValueError:
        return "the configured PostgreSQL database"
    return f"postgresql://{host}{parsed.path}"


def key32(text: str) -> int:
    """A stable signed 32-bit key for a string (two sessions sharing one only take turns)."""
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:4], "big", signed=True)


def unavailable(exc: BaseException, where: str, writing: bool) -> StoreUnavailable:
    """A psycopg or pool error as a message an operator can act on (never the password)."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if isinstance(exc, psycopg_pool.PoolTimeout):
        msg = (f"the database {where} did not answer in time (no free connection or the server is "
               f"unreachable); the session was {'not saved' if writing else 'not read'}: {text}")
    elif isinstance(exc, psycopg.OperationalError):
        msg = f"the database {where} cannot be reached: {text}"
    elif isinstance(exc, psycopg.errors.ReadOnlySqlTransaction):
        msg = f"the database {where} is read-only; the session was not saved"
    elif isinstance(exc, psycopg.errors.DiskFull):
        msg = f"the disk of the database {where} is full; the session was not saved"
    else:
        msg = f"the database {where} failed {'to write' if writing else 'to read'}: {text}"
    return StoreUnavailable(msg)


ERRORS = (psycopg.Error, psycopg_pool.PoolTimeout, psycopg_pool.TooManyRequests)


# ---------------------------------------------------------------------------- rows and SQL

class Row(tuple):
    """A row read by column name or by index, like sqlite3.Row (the store's code reads both)."""

    _names: dict[str, int]

    def __getitem__(self, key):  # type: ignore[override]
        if isinstance(key, str):
            return tuple.__getitem__(self, self._names[key])
        return tuple.__getitem__(self, key)

    def keys(self) -> list[str]:
        return list(self._names)


def _row_factory(cursor: psycopg.Cursor) -> Any:
    names = {c.name: i for i, c in enumerate(cursor.description or [])}

    def make(values: Sequence[Any]) -> Row:
        row = Row(values)
        row._names = names
        return row

    return make


@lru_cache(maxsize=512)
def _pg_sql(sql: str) -> str:
    # Our SQL has no '?' or '%' inside string literals: every '?' is a parameter.
    return re.sub(r"\?", "%s", sql.replace("%", "%%"))


def _param(value: Any) -> Any:
    return value.replace("\x00", "\ufffd") if isinstance(value, str) and "\x00" in value else value


class PgConnection:
    """A psycopg connection that takes the store's SQLite-style SQL."""

    def __init__(self, conn: psycopg.Connection):
        self.raw = conn

    def execute(self, sql: str, params: Sequence[Any] = ()) -> psycopg.Cursor:
        cur = self.raw.cursor(row_factory=_row_factory)
        if params:
            return cur.execute(_pg_sql(sql), [_param(p) for p in params])
        return cur.execute(sql)

    def executemany(self, sql: str, seq: Sequence[Sequence[Any]]) -> psycopg.Cursor:
        cur = self.raw.cursor(row_factory=_row_factory)
        cur.executemany(_pg_sql(sql), [[_param(p) for p in params] for params in seq])
        return cur


# ---------------------------------------------------------------------------- the database

class Database:
    """The pools of one process for one PostgreSQL database.

    ``pool`` serves reads and writes; ``lock_pool`` the connections a turn holds its session
    lock on (one per action in progress, so it may grow to the app's concurrency).
    """

    def __init__(self, url: str, *, pool_size: int = 10, lock_pool_size: int = 32, name: str = "mianshi"):
        self.url = url
        self.where = label(url)
        kwargs = {"autocommit": True, "connect_timeout": CONNECT_TIMEOUT_S}
        self.pool = psycopg_pool.ConnectionPool(url, min_size=1, max_size=max(1, pool_size), kwargs=kwargs,
                                                open=False, name=f"{name}-db", timeout=30)
        # A connection given back with a lock still held (an unlock that failed) must not keep it.
        self.lock_pool = psycopg_pool.ConnectionPool(url, min_size=0, max_size=max(1, lock_pool_size),
                                                     kwargs=kwargs, open=False, name=f"{name}-locks",
                                                     reset=_unlock_all, timeout=60)
        try:
            # One plain connection first: an unreachable server or a refused login fails at once
            # with the server's reason, where the pool would retry (and log) until its timeout.
            psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT_S).close()
            self.pool.open(wait=True, timeout=CONNECT_TIMEOUT_S + 5)
            self.lock_pool.open()
        except ERRORS as exc:
            self.close()
            raise unavailable(exc, self.where, writing=False) from exc

    @contextmanager
    def read(self) -> Iterator[PgConnection]:
        try:
            with self.pool.connection() as conn:
                yield PgConnection(conn)
        except ERRORS as exc:
            raise unavailable(exc, self.where, writing=False) from exc

    @contextmanager
    def write(self, session_id: str | None = None) -> Iterator[PgConnection]:
        """One committed transaction. With a session id, writes of that session take turns, as
        SQLite's single writer makes them: a check and the write that depends on it stay atomic."""
        try:
            with self.pool.connection() as conn, conn.transaction():
                if session_id is not None:
                    conn.execute("SELECT pg_advisory_xact_lock(%s, %s)", (NS_SESSION_WRITE, key32(session_id)))
                yield PgConnection(conn)
        except ERRORS as exc:
            raise unavailable(exc, self.where, writing=True) from exc

    @contextmanager
    def session_lock(self, session_id: str) -> Iterator[None]:
        """Hold the session's turn lock across every process using this database, on a connection
        of its own for the whole action (released when it ends, or when the connection dies).

        When the database cannot be reached the action goes on under the per-process lock only:
        nothing can be written then, so nothing can interleave (the practice goes on unsaved, as
        with an unwritable SQLite file), and the stored turns and the snapshot check still guard."""
        key = (NS_SESSION_TURN, key32(session_id))
        conn = None
        try:
            conn = self.lock_pool.getconn()
            conn.execute("SELECT pg_advisory_lock(%s, %s)", key)
        except ERRORS as exc:
            log.warning("session %s not locked across replicas: %s", session_id, unavailable(exc, self.where, True))
            if conn is not None:
                conn.close()
                self.lock_pool.putconn(conn)
            conn = None
        if conn is None:
            yield
            return
        try:
            yield
        finally:
            try:
                conn.execute("SELECT pg_advisory_unlock(%s, %s)", key)
            except ERRORS:
                conn.close()  # a closed connection is dropped by the pool; the server released the lock
            self.lock_pool.putconn(conn)

    def migrate(self) -> int:
        """Bring the schema to this program's version (once, whoever else is starting); the version."""
        try:
            with self.pool.connection() as conn:
                return migrate(conn)
        except ERRORS as exc:
            raise unavailable(exc, self.where, writing=True) from exc

    def schema_version(self) -> int:
        with self.read() as conn:
            return _version(conn.raw)

    def close(self) -> None:
        for pool in (self.lock_pool, self.pool):
            try:
                pool.close()
            except Exception:  # closing a pool that never opened
                pass


def _unlock_all(conn: psycopg.Connection) -> None:
    conn.execute("SELECT pg_advisory_unlock_all()")


def _version(conn: psycopg.Connection) -> int:
    exists = conn.execute("SELECT to_regclass('mianshi_schema') IS NOT NULL").fetchone()[0]
    if not exists:
        return 0
    row = conn.execute("SELECT version FROM mianshi_schema").fetchone()
    return int(row[0]) if row else 0


def migrate(conn: psycopg.Connection, target: int = SCHEMA_VERSION) -> int:
    """Apply the missing migrations up to ``target`` in one transaction, under an advisory lock
    (the version is read again once it is held); return the version."""
    if _version(conn) >= target:
        return _version(conn)
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s, %s)", (NS_SCHEMA, 0))
        conn.execute("CREATE TABLE IF NOT EXISTS mianshi_schema (version INTEGER NOT NULL)")
        if conn.execute("SELECT COUNT(*) FROM mianshi_schema").fetchone()[0] == 0:
            conn.execute("INSERT INTO mianshi_schema (version) VALUES (0)")
        current = _version(conn)
        if current > SCHEMA_VERSION:
            raise newer_than_program(current)
        wrapped = PgConnection(conn)
        for version in range(current, target):
            MIGRATIONS[version](wrapped, "postgresql")
            log.info("PostgreSQL transcript store migrated to schema version %d", version + 1)
        conn.execute("UPDATE mianshi_schema SET version = %s", (max(current, target),))
    return max(current, target)


# ---------------------------------------------------------------------------- shared values

def shared_secret(db: Database, name: str, make: Any) -> str:
    """The value stored under ``name``, inserted as ``make()`` if absent: every replica reads the
    one value the first of them wrote."""
    with db.write() as conn:
        conn.execute("INSERT INTO app_secrets (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING",
                     (name, make()))
        return conn.execute("SELECT value FROM app_secrets WHERE name = ?", (name,)).fetchone()[0]
