"""The plain baseline every grader figure is reported beside (issue 12).

Chinese reference (any CJK character in it): the share of the reference's distinct Chinese character
bigrams that the answer contains. Otherwise (English): the share of the reference's distinct
lower-cased words (runs of letters and digits, nothing removed, no stemming) that the answer contains.
No question words are removed and nothing is fitted; the score is that share x 10.
"""

from __future__ import annotations

import re

_CJK = re.compile(r"[\u4e00-\u9fff]")
_WORD = re.compile(r"[a-z0-9]+")


def _bigrams(text: str) -> set[str]:
    grams: set[str] = set()
    for run in re.findall(r"[\u4e00-\u9fff]+", text):
        grams.update(run[i:i + 2] for i in range(len(run) - 1))
    return grams


def baseline_share(reference: str, answer: str) -> float:
    if _CJK.search(reference):
        ref = _bigrams(reference)
        return len(ref & _bigrams(answer or "")) / len(ref) if ref else 0.0
    ref = set(_WORD.findall(reference.lower()))
    return len(ref & set(_WORD.findall((answer or "").lower()))) / len(ref) if ref else 0.0


def baseline_score(reference: str, answer: str) -> float:
    """0-10."""
    return 10.0 * baseline_share(reference, answer)
