"""Posts people add, from the command line: `ingest FILE --owner OWNER` (via cli/bank.py),
`docs` (the documents: corpus and added posts) and `docs remove ID`."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("docs", help="list the documents (corpus and added posts); docs remove ID")
    p.add_argument("action", nargs="?", choices=("list", "remove"), default="list")
    p.add_argument("doc_id", nargs="?", metavar="ID", help="the post to remove (with its cards)")
    p.add_argument("--owner", help="only this owner's posts (MIANSHI_ADMIN=1: everyone's)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=_docs)


def open_library():
    from interviewer.bank.library import Library
    from interviewer.config import Settings

    return Library.open(Settings.from_env())


def scope(owner: str | None) -> str | None:
    """Whose added cards a command covers: OWNER's; everyone's in admin mode or without --owner when admin."""
    from interviewer.config import Settings

    if Settings.from_env().admin:
        return None
    return owner or "\x00no-owner"


def add_posts(args) -> int:
    from interviewer.bank.readers import PostError
    from interviewer.config import Settings

    if not args.owner.strip():
        print("--owner must not be empty", file=sys.stderr)
        return 2
    if not args.paths:
        print("ingest --owner needs at least one FILE", file=sys.stderr)
        return 2
    settings = Settings.from_env()
    lib = open_library()
    draft = None
    if settings.use_llm:
        from interviewer.llm.draft import key_point_drafter

        draft = key_point_drafter(settings)
    failed = 0
    results = []
    for raw in args.paths:
        path = Path(raw)
        try:
            data = path.read_bytes()
            preview = lib.preview(args.owner, data, path.name)
            result = lib.add(preview, draft=draft)
        except (OSError, PostError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            print(f"{path}: {reason}", file=sys.stderr)
            failed += 1
            continue
        results.append({"file": str(path), **result.model_dump(mode="json")})
        if not args.json:
            print(f"{path}: {result.doc_id}: {result.message}")
            for link in result.links:
                print(f"  linked: {link.question}  ->  {link.card_id} {link.existing}")
    if args.json:
        print(json.dumps(results, ensure_ascii=False, indent=2))
    return 1 if failed else 0


def _docs(args) -> int:
    lib = open_library()
    who = scope(args.owner)
    if args.action == "remove":
        if not args.doc_id:
            print("docs remove needs the ID of a post (see `docs`)", file=sys.stderr)
            return 2
        try:
            n = lib.remove(args.doc_id, who)
        except KeyError:
            print(f"no post {args.doc_id} of yours (corpus documents are removed from corpus/)", file=sys.stderr)
            return 1
        print(f"removed {args.doc_id} and its {n} cards (transcripts keep their own copy)")
        return 0
    docs = lib.docs(who)
    if args.json:
        print(json.dumps([d.model_dump(mode="json") for d in docs], ensure_ascii=False, indent=2))
        return 0
    for d in docs:
        whose = f"owner {d.owner}" if d.owner else "corpus"
        links = f", {d.links} linked" if d.links else ""
        print(f"{d.id}  {d.name}  ({d.cards} cards{links}; {whose}) {d.added_at}")
    return 0
