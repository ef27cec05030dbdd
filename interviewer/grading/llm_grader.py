"""The LLM grader: the rubric prompt in interviewer/llm/prompts/, structured output validated by pydantic,
retries, a grade cache, and an honest offline fallback.

The model returns per-criterion scores (0-10, with reasons) and per-key-point statuses; the
total is computed here by rubric.weighted_total, never taken from the model.

Structured output differs between providers, so modes are tried in order and the first one
the endpoint accepts is remembered per endpoint and model in the data dir (llm/capabilities.py):
json_schema (response_format with our schema) -> json_mode (response_format json_object) ->
text (JSON parsed out of a plain reply). The mode used is recorded in provenance.structured_mode.
"""

from __future__ import annotations

import threading
from typing import Literal

from pydantic import BaseModel, Field

from interviewer.config import Settings
from interviewer.grading.cache import GradeCache, cache_key, open_grade_cache
from interviewer.grading.rubric import RUBRIC_VERSION, criteria_for, weighted_total
from interviewer.llm.client import (
    LANGUAGE_NAMES,
    ChatClient,
    LLMError,
    RetryPolicy,
    UnsupportedMode,
    neutralise,
    render,
)
from interviewer.llm.prompts import load_prompt
from interviewer.models import CriterionScore, Grade, KeyPointStatus, KeyPointVerdict, Provenance, QuestionKind

GRADER_VERSION = "llm-1"
PROMPT_FILE = "grade.v2.md"
MODES: tuple[str, ...] = ("json_schema", "json_mode", "text")
FENCE = "candidate_answer"
GRADE_MAX_TOKENS = 2048  # a grade is ~300-600 tokens of JSON; the cap bounds a runaway reply's cost


class CriterionOut(BaseModel):
    criterion: str
    score: float = Field(ge=0, le=10)
    reason: str


class PointOut(BaseModel):
    index: int = Field(ge=1)
    status: Literal["covered", "partly", "missing", "wrong"]
    evidence: str


class GradeOut(BaseModel):
    """What the model must return (the schema sent in json_schema mode)."""

    criteria: list[CriterionOut]
    key_points: list[PointOut]
    summary: str


def _misconceptions_text(content, key_points: list[str], language: str) -> str:
    """The card's known wrong claims for the prompt, each naming the key point it contradicts."""
    lines = []
    for m in getattr(content, "misconceptions", None) or []:
        if 0 <= m.point < len(key_points):
            claim = (m.claim_en or m.claim) if language == "en" else m.claim
            lines.append(f"- (key point {m.point + 1}) {claim}")
    return "\n".join(lines) or "(none recorded)"


