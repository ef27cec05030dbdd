"""Export a session as Markdown (to read and share) or JSON (complete), and import JSON back.

Markdown is meant to be pasted anywhere Markdown is rendered, so every piece of text that did
not come from us (the candidate's answers above all, but also model-written questions, reasons
and evidence quoting the answer) is escaped or fenced: an answer containing ``<script>`` or
``[link](javascript:...)`` is shown as those characters, never rendered.

The JSON file carries everything needed to restore the session for review (every turn, every
grade including superseded ones, provenance), a format marker and a version. It deliberately
leaves out the owner id: that opaque browser id is what lets a browser see its sessions, so a
shared file must not carry it.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from interviewer.grading.rubric import criterion_name
from interviewer.models import KeyPointStatus, SessionConfig, TokenUsage, Turn, utcnow
from interviewer.safe_names import valid_session_id
from interviewer.store import (
    GradeRecord,
    Scrubber,
    SessionExists,
    SessionRecord,
    StoredGrade,
    TranscriptStore,
)

FORMAT = "mianshi-session"
FORMAT_VERSION = 1
MAX_IMPORT_BYTES = 20 * 1024 * 1024
# An export nests about 8 levels deep; far deeper is not one, and Python's parser and validators
# recurse (a 400 KB `[[[...]]]` ended in RecursionError).
MAX_DEPTH = 64


class InvalidExport(ValueError):
    """A file that is not a valid Mianshi session export. ``str(err)`` says what is wrong."""


# --------------------------------------------------------------------------- JSON format

class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ExportedGrade(GradeRecord):
    model_config = ConfigDict(extra="forbid")


class ExportedSession(_Strict):
    id: str = Field(min_length=1, max_length=200)
    created_at: datetime
    updated_at: datetime
    status: Literal["active", "finished"]
    config: SessionConfig
    plan: list[str]
    interviewer_label: str = ""
    grader_label: str = ""
    state: dict[str, Any] | None = None
    # Totals of the model calls (and the cost at the exporter's prices): information, recomputed
    # from state.usage on import, never trusted from the file.
    usage: dict[str, Any] | None = None


class ExportFile(_Strict):
    format: Literal["mianshi-session"]
    format_version: int = Field(ge=1)
    exported_at: datetime
    session: ExportedSession
    turns: list[Turn]
    grades: list[ExportedGrade]

    @field_validator("format_version")
    @classmethod
    def _known_version(cls, v: int) -> int:
        if v > FORMAT_VERSION:
            raise ValueError(f"written by a newer Mianshi (format version {v}; this one reads up to "
                             f"{FORMAT_VERSION})")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> ExportFile:
        indexes = [t.index for t in self.turns]
        if len(set(indexes)) != len(indexes):
            raise ValueError("two turns have the same index")
        current = [g.question_id for g in self.grades if g.is_current]
        if len(set(current)) != len(current):
            raise ValueError("a question has more than one current grade")
        return self


def _usage(record: SessionRecord) -> TokenUsage:
    try:
        return TokenUsage.model_validate((record.state or {}).get("usage") or {})
    except ValueError:
        return TokenUsage()


def to_json(record: SessionRecord, scrubber: Scrubber | None = None,
            price_per_mtok: tuple[float, float] | None = None) -> dict[str, Any]:
    """The complete export as a JSON-ready dict (see ExportFile).

    Without a scrubber, the secret-looking environment variables' values are redacted.
    """
    scrub = scrubber or Scrubber.from_settings(None)
    state = None
    if record.state is not None:
        state = {k: v for k, v in record.state.items() if k != "turns"}  # turns are exported below
        state["owner"] = ""
    data = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "exported_at": utcnow().isoformat(),
        "session": {
            "id": record.id, "created_at": record.created_at.isoformat(),
            "updated_at": record.updated_at.isoformat(), "status": record.status,
            "config": SessionConfig.model_validate(record.config).model_dump(mode="json"),
            "plan": record.plan, "interviewer_label": record.interviewer_label,
            "grader_label": record.grader_label, "state": state,
            "usage": _usage(record).summary(price_per_mtok),
        },
        "turns": [t.model_dump(mode="json") for t in record.turns],
        "grades": [
            ExportedGrade(question_id=g.question_id, answer=g.answer, grade=g.grade, grader=g.grader,
                          model=g.model, rubric_version=g.rubric_version, topics=g.topics,
                          created_at=g.created_at, is_current=g.is_current).model_dump(mode="json")
            for g in sorted(record.grades, key=lambda g: g.id)
        ],
    }
    return scrub(data)


def dumps_json(record: SessionRecord, scrubber: Scrubber | None = None,
               price_per_mtok: tuple[float, float] | None = None) -> str:
    return json.dumps(to_json(record, scrubber, price_per_mtok), ensure_ascii=False, indent=2) + "\n"


def parse_export(data: dict | str | bytes) -> ExportFile:
    """Validate an export; raise InvalidExport with a short, specific message."""
    if isinstance(data, (bytes, bytearray)):
        if len(data) > MAX_IMPORT_BYTES:
            raise InvalidExport(f"file too large ({len(data)} bytes; at most {MAX_IMPORT_BYTES})")
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise InvalidExport(f"not a Mianshi session file: not UTF-8 text ({exc.reason})") from exc
    if isinstance(data, str):
        try:
            data = json.loads(data)
        except json.JSONDecodeError as exc:
            raise InvalidExport(f"not a Mianshi session file: invalid JSON at line {exc.lineno}, "
                                f"column {exc.colno}: {exc.msg}") from exc
        except RecursionError:
            data = _TOO_DEEP
    if data is _TOO_DEEP or _depth(data) > MAX_DEPTH:
        raise InvalidExport(f"not a Mianshi session file: JSON nested more than {MAX_DEPTH} levels deep")
    if not isinstance(data, dict):
        raise InvalidExport("not a Mianshi session file: the top level must be a JSON object")
    if data.get("format") != FORMAT:
        raise InvalidExport(f"not a Mianshi session file: \"format\" must be {FORMAT!r}")
    try:
        return ExportFile.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors()[:5]:
            where = ".".join(str(p) for p in err["loc"]) or "file"
            problems.append(f"{where}: {err['msg']}")
        more = f" (and {exc.error_count() - 5} more)" if exc.error_count() > 5 else ""
        raise InvalidExport("invalid Mianshi session file: " + "; ".join(problems) + more) from exc


_TOO_DEEP = object()  # what the parser's RecursionError leaves


def _depth(value: Any) -> int:
    """How deep lists and objects nest in parsed JSON, counted without recursing."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (list, dict)):
            deepest = max(deepest, depth)
            if deepest > MAX_DEPTH:
                return deepest
            stack.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


