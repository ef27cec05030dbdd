"""Grade the card probes of tests/data/card_probes/*.json with the real offline grader.

    uv run --frozen python scripts/check_card_probes.py [tests/data/card_probes/NAME.json ...]
        [--card DOC:NNN] [-v]

A probe file is {"cards": [{"card": "<doc stem>:<NNN>", "wrong": [{"text", "point", "lang"}, ...],
"right": [{"text", "lang"}, ...]}]}. Cards are loaded the way the bank loads them (extraction plus
corpus/key_points.json), and graded the way an interview grades them (engine.grade_answer's call).
Reported per card:
- a `wrong` probe is caught when its `point` is marked wrong; it should also score <= 4/10;
- a `right` probe, each key point's own text and both model answers must get no point marked wrong.
Exit status 1 when any right-side text is flagged wrong (the error that tells a candidate the truth is wrong).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from interviewer.bank.bank import QuestionBank  # noqa: E402
from interviewer.bank.corpus import load_corpus  # noqa: E402
from interviewer.bank.embedding import Embedder  # noqa: E402
from interviewer.bank.notes import notes_path  # noqa: E402
from interviewer.engine.session import card_key_points  # noqa: E402
from interviewer.grading.content import CardContent  # noqa: E402
from interviewer.grading.offline import OfflineGrader  # noqa: E402
from interviewer.models import KeyPointStatus  # noqa: E402

MAX_WRONG_SCORE = 4.0


def load_cards(corpus: Path) -> dict:
    docs, _ = load_corpus(corpus)
    cards, _, problems = QuestionBank._extract(docs, notes_path(corpus))
    if problems:
        print("notes problems:", *problems, sep="\n  ", file=sys.stderr)
    return {c.id: c for c in cards}


def flagged(grade) -> list[int]:
    return [i for i, v in enumerate(grade.key_points) if v.status == KeyPointStatus.wrong]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("files", nargs="*", type=Path)
    ap.add_argument("--card", action="append", default=[], help="only this card (repeatable)")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args(argv)
    files = args.files or sorted((REPO / "tests" / "data" / "card_probes").glob("*.json"))
    cards = load_cards(REPO / "corpus")
    grader = OfflineGrader(Embedder())

    def grade(card, text, lang):
        return grader.grade(card.question, card_key_points(card), text, kind=card.kind, language=lang,
                            content=CardContent.of(card))

    n_wrong = caught = low = n_right = false_wrong = 0
    for path in files:
        for entry in json.loads(path.read_text(encoding="utf-8"))["cards"]:
            cid = entry["card"]
            if args.card and cid not in args.card:
                continue
            card = cards.get(cid)
            if card is None:
                print(f"{cid}: no such card", file=sys.stderr)
                continue
            lines = []
            for p in entry.get("wrong", []):
                g = grade(card, p["text"], p.get("lang", "zh"))
                hit = p["point"] in flagged(g)
                n_wrong += 1
                caught += hit
                low += g.total <= MAX_WRONG_SCORE
                if args.verbose or not hit or g.total > MAX_WRONG_SCORE:
                    lines.append(f"  wrong p{p['point']} {'CAUGHT' if hit else 'missed'} total={g.total:.1f} "
                                 f"flags={flagged(g)} :: {p['text'][:70]}")
            rights = [(p["text"], p.get("lang", "zh"), "right") for p in entry.get("right", [])]
            rights += [(kp, "zh", f"key point {i}") for i, kp in enumerate(card.key_points)]
            rights += [(card.model_answer, "zh", "model_answer"), (card.model_answer_en, "en", "model_answer_en")]
            for text, lang, what in rights:
                if not text.strip():
                    continue
                g = grade(card, text, lang)
                n_right += 1
                if flagged(g):
                    false_wrong += 1
                    bad = [(i, g.key_points[i].evidence[:60]) for i in flagged(g)]
                    lines.append(f"  FALSE WRONG on {what}: {bad} :: {text[:60]}")
                elif args.verbose and what == "right":
                    lines.append(f"  right ok total={g.total:.1f} :: {text[:60]}")
            print(cid, *lines, sep="\n")
    print(f"wrong probes caught: {caught}/{n_wrong}; scored <= {MAX_WRONG_SCORE:g}: {low}/{n_wrong}; "
          f"right-side texts flagged wrong: {false_wrong}/{n_right}")
    return 1 if false_wrong else 0


if __name__ == "__main__":
    raise SystemExit(main())