class LLMGrader:
    kind = "llm"

    def __init__(self, client: ChatClient, *, cache: GradeCache | None = None, fallback=None,
                 prompt_file: str = PROMPT_FILE):
        self.client = client
        self.cache = cache
        self.fallback = fallback  # an offline Grader, used (and labelled) when the model fails
        self.prompt = load_prompt(prompt_file)
        self.label = f"LLM grader: {client.model} @ {client.endpoint_host}"
        caps = getattr(client, "capabilities", None)
        rejected = caps.rejected_modes if caps is not None else []
        self._modes = [m for m in MODES if m not in rejected] or [MODES[-1]]  # shrinks as modes are rejected
        self._modes_lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings, *, embedder=None, fallback=None, cache: bool = True,
                      retry: RetryPolicy | None = None, timeout: float | None = None) -> LLMGrader:
        """Grader for the configured endpoint at temperature 0, with the grade cache (SQLite at
        settings.llm_cache_path, or the PostgreSQL database) and the offline grader as fallback
        (built from `embedder`)."""
        if fallback is None:
            from interviewer.grading.offline import OfflineGrader

            if embedder is None:
                from interviewer.bank.embedding import Embedder

                embedder = Embedder()  # loads its model lazily: free unless a fallback happens
            fallback = OfflineGrader(embedder)
        client = ChatClient(settings, temperature=0.0, retry=retry, timeout=timeout, max_tokens=GRADE_MAX_TOKENS)
        return cls(client, cache=open_grade_cache(settings) if cache else None, fallback=fallback)

    # ----------------------------------------------------------------- grading

    def grade(self, question: str, key_points: list[str], answer: str,
              kind: QuestionKind = QuestionKind.concept, language: str = "zh", content=None) -> Grade:
        """`content`: what the card knows beyond its key points (its misconceptions, shown to the
        model as common wrong answers), passed on to the offline fallback as well."""
        try:
            return self._grade(question, list(key_points or []), answer or "", QuestionKind(kind), language,
                               content)
        except Exception as exc:  # the protocol: never raise; label the failure instead
            return self._fallback(question, key_points, answer, kind, language, f"grader error: {type(exc).__name__}",
                                  content)

    def _grade(self, question: str, key_points: list[str], answer: str, kind: QuestionKind,
               language: str, content=None) -> Grade:
        if not answer.strip():
            return self._not_graded("empty answer" if language == "en" else "回答为空")
        if not key_points:
            # Without reference points a model grade would be its opinion, not a grade against
            # the bank; the offline grader says the same thing in the same way.
            return self._fallback(question, key_points, answer, kind, language, "no key points", content)
        wrong = _misconceptions_text(content, key_points, language)
        key = cache_key(question=question, answer=answer, key_points=key_points + [wrong], kind=kind.value,
                        language=language, rubric_version=RUBRIC_VERSION, model=self.client.model,
                        prompt_sha256=self.prompt.sha256)
        if self.cache is not None:
            cached = self.cache.get(key)
            if cached is not None:
                return cached
        criteria = criteria_for(kind)
        messages = render(
            self.prompt.text,
            language_name=LANGUAGE_NAMES.get(language, language), kind=kind.value, question=question,
            key_points="\n".join(f"{i}. {p}" for i, p in enumerate(key_points, 1)),
            criteria="\n".join(f"- {c.id}: {c.description}" for c in criteria),
            misconceptions=wrong,
            answer=neutralise(answer, FENCE),
        )

        def validate(out: GradeOut) -> GradeOut:
            ids = [c.criterion for c in out.criteria]
            want = [c.id for c in criteria]
            if sorted(set(ids)) != sorted(want) or len(ids) != len(want):
                raise LLMError(f"criteria {ids} != rubric {want}", retryable=True)
            idx = sorted(p.index for p in out.key_points)
            if idx != list(range(1, len(key_points) + 1)):
                raise LLMError("key point verdicts do not match the key points", retryable=True)
            return out

        try:
            out, mode = self._structured(messages, validate)
        except LLMError as exc:
            return self._fallback(question, key_points, answer, kind, language, exc.reason, content)

        by_id = {c.criterion: c for c in out.criteria}
        scores = [CriterionScore(criterion=c.id, weight=c.weight, score=by_id[c.id].score,
                                 reason=by_id[c.id].reason) for c in criteria]
        verdicts = [KeyPointVerdict(point=key_points[p.index - 1], status=KeyPointStatus(p.status),
                                    evidence=p.evidence) for p in sorted(out.key_points, key=lambda p: p.index)]
        grade = Grade(status="graded", total=weighted_total(scores), criteria=scores, key_points=verdicts,
                      summary=out.summary, provenance=self._provenance(mode))
        if self.cache is not None:
            self.cache.put(key, grade)
        return grade

    def _structured(self, messages, validate) -> tuple[GradeOut, str]:
        with self._modes_lock:
            modes = list(self._modes)
        rejected: list[str] = []
        for mode in modes:
            try:
                return self.client.structured(messages, GradeOut, mode, validate), mode
            except UnsupportedMode as exc:
                rejected.append(f"{mode}: {exc.reason}")
                with self._modes_lock:
                    if mode in self._modes and len(self._modes) > 1:
                        self._modes.remove(mode)
                        caps = getattr(self.client, "capabilities", None)
                        if caps is not None:
                            caps.reject_mode(mode)
        raise LLMError("no structured output mode accepted (" + "; ".join(rejected) + ")")

    # ----------------------------------------------------------------- labels

    def _provenance(self, mode: str | None, fallback_reason: str | None = None) -> Provenance:
        return Provenance(grader="llm", grader_version=GRADER_VERSION, model=self.client.model,
                          endpoint_host=self.client.endpoint_host, prompt_file=f"prompts/{self.prompt.name}",
                          prompt_sha256=self.prompt.sha256, rubric_version=RUBRIC_VERSION,
                          structured_mode=mode, fallback_reason=fallback_reason)

    def _not_graded(self, reason: str) -> Grade:
        return Grade(status="not_graded", not_graded_reason=reason, provenance=self._provenance(None))

    def _fallback(self, question, key_points, answer, kind, language, reason: str, content=None) -> Grade:
        """An offline grade labelled with why the model was not used, or not_graded if that fails too."""
        if self.fallback is not None:
            try:
                grade = self.fallback.grade(question, key_points, answer, kind=kind, language=language,
                                            content=content)
            except Exception as exc:
                reason = f"{reason}; offline fallback failed: {type(exc).__name__}"
            else:
                prov = grade.provenance.model_copy(update={
                    "fallback_reason": reason, "model": self.client.model,
                    "endpoint_host": self.client.endpoint_host})
                return grade.model_copy(update={"provenance": prov})
        return Grade(status="not_graded", not_graded_reason=f"model grading failed: {reason}",
                     provenance=self._provenance(None, fallback_reason=reason))
