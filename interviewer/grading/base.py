"""The grader interface shared by the offline and the LLM grader."""

from __future__ import annotations

from typing import Protocol

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
    ) -> Grade:
        """Grade one answer (the main answer and any follow-up answers, joined) against key points.

        Never raises for bad input or a failing model: returns a Grade with status "not_graded"
        and the reason instead, so the session goes on.
        """
        ...
