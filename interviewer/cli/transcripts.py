"""`sessions`, `export`, `import`, `delete`: the transcript store from the command line.

The command line is the operator's tool, so it sees every owner's sessions. Errors are printed
as one clear line on stderr with exit code 1, never as a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sessions", help="list recorded sessions")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument("--owner", default=None, help="only this owner's sessions")
    p.add_argument("--topic", default=None, help="only sessions touching this topic")
    p.add_argument("--min-score", type=float, default=None)
    p.add_argument("--max-score", type=float, default=None)
    p.set_defaults(handler=_sessions)

    p = sub.add_parser("export", help="export a session as Markdown or JSON")
    p.add_argument("session_id")
    p.add_argument("--format", choices=("md", "json"), default="md")
    p.add_argument("-o", "--output", default=None, help="write to this file instead of stdout")
    p.set_defaults(handler=_export)

    p = sub.add_parser("import", help="import a session exported as JSON (for review)")
    p.add_argument("file")
    p.add_argument("--owner", default="", help="owner id to give the session (default: none)")
    p.set_defaults(handler=_import)

    p = sub.add_parser("delete", help="delete a session with all its turns and grades")
    p.add_argument("session_id")
    p.set_defaults(handler=_delete)


def _store():
    from interviewer.config import Settings
    from interviewer.store import open_store

    return open_store(Settings.from_env())


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 1


def _guard(handler):
    """Turn the store's and the importer's typed errors into one line on stderr."""
    def run(args: argparse.Namespace) -> int:
        from interviewer.export import InvalidExport
        from interviewer.store import StoreError

        try:
            return handler(args)
        except (StoreError, InvalidExport) as exc:
            return _fail(str(exc))
    return run


@_guard
def _sessions(args: argparse.Namespace) -> int:
    rows = _store().list_sessions(owner=args.owner, topic=args.topic, min_score=args.min_score,
                                  max_score=args.max_score)
    if args.json:
        print(json.dumps([r.model_dump(mode="json") for r in rows], ensure_ascii=False, indent=2))
        return 0
    if not rows:
        print("no sessions")
        return 0
    from interviewer.safe_names import printable

    print(f"{'id':<34} {'created (UTC)':<17} {'status':<9} {'answered':>8} {'overall':>7}  topics")
    for r in rows:
        overall = f"{r.overall:.1f}" if r.overall is not None else "-"
        # An id from an old import may hold newlines or terminal escapes: one row each, shown escaped.
        print(f"{printable(r.id, 34):<34} {r.created_at:%Y-%m-%d %H:%M} {r.status:<9} "
              f"{f'{r.n_answered}/{r.n_questions}':>8} {overall:>7}  {', '.join(r.topics)}")
    return 0


@_guard
def _export(args: argparse.Namespace) -> int:
    from interviewer.export import dumps_json, to_markdown

    store = _store()
    record = store.get_session(args.session_id)
    text = dumps_json(record, store.scrubber) if args.format == "json" else to_markdown(record, store.scrubber)
    if args.output:
        try:
            Path(args.output).write_text(text, encoding="utf-8")
        except OSError as exc:
            return _fail(f"cannot write {args.output}: {exc.strerror or exc}")
        print(f"wrote {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


@_guard
def _import(args: argparse.Namespace) -> int:
    from interviewer.export import MAX_IMPORT_BYTES, import_json

    path = Path(args.file)
    try:
        if path.stat().st_size > MAX_IMPORT_BYTES:
            return _fail(f"{path} is too large for a session file (at most {MAX_IMPORT_BYTES} bytes)")
        data = path.read_bytes()
    except OSError as exc:
        return _fail(f"cannot read {path}: {exc.strerror or exc}")
    sid = import_json(_store(), data, owner=args.owner)
    print(f"imported session {sid}")
    return 0


@_guard
def _delete(args: argparse.Namespace) -> int:
    if not _store().delete_session(args.session_id):
        return _fail(f"no session {args.session_id!r}")
    print(f"deleted session {args.session_id}")
    return 0
