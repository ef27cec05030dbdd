"""What a card knows about wrong answers, handed from the card to a grader.

`CardContent` carries a card's `misconceptions` and `facts` (see interviewer/models.py); the offline
grader checks answers against them (interviewer/grading/card_checks.py) and the LLM grader shows the
misconceptions to the model as common wrong answers. Every grader takes it (grading/base.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class CardContent:
    misconceptions: list = field(default_factory=list)
    facts: list = field(default_factory=list)
    # What the card states as true besides its key points: its model answers (zh, en). The offline
    # grader checks answers against them too (grading/contradictions.py).
    truth: list = field(default_factory=list)

    @classmethod
    def of(cls, card) -> CardContent:
        truth = [t for t in (getattr(card, "model_answer", ""), getattr(card, "model_answer_en", ""))
                 if isinstance(t, str) and t.strip()]
        return cls(list(getattr(card, "misconceptions", None) or []), list(getattr(card, "facts", None) or []),
                   truth)

    def __bool__(self) -> bool:
        return bool(self.misconceptions or self.facts)
