"""The rubric: criteria, weights and the weighted total, computed in code.

A model (or the offline grader) scores each criterion 0-10; this module alone turns those
scores into a total, so no grade ever depends on a model doing arithmetic.
"""

from __future__ import annotations

from pydantic import BaseModel

from interviewer.models import CriterionScore, QuestionKind

RUBRIC_VERSION = "rubric-v2"  # v2: project questions have criteria of their own


class Criterion(BaseModel):
    id: str
    name_zh: str
    name_en: str
    weight: float
    description: str


CONCEPT_CRITERIA: tuple[Criterion, ...] = (
    Criterion(id="correctness", name_zh="正确性", name_en="Correctness", weight=0.5,
              description="Agreement with the key points; wrong statements cost more than omissions."),
    Criterion(id="depth", name_zh="深度与覆盖", name_en="Depth and coverage", weight=0.3,
              description="How many key points are covered, and how far the answer goes into why and how."),
    Criterion(id="clarity", name_zh="清晰与结构", name_en="Clarity and structure", weight=0.2,
              description="A clear, organised answer an interviewer can follow."),
)

CODING_CRITERIA: tuple[Criterion, ...] = (
    Criterion(id="approach", name_zh="思路正确性", name_en="Correctness of the approach", weight=0.4,
              description="The algorithm solves the problem, including edge cases."),
    Criterion(id="complexity", name_zh="复杂度", name_en="Complexity", weight=0.2,
              description="States and achieves a good time and space complexity."),
    Criterion(id="depth", name_zh="深度与覆盖", name_en="Depth and coverage", weight=0.2,
              description="Covers the key points: data structures, invariants, alternatives."),
    Criterion(id="clarity", name_zh="清晰与结构", name_en="Clarity and structure", weight=0.2,
              description="Explains the idea step by step; code or pseudo-code is readable."),
)


# A project deep-dive has no facts to check: what can be graded is whether the story has its parts.
PROJECT_CRITERIA: tuple[Criterion, ...] = (
    Criterion(id="structure", name_zh="结构完整", name_en="Structure", weight=0.5,
              description="Tells the parts of a project story: the situation and goal, the candidate's own role, "
                          "design choices with the alternatives and trade-offs, measured results. Graded on "
                          "structure, not on facts about the project."),
    Criterion(id="depth", name_zh="设计与取舍的深度", name_en="Depth of design and trade-offs", weight=0.3,
              description="How far the answer goes into why this design, what was weighed, what went wrong."),
    Criterion(id="clarity", name_zh="清晰与结构", name_en="Clarity and structure", weight=0.2,
              description="A clear, organised answer an interviewer can follow."),
)


def criteria_for(kind: QuestionKind | str) -> tuple[Criterion, ...]:
    kind = QuestionKind(kind)
    if kind == QuestionKind.coding:
        return CODING_CRITERIA
    if kind == QuestionKind.project:
        return PROJECT_CRITERIA
    return CONCEPT_CRITERIA


def criterion_name(criterion_id: str, language: str = "zh") -> str:
    for c in CONCEPT_CRITERIA + CODING_CRITERIA + PROJECT_CRITERIA:
        if c.id == criterion_id:
            return c.name_zh if language == "zh" else c.name_en
    return criterion_id


def weighted_total(scores: list[CriterionScore]) -> float:
    """Weighted mean of the criterion scores on 0-10, rounded to one decimal."""
    weight = sum(s.weight for s in scores)
    if weight <= 0:
        raise ValueError("no weighted criteria to total")
    return round(sum(s.score * s.weight for s in scores) / weight, 1)
