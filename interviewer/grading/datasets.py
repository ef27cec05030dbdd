"""Rows of the human-scored grading sets, resolved to what the grader needs.

A row names its reference answer (`reference`, split into key points by `split_points`) or a bank card
(`card_id`, as in bank_answers_dev.jsonl): then the card's reviewed key points, misconceptions and
facts come from the notes file `corpus/key_points.json` (or MIANSHI_CORPUS_DIR's).
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from interviewer.bank.keypoints import split_points
from interviewer.models import QuestionKind


def corpus_dir() -> Path:
    from interviewer.config import REPO_ROOT

    return Path(os.environ.get("MIANSHI_CORPUS_DIR") or REPO_ROOT / "corpus").expanduser()


def card_id(doc: str, position: int) -> str:
    return f"{Path(doc).stem}:{position:03d}"


@lru_cache(maxsize=4)
def _cards(path: str, mtime: float) -> dict:
    from interviewer.bank.notes import load_notes

    notes = load_notes(Path(path))
    return {card_id(e.doc, e.position): e for e in (notes.cards if notes else [])}


def notes_cards(path: Path | None = None) -> dict:
    """card id -> NotesEntry of the notes file (empty when it does not exist)."""
    from interviewer.bank.notes import notes_path

    path = path or notes_path(corpus_dir())
    return _cards(str(path), path.stat().st_mtime if path.exists() else 0.0)


def row_task(row: dict, cards: dict | None = None):
    """(key points, CardContent or None, question kind) for a grading-set row.

    Raises KeyError naming the card when a `card_id` row's card is not in the notes file."""
    from interviewer.grading.content import CardContent

    if row.get("card_id"):
        cards = notes_cards() if cards is None else cards
        entry = cards.get(row["card_id"])
        if entry is None:
            raise KeyError(f"card {row['card_id']} is not in the notes file")
        kind = QuestionKind.coding if entry.kind == QuestionKind.coding else QuestionKind.concept
        return list(entry.key_points), CardContent.of(entry), kind
    return split_points(row.get("reference") or ""), None, QuestionKind.concept


def reference_text(row: dict, cards: dict | None = None) -> str:
    """The reference a baseline compares with: the row's reference, or its card's key points."""
    if row.get("card_id"):
        points, _, _ = row_task(row, cards)
        return "\n".join(points)
    return row.get("reference") or ""

