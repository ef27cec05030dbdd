"""Grade card probes with the real offline grader: do a card's misconceptions and facts catch the wrong
answers written for it, and leave its correct answers alone?

    uv run --frozen python scripts/check_card_probes.py tests/data/card_probes/NAME.json [--verbose]

A probe file is {"cards": [{"card": "<doc stem>:<NNN>", "wrong": [{"text", "point", "lang"}, ...],
"right": [{"text", "lang"}, ...]}]}. Cards are loaded the way the bank loads them (extract the corpus
documents, apply corpus/key_points.json). For every card of the file this reports:
- wrong probes whose `point` is marked wrong, and those that also score <= 4/10;
- any key point marked wrong on a right probe, on a key point's own text or on a model answer
  (each such flag would tell a candidate that the truth is wrong).
Exit status 1 when a correct text gets a point marked wrong.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from interviewer.bank.corpus import load_corpus  # noqa: E402
from interviewer.bank.extract import extract_cards  # noqa: E402
from interviewer.bank.notes import apply_notes, load_notes  # noqa: E402
from interviewer.engine.session import card_key_points  # noqa: E402
from interviewer.grading.content import CardContent  # noqa: E402
from interviewer.grading.offline import OfflineGrader  # noqa: E402
from interviewer.models import KeyPointStatus  # noqa: E402

# A caught wrong answer should also cost: at most this total.
WRONG_MAX_TOTAL = 4.0


def load_cards(corpus_dir: Path) -> dict:
    docs, _ = load_corpus(corpus_dir)
    cards = [c for d in docs for c in extract_cards(d.text, d.name)]
    path = corpus_dir / "key_points.json"
    cards, report = apply_notes(cards, load_notes(path), path)
    if report.problems:
        print("notes problems:", *report.problems, sep="\n  ")
    return {c.id: c for c in cards}


def wrong_points(grade) -> list[int]:
    return [i for i, v in enumerate(grade.key_points) if v.status == KeyPointStatus.wrong]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("probes", nargs="+", type=Path)
    ap.add_argument("--corpus", type=Path, default=REPO / "corpus")
    ap.add_argument("--verbose", "-v", action="store_true")
    args = ap.parse_args(argv)
    cards = load_cards(args.corpus)
    grader = OfflineGrader()
    caught = cheap = total_wrong = false_flags = checked_right = 0
    for path in args.probes:
        for entry in json.loads(path.read_text(encoding="utf-8"))["cards"]:
            card = cards[entry["card"]]
            points = card_key_points(card)
            content = CardContent.of(card)

            def grade(text: str, lang: str, card=card, points=points, content=content):
                return grader.grade(card.question, points, text, kind=card.kind, language=lang, content=content)

            line = [f"{card.id}  M={len(card.misconceptions)} F={len(card.facts)}"]
            for w in entry.get("wrong", []):
                g = grade(w["text"], w.get("lang", "zh"))
                total_wrong += 1
                hit = w["point"] in wrong_points(g)
                caught += hit
                cheap += hit and g.total <= WRONG_MAX_TOTAL
                if args.verbose or not hit:
                    line.append(f"  {'CAUGHT' if hit else 'MISSED'} p{w['point']} total={g.total:.1f} "
                                f"wrong={wrong_points(g)} :: {w['text'][:90]}")
            rights = [(r["text"], r.get("lang", "zh"), "right") for r in entry.get("right", [])]
            rights += [(p, "zh", f"point {i}") for i, p in enumerate(points)]
            rights += [(card.model_answer, "zh", "model_answer")] if card.model_answer else []
            en = getattr(card, "model_answer_en", "")
            rights += [(en, "en", "model_answer_en")] if en else []
            for text, lang, what in rights:
                g = grade(text, lang)
                checked_right += 1
                if wrong_points(g):
                    false_flags += 1
                    flags = [(v.point[:30], v.evidence[:80]) for v in g.key_points if v.status == KeyPointStatus.wrong]
                    line.append(f"  FALSE-WRONG on {what}: {flags}")
                elif args.verbose and what == "right":
                    line.append(f"  ok right total={g.total:.1f}")
            print("\n".join(line))
    rate = caught / total_wrong if total_wrong else 0.0
    print(f"\nwrong probes caught: {caught}/{total_wrong} ({rate:.0%}); caught and total <= {WRONG_MAX_TOTAL}: "
          f"{cheap}/{total_wrong}; correct texts with a point marked wrong: {false_flags}/{checked_right}")
    return 1 if false_flags else 0


if __name__ == "__main__":
    raise SystemExit(main())
