"""The offline interviewer: no model, no network. Asks the card's question as written.

There is no translation model offline, so an English session keeps the Chinese question and
says so; follow-ups probe a missed key point by its topic rather than quoting it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

from interviewer.interviewers.base import Chunk
from interviewer.models import Language, QuestionCard
from interviewer.text import coverage, load_jieba

_LATIN_TERM = re.compile(r"[A-Za-z][A-Za-z0-9_+\-./]*(?:\s+[A-Za-z][A-Za-z0-9_+\-./]*){0,2}")
_HEAD = re.compile(r"^\s*([^：:，,。；;（(]{2,16})[：:]")
# Handles that are instructions in a key point ("说明为什么…", "给出…"), not a subject to ask about.
_GLUE = re.compile(r"^(说明|解释|给出|描述|讲清|讲出|列出|指出|分析|举例|回答|能说|提到)")
_FILLER = re.compile(r"^(比如|例如|首先|其次|然后|最后|另外|同时|此外|因此|所以|而且|即|也就是|就是"
                     r"|通过|使用|采用|对于|在)")


def topic_of(point: str, answer: str = "") -> str | None:
    """A short handle for a key point that names its subject without giving the content away.

    Prefers a label ("KV cache：..." -> "KV cache"), then a technical term the answer did not use,
    then the first few characters of the point's first clause.
    """
    m = _HEAD.match(point)
    if m:
        return m.group(1).strip()
    lowered = answer.lower()
    terms = [t.strip(" .-/") for t in _LATIN_TERM.findall(point)]
    terms = [t for t in terms if len(t) >= 2 and t.lower() not in lowered]
    if terms:
        return max(terms, key=len)
    clause = re.split(r"[，,。；;：:（(]", point.strip(), maxsplit=1)[0]
    clause = _FILLER.sub("", clause.strip())
    cjk = re.sub(r"[^\u4e00-\u9fffA-Za-z0-9 ]", "", clause).strip()
    if len(cjk) < 2:
        return None
    # Cut at a word boundary (a handle cut mid-word, "模块接口与数", reads as a bug) and never
    # take the whole clause: a short key point quoted in full would give the answer away.
    handle = ""
    for word in load_jieba().lcut(cjk):
        if len(handle) >= 4 or len(handle) + len(word) > 10 or len(handle) + len(word) >= len(cjk):
            break
        handle += word
    return handle or None


def _mentioned(key_points: list[str], answers: list[str], missing: list[str]) -> str | None:
    """Something the candidate did cover, to anchor the follow-up on their own words."""
    joined = "\n".join(answers)
    covered = [p for p in key_points if p not in missing]
    covered.sort(key=lambda p: -coverage(p, joined))
    for point in covered:
        handle = topic_of(point)
        if handle:
            return handle
    return None


class OfflineInterviewer:
    kind = "offline"
    label = "离线面试官 (offline)"

    def intro(self, language: Language) -> list[str]:
        if language == "en":
            return ["Offline interviewer: questions are asked in the original Chinese as written in the "
                    "source 面经 — there is no translation model offline. Answer in English or Chinese."]
        return []

    def question_text(self, card: QuestionCard, *, index: int, total: int, language: Language) -> str:
        if language == "en":
            return f"Question {index + 1} of {total} (original Chinese): {card.question}"
        return f"第 {index + 1}/{total} 题：{card.question}"

    def followup_text(self, card: QuestionCard, *, key_points: list[str], answers: list[str],
                      missing: list[str], language: Language, asked: Sequence[str] = ()) -> str:
        """The reviewed follow-up of the first missing key point not probed yet; for a card
        without reviewed follow-ups, a question about the missed point's subject."""
        index_of = {p: i for i, p in enumerate(card.key_points)}
        for point in missing:
            i = index_of.get(point)
            text = card.followup_for(i, language) if i is not None else None
            if text and text not in asked:
                return text
        target = topic_of(missing[0], "\n".join(answers)) if missing else None
        if target and _GLUE.match(target):
            target = None  # "说明为什么" is an instruction to the grader, not a subject to ask about
        anchor = _mentioned(key_points, answers, missing) if missing else None
        if language == "en":
            if target and anchor:
                return f"You mentioned {anchor}. What about {target} — how does that part work?"
            if target:
                return f"Could you say more about {target}? How does it work, and why?"
            return "Could you go a bit deeper — how would this work in a real project, and what are the trade-offs?"
        if target and anchor:
            return f"你提到了 {anchor}，那 {target} 这部分是怎么做的？"
        if target:
            return f"关于 {target}，能再展开讲讲吗？它是怎么做的，为什么这样做？"
        return "能再展开讲讲吗？比如在实际项目中是怎么做的，有哪些取舍？"

    def ask(self, card: QuestionCard, *, index: int, total: int, language: Language) -> Iterator[Chunk]:
        yield self.question_text(card, index=index, total=total, language=language)

    def followup(self, card: QuestionCard, *, key_points: list[str], answers: list[str],
                 missing: list[str], language: Language, asked: Sequence[str] = ()) -> Iterator[Chunk]:
        yield self.followup_text(card, key_points=key_points, answers=answers, missing=missing,
                                 language=language, asked=asked)
