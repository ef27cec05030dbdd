"""The cards' misconceptions and facts, exercised as a candidate meets them: answers written by the
content writers (tests/data/card_probes/*.json, written from domain knowledge, never from the grading
sets) are graded by the real offline grader with each card's content, as an interview grades them.

- A correct text (a right probe, a key point's own words, either model answer) never gets a point
  marked `wrong`: that verdict would tell a candidate the truth is wrong.
- Confident wrong answers (each states ONE error about a named key point, in other words than the
  card's claims) are caught on that point often enough, and a caught one costs: it scores low.

The floors are regression guards set below what was measured when the probes were written
(scripts/check_card_probes.py prints the per-probe detail).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from interviewer.engine.session import card_key_points
from interviewer.grading.content import CardContent
from interviewer.grading.offline import OfflineGrader
from interviewer.models import KeyPointStatus

PROBES = sorted((Path(__file__).parent / "data" / "card_probes").glob("*.json"))
# Share of wrong probes caught on their point, per probe file (each file is one writer's cards).
# Measured with offline-4 on 2026-12-01: c000 100/123, c0012 65/110, c003a 91/95, c003b 53/105;
# offline-5 with content wave 2: 313/433 (c000 102, c0012 67, c003a 90, c003b 54); offline-6: 310/433;
# no right-side text flagged.
CAUGHT_FLOOR = 0.45
# A caught wrong answer scores at most this (the rubric caps one wrong point at 3).
CAUGHT_MAX_TOTAL = 3.0


def _entries(path: Path) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))["cards"]


def _wrong_points(grade) -> list[int]:
    return [i for i, v in enumerate(grade.key_points) if v.status == KeyPointStatus.wrong]


@pytest.fixture(scope="module")
def grade(bank, embedder):
    grader = OfflineGrader(embedder)

    def run(card, text: str, lang: str):
        return grader.grade(card.question, card_key_points(card), text, kind=card.kind, language=lang,
                            content=CardContent.of(card))
    return run


def test_there_are_probes_for_every_document_of_the_bank(bank):
    probed = {e["card"].split(":")[0] for path in PROBES for e in _entries(path)}
    docs = {c.id.split(":")[0] for c in bank.cards()}
    assert docs <= probed, f"documents without probes: {sorted(docs - probed)}"


@pytest.mark.parametrize("path", PROBES, ids=lambda p: p.stem)
def test_correct_texts_are_never_marked_wrong(path, bank, grade):
    flagged = []
    for entry in _entries(path):
        card = bank.get(entry["card"])
        texts = [(p["text"], p.get("lang", "zh"), "right probe") for p in entry.get("right", [])]
        texts += [(kp, "zh", f"key point {i}") for i, kp in enumerate(card.key_points)]
        texts += [(card.model_answer, "zh", "model_answer"), (card.model_answer_en, "en", "model_answer_en")]
        for text, lang, what in texts:
            if text and text.strip():
                points = _wrong_points(grade(card, text, lang))
                if points:
                    flagged.append(f"{card.id} {what}: points {points} :: {text[:60]}")
    assert not flagged, "\n".join(flagged)


@pytest.mark.parametrize("path", PROBES, ids=lambda p: p.stem)
def test_confident_wrong_answers_are_caught_and_cost(path, bank, grade):
    n = caught = 0
    too_high = []
    for entry in _entries(path):
        card = bank.get(entry["card"])
        for probe in entry["wrong"]:
            g = grade(card, probe["text"], probe.get("lang", "zh"))
            n += 1
            if probe["point"] in _wrong_points(g):
                caught += 1
                if g.total > CAUGHT_MAX_TOTAL:
                    too_high.append(f"{card.id} p{probe['point']} total {g.total} :: {probe['text'][:60]}")
    assert n >= 20
    assert caught / n >= CAUGHT_FLOOR, f"caught {caught}/{n}"
    assert not too_high, "\n".join(too_high)
