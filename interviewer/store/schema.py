"""The SQLite schema, versioned with PRAGMA user_version: an ordered list of migrations, applied in
one transaction when an older file is opened."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable

from interviewer.store.errors import StoreUnavailable

log = logging.getLogger(__name__)


def _run_script(conn: sqlite3.Connection, script: str) -> None:
    # Not executescript(): on Python 3.11 it commits the open transaction first, which would
    # make a migration non-atomic. Our scripts have no ';' inside statements.
    for statement in script.split(";"):
        if statement.strip():
            conn.execute(statement)


def _migration_1(conn: sqlite3.Connection) -> None:
    _run_script(conn,
        """
        CREATE TABLE sessions (
            id TEXT PRIMARY KEY,
            owner TEXT NOT NULL DEFAULT '',
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'finished')),
            config TEXT NOT NULL DEFAULT '{}',
            plan TEXT NOT NULL DEFAULT '[]',
            interviewer_label TEXT NOT NULL DEFAULT '',
            state TEXT
        );
        CREATE TABLE turns (
            id INTEGER PRIMARY KEY,
            session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
            idx INTEGER NOT NULL,
            question_id TEXT,
            role TEXT NOT NULL,
            kind TEXT NOT NULL,
            text TEXT NOT NULL,
            truncated INTEGER NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL,
            UNIQUE (session_id, idx)
        );
        CREATE TABLE grades (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
            question_id TEXT NOT NULL,
            answer TEXT NOT NULL,
            grade TEXT NOT NULL,
            grader TEXT,
            model TEXT,
            rubric_version TEXT,
            created_at TEXT NOT NULL,
            is_current INTEGER NOT NULL DEFAULT 1
        );
        CREATE INDEX grades_session ON grades(session_id, question_id);
        """
    )


def _migration_2(conn: sqlite3.Connection) -> None:
    """Grader label on sessions, topics and the total on grades (for progress), and indexes.

    At most one current grade per question is enforced by a partial unique index, so a regrade
    can never leave two "current" grades behind.
    """
    _run_script(conn,
        """
        ALTER TABLE sessions ADD COLUMN grader_label TEXT NOT NULL DEFAULT '';
        ALTER TABLE grades ADD COLUMN topics TEXT NOT NULL DEFAULT '[]';
        ALTER TABLE grades ADD COLUMN total REAL;
        UPDATE grades SET total = json_extract(grade, '$.total');
        UPDATE grades SET is_current = 0 WHERE is_current = 1 AND id NOT IN (
            SELECT MAX(id) FROM grades WHERE is_current = 1 GROUP BY session_id, question_id);
        CREATE UNIQUE INDEX grades_one_current ON grades(session_id, question_id) WHERE is_current = 1;
        CREATE INDEX sessions_owner ON sessions(owner, created_at);
        """
    )


# Ordered: MIGRATIONS[i] brings a database from user_version i to i + 1. Append, never edit.
MIGRATIONS: tuple[Callable[[sqlite3.Connection], None], ...] = (_migration_1, _migration_2)
SCHEMA_VERSION = len(MIGRATIONS)


def migrate(conn: sqlite3.Connection, target: int = SCHEMA_VERSION) -> int:
    """Apply the missing migrations up to ``target`` in one transaction; return the new version.

    The version is re-read inside the write lock so two processes opening a new file at once
    do not both run a migration.
    """
    current = conn.execute("PRAGMA user_version").fetchone()[0]
    if current >= target:
        return current
    conn.execute("BEGIN IMMEDIATE")
    try:
        current = conn.execute("PRAGMA user_version").fetchone()[0]
        if current > SCHEMA_VERSION:
            raise StoreUnavailable(
                f"the transcript store has schema version {current}, newer than this program "
                f"({SCHEMA_VERSION}); upgrade Mianshi")
        for version in range(current, target):
            MIGRATIONS[version](conn)
            log.info("transcript store migrated to schema version %d", version + 1)
        # PRAGMA does not take parameters; target is an int we computed.
        conn.execute(f"PRAGMA user_version = {int(max(current, target))}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return max(current, target)