def import_json(store: TranscriptStore, data: dict | str | bytes, owner: str = "") -> str:
    """Restore an exported session for review; return its id in this store.

    The file's id is kept when it is free and a plain id (letters, digits, - and _, at most 64),
    otherwise the session gets a new id (turns, grades and the snapshot are rewritten to it): an
    id from a file must not carry a path, control characters or escapes into the store. The
    session belongs to ``owner`` (the importing browser; "" from the command line), since files
    carry no owner.
    """
    export = parse_export(data)
    s = export.session
    wanted = s.id if valid_session_id(s.id) else uuid.uuid4().hex
    for attempt in range(3):
        sid = wanted if attempt == 0 else uuid.uuid4().hex
        state = None
        if s.state is not None:
            state = dict(s.state, id=sid, owner=owner)
            state.pop("turns", None)
        record = SessionRecord(
            id=sid, owner=owner, created_at=s.created_at, updated_at=s.updated_at, status=s.status,
            n_questions=len(s.plan), n_answered=0, n_graded=0, overall=None, topics=[],
            interviewer_label=s.interviewer_label, grader_label=s.grader_label,
            config=s.config.model_dump(mode="json"), plan=s.plan, state=state,
            turns=[t.model_copy(update={"session_id": sid}) for t in export.turns],
            grades=[StoredGrade(id=i, session_id=sid, **g.model_dump()) for i, g in enumerate(export.grades)],
        )
        try:
            return store.restore_session(record)
        except SessionExists:
            continue
    raise SessionExists("could not find a free id for the imported session")  # 2 uuid4 collisions


# --------------------------------------------------------------------------- Markdown

_INLINE_SPECIAL = re.compile(r"([\\`*_\[\]<>|~&])")
_LINE_START = re.compile(r"^(\s*)([#>+\-=]|\d+[.)])")

