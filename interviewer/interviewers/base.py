"""The interviewer interface shared by the offline and the LLM interviewer.

An interviewer only *phrases*: the engine decides what is asked, when, and how often. Methods
yield text deltas (str) and, when something the candidate should know happened (the model
failed and the offline text is used instead), an InterviewerNotice. A notice with reset=True
means "discard the deltas streamed so far": the engine's final turn text is authoritative.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from interviewer.models import Language, QuestionCard


@dataclass(frozen=True)
class InterviewerNotice:
    text: str
    reset: bool = False


Chunk = str | InterviewerNotice


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
                 missing: list[str], language: Language, asked: Sequence[str] = ()) -> Iterator[Chunk]:
        """One follow-up question on what the answers missed (`asked`: the follow-ups already asked
        on this question). key_points are hidden from the candidate: the text must not quote them."""
        ...
