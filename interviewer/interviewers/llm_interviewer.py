"""The LLM interviewer: questions phrased naturally in the session language (streamed), and
follow-ups written from the answer and the hidden key points.

When the model fails (after the client's retries), the offline interviewer's text is used and
a notice says so; partial streamed text is discarded (InterviewerNotice(reset=True)).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from interviewer.interviewers.base import Chunk, InterviewerNotice
from interviewer.interviewers.offline import OfflineInterviewer
from interviewer.llm.client import LANGUAGE_NAMES, ChatClient, LLMError, neutralise, render
from interviewer.llm.prompts import load_prompt
from interviewer.models import Language, QuestionCard

ASK_PROMPT = "interviewer_ask.v1.md"
FOLLOWUP_PROMPT = "interviewer_followup.v1.md"


def _failed(language: Language, what: str, reason: str) -> str:
    if language == "en":
        return f"The model could not {what} ({reason}); using the offline interviewer's text."
    return f"模型{what}失败（{reason}），改用离线面试官的原文。"


class LLMInterviewer:
    kind = "llm"

    def __init__(self, client: ChatClient, offline: OfflineInterviewer | None = None):
        self.client = client
        self.offline = offline or OfflineInterviewer()
        self.label = f"LLM interviewer: {client.model} @ {client.endpoint_host}"
        self.ask_prompt = load_prompt(ASK_PROMPT)
        self.followup_prompt = load_prompt(FOLLOWUP_PROMPT)

    def intro(self, language: Language) -> list[str]:
        return []

    def ask(self, card: QuestionCard, *, index: int, total: int, language: Language) -> Iterator[Chunk]:
        messages = render(self.ask_prompt.text, language_name=LANGUAGE_NAMES[language], number=str(index + 1),
                          total=str(total), section=card.section or "-",
                          question=neutralise(card.question, "source_question"))
        fallback = self.offline.question_text(card, index=index, total=total, language=language)
        yield from self._stream(messages, fallback, language, "提问" if language == "zh" else "phrase the question")

    def followup(self, card: QuestionCard, *, key_points: list[str], answers: list[str],
                 missing: list[str], language: Language, asked: Sequence[str] = ()) -> Iterator[Chunk]:
        answer = "\n\n".join(answers)
        messages = render(self.followup_prompt.text, language_name=LANGUAGE_NAMES[language],
                          question=card.question,
                          key_points="\n".join(f"- {p}" for p in key_points) or "(none)",
                          missing="\n".join(f"- {p}" for p in missing) or "(none)",
                          answer=neutralise(answer, "candidate_answer"))
        fallback = self.offline.followup_text(card, key_points=key_points, answers=answers, missing=missing,
                                              language=language, asked=asked)
        what = "追问" if language == "zh" else "write the follow-up"
        yield from self._stream(messages, fallback, language, what, forbidden=key_points)

    def _stream(self, messages, fallback: str, language: Language, what: str,
                forbidden: list[str] = ()) -> Iterator[Chunk]:
        parts: list[str] = []
        try:
            for delta in self.client.stream(messages):
                parts.append(delta)
                yield delta
        except LLMError as exc:
            yield InterviewerNotice(_failed(language, what, exc.reason), reset=True)
            yield fallback
            return
        text = "".join(parts)
        # A follow-up that quotes a hidden key point verbatim would give the answer away. The deltas
        # were a preview; the reset makes the final turn (what is stored and kept) the safe text.
        if any(len(p) >= 8 and p in text for p in forbidden):
            yield InterviewerNotice(_failed(language, what, "leaked a key point"), reset=True)
            yield fallback
