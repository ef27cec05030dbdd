"""What a card knows about wrong answers, handed from the card to a grader.

`CardContent` carries a card's `misconceptions` and `facts` (see interviewer/models.py); the offline
grader checks answers against them (interviewer/grading/card_checks.py). Graders that do not take
card content (a test double, an older grader) are called exactly as before.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field


@dataclass
class CardContent:
    misconceptions: list = field(default_factory=list)
    facts: list = field(default_factory=list)

    @classmethod
    def of(cls, card) -> CardContent:
        return cls(list(getattr(card, "misconceptions", None) or []), list(getattr(card, "facts", None) or []))

    def __bool__(self) -> bool:
        return bool(self.misconceptions or self.facts)


_ACCEPTS: dict[type, bool] = {}


def card_content_kwargs(grader, card) -> dict:
    """{"content": CardContent} when the card has content and `grader.grade` accepts it, else {}."""
    content = CardContent.of(card)
    if not content:
        return {}
    cls = type(grader)
    if cls not in _ACCEPTS:
        try:
            _ACCEPTS[cls] = "content" in inspect.signature(grader.grade).parameters
        except (TypeError, ValueError):
            _ACCEPTS[cls] = False
    return {"content": content} if _ACCEPTS[cls] else {}
