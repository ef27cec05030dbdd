"""`interview` and `grade`: a whole session in the terminal, and one-off grading.

`interview` reads answers from stdin one line at a time (so it works with piped input):
a line is one answer; /skip, /repeat and /end are commands; end of input ends the session.
Heavy imports happen inside the handlers so `--help` stays fast.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

COMMANDS = {"/skip": "skip", "/repeat": "repeat", "/end": "end"}
# `grade` without --reference takes the key points of the nearest bank card. Below both of these
# the nearest card is about something else (measured on the seed bank: related questions score
# dense >= 0.5 or share >= 0.8 of their terms; "今天天气怎么样" 0.29 / 0, "What is RLHF?" finds a
# LangChain card at 0.42 / 0), and grading against it would be a confident wrong grade.
MIN_DENSE_SIMILARITY = 0.5
MIN_SHARED_TERMS = 0.5


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("interview", help="run a mock interview in the terminal (answers from stdin)")
    p.add_argument("--topic", action="append", default=[], help="topic (repeatable); default: all")
    p.add_argument("--section", action="append", default=[], help="section (repeatable); default: all")
    p.add_argument("-n", "--n-questions", type=int, default=5, help="number of questions (1-20)")
    p.add_argument("--no-followups", action="store_true", help="no follow-up questions")
    p.add_argument("--max-followups", type=int, default=1, help="follow-ups per question at most (0-3)")
    p.add_argument("--lang", choices=["zh", "en"], default="zh")
    p.add_argument("--offline", action="store_true", help="offline interviewer and grader even if a model is set")
    p.add_argument("--seed", type=int, default=None, help="plan seed (same seed, same questions)")
    p.add_argument("--resume", metavar="ID", default=None,
                   help="continue an interview started here and stopped (see `sessions`)")
    p.set_defaults(handler=run_interview)

    g = sub.add_parser("grade", help="grade one answer (key points from --reference or the best bank match)")
    g.add_argument("--question", required=True)
    given = g.add_mutually_exclusive_group(required=True)
    given.add_argument("--answer", help="the answer text")
    given.add_argument("--answer-file", metavar="PATH", help="read the answer from a file ('-' = stdin)")
    g.add_argument("--reference", default=None, help="reference answer text; split into key points")
    g.add_argument("--lang", choices=["zh", "en"], default="zh")
    g.add_argument("--offline", action="store_true", help="offline grader even if a model is set")
    g.add_argument("--json", action="store_true", help="print the grade as JSON")
    g.set_defaults(handler=run_grade)


# --------------------------------------------------------------------------- printing

def grade_card(grade, language: str = "zh") -> str:
    """A grade as text: total, criteria, key points, summary and where the grade came from."""
    from interviewer.grading.rubric import criterion_name

    lines = []
    if grade.status == "graded":
        lines.append(f"== 得分 {grade.total:.1f}/10 ==" if language == "zh" else f"== Score {grade.total:.1f}/10 ==")
        for c in grade.criteria:
            lines.append(f"  {criterion_name(c.criterion, language)}: {c.score:.1f}  {c.reason}".rstrip())
        marks = {"covered": "✔", "partly": "◐", "missing": "✘", "wrong": "✗!"}
        for v in grade.key_points:
            lines.append(f"  {marks.get(v.status.value, '?')} {v.point}")
        if grade.summary:
            lines.append(f"  {grade.summary}")
    else:
        lines.append(("== 未评分：" if language == "zh" else "== Not graded: ") + f"{grade.not_graded_reason} ==")
    p = grade.provenance
    source = f"{p.grader} {p.grader_version}" + (f", {p.model} @ {p.endpoint_host}" if p.grader == "llm" else "")
    if p.structured_mode:
        source += f", {p.structured_mode}"
    if p.fallback_reason:
        source += f", offline fallback: {p.fallback_reason}"
    lines.append(f"  [{source}; {p.rubric_version}]")
    return "\n".join(lines)


def report_text(report, language: str = "zh") -> str:
    zh = language == "zh"
    overall = "-" if report.overall is None else f"{report.overall:.1f}/10"
    lines = ["", "==== 面试报告 ====" if zh else "==== Interview report ====",
             (f"总分 {overall}；已评分 {report.graded}，未评分 {report.not_graded}，跳过 {report.skipped}" if zh else
              f"Overall {overall}; graded {report.graded}, not graded {report.not_graded}, skipped {report.skipped}")]
    for topic, score in report.by_topic.items():
        lines.append(f"  {topic}: {score:.1f}")
    if report.strongest:
        lines.append(("强项：" if zh else "Strongest: ") + "；".join(report.strongest))
    if report.weakest:
        lines.append(("待加强：" if zh else "To work on: ") + "；".join(report.weakest))
    return "\n".join(lines)


def _print_events(events, out) -> None:
    streaming = False
    for e in events:
        if e.type == "delta":
            if not streaming:
                out.write("面试官: ")
            out.write(e.delta)
            out.flush()
            streaming = True
        elif e.type in ("turn", "notice") and e.turn is not None:
            turn = e.turn
            if turn.role == "candidate":
                continue  # the candidate typed it already
            if streaming:
                out.write("\n")
                streaming = False
                if turn.role == "interviewer":
                    continue  # already shown by the deltas (same text)
            prefix = {"interviewer": "面试官: ", "system": "[提示] "}.get(turn.role, "")
            out.write(f"{prefix}{turn.text}\n")
        elif e.type == "grade":
            out.write(grade_card(e.grade) + "\n")
    out.flush()


# --------------------------------------------------------------------------- handlers

def _settings(offline: bool):
    from interviewer.config import Settings

    settings = Settings.from_env()
    if offline:
        settings = settings.model_copy(update={"interviewer": "offline"})
    return settings


def run_interview(args: argparse.Namespace, stdin=None, out=None) -> int:
    from pydantic import ValidationError

    from interviewer.models import SessionConfig
    from interviewer.service import DataDirError, build_services

    stdin = stdin or sys.stdin
    out = out or sys.stdout
    try:
        config = SessionConfig(topics=args.topic, sections=args.section, n_questions=args.n_questions,
                               followups=not args.no_followups, max_followups=args.max_followups,
                               language=args.lang, seed=args.seed)
    except ValidationError as exc:
        print(f"error: {exc.errors()[0]['loc'][0]}: {exc.errors()[0]['msg']}", file=sys.stderr)
        return 2
    settings = _settings(args.offline)
    try:
        # The same wiring as the app; a broken store must not stop practice, so say so and go on.
        services = build_services(settings, offline=args.offline, require_store=False)
    except DataDirError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if services.store_error:
        print(f"warning: transcripts not saved ({services.store_error})", file=sys.stderr)
    engine = services.engine
    if args.resume:
        state = _resumed(services, args.resume)
        if state is None:
            return 1
    else:
        try:
            state = engine.start(config)
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    out.write(f"{settings.describe_interviewer() if not args.offline else 'Offline interviewer'} — "
              f"{len(state.plan)} 题；/skip 跳过，/repeat 重复，/end 结束\n")
    if services.store is not None:
        out.write(f"session {state.id} (stopped? continue with: python -m interviewer interview --resume {state.id})\n")
    _print_events(engine.open(state), out)
    while state.phase.value != "finished":
        line = stdin.readline()
        if not line:  # end of input: grade what was answered and finish
            _print_events(engine.end(state), out)
            break
        text = line.rstrip("\n")
        command = COMMANDS.get(text.strip().lower())
        events = getattr(engine, command)(state) if command else engine.answer(state, text)
        _print_events(events, out)
    out.write(report_text(engine.report(state), args.lang) + "\n")
    out.write(f"session {state.id}\n")
    return 0


def _resumed(services, session_id: str):
    """The stored interview to continue (the command line's sessions have no owner), or None after
    saying why."""
    from interviewer.service import UnusableState

    if services.store is None:
        print("error: the transcript store is not available, so no interview can be resumed", file=sys.stderr)
        return None
    try:
        state = services.resume(session_id, owner="")
    except UnusableState as exc:
        print(f"error: {exc}", file=sys.stderr)
        return None
    if state is None:
        print(f"error: no interview {session_id!r} started from the command line (see `sessions`)", file=sys.stderr)
    return state


def run_grade(args: argparse.Namespace, out=None, stdin=None) -> int:
    from interviewer.bank.embedding import Embedder
    from interviewer.bank.keypoints import split_points
    from interviewer.engine.factory import build_grader
    from interviewer.engine.session import card_key_points
    from interviewer.models import QuestionKind

    out = out or sys.stdout
    answer = _read_answer(args, stdin)
    if answer is None:
        return 1
    if not answer.strip():
        print("error: the answer is empty; nothing to grade", file=sys.stderr)
        return 1
    settings = _settings(args.offline)
    embedder = Embedder()
    kind = QuestionKind.concept
    source: dict = {}
    if args.reference:
        key_points = split_points(args.reference)
        source = {"reference": "given"}
    else:
        from interviewer.bank.bank import QuestionBank
        from interviewer.text import search_tokens

        hits = QuestionBank.open(settings, embedder=embedder).search(args.question, k=1)
        if not hits:
            print("error: no reference given and no matching question in the bank", file=sys.stderr)
            return 2
        card = hits[0].card
        key_points, kind = card_key_points(card), card.kind
        asked = set(search_tokens(args.question))
        shared = len(asked & set(search_tokens(card.question + " " + " ".join(key_points)))) / max(1, len(asked))
        source = {"card_id": card.id, "card_question": card.question, "similarity": round(hits[0].dense, 3),
                  "shared_terms": round(shared, 2)}
        match = (f"bank card {card.id} ({card.question!r}; similarity {hits[0].dense:.2f}, "
                 f"{shared:.0%} of the question's terms)")
        if hits[0].dense < MIN_DENSE_SIMILARITY and shared < MIN_SHARED_TERMS:
            print(f"error: no bank card is about this question; the nearest is {match}. Give the key points "
                  "with --reference", file=sys.stderr)
            return 1
    grader = build_grader(settings, embedder, offline=args.offline)
    content = None
    if "card_id" in source:
        from interviewer.grading.content import CardContent

        content = CardContent.of(card)
    grade = grader.grade(args.question, key_points, answer, kind=kind, language=args.lang, content=content)
    if args.json:
        out.write(json.dumps({"grade": grade.model_dump(mode="json"), "key_points_from": source},
                             ensure_ascii=False, indent=2) + "\n")
    else:
        if "card_id" in source:
            out.write(f"key points from {match}\n")
        out.write(grade_card(grade, args.lang) + "\n")
    return 0 if grade.status == "graded" else 1


def _read_answer(args: argparse.Namespace, stdin) -> str | None:
    """The answer from --answer, or --answer-file (a path, or '-' for stdin); None after an error."""
    if args.answer is not None:
        return args.answer
    if args.answer_file == "-":
        return (stdin or sys.stdin).read()
    from interviewer.bank.corpus import CorpusError, decode

    try:
        return decode(Path(args.answer_file).read_bytes())[0]
    except OSError as exc:
        print(f"error: cannot read {args.answer_file}: {exc.strerror or exc}", file=sys.stderr)
    except CorpusError as exc:
        print(f"error: {args.answer_file}: {exc}", file=sys.stderr)
    return None
