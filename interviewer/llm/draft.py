"""Draft key points for an added question that came without answer notes, with the configured model.

The drafts are labelled "model-written, unreviewed" on the card and editable by its owner.
"""

from __future__ import annotations

import re

from interviewer.config import Settings
from interviewer.llm.client import ChatClient, neutralise, render
from interviewer.llm.prompts import load_prompt

PROMPT = "draft_key_points.v1.md"
MAX_POINTS = 6


def key_point_drafter(settings: Settings):
    """`draft(question, notes) -> list[str]` over the configured model (it raises on model failure)."""
    client = ChatClient(settings)

    def draft(question: str, notes: str = "") -> list[str]:
        messages = render(load_prompt(PROMPT).text, question=neutralise(question, "question"))
        reply = client.complete(messages)
        points = [re.sub(r"^\s*(?:[-*•]|\d+[.)、])\s*", "", line).strip() for line in reply.splitlines()]
        return [p for p in points if p][:MAX_POINTS]

    return draft
