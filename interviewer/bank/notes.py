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

from interviewer.models import TOPICS, Fact, FollowUp, Misconception, QuestionCard, QuestionKind

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
    misconceptions: list[Misconception] = Field(default_factory=list)
    facts: list[Fact] = Field(default_factory=list)
    followups: list[FollowUp] = Field(default_factory=list)
    model_answer: str = ""
    model_answer_en: str = ""
    # The source's wording is kept on the card; the bank asks this instead (a heading, not a question).
    question_override: str | None = None
    # "<doc stem>:<NNN>": the same question as that card. One card is kept, with both places.
    same_as: str | None = None

    def problems(self) -> list[str]:
        """What does not fit inside the entry itself: content tied to key points that do not exist."""
        n = len(self.key_points)
        out = [f"key point {i} is empty" for i, p in enumerate(self.key_points) if not p.strip()]
        if self.followups and len(self.followups) != n:
            out.append(f"{len(self.followups)} follow-ups for {n} key points")
        out += [f"misconception {i} names key point {m.point} of {n}"
                for i, m in enumerate(self.misconceptions) if m.point >= n]
        out += [f"fact {i} names key point {f.point} of {n}" for i, f in enumerate(self.facts) if f.point >= n]
        return out


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
    duplicates: dict[str, str] = {}
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
        inner = entry.problems()
        if inner:
            report.problems += [f"{where}: {p}" for p in inner]
            continue
        update: dict = {"key_points": [p.strip() for p in entry.key_points],
                        "correction": entry.correction or None,
                        "misconceptions": entry.misconceptions, "facts": entry.facts,
                        "followups": entry.followups, "model_answer": entry.model_answer.strip(),
                        "model_answer_en": entry.model_answer_en.strip()}
        if entry.question_override:
            update.update(question=entry.question_override.strip(), source_question=card.question)
        topics = [t for t in entry.topics if t in TOPICS]
        if topics:
            update["topics"] = topics
        if entry.kind is not None:
            update["kind"] = entry.kind
        if entry.difficulty is not None:
            update["difficulty"] = entry.difficulty
        out[idx] = card.model_copy(update=update)
        report.applied += 1
        if entry.same_as:
            duplicates[card.id] = entry.same_as
    return _merge_duplicates(out, duplicates, report), report


def _merge_duplicates(cards: list[QuestionCard], duplicates: dict[str, str],
                      report: NotesReport) -> list[QuestionCard]:
    """One card per question: a card marked `same_as` another is dropped, and the kept card
    records where else the sources ask it (so the question is never planned twice)."""
    ids = {c.id for c in cards}
    kept: dict[str, list[str]] = {}
    for dup, target in duplicates.items():
        if target not in ids or target in duplicates:
            report.problems.append(f"{dup}: same_as {target!r} is not a kept card; both stay")
            continue
        kept.setdefault(target, []).append(dup)
    dropped = {d for ds in kept.values() for d in ds}
    return [c.model_copy(update={"also_at": sorted(kept[c.id])}) if c.id in kept else c
            for c in cards if c.id not in dropped]


def notes_path(corpus_dir: Path) -> Path:
    return corpus_dir / NOTES_FILE


