"""`db migrate`, `db version`: create or upgrade the transcript schema explicitly.

Opening the store migrates it anyway; an operator running several replicas on PostgreSQL runs
`db migrate` once before starting (or upgrading) them, so no replica starts on an old schema.
"""

from __future__ import annotations

import argparse
import sys


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("db", help="the transcript database: create or upgrade its schema")
    db_sub = p.add_subparsers(dest="db_command", metavar="DB_COMMAND")
    m = db_sub.add_parser("migrate", help="create the schema or bring it up to this program's version")
    m.set_defaults(handler=_migrate)
    v = db_sub.add_parser("version", help="print the schema version of the database and of this program")
    v.set_defaults(handler=_version)
    p.set_defaults(handler=lambda args: (p.print_help(), 2)[1])


def _open(readonly: bool):
    from interviewer.config import Settings
    from interviewer.store import StoreError, TranscriptStore
    from interviewer.store.pg_store import PostgresTranscriptStore

    settings = Settings.from_env()
    try:
        if settings.database_url is not None:
            return settings, PostgresTranscriptStore(settings.database_url.get_secret_value(), readonly=readonly,
                                                     pool_size=1, lock_pool_size=1, migrate=not readonly,
                                                     check_version=not readonly)
        return settings, TranscriptStore(settings.db_path, readonly=False)
    except StoreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return settings, None


def _answer(settings, version: int) -> int:
    """What both commands print, and their exit code: 0 when the database is at this program's version."""
    from interviewer.store.schema import SCHEMA_VERSION

    print(f"{settings.database_label}: schema version {version} (this program: {SCHEMA_VERSION})")
    return 0 if version == SCHEMA_VERSION else 1


def _store_version(readonly: bool) -> int:
    settings, store = _open(readonly=readonly)
    if store is None:
        return 1
    with store:
        version = store.schema_version()
    return _answer(settings, version)


def _migrate(args) -> int:
    return _store_version(readonly=False)


def _version(args) -> int:
    from interviewer.config import Settings

    settings = Settings.from_env()
    if settings.database_url is not None:
        return _store_version(readonly=True)
    # SQLite: read the file's version without migrating it (a read-only store refuses an old file).
    if not settings.db_path.exists():
        return _answer(settings, 0)
    import sqlite3

    conn = sqlite3.connect(settings.db_path.resolve().as_uri() + "?mode=ro", uri=True)
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
    finally:
        conn.close()
    return _answer(settings, version)
