"""`ingest`, `questions`, `search`: build and read the question bank from the command line."""

from __future__ import annotations

import argparse
import json
import sys


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("ingest", help="build or refresh the question bank from corpus/ (and PATHs)")
    p.add_argument("paths", nargs="*", metavar="PATH", help="extra .txt/.md files or directories to ingest")
    p.add_argument("--rebuild", action="store_true", help="rebuild even if nothing changed")
    p.add_argument("--json", action="store_true", help="print the ingest report as JSON")
    p.add_argument("--owner", help="add each FILE as a post owned by OWNER (.txt/.md/.html/.pdf), "
                                   "as the app's 添加面经 does, instead of rebuilding the corpus")
    p.set_defaults(handler=_ingest)

    p = sub.add_parser("questions", help="list question cards")
    p.add_argument("--topic", help="only cards with this topic")
    p.add_argument("--section", help="only cards of this section (一面, 手撕, LangChain ...)")
    p.add_argument("--owner", help="also the cards OWNER added (MIANSHI_ADMIN=1: everyone's)")
    p.add_argument("--json", action="store_true", help="print the cards as JSON")
    p.set_defaults(handler=_questions)

    p = sub.add_parser("search", help="search the question bank")
    p.add_argument("query")
    p.add_argument("-k", type=int, default=5, help="number of results (default 5)")
    p.add_argument("--mode", choices=("dense", "keyword", "fused"), default="fused")
    p.add_argument("--json", action="store_true", help="print the hits as JSON")
    p.set_defaults(handler=_search)


def _open(args, **kw):
    from interviewer.bank.bank import QuestionBank
    from interviewer.config import Settings

    return QuestionBank.open(Settings.from_env(), **kw)


def _ingest(args) -> int:
    if args.owner is not None:
        from interviewer.cli.posts import add_posts

        return add_posts(args)
    # The operator's command: on a Chroma server it also replaces an index built from another corpus.
    bank = _open(args, rebuild=args.rebuild, progress=not args.json, extra_paths=tuple(args.paths),
                 refresh_shared=True)
    r = bank.report
    if args.json:
        print(json.dumps(r.model_dump(mode="json"), ensure_ascii=False, indent=2))
        return _named_paths_status(args.paths, r.skipped)
    state = "rebuilt" if r.rebuilt else "unchanged (index reused)"
    print(f"Question bank {state}: {r.documents} documents, {r.cards} cards")
    print("Cards per section:")
    for name, n in r.cards_per_section.items():
        print(f"  {name:<12} {n}")
    print("Cards per topic:")
    for name, n in r.cards_per_topic.items():
        print(f"  {name:<12} {n}")
    print(f"Cards without source notes: {r.cards_without_source_notes}")
    if r.skipped:
        print(f"Skipped files ({len(r.skipped)}):")
        for s in r.skipped:
            print(f"  {s.path}: {s.reason}")
    else:
        print("Skipped files: none")
    for problem in r.notes_problems:
        print(f"key points: {problem}", file=sys.stderr)
    return _named_paths_status(args.paths, r.skipped)


def _named_paths_status(paths, skipped) -> int:
    """1 when a path named on the command line was not ingested (missing, unreadable, a FIFO ...):
    the caller asked for it, so a script must see that it did not happen."""
    from pathlib import Path

    named = {str(Path(p).expanduser()) for p in paths}
    missed = [s for s in skipped if s.path in named]
    for s in missed:
        print(f"error: {s.path}: {s.reason}", file=sys.stderr)
    return 1 if missed else 0


def _questions(args) -> int:
    if args.owner is not None:
        from interviewer.cli.posts import open_library, scope

        lib = open_library()
        cards = [c for c in lib.visible_cards(scope(args.owner))
                 if (args.topic is None or args.topic in c.topics)
                 and (args.section is None or c.section == args.section)]
    else:
        cards = _open(args).cards(topic=args.topic, section=args.section)
    if args.json:
        print(json.dumps([c.model_dump(mode="json") for c in cards], ensure_ascii=False, indent=2))
        return 0
    for c in cards:
        print(f"{c.id}  [{c.section or '-'}] {c.question}  ({', '.join(c.topics)}; {c.kind.value}; d{c.difficulty})")
    print(f"{len(cards)} cards", file=sys.stderr)
    return 0


def _search(args) -> int:
    if args.k < 1:
        print("-k must be at least 1", file=sys.stderr)
        return 2
    bank = _open(args)
    hits = bank.search(args.query, k=args.k, mode=args.mode)
    if args.json:
        print(json.dumps([h.model_dump(mode="json") for h in hits], ensure_ascii=False, indent=2))
        return 0
    if not hits:
        print("no matching questions")
        return 0
    for n, h in enumerate(hits, 1):
        print(f"{n}. {h.score:.3f}  {h.card.id}  {h.card.question}")
        print(f"   dense {h.dense:.3f}  keyword {h.keyword:.3f}  [{h.card.section}] {', '.join(h.card.topics)}")
    return 0
