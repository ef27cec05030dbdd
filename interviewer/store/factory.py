"""The transcript store the settings name: PostgreSQL when MIANSHI_DATABASE_URL is set, else
SQLite in the data dir. Callers open the store here, never a back end directly."""

from __future__ import annotations

from collections.abc import Callable

from interviewer.config import Settings
from interviewer.store.store import TranscriptStore


def open_store(settings: Settings, *, card_topics: Callable[[str], list[str]] | None = None,
               readonly: bool = False) -> TranscriptStore:
    if settings.database_url is not None:
        from interviewer.store.pg_store import PostgresTranscriptStore

        return PostgresTranscriptStore.from_settings(settings, card_topics=card_topics, readonly=readonly)
    return TranscriptStore.from_settings(settings, card_topics=card_topics, readonly=readonly)
