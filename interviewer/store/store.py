"""The transcript store: sessions, turns and grades, written as the interview happens.

``TranscriptStore`` is the one interface; it runs on SQLite (this module, the default) or on
PostgreSQL (``pg_store.PostgresTranscriptStore``, when MIANSHI_DATABASE_URL is set), which only
replaces how connections and transactions are had. The SQL is shared: written for both.
``open_store(settings)`` (``factory.py``) picks the back end.

Design choices and why:

* One SQLite file in the data directory, WAL mode, so readers (the review tab) never block the
  writers (many candidates answering at once) and a killed process loses at most the write in
  flight.
* Writes go through one connection per process (``SharedConnection``), handed between threads by
  a lock: sqlite3 connections must not be used by two threads at once, and one held connection
  keeps the WAL open instead of checkpointing on every close. Reads open their own connection.
  Every write is its own ``BEGIN IMMEDIATE`` transaction, committed before the call returns.
* The schema is versioned (``schema.py``); opening an old file migrates it in one transaction.
* Every string is scrubbed of secrets (``privacy.py``) before it is written, so a key pasted
  into an answer never reaches the disk.
* Failures to write (read-only directory, disk full, a file that is not a database) raise
  ``StoreUnavailable`` (``errors.py``) with a message a UI can show as is; SQLite rolls the
  transaction back, so the file is never left half-written.
* A session's actions take turns across processes too (``session_lock``: a byte-range lock in a
  file beside the database), and a snapshot from a writer that had not seen every stored turn is
  refused (``record_session``), so a stale copy never overwrites a newer state.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from interviewer.config import Settings
from interviewer.models import Grade, Turn, utcnow
from interviewer.store.connection import SharedConnection
from interviewer.store.errors import SessionExists, SessionMovedOn, SessionNotFound, StoreUnavailable, _unavailable
from interviewer.store.file_locks import FileLocks
from interviewer.store.privacy import Scrubber
from interviewer.store.records import SessionRecord, SessionStatus, SessionSummary, StoredGrade, resolve_topics
from interviewer.store.schema import SCHEMA_VERSION, migrate

log = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 15_000

def _ts(value: Any = None) -> str:
    """A sortable UTC ISO timestamp from a datetime, an ISO string or now."""
    if value is None:
        dt = utcnow()
    elif isinstance(value, datetime):
        dt = value
    else:
        dt = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC).isoformat(timespec="microseconds")


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _status_of(session: Mapping[str, Any]) -> SessionStatus:
    if session.get("status") in ("active", "finished"):
        return session["status"]
    return "finished" if session.get("phase") == "finished" or session.get("finished_at") else "active"



SQLITE_HEADER = b"SQLite format 3\x00"


def check_file(path: Path) -> None:
    """Refuse a database file that is cut short, before SQLite touches it.

    SQLite takes a 0-byte file for a new, empty database and would write a fresh schema over what
    was lost (and set the write-ahead log's transactions aside); a file cut in the middle fails
    later with a traceback. Both are refused here in one line, and the file is left as it is.
    """
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return  # a new store
    except OSError:
        return  # unreadable: connecting says why
    restore = ("nothing was changed; restore it from a backup, or move it (and any -wal file beside it) "
               "away to start with an empty store")
    if size == 0 and not Path(f"{path}-wal").exists():
        # Another process may be creating the store this instant (SQLite writes the header just
        # after the file appears): give it a moment before calling the file truncated.
        deadline = time.monotonic() + 2.0
        while size == 0 and time.monotonic() < deadline:
            time.sleep(0.02)
            size = path.stat().st_size
    if size == 0:
        raise StoreUnavailable(f"the transcript store {path} is empty (0 bytes): it was truncated or not "
                               f"fully copied; {restore}")
    with open(path, "rb") as f:
        header = f.read(100)
    if len(header) < 100 or not header.startswith(SQLITE_HEADER):
        raise StoreUnavailable(f"the transcript store {path} is not a valid database file (damaged or cut "
                               f"short); {restore}")
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    pages = int.from_bytes(header[28:32], "big")
    # The page count in the header is valid when its change counter matches (SQLite >= 3.7.0).
    if pages and header[24:28] == header[92:96] and size < pages * page_size:
        raise StoreUnavailable(f"the transcript store {path} is truncated ({size} of {pages * page_size} "
                               f"bytes); {restore}")


class TranscriptStore:
    """SQLite transcript store. Implements the engine's ``Recorder`` protocol.

    Safe to share between threads and processes: each call opens its own connection; the store
    keeps only the path, the settings and one idle connection that keeps the WAL open.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        scrubber: Scrubber | None = None,
        card_topics: Callable[[str], list[str]] | None = None,
        readonly: bool = False,
    ) -> None:
        self.path = Path(path)
        self.where = str(self.path)
        self.readonly = readonly
        # Default: redact the secret-looking environment variables (OPENAI_API_KEY, HF_TOKEN, ...)
        # even when the caller passed no settings, plus key-shaped strings.
        self.scrubber = scrubber or Scrubber.from_settings(None)
        # Topics stored with each grade so progress works without the bank; optional.
        self._card_topics = card_topics
        # One connection does all of this process's writes (see SharedConnection); opened now and
        # held, it also keeps the WAL, whose deletion on every close made each write checkpoint.
        self._writer = SharedConnection(self._open_connection)
        self._locks = FileLocks(f"{self.path}-locks")
        check_file(self.path)
        if not readonly:
            self._initialise()
            try:
                with self._writer.use():
                    pass
            except sqlite3.Error as exc:
                raise _unavailable(exc, self.path, writing=True) from exc
        else:
            version = self.schema_version()
            if version != SCHEMA_VERSION:
                raise StoreUnavailable(
                    f"the transcript store at {self.path} has schema version {version}, expected "
                    f"{SCHEMA_VERSION}; open it once writable to migrate it")

    @classmethod
    def from_settings(cls, settings: Settings, *, card_topics: Callable[[str], list[str]] | None = None,
                      readonly: bool = False) -> TranscriptStore:
        """The SQLite store in the settings' data dir (``store.open_store`` picks the back end)."""
        if settings.database_url is not None:
            raise ValueError("MIANSHI_DATABASE_URL is set: open the store with interviewer.store.open_store")
        return cls(settings.db_path, scrubber=Scrubber.from_settings(settings),
                   card_topics=card_topics, readonly=readonly)

    # ------------------------------------------------------------------ connections

    def _open_connection(self) -> sqlite3.Connection:
        """A new connection with our pragmas. Subclasses may add pragmas (tests do).

        Not tied to a thread: the write connection is used by whichever thread holds the lock."""
        if self.readonly:
            conn = sqlite3.connect(self.path.resolve().as_uri() + "?mode=ro", uri=True,
                                   timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None,
                                   check_same_thread=False)
        else:
            conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None,
                                   check_same_thread=False)
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA foreign_keys = ON")
        # Per connection, not per file: in WAL mode NORMAL keeps every commit across a killed
        # process (only an OS crash may lose the last ones) without an fsync per commit.
        conn.execute("PRAGMA synchronous = NORMAL")
        return conn

    def _initialise(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = self._open_connection()
        except (OSError, sqlite3.Error) as exc:
            raise _unavailable(exc, self.path, writing=True) from exc
        try:
            self._enable_wal(conn)
            migrate(conn)
        except sqlite3.Error as exc:
            raise _unavailable(exc, self.path, writing=True) from exc
        finally:
            conn.close()

    def _enable_wal(self, conn: sqlite3.Connection) -> None:
        # Switching to WAL needs a moment without other connections' locks; when several
        # processes create the file at once, retry until one of them has switched it.
        deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
        while True:
            try:
                mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc).lower() or time.monotonic() > deadline:
                    raise
                time.sleep(0.02)
                continue
            if mode.lower() == "wal":
                conn.execute("PRAGMA synchronous = NORMAL")  # durable in WAL across app crashes
                return
            raise sqlite3.OperationalError(f"could not switch to WAL journal mode (got {mode})")

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        try:
            conn = self._open_connection()
        except sqlite3.Error as exc:
            raise _unavailable(exc, self.path, writing=False) from exc
        try:
            yield conn
        except sqlite3.Error as exc:
            raise _unavailable(exc, self.path, writing=False) from exc
        finally:
            conn.close()

    @contextmanager
    def _write(self, session_id: str | None = None) -> Iterator[sqlite3.Connection]:
        """One committed transaction; any failure rolls back and becomes StoreUnavailable.

        ``session_id`` names the session written (PostgreSQL serialises those writes; SQLite
        has a single writer anyway)."""
        if self.readonly:
            raise StoreUnavailable(f"the transcript store at {self.path} is open read-only; "
                                   "the session was not saved")
        try:
            with self._writer.use() as conn:
                conn.execute("BEGIN IMMEDIATE")  # take the write lock now: no upgrade deadlocks
                try:
                    yield conn
                    conn.execute("COMMIT")
                except BaseException:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    raise
        except sqlite3.Error as exc:
            raise _unavailable(exc, self.path, writing=True) from exc

    @contextmanager
    def session_lock(self, session_id: str) -> Iterator[None]:
        """Hold the session against every other process using this store until the block ends
        (the per-process lock in session_locks takes it; see there). Not re-entrant. Where the
        lock file cannot be written (a read-only data dir, where nothing can be saved anyway),
        the action goes on under the per-process lock only."""
        if self.readonly:  # writes nothing: nothing to keep apart
            yield
            return
        held = self._locks.hold(session_id)
        try:
            held.__enter__()
        except OSError as exc:  # an unwritable data dir: nothing is saved anyway, the practice goes on
            log.warning("session %s not locked across processes: %s", session_id, exc)
            yield
            return
        try:
            yield
        finally:
            held.__exit__(None, None, None)

    @staticmethod
    def _as_stored(value: Any) -> Any:
        """A value as the database gives it back (PostgreSQL replaces NUL characters)."""
        return value

    def schema_version(self) -> int:
        with self._read() as conn:
            return int(conn.execute("PRAGMA user_version").fetchone()[0])

    def reconnect(self) -> None:
        """Close the write connection; the next write opens a new one (e.g. after the disk or
        the file's permissions changed)."""
        self._writer.close()

    def close(self) -> None:
        """Release the write connection (reads open their own connections)."""
        self._writer.close()

    def __enter__(self) -> TranscriptStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ Recorder protocol

    def record_session(self, session: dict) -> None:
        """Create or update a session row from ``SessionState.model_dump(mode="json")``.

        The whole dict is kept as the resume snapshot; the owner never changes once set.

        The version check: a snapshot that says how many turns its writer had seen
        (``turns_seen``, the engine's snapshots do) is refused with SessionMovedOn when more are
        stored: another tab or replica acted on the session since, and this writer's copy is
        behind. Nothing is written then; the caller shows the stored state instead.
        """
        if not session.get("id"):
            raise ValueError("session dict has no id")
        data = self.scrubber(dict(session))
        seen = data.pop("turns_seen", None)
        now = _ts()
        sid = str(data["id"])
        with self._write(sid) as conn:
            if seen is not None:
                stored = conn.execute("SELECT COUNT(*) FROM turns WHERE session_id = ?", (sid,)).fetchone()[0]
                if int(stored) > int(seen):
                    raise SessionMovedOn(f"session {data['id']} has {stored} stored turns, this copy saw {seen}: "
                                         "it moved on elsewhere; the snapshot was not saved")
            conn.execute(
                """
                INSERT INTO sessions (id, owner, created_at, updated_at, status, config, plan,
                                      interviewer_label, grader_label, state)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT(id) DO UPDATE SET
                    owner = CASE WHEN sessions.owner = '' THEN excluded.owner ELSE sessions.owner END,
                    updated_at = excluded.updated_at, status = excluded.status,
                    config = excluded.config, plan = excluded.plan,
                    interviewer_label = excluded.interviewer_label,
                    grader_label = excluded.grader_label, state = excluded.state
                """,
                (str(data["id"]), str(data.get("owner") or ""), _ts(data.get("created_at")), now,
                 _status_of(data), _dumps(data.get("config") or {}), _dumps(list(data.get("plan") or [])),
                 str(data.get("interviewer_label") or ""), str(data.get("grader_label") or ""),
                 _dumps(data)),
            )

    def record_turn(self, turn: Turn) -> None:
        """Append one turn now. Turns are never overwritten: the same turn again is a no-op, and a
        different turn at a stored index raises SessionMovedOn (another tab or process got there
        first; its turn stays)."""
        text = self.scrubber.text(turn.text)
        with self._write(turn.session_id) as conn:
            self._ensure_session(conn, turn.session_id)
            cur = conn.execute(
                """
                INSERT INTO turns (session_id, idx, question_id, role, kind, text, truncated, created_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT(session_id, idx) DO NOTHING
                """,
                (turn.session_id, turn.index, turn.question_id, turn.role, turn.kind, text,
                 int(turn.truncated), _ts(turn.created_at)),
            )
            if cur.rowcount == 0:
                row = conn.execute("SELECT question_id, role, kind, text FROM turns WHERE session_id = ? AND idx = ?",
                                   (turn.session_id, turn.index)).fetchone()
                if tuple(row) != tuple(map(self._as_stored, (turn.question_id, turn.role, turn.kind, text))):
                    raise SessionMovedOn(f"turn {turn.index} of session {turn.session_id} is already stored with "
                                         "other content: the session moved on elsewhere; nothing was overwritten")
                return
            conn.execute("UPDATE sessions SET updated_at = ? WHERE id = ?", (_ts(), turn.session_id))

    def turn_count(self, session_id: str) -> int:
        """How many turns of a session are stored: a tab whose copy has fewer is behind."""
        with self._read() as conn:
            return int(conn.execute("SELECT COUNT(*) FROM turns WHERE session_id = ?", (session_id,)).fetchone()[0])

    def record_grade(self, session_id: str, question_id: str, grade: Grade, answer: str) -> None:
        """Store a grade as the question's current one; earlier grades stay, superseded."""
        with self._write(session_id) as conn:
            self._ensure_session(conn, session_id)
            self._insert_grade(conn, session_id, question_id, grade, answer)

    # ------------------------------------------------------------------ writes for review

    def add_regrade(self, session_id: str, question_id: str, grade: Grade, answer: str) -> int:
        """A new grade for an existing session's question; it becomes current, the old stay.

        Returns the new grade's id. Raises SessionNotFound for an unknown session.
        """
        with self._write(session_id) as conn:
            if conn.execute("SELECT 1 FROM sessions WHERE id = ?", (session_id,)).fetchone() is None:
                raise SessionNotFound(f"no session {session_id!r}")
            return self._insert_grade(conn, session_id, question_id, grade, answer)

    def set_current_grade(self, session_id: str, grade_id: int) -> None:
        """Make an earlier grade of a question current again (undo a regrade)."""
        with self._write(session_id) as conn:
            row = conn.execute("SELECT question_id FROM grades WHERE id = ? AND session_id = ?",
                               (grade_id, session_id)).fetchone()
            if row is None:
                raise SessionNotFound(f"no grade {grade_id} in session {session_id!r}")
            conn.execute("UPDATE grades SET is_current = 0 WHERE session_id = ? AND question_id = ?",
                         (session_id, row["question_id"]))
            conn.execute("UPDATE grades SET is_current = 1 WHERE id = ?", (grade_id,))
            conn.execute("UPDATE sessions SET updated_at = ? WHERE id = ?", (_ts(), session_id))

    def delete_session(self, session_id: str, owner: str | None = None) -> bool:
        """Delete a session with all its turns and grades. False if there was none (for owner).

        The rows are deleted explicitly (not only through ON DELETE CASCADE) so they are gone
        even in a file written by a tool that did not enable foreign keys.
        """
        with self._write(session_id) as conn:
            if not self._visible(conn, session_id, owner):
                return False
            conn.execute("DELETE FROM grades WHERE session_id = ?", (session_id,))
            conn.execute("DELETE FROM turns WHERE session_id = ?", (session_id,))
            conn.execute("DELETE FROM sessions WHERE id = ?", (session_id,))
        log.info("deleted session %s", session_id)
        return True

    def restore_session(self, record: SessionRecord) -> str:
        """Write a whole session (an import) in one transaction. Fails if the id exists."""
        data = self.scrubber(record.model_dump(mode="json"))
        rec = SessionRecord.model_validate(data)
        with self._write(rec.id) as conn:
            if conn.execute("SELECT 1 FROM sessions WHERE id = ?", (rec.id,)).fetchone():
                raise SessionExists(f"a session with id {rec.id!r} already exists")
            conn.execute(
                """
                INSERT INTO sessions (id, owner, created_at, updated_at, status, config, plan,
                                      interviewer_label, grader_label, state)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
                (rec.id, rec.owner, _ts(rec.created_at), _ts(rec.updated_at), rec.status,
                 _dumps(rec.config), _dumps(rec.plan), rec.interviewer_label, rec.grader_label,
                 None if rec.state is None else _dumps(rec.state)),
            )
            conn.executemany(
                """
                INSERT INTO turns (session_id, idx, question_id, role, kind, text, truncated, created_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                """,
                [(rec.id, t.index, t.question_id, t.role, t.kind, t.text, int(t.truncated),
                  _ts(t.created_at)) for t in rec.turns],
            )
            # Oldest first, so grade ids keep the original order; current flags as exported.
            for g in sorted(rec.grades, key=lambda g: (g.created_at, g.id)):
                self._insert_grade(conn, rec.id, g.question_id, g.grade, g.answer,
                                   created_at=g.created_at, is_current=g.is_current, topics=g.topics)
        return rec.id

    # ------------------------------------------------------------------ reads

    def exists(self, session_id: str) -> bool:
        with self._read() as conn:
            return conn.execute("SELECT 1 FROM sessions WHERE id = ?", (session_id,)).fetchone() is not None

    def list_sessions(
        self,
        owner: str | None = None,
        *,
        topic: str | None = None,
        min_score: float | None = None,
        max_score: float | None = None,
        status: SessionStatus | None = None,
        limit: int | None = None,
    ) -> list[SessionSummary]:
        """Summaries, newest first. ``owner=None`` lists everyone's (admin and command line).

        A score filter leaves out sessions without any graded question.
        """
        where, params = [], []
        if owner is not None:
            where.append("s.owner = ?")
            params.append(owner)
        if status is not None:
            where.append("s.status = ?")
            params.append(status)
        sql = f"""
            SELECT s.id, s.owner, s.created_at, s.updated_at, s.status, s.config, s.plan,
                   s.interviewer_label, s.grader_label,
                   (SELECT COUNT(DISTINCT t.question_id) FROM turns t WHERE t.session_id = s.id
                        AND t.role = 'candidate' AND t.kind = 'answer') AS n_answered
            FROM sessions s {'WHERE ' + ' AND '.join(where) if where else ''}
            ORDER BY s.created_at DESC, s.id
        """
        with self._read() as conn:
            rows = conn.execute(sql, params).fetchall()
            grades = self._current_grade_rows(conn, [r["id"] for r in rows])
        out = []
        for row in rows:
            summary = self._summary(row, grades.get(row["id"], []))
            if topic is not None and topic not in summary.topics:
                continue
            if min_score is not None and (summary.overall is None or summary.overall < min_score):
                continue
            if max_score is not None and (summary.overall is None or summary.overall > max_score):
                continue
            out.append(summary)
            if limit is not None and len(out) >= limit:
                break
        return out

    def get_session(self, session_id: str, owner: str | None = None) -> SessionRecord:
        """The whole session; SessionNotFound if unknown or (with ``owner``) someone else's."""
        with self._read() as conn:
            row = conn.execute(
                """
                SELECT s.*, (SELECT COUNT(DISTINCT t.question_id) FROM turns t WHERE t.session_id = s.id
                             AND t.role = 'candidate' AND t.kind = 'answer') AS n_answered
                FROM sessions s WHERE s.id = ?
                """, (session_id,)).fetchone()
            if row is None or (owner is not None and row["owner"] != owner):
                raise SessionNotFound(f"no session {session_id!r}")
            turn_rows = conn.execute("SELECT * FROM turns WHERE session_id = ? ORDER BY idx",
                                     (session_id,)).fetchall()
            grade_rows = conn.execute("SELECT * FROM grades WHERE session_id = ? ORDER BY id",
                                      (session_id,)).fetchall()
        grades = [self._stored_grade(g) for g in grade_rows]
        summary = self._summary(row, [g for g in grade_rows if g["is_current"]])
        return SessionRecord(
            **summary.model_dump(),
            config=json.loads(row["config"]), plan=json.loads(row["plan"]),
            state=None if row["state"] is None else json.loads(row["state"]),
            turns=[self._turn(t) for t in turn_rows],
            grades=grades,
        )

    def load_state(self, session_id: str, owner: str | None = None) -> dict | None:
        """The latest ``SessionState`` snapshot (a dict) to resume from, with every stored turn.

        The engine's snapshots leave the turns out and it numbers new turns by
        ``len(state.turns)``, so the turns are filled in from the turns table (each committed as
        it happened, so never behind the snapshot): resuming then continues the numbering
        instead of overwriting earlier turns.

        None when the session exists but no snapshot was recorded (only turns arrived);
        SessionNotFound when there is no such session (for that owner).
        """
        with self._read() as conn:
            row = conn.execute("SELECT owner, state FROM sessions WHERE id = ?", (session_id,)).fetchone()
            if row is None or (owner is not None and row["owner"] != owner):
                raise SessionNotFound(f"no session {session_id!r}")
            if row["state"] is None:
                return None
            turn_rows = conn.execute("SELECT * FROM turns WHERE session_id = ? ORDER BY idx",
                                     (session_id,)).fetchall()
        state = json.loads(row["state"])
        state["turns"] = [self._turn(t).model_dump(mode="json") for t in turn_rows]
        return state

    def graded_rows(self, owner: str | None = None) -> list[dict[str, Any]]:
        """Current grades with their session's date, for progress: one dict per graded question."""
        sql = """
            SELECT g.session_id, g.question_id, g.total, g.topics, g.created_at AS graded_at,
                   s.created_at AS session_at, s.config
            FROM grades g JOIN sessions s ON s.id = g.session_id
            WHERE g.is_current = 1 AND g.total IS NOT NULL {owner}
            ORDER BY s.created_at, g.id
        """.format(owner="AND s.owner = ?" if owner is not None else "")
        with self._read() as conn:
            rows = conn.execute(sql, (owner,) if owner is not None else ()).fetchall()
        return [{"session_id": r["session_id"], "question_id": r["question_id"], "total": r["total"],
                 "topics": json.loads(r["topics"]), "graded_at": datetime.fromisoformat(r["graded_at"]),
                 "session_at": datetime.fromisoformat(r["session_at"]),
                 "config_topics": list(json.loads(r["config"]).get("topics") or [])} for r in rows]

    def asked_rows(self, owner: str | None = None) -> list[dict[str, Any]]:
        """When each card was asked: (session, card, first question turn, session start), for the planner."""
        sql = """
            SELECT t.session_id, t.question_id, MIN(t.created_at) AS asked_at, s.created_at AS session_at
            FROM turns t JOIN sessions s ON s.id = t.session_id
            WHERE t.role = 'interviewer' AND t.kind = 'question' AND t.question_id IS NOT NULL {owner}
            GROUP BY t.session_id, t.question_id, s.created_at
            ORDER BY asked_at
        """.format(owner="AND s.owner = ?" if owner is not None else "")
        with self._read() as conn:
            rows = conn.execute(sql, (owner,) if owner is not None else ()).fetchall()
        return [{"session_id": r["session_id"], "question_id": r["question_id"],
                 "asked_at": datetime.fromisoformat(r["asked_at"]),
                 "session_at": datetime.fromisoformat(r["session_at"])} for r in rows]

    # ------------------------------------------------------------------ internals

    def _ensure_session(self, conn: sqlite3.Connection, session_id: str) -> None:
        # A turn or grade that arrives before its session row must still be kept.
        now = _ts()
        conn.execute("INSERT INTO sessions (id, created_at, updated_at) VALUES (?, ?, ?) ON CONFLICT (id) DO NOTHING",
                     (session_id, now, now))

    @staticmethod
    def _visible(conn: sqlite3.Connection, session_id: str, owner: str | None) -> bool:
        row = conn.execute("SELECT owner FROM sessions WHERE id = ?", (session_id,)).fetchone()
        return row is not None and (owner is None or row["owner"] == owner)

    def _topics_for(self, conn: sqlite3.Connection, session_id: str, question_id: str) -> list[str]:
        """The card's topics: from the lookup if given, else from the session snapshot's record
        (the engine copies them from the card at planning time)."""
        def from_snapshot() -> list[str]:
            row = conn.execute("SELECT state FROM sessions WHERE id = ?", (session_id,)).fetchone()
            if row is None or row["state"] is None:
                return []
            record = (json.loads(row["state"]).get("records") or {}).get(question_id) or {}
            return [str(t) for t in record.get("topics") or []]

        return resolve_topics(question_id, self._card_topics, from_snapshot)

    def _insert_grade(self, conn: sqlite3.Connection, session_id: str, question_id: str, grade: Grade,
                      answer: str, *, created_at: datetime | None = None, is_current: bool = True,
                      topics: list[str] | None = None) -> int:
        grade_json = self.scrubber(grade.model_dump(mode="json"))
        prov = grade.provenance
        if is_current:
            conn.execute("UPDATE grades SET is_current = 0 WHERE session_id = ? AND question_id = ? "
                         "AND is_current = 1", (session_id, question_id))
        grade_id = conn.execute(
            """
            INSERT INTO grades (session_id, question_id, answer, grade, grader, model, rubric_version,
                                created_at, is_current, topics, total)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            RETURNING id
            """,
            (session_id, question_id, self.scrubber.text(answer), _dumps(grade_json), prov.grader,
             prov.model, prov.rubric_version, _ts(created_at), int(is_current),
             _dumps(topics if topics is not None else self._topics_for(conn, session_id, question_id)),
             grade.total if grade.status == "graded" else None),
        ).fetchone()[0]
        conn.execute("UPDATE sessions SET updated_at = ? WHERE id = ?", (_ts(), session_id))
        return int(grade_id)

    @staticmethod
    def _current_grade_rows(conn: sqlite3.Connection, ids: list[str]) -> dict[str, list[sqlite3.Row]]:
        out: dict[str, list[sqlite3.Row]] = {}
        if not ids:
            return out
        # In chunks: SQLite limits the number of bound parameters of one statement.
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            marks = ",".join("?" * len(chunk))
            for row in conn.execute(f"SELECT session_id, total, topics FROM grades WHERE is_current = 1 "
                                    f"AND session_id IN ({marks})", chunk):
                out.setdefault(row["session_id"], []).append(row)
        return out

    @staticmethod
    def _summary(row: sqlite3.Row, current: list[sqlite3.Row]) -> SessionSummary:
        config = json.loads(row["config"])
        plan = json.loads(row["plan"])
        totals = [g["total"] for g in current if g["total"] is not None]
        topics = list(dict.fromkeys(list(config.get("topics") or [])
                                    + [t for g in current for t in json.loads(g["topics"])]))
        return SessionSummary(
            id=row["id"], owner=row["owner"], created_at=row["created_at"], updated_at=row["updated_at"],
            status=row["status"], n_questions=len(plan) or int(config.get("n_questions") or 0),
            n_answered=row["n_answered"], n_graded=len(totals),
            overall=round(sum(totals) / len(totals), 1) if totals else None,
            topics=topics, interviewer_label=row["interviewer_label"], grader_label=row["grader_label"],
        )

    @staticmethod
    def _turn(t: sqlite3.Row) -> Turn:
        return Turn(session_id=t["session_id"], index=t["idx"], question_id=t["question_id"], role=t["role"],
                    kind=t["kind"], text=t["text"], truncated=bool(t["truncated"]), created_at=t["created_at"])

    @staticmethod
    def _stored_grade(row: sqlite3.Row) -> StoredGrade:
        return StoredGrade(
            id=row["id"], session_id=row["session_id"], question_id=row["question_id"], answer=row["answer"],
            grade=Grade.model_validate_json(row["grade"]), grader=row["grader"], model=row["model"],
            rubric_version=row["rubric_version"], topics=json.loads(row["topics"]),
            created_at=row["created_at"], is_current=bool(row["is_current"]),
        )
