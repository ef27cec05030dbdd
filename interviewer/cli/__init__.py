"""`python -m interviewer ...`: the command line. Each command group lives in its own module.

Command modules import their heavy dependencies inside the handlers, so `--help` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from interviewer.bank.errors import ChromaServerError

# module -> registers its sub-commands on the shared sub-parser
COMMAND_MODULES = (
    "interviewer.cli.bank",         # ingest, questions, search
    "interviewer.cli.posts",        # docs, docs remove (posts people added)
    "interviewer.cli.engine",       # interview, grade
    "interviewer.cli.eval",         # eval grading
    "interviewer.cli.transcripts",  # sessions, export, import, delete
    "interviewer.cli.db",           # db migrate, db version
    "interviewer.cli.bench",        # bench
    "interviewer.cli.doctor",       # doctor
    "interviewer.cli.proxy",        # proxy (in front of several replicas)
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m interviewer", description="Mianshi mock interviewer")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    try:
        return int(args.handler(args) or 0)
    except ChromaServerError as exc:  # MIANSHI_CHROMA_URL unusable: one line that says what to change
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
