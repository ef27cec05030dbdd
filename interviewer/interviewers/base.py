"""The interviewer interface shared by the offline and the LLM interviewer.

An interviewer only *phrases*: the engine decides what is asked, when, and how often. Methods
yield text deltas (str) and, when something the candidate should know happened (the model
failed and the offline text is used instead), an InterviewerNotice. A notice with reset=True
means "discard the deltas streamed so far": the engine's final turn text is authoritative.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol, Union

from interviewer.models import Language, QuestionCard


@dataclass(frozen=True)
class InterviewerNotice:
    text: str
    reset: bool = False


Chunk = Union[str, InterviewerNotice]


class Interviewer(Protocol):
    kind: str   # "offline" or "llm"
    label: str  # shown in the status line and stored with the session

    def intro(self, language: Language) -> list[str]:
        """Session-level notices shown before the first question (e.g. 'questions stay in Chinese')."""
        ...

    def ask(self, card: QuestionCard, *, index: int, total: int, language: Language) -> Iterator[Chunk]:
        """Phrase the card's question. index is 0-based."""
        ...

    def followup(self, card: QuestionCard, *, key_points: list[str], answers: list[str],
                 missing: list[str], language: Language) -> Iterator[Chunk]:
        """One follow-up question on what the answers missed. key_points are hidden from the
        candidate: the text must not quote them."""
        ...


# --------------------------------------------------------------------------- coverage check
# A cheap lexical check the engine uses to decide whether a follow-up is worth asking and
# which point it should probe. It is not a grade: grading happens once, after the follow-ups.

_CJK_RUN = re.compile(r"[\u4e00-\u9fff]+")
_LATIN = re.compile(r"[A-Za-z][A-Za-z0-9_+\-.]*|\d+")
_STOP_BIGRAMS = frozenset({"的是", "是一", "一个", "可以", "我们", "进行", "通过", "就是", "这个", "什么", "以及",
                           "因为", "所以", "如果", "然后", "使用", "需要", "没有", "不是", "他们", "它们"})


def _tokens(text: str) -> set[str]:
    out: set[str] = set()
    for run in _CJK_RUN.findall(text):
        out.update(run[i:i + 2] for i in range(len(run) - 1))
        if len(run) == 1:
            out.add(run)
    out.update(w.lower() for w in _LATIN.findall(text) if len(w) > 1 or w.isdigit())
    return out - _STOP_BIGRAMS


def coverage(point: str, answer: str) -> float:
    """Share of the point's CJK bigrams and latin terms that appear in the answer (0..1)."""
    want = _tokens(point)
    if not want:
        return 1.0
    return len(want & _tokens(answer)) / len(want)


def missing_points(key_points: list[str], answers: list[str], threshold: float = 0.5) -> list[str]:
    """Key points the answers barely touch, least covered first (stable for equal coverage)."""
    joined = "\n".join(answers)
    scored = [(coverage(p, joined), i, p) for i, p in enumerate(key_points)]
    return [p for c, _, p in sorted(scored) if c < threshold]


_DONT_KNOW = re.compile(
    r"^\s*(我?(真的)?(不知道|不清楚|不会|不了解|没了解过|没听说过|没接触过|答不上来?)|"
    r"i\s*(really\s*)?(don'?t|do not)\s*know|no\s*idea|not\s*sure|pass)\s*[。.!！~～…]*\s*$",
    re.IGNORECASE)


def is_dont_know(answer: str) -> bool:
    """'不知道' and its variants: a real answer (graded as such) that no follow-up can rescue."""
    return bool(_DONT_KNOW.match(answer))
