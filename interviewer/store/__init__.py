"""Transcripts: sessions, turns and grades on disk (SQLite), their read models, and secret scrubbing."""

from interviewer.store.errors import (
    SessionExists,
    SessionMovedOn,
    SessionNotFound,
    StoreError,
    StoreUnavailable,
)
from interviewer.store.privacy import Scrubber
from interviewer.store.records import GradeRecord, QuestionView, SessionRecord, SessionSummary, StoredGrade
from interviewer.store.store import TranscriptStore

__all__ = ["GradeRecord", "QuestionView", "Scrubber", "SessionExists", "SessionMovedOn", "SessionNotFound",
           "SessionRecord", "SessionSummary", "StoreError", "StoreUnavailable", "StoredGrade", "TranscriptStore"]
