"""Prompts are versioned files shipped in the package (interviewer/llm/prompts/); a grade records the
file and its SHA-256."""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

from pydantic import BaseModel

PROMPTS_DIR = Path(__file__).resolve().parent / "prompts"


class Prompt(BaseModel):
    name: str
    text: str
    sha256: str


@cache  # prompt files are read-only shipped data, safe to cache per process
def load_prompt(name: str) -> Prompt:
    path = PROMPTS_DIR / name
    text = path.read_text(encoding="utf-8")
    return Prompt(name=name, text=text, sha256=hashlib.sha256(text.encode("utf-8")).hexdigest())
