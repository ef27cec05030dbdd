"""Cache of LLM grades, so replaying a session (or re-running an eval) gives the same grade.

SQLite beside the transcripts by default (``GradeCache``); with MIANSHI_DATABASE_URL, a table of
the PostgreSQL database (``PostgresGradeCache``), so every replica reuses the others' grades.
``open_grade_cache(settings)`` picks one; both have the same get/put/len.

The key covers everything a grade depends on: question, answer, key points, question kind,
language, rubric version, model and the grading prompt's sha256. Changing any of them is a new
grade. Only real model grades are stored: an offline fallback or "not_graded" is never cached,
so a later run can still reach the model.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

from interviewer.config import Settings
from interviewer.models import Grade
from interviewer.store.connection import SharedConnection


def cache_key(*, question: str, answer: str, key_points: list[str], kind: str, language: str,
              rubric_version: str, model: str, prompt_sha256: str) -> str:
    payload = json.dumps([question, answer, list(key_points), kind, language, rubric_version, model,
                          prompt_sha256], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


class GradeCache:
    """One connection shared by the process's threads (SharedConnection); each call is a single
    short statement. Other processes share the file through SQLite's locking."""

    def __init__(self, path: Path | str):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._shared = SharedConnection(self._connect)
        with self._shared.use() as conn, conn:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("CREATE TABLE IF NOT EXISTS grades (key TEXT PRIMARY KEY, grade TEXT NOT NULL, "
                         "created_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP)")

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=10, check_same_thread=False)
        # A cache entry lost to an OS crash only costs a model call: no fsync per grade.
        conn.execute("PRAGMA synchronous = NORMAL")
        return conn

    def _run(self, sql: str, args: tuple = (), write: bool = False):
        with self._shared.use() as conn:
            if write:
                with conn:
                    return conn.execute(sql, args).fetchone()
            return conn.execute(sql, args).fetchone()

    def get(self, key: str) -> Grade | None:
        try:
            row = self._run("SELECT grade FROM grades WHERE key = ?", (key,))
        except sqlite3.Error:
            return None  # a broken cache only costs a model call
        return Grade.model_validate_json(row[0]) if row else None

    def put(self, key: str, grade: Grade) -> None:
        try:
            self._run("INSERT OR REPLACE INTO grades (key, grade) VALUES (?, ?)", (key, grade.model_dump_json()),
                      write=True)
        except sqlite3.Error:
            return None

    def __len__(self) -> int:
        return self._run("SELECT COUNT(*) FROM grades")[0]


class PostgresGradeCache:
    """The grade_cache table of the transcript database (schema migration 3). Errors only cost a
    model call, as with the SQLite cache; the pool is small, each call is one short statement."""

    def __init__(self, url: str):
        from interviewer.store.postgres import Database

        self._db = Database(url, pool_size=2, lock_pool_size=1, name="mianshi-grade-cache")
        self._db.migrate()

    def get(self, key: str) -> Grade | None:
        from interviewer.store import StoreError

        try:
            with self._db.read() as conn:
                row = conn.execute("SELECT grade FROM grade_cache WHERE key = ?", (key,)).fetchone()
        except StoreError:
            return None
        return Grade.model_validate_json(row[0]) if row else None

    def put(self, key: str, grade: Grade) -> None:
        from interviewer.models import utcnow
        from interviewer.store import StoreError

        try:
            with self._db.write() as conn:
                conn.execute("INSERT INTO grade_cache (key, grade, created_at) VALUES (?, ?, ?) ON CONFLICT (key) "
                             "DO UPDATE SET grade = excluded.grade, created_at = excluded.created_at",
                             (key, grade.model_dump_json(), utcnow().isoformat()))
        except StoreError:
            return None

    def __len__(self) -> int:
        with self._db.read() as conn:
            return int(conn.execute("SELECT COUNT(*) FROM grade_cache").fetchone()[0])

    def close(self) -> None:
        self._db.close()


def open_grade_cache(settings: Settings) -> GradeCache | PostgresGradeCache:
    if settings.database_url is not None:
        return PostgresGradeCache(settings.database_url.get_secret_value())
    return GradeCache(settings.llm_cache_path)