_LABELS = {
    "zh": {"title": "模拟面试记录", "date": "时间", "status": "状态", "interviewer": "面试官", "grader": "评分",
           "topics": "主题", "questions": "题数", "answered": "已答", "graded": "已评分", "overall": "总分",
           "question": "题目", "candidate": "候选人", "followup": "追问", "skipped": "（跳过）",
           "empty": "（空）", "grade": "评分", "criterion": "维度", "score": "得分", "weight": "权重",
           "reason": "理由", "key_points": "要点", "summary": "总结", "graded_by": "评分来源",
           "superseded": "之前的评分（已被重新评分取代）", "not_graded": "未评分", "evidence": "依据",
           "fallback": "回退原因", "notice": "提示", "none": "无", "repeat": "（请求重复问题）",
           "end": "（结束面试）", "model_answer": "参考答案"},
    "en": {"title": "Mock interview transcript", "date": "Date", "status": "Status", "interviewer": "Interviewer",
           "grader": "Grader", "topics": "Topics", "questions": "Questions", "answered": "answered",
           "graded": "graded", "overall": "Overall", "question": "Question", "candidate": "Candidate",
           "followup": "Follow-up", "skipped": "(skipped)", "empty": "(empty)", "grade": "Grade",
           "criterion": "Criterion", "score": "Score", "weight": "Weight", "reason": "Reason",
           "key_points": "Key points", "summary": "Summary", "graded_by": "Graded by",
           "superseded": "Earlier grades (superseded by a regrade)", "not_graded": "Not graded",
           "evidence": "evidence", "fallback": "fallback", "notice": "Notice", "none": "none",
           "repeat": "(asked to repeat the question)", "end": "(ended the interview)",
           "model_answer": "Model answer"},
}
_STATUS_MARK = {KeyPointStatus.covered: "✅", KeyPointStatus.partly: "◐", KeyPointStatus.missing: "❌",
                KeyPointStatus.wrong: "⚠️"}


def md_escape(text: str) -> str:
    """Escape text for a Markdown paragraph: shown literally, never as HTML, links or formatting."""
    lines = []
    for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        line = _INLINE_SPECIAL.sub(r"\\\1", line)
        line = _LINE_START.sub(lambda m: m.group(1) + "\\" + m.group(2), line)
        lines.append(line.strip())
    # Hard line breaks keep the author's lines without starting new blocks.
    return "  \n".join(lines).strip()


def md_cell(text: str) -> str:
    """Escape text for one table cell (one line; the pipe is already escaped)."""
    return md_escape(" ".join(text.split()))


def md_fence(text: str, info: str = "text") -> str:
    """A fenced block that no backtick run inside the text can close early."""
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{info}\n{text.rstrip()}\n{fence}"


