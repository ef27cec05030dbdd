"""What the engine writes as the interview happens. The transcript store (SQLite or PostgreSQL) implements it.

Each turn and each grade is recorded when it happens, not at the end, so a killed process
loses nothing that was answered.
"""

from __future__ import annotations

from typing import Protocol

from interviewer.models import Grade, Turn


class Recorder(Protocol):
    def record_session(self, session: dict) -> None:
        """Create or update the session row (id, owner, config, plan, status, interviewer label)."""

    def record_turn(self, turn: Turn) -> None:
        """Append one turn (the same turn again is a no-op; a stored turn is never replaced)."""

    def record_grade(self, session_id: str, question_id: str, grade: Grade, answer: str) -> None:
        """Store one grade for a question of a session, beside any earlier grades."""


class NullRecorder:
    """Records nothing: for the command line's one-off grading and for tests of the engine alone."""

    def record_session(self, session: dict) -> None:
        return None

    def record_turn(self, turn: Turn) -> None:
        return None

    def record_grade(self, session_id: str, question_id: str, grade: Grade, answer: str) -> None:
        return None
