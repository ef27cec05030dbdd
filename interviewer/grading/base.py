"""The grader interface shared by the offline and the LLM grader."""

from __future__ import annotations

from typing import Protocol

from interviewer.grading.content import CardContent
from interviewer.models import Grade, QuestionKind


class Grader(Protocol):
    kind: str  # "offline" or "llm"

    def grade(
        self,
        question: str,
        key_points: list[str],
        answer: str,
        kind: QuestionKind = QuestionKind.concept,
        language: str = "zh",
        content: CardContent | None = None,
    ) -> Grade:
        """Grade one answer (the main answer and any follow-up answers, joined) against key points.

        `content`: what the card knows beyond its key points (its misconceptions and facts), so a
        confidently wrong answer can be marked wrong; None for a reference without a card.

        Never raises for bad input or a failing model: returns a Grade with status "not_graded"
        and the reason instead, so the session goes on.
        """
        ...
