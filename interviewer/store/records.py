"""Read models: what the store returns to the review, the exports and progress."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from interviewer.models import Grade, Turn

SessionStatus = Literal["active", "finished"]
CardTopics = Callable[[str], list[str]]


def resolve_topics(question_id: str, card_topics: CardTopics | None, *fallbacks: Callable[[], list[str]]) -> list[str]:
    """A question's topics, the one rule for the store and progress: the bank's card as it is now,
    else the first fallback that has any (what was stored with the grade, the session's plan...).
    Fallbacks are callables so that a lookup the bank answers costs nothing else."""
    if card_topics is not None:
        try:
            topics = list(card_topics(question_id) or [])
        except KeyError:  # a card no longer in the bank
            topics = []
        if topics:
            return topics
    for fallback in fallbacks:
        topics = list(fallback() or [])
        if topics:
            return topics
    return []


class SessionSummary(BaseModel):
    """One row of the session list (the review tab's table, `python -m interviewer sessions`)."""

    id: str
    owner: str
    created_at: datetime
    updated_at: datetime
    status: SessionStatus
    n_questions: int
    n_answered: int
    n_graded: int
    overall: float | None = Field(description="mean of the current grades' totals, 0-10")
    topics: list[str]
    interviewer_label: str = ""
    grader_label: str = ""


class GradeRecord(BaseModel):
    """A grade as kept for a question of a session: what the store holds and an export carries."""

    question_id: str = Field(min_length=1)
    answer: str
    grade: Grade
    grader: str | None = None
    model: str | None = None
    rubric_version: str | None = None
    topics: list[str] = Field(default_factory=list)
    created_at: datetime
    is_current: bool


class StoredGrade(GradeRecord):
    id: int
    session_id: str


class QuestionView(BaseModel):
    """Everything about one question of a session, in plan order: for review and export."""

    question_id: str
    turns: list[Turn]
    grade: StoredGrade | None = Field(description="the current grade")
    superseded: list[StoredGrade] = Field(description="earlier grades, oldest first")


class SessionRecord(SessionSummary):
    """A whole session: its settings, snapshot, every turn and every grade (superseded too)."""

    config: dict[str, Any] = Field(default_factory=dict)
    plan: list[str] = Field(default_factory=list)
    state: dict[str, Any] | None = None
    turns: list[Turn] = Field(default_factory=list)
    grades: list[StoredGrade] = Field(default_factory=list)

    def current_grades(self) -> dict[str, StoredGrade]:
        return {g.question_id: g for g in self.grades if g.is_current}

    def grades_for(self, question_id: str) -> list[StoredGrade]:
        return [g for g in self.grades if g.question_id == question_id]

    def questions(self) -> list[QuestionView]:
        """Questions in plan order, then any others that have turns or grades."""
        order: list[str] = list(dict.fromkeys(self.plan))
        for qid in [t.question_id for t in self.turns] + [g.question_id for g in self.grades]:
            if qid is not None and qid not in order:
                order.append(qid)
        views = []
        for qid in order:
            turns = [t for t in self.turns if t.question_id == qid]
            grades = sorted(self.grades_for(qid), key=lambda g: g.id)
            if not turns and not grades:
                continue  # planned but never reached
            current = next((g for g in grades if g.is_current), None)
            views.append(QuestionView(question_id=qid, turns=turns, grade=current,
                                      superseded=[g for g in grades if not g.is_current]))
        return views
