"""SQLite cache of LLM grades, so replaying a session (or re-running an eval) gives the same grade.

The key covers everything a grade depends on: question, answer, key points, question kind,
language, rubric version, model and the grading prompt's sha256. Changing any of them is a new
grade. Only real model grades are stored: an offline fallback or "not_graded" is never cached,
so a later run can still reach the model.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from contextlib import closing
from pathlib import Path

from interviewer.models import Grade


def cache_key(*, question: str, answer: str, key_points: list[str], kind: str, language: str,
              rubric_version: str, model: str, prompt_sha256: str) -> str:
    payload = json.dumps([question, answer, list(key_points), kind, language, rubric_version, model,
                          prompt_sha256], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


class GradeCache:
    """Each call opens its own connection, so threads and processes can share it; one idle
    connection keeps the WAL open for the cache's life."""

    def __init__(self, path: Path | str):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with closing(self._connect()) as conn, conn:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("CREATE TABLE IF NOT EXISTS grades (key TEXT PRIMARY KEY, grade TEXT NOT NULL, "
                         "created_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP)")
        # Held open so closing each call's connection does not checkpoint and delete the WAL.
        self._keeper = self._connect()

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=10)
        # A cache entry lost to an OS crash only costs a model call: no fsync per grade.
        conn.execute("PRAGMA synchronous = NORMAL")
        return conn

    def get(self, key: str) -> Grade | None:
        try:
            with closing(self._connect()) as conn:
                row = conn.execute("SELECT grade FROM grades WHERE key = ?", (key,)).fetchone()
        except sqlite3.Error:
            return None  # a broken cache only costs a model call
        return Grade.model_validate_json(row[0]) if row else None

    def put(self, key: str, grade: Grade) -> None:
        try:
            with closing(self._connect()) as conn, conn:
                conn.execute("INSERT OR REPLACE INTO grades (key, grade) VALUES (?, ?)",
                             (key, grade.model_dump_json()))
        except sqlite3.Error:
            return None

    def __len__(self) -> int:
        with closing(self._connect()) as conn:
            return conn.execute("SELECT COUNT(*) FROM grades").fetchone()[0]
