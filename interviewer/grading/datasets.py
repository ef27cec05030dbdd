"""Rows of the human-scored grading sets, resolved to what the grader needs.

A row names its reference answer (`reference`, split into key points by `split_points`) or a bank card
(`card_id`, as in bank_answers_dev.jsonl): then the card's reviewed key points, misconceptions and
facts come from the notes file `corpus/key_points.json` (or MIANSHI_CORPUS_DIR's).
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from interviewer.keypoints import split_points
from interviewer.models import QuestionKind


def corpus_dir() -> Path:
    from interviewer.config import REPO_ROOT

    return Path(os.environ.get("MIANSHI_CORPUS_DIR") or REPO_ROOT / "corpus").expanduser()


def card_id(doc: str, position: int) -> str:
    return f"{Path(doc).stem}:{position:03d}"


@lru_cache(maxsize=4)
def _cards(path: str, mtime: float) -> dict:
    from interviewer.notes import load_notes

    notes = load_notes(Path(path))
    return {card_id(e.doc, e.position): e for e in (notes.cards if notes else [])}


def notes_cards(path: Path | None = None) -> dict:
    """card id -> NotesEntry of the notes file (empty when it does not exist)."""
    from interviewer.notes import notes_path

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
        return list(entry.key_points), CardContent(list(entry.misconceptions), list(entry.facts)), kind
    return split_points(row.get("reference") or ""), None, QuestionKind.concept


def reference_text(row: dict, cards: dict | None = None) -> str:
    """The reference a baseline compares with: the row's reference, or its card's key points."""
    if row.get("card_id"):
        points, _, _ = row_task(row, cards)
        return "\n".join(points)
    return row.get("reference") or ""


def baseline_and_kinds(rows: list[dict], totals: list[float]) -> dict:
    """`baseline_pearson` (the plain baseline, interviewer/grading/baseline.py, against the human
    scores) and, when rows carry a `kind`, `by_kind`: kind -> {n, grader_mean, human_mean} on 0-10."""
    from interviewer.evaluation import pearson, spearman
    from interviewer.grading.baseline import baseline_score

    human = [r["score"] / r["max_score"] * 10 for r in rows]
    base = [baseline_score(reference_text(r), r["answer"]) for r in rows]
    out: dict = {"baseline_pearson": pearson(base, human), "baseline_spearman": spearman(base, human)}
    kinds: dict[str, list[tuple[float, float]]] = {}
    for r, t, h in zip(rows, totals, human):
        if r.get("kind"):
            kinds.setdefault(str(r["kind"]), []).append((t, h))
    if kinds:
        out["by_kind"] = {k: {"n": len(v), "grader_mean": sum(t for t, _ in v) / len(v),
                              "human_mean": sum(h for _, h in v) / len(v)} for k, v in sorted(kinds.items())}
    return out
