"""Transcripts: sessions, turns and grades (SQLite on disk, or PostgreSQL), their read models, and
secret scrubbing. ``open_store(settings)`` opens the configured back end."""

from interviewer.store.errors import (
    SessionExists,
    SessionMovedOn,
    SessionNotFound,
    StoreError,
    StoreUnavailable,
)
from interviewer.store.factory import open_store
from interviewer.store.privacy import Scrubber
from interviewer.store.records import GradeRecord, QuestionView, SessionRecord, SessionSummary, StoredGrade
from interviewer.store.store import TranscriptStore

__all__ = ["GradeRecord", "QuestionView", "Scrubber", "SessionExists", "SessionMovedOn", "SessionNotFound",
           "SessionRecord", "SessionSummary", "StoreError", "StoreUnavailable", "StoredGrade", "TranscriptStore",
           "open_store"]
