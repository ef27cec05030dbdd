"""The reviewed notes file `corpus/key_points.json`: key points, corrections and overrides per card.

Entries are matched to cards by (doc, position) and validated by question text, so an entry that
drifted (the extractor now numbers the document differently) is reported instead of silently
attaching the wrong key points to a card.
"""

from __future__ import annotations

import difflib
import json
import unicodedata
from pathlib import Path

from pydantic import BaseModel, Field, ValidationError

from interviewer.models import TOPICS, QuestionCard, QuestionKind

NOTES_FILE = "key_points.json"
# Below this similarity of normalised question texts an entry is reported as a mismatch.
MATCH_RATIO = 0.6


class NotesEntry(BaseModel):
    doc: str
    position: int = Field(ge=1)
    question: str
    topics: list[str] = Field(default_factory=list)
    kind: QuestionKind | None = None
    difficulty: int | None = Field(default=None, ge=1, le=3)
    key_points: list[str] = Field(default_factory=list)
    correction: str | None = None


class NotesFile(BaseModel):
    version: int = 1
    cards: list[NotesEntry] = Field(default_factory=list)


class NotesReport(BaseModel):
    path: str
    found: bool
    entries: int = 0
    applied: int = 0
    problems: list[str] = Field(default_factory=list)


class NotesError(ValueError):
    pass


def normalise_question(text: str) -> str:
    """Lowercase, NFKC, no whitespace, no punctuation: '什么是 LangChain?' == '什么是LangChain？'."""
    text = unicodedata.normalize("NFKC", text).lower()
    return "".join(ch for ch in text if not (ch.isspace() or unicodedata.category(ch)[0] in "PSZ"))


def question_similarity(a: str, b: str) -> float:
    na, nb = normalise_question(a), normalise_question(b)
    if not na or not nb:
        return 0.0
    if na == nb:
        return 1.0
    if na in nb or nb in na:
        return 0.9
    return difflib.SequenceMatcher(None, na, nb, autojunk=False).ratio()


def load_notes(path: Path) -> NotesFile | None:
    """The parsed notes file, None when it does not exist; NotesError when it is malformed."""
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return NotesFile.model_validate(data)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, ValidationError) as exc:
        raise NotesError(f"{path.name}: cannot be read: {str(exc).splitlines()[0]}") from None


def apply_notes(
    cards: list[QuestionCard], notes: NotesFile | None, path: Path
) -> tuple[list[QuestionCard], NotesReport]:
    """Cards with reviewed notes attached, and a report of every entry that did not fit."""
    report = NotesReport(path=str(path), found=notes is not None)
    if notes is None:
        return cards, report
    report.entries = len(notes.cards)
    by_key = {(c.doc, c.position): i for i, c in enumerate(cards)}
    out = list(cards)
    seen: dict[tuple[str, int], int] = {}
    for n, entry in enumerate(notes.cards):
        key = (entry.doc, entry.position)
        where = f"entry {n} ({entry.doc} #{entry.position} '{entry.question[:30]}')"
        if key in seen:
            report.problems.append(f"{where}: duplicates entry {seen[key]}")
            continue
        seen[key] = n
        idx = by_key.get(key)
        if idx is None:
            if any(c.doc == entry.doc for c in cards):
                report.problems.append(f"{where}: no card at this position")
            # Entries for documents that are not ingested (a user's own corpus) are not problems.
            continue
        card = out[idx]
        sim = question_similarity(entry.question, card.question)
        if sim < MATCH_RATIO:
            report.problems.append(
                f"{where}: question does not match card {card.id} '{card.question[:40]}' (similarity {sim:.2f})")
            continue
        unknown = [t for t in entry.topics if t not in TOPICS]
        if unknown:
            report.problems.append(f"{where}: unknown topics {unknown}")
        update: dict = {"key_points": [p.strip() for p in entry.key_points if p.strip()],
                        "correction": entry.correction or None}
        topics = [t for t in entry.topics if t in TOPICS]
        if topics:
            update["topics"] = topics
        if entry.kind is not None:
            update["kind"] = entry.kind
        if entry.difficulty is not None:
            update["difficulty"] = entry.difficulty
        out[idx] = card.model_copy(update=update)
        report.applied += 1
    return out, report


def notes_path(corpus_dir: Path) -> Path:
    return corpus_dir / NOTES_FILE