def _fmt_dt(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC")


def _provenance_line(g: StoredGrade, L: dict[str, str]) -> str:
    p = g.grade.provenance
    parts = [f"{p.grader} grader {p.grader_version}", f"rubric {p.rubric_version}"]
    if p.model:
        parts.append(f"model {p.model}" + (f" @ {p.endpoint_host}" if p.endpoint_host else ""))
    if p.structured_mode:
        parts.append(p.structured_mode)
    if p.prompt_file:
        parts.append(f"prompt {p.prompt_file}" + (f" ({p.prompt_sha256[:12]})" if p.prompt_sha256 else ""))
    parts.append(_fmt_dt(g.created_at))
    line = f"*{L['graded_by']}: {md_escape(' · '.join(parts))}*"
    if p.fallback_reason:
        line += f"  \n*{L['fallback']}: {md_escape(p.fallback_reason)}*"
    return line


def _grade_card(g: StoredGrade, L: dict[str, str], language: str) -> list[str]:
    grade = g.grade
    out: list[str] = []
    if grade.status != "graded" or grade.total is None:
        out.append(f"#### {L['grade']}: {L['not_graded']}")
        if grade.not_graded_reason:
            out += ["", md_escape(grade.not_graded_reason)]
    else:
        out.append(f"#### {L['grade']}: {grade.total:.1f} / 10")
    if grade.criteria:
        out += ["", f"| {L['criterion']} | {L['score']} | {L['weight']} | {L['reason']} |", "|---|---:|---:|---|"]
        for c in grade.criteria:
            out.append(f"| {md_cell(criterion_name(c.criterion, language))} | {c.score:.1f} | {c.weight:g} | "
                       f"{md_cell(c.reason) or '—'} |")
    if grade.key_points:
        out += ["", f"**{L['key_points']}:**", ""]
        for kp in grade.key_points:
            item = f"- {_STATUS_MARK.get(kp.status, '')} {kp.status.value} — {md_escape(' '.join(kp.point.split()))}"
            if kp.evidence:
                item += f" ({L['evidence']}: “{md_escape(' '.join(kp.evidence.split()))}”)"
            out.append(item)
    if grade.summary:
        out += ["", f"**{L['summary']}:** {md_escape(grade.summary)}"]
    if grade.model_answer:
        out += ["", f"**{L['model_answer']}:** {md_escape(' '.join(grade.model_answer.split()))}"]
    out += ["", _provenance_line(g, L)]
    return out


def to_markdown(record: SessionRecord, scrubber: Scrubber | None = None, language: str | None = None,
                price_per_mtok: tuple[float, float] | None = None) -> str:
    """A readable transcript: header, then per question the dialogue and the grade card.

    Without a scrubber, the secret-looking environment variables' values are redacted.
    """
    scrub = scrubber or Scrubber.from_settings(None)
    record = SessionRecord.model_validate(scrub(record.model_dump(mode="json")))
    language = language or str(record.config.get("language") or "zh")
    L = _LABELS.get(language, _LABELS["en"])
    questions_text = (record.state or {}).get("records") or {}

    out = [f"# {L['title']}", ""]
    overall = f"{record.overall:.1f} / 10" if record.overall is not None else L["none"]
    out += [
        f"- **{L['date']}:** {_fmt_dt(record.created_at)} · **{L['status']}:** {record.status}",
        f"- **{L['interviewer']}:** {md_escape(record.interviewer_label) or '—'} · "
        f"**{L['grader']}:** {md_escape(record.grader_label) or '—'}",
        f"- **{L['topics']}:** {md_escape(', '.join(record.topics)) or L['none']}",
        f"- **{L['questions']}:** {record.n_questions} ({L['answered']} {record.n_answered}, "
        f"{L['graded']} {record.n_graded})",
        f"- **{L['overall']}:** {overall}",
        f"- Session: {md_escape(record.id)}",
    ]
    usage = _usage(record).line(price_per_mtok, language)
    if usage:
        out.append(f"- {md_escape(usage)}")
    for notice in (t for t in record.turns if t.question_id is None):
        out += ["", f"> {L['notice']}: {md_escape(notice.text)}"]

    for n, view in enumerate(record.questions(), start=1):
        rec = questions_text.get(view.question_id) or {}
        heading = " ".join(str(rec.get("question") or "").split())
        out += ["", f"## {L['question']} {n}" + (f": {md_escape(heading)}" if heading else ""), "",
                f"*{md_escape(view.question_id)}*"
                + (f" · {md_escape(', '.join(rec.get('topics') or []))}" if rec.get("topics") else "")]
        for t in view.turns:
            out.append("")
            if t.role == "interviewer":
                label = L["followup"] if t.kind == "followup" else L["interviewer"]
                out.append(f"**{label}:** {md_escape(t.text)}")
            elif t.role == "candidate" and t.kind == "answer":
                out.append(f"**{L['candidate']}:**" + (" *(truncated)*" if t.truncated else ""))
                out += ["", md_fence(t.text) if t.text.strip() else f"*{L['empty']}*"]
            elif t.role == "candidate":
                mark = {"skip": L["skipped"], "repeat": L["repeat"], "end": L["end"]}.get(t.kind, t.kind)
                out.append(f"**{L['candidate']}:** *{mark}*")
            else:
                out.append(f"> {L['notice']}: {md_escape(t.text)}")
        if view.grade is not None:
            out += [""] + _grade_card(view.grade, L, language)
        if view.superseded:
            out += ["", f"<details><summary>{L['superseded']}</summary>", ""]
            for old in view.superseded:
                total = f"{old.grade.total:.1f} / 10" if old.grade.total is not None else L["not_graded"]
                out += [f"- {total} — {_provenance_line(old, L)}"]
            out += ["", "</details>"]
    return "\n".join(out).rstrip() + "\n"
