"""Typed data at the boundaries: question cards, session settings, turns and grades.

Everything that crosses a module boundary (bank -> engine -> store -> UI) is one of these
models, so it can be validated, serialised to JSON and stored without loss.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import Enum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


def utcnow() -> datetime:
    return datetime.now(UTC)


# --------------------------------------------------------------------------- question bank

class QuestionKind(str, Enum):
    concept = "concept"
    project = "project"
    coding = "coding"
    system_design = "system_design"


# The topic vocabulary shared by the bank, the start screen, the planner and progress charts.
TOPICS: tuple[str, ...] = (
    "LLM基础",     # transformer, attention, norms, position encoding, pretraining, scaling laws
    "微调",        # LoRA, p-tuning, PEFT, quantisation-aware tuning
    "RLHF",        # PPO, DPO, GRPO, KL, reward models
    "RAG",         # retrieval, chunking, reranking, vector stores
    "Agent",       # agents, tool use, MCP
    "LangChain",
    "分布式训练",   # DP/TP/PP, ZeRO, DeepSpeed, Megatron, mixed precision
    "推理优化",     # vLLM, KV cache, FlashAttention, PagedAttention, quantisation at inference
    "PyTorch",
    "Python",
    "Redis",
    "MySQL",
    "后端架构",     # load, queues, SSE/websocket, deployment, docker/k8s
    "算法",        # coding rounds
    "项目",        # project deep-dives
)


class Misconception(BaseModel):
    """A wrong claim candidates really make, tied to the key point it contradicts."""

    claim: str = Field(description="the wrong claim as a candidate states it (Chinese)")
    claim_en: str = ""
    point: int = Field(ge=0, description="0-based index of the key point this claim contradicts")
    why: str = Field(default="", description="what is actually true")


class Fact(BaseModel):
    """A checkable fact of a key point: said of `subject`, a `not` term instead of a `holds` term
    means the answer swapped or inverted it (stage 2 shards the gradients, not the parameters)."""

    model_config = ConfigDict(populate_by_name=True)

    point: int = Field(ge=0)
    subject: list[str] = Field(min_length=1, description="ways an answer names the thing")
    holds: list[str] = Field(default_factory=list, description="terms that go with the subject when right")
    not_: list[str] = Field(default_factory=list, alias="not", description="terms that mean a swap")


class FollowUp(BaseModel):
    """The question an interviewer asks when a key point is missing; it never states the point."""

    zh: str
    en: str = ""


class QuestionCard(BaseModel):
    """One interview question extracted from a source document, with what a grader needs."""

    id: str = Field(description="stable id: '<doc stem>:<position, 3 digits>'")
    question: str = Field(description="the question as written in the source, numbering stripped")
    doc: str = Field(description="source file name, e.g. '003_d5fcd24e30ada98c.txt'")
    position: int = Field(ge=1, description="1-based order of this question within its document")
    line: int = Field(ge=1, description="1-based line of the question in the source")
    section: str = Field(default="", description="一面/二面/手撕/八股/项目/LangChain/分布式训练/推理 ...")
    company: str | None = None
    topics: list[str] = Field(default_factory=list)
    kind: QuestionKind = QuestionKind.concept
    difficulty: int = Field(default=2, ge=1, le=3)
    source_notes: str = Field(default="", description="answer notes that follow the question in the source")
    key_points: list[str] = Field(default_factory=list, description="reviewed points a strong answer covers")
    correction: str | None = Field(
        default=None, description="where the source notes are wrong: what they say and what is true")
    misconceptions: list[Misconception] = Field(default_factory=list)
    facts: list[Fact] = Field(default_factory=list)
    followups: list[FollowUp] = Field(
        default_factory=list, description="one per key point, in the same order (empty if not written)")
    model_answer: str = Field(default="", description="what an excellent candidate would say; shown after grading")
    model_answer_en: str = ""
    source_question: str | None = Field(
        default=None, description="the source's own wording when the reviewed notes reword the question")
    also_at: list[str] = Field(
        default_factory=list, description="ids of other places in the sources that ask the same question")
    owner: str = Field(default="", description="the browser that added the card; '' = the shared corpus")
    key_points_origin: Literal["reviewed", "post", "model", "edited", ""] = Field(
        default="", description="where an added card's key points come from ('' = the reviewed corpus notes)")

    def followup_for(self, point: int, language: str = "zh") -> str | None:
        """The reviewed follow-up for key point `point`, in the language asked for (else Chinese)."""
        if not 0 <= point < len(self.followups):
            return None
        f = self.followups[point]
        return (f.en or f.zh) if language == "en" else f.zh

    def answer_in(self, language: str = "zh") -> str:
        """The model answer in the language asked for, falling back to the other one."""
        if language == "en":
            return self.model_answer_en or self.model_answer
        return self.model_answer or self.model_answer_en


# --------------------------------------------------------------------------- sessions

Language = Literal["zh", "en"]


class SessionConfig(BaseModel):
    """What the candidate chose on the start screen. Limits are enforced by the engine."""

    topics: list[str] = Field(default_factory=list, description="empty = all topics")
    sections: list[str] = Field(default_factory=list, description="empty = all sections")
    n_questions: int = Field(default=5, ge=1, le=20)
    followups: bool = True
    max_followups: int = Field(default=1, ge=0, le=3, description="follow-ups per question at most")
    language: Language = "zh"
    weak_spots: bool = Field(default=False, description="favour weak topics and unseen questions")
    seed: int | None = None
    card_ids: list[str] = Field(
        default_factory=list, max_length=500,
        description="ask exactly these cards, in this order (the bank tab's pick); empty = plan from the filters")


TurnRole = Literal["interviewer", "candidate", "system"]
TurnKind = Literal["question", "followup", "answer", "skip", "repeat", "end", "notice"]


class Turn(BaseModel):
    """One message of the interview. Every turn carries the id of the question it belongs to."""

    session_id: str
    index: int = Field(ge=0, description="0-based order within the session")
    question_id: str | None = Field(description="card id; None only for session-level notices")
    role: TurnRole
    kind: TurnKind
    text: str
    truncated: bool = Field(default=False, description="the candidate's text was cut to the limit")
    created_at: datetime = Field(default_factory=utcnow)


# --------------------------------------------------------------------------- grades

class KeyPointStatus(str, Enum):
    covered = "covered"
    partly = "partly"
    missing = "missing"
    wrong = "wrong"


class KeyPointVerdict(BaseModel):
    point: str
    status: KeyPointStatus
    evidence: str = Field(default="", description="the words of the answer that support the verdict")


class CriterionScore(BaseModel):
    criterion: str = Field(description="criterion id from the rubric, e.g. 'correctness'")
    score: float = Field(ge=0, le=10)
    weight: float = Field(ge=0)
    reason: str = ""


GraderKind = Literal["offline", "llm"]


class Provenance(BaseModel):
    """Which grader, model, prompt and rubric made a grade, and when."""

    grader: GraderKind
    grader_version: str
    model: str | None = None
    endpoint_host: str | None = None
    prompt_file: str | None = None
    prompt_sha256: str | None = None
    rubric_version: str
    structured_mode: str | None = Field(
        default=None, description="llm only: json_schema, json_mode or text")
    fallback_reason: str | None = Field(
        default=None, description="why this grade is offline although a model was configured")
    created_at: datetime = Field(default_factory=utcnow)


class Grade(BaseModel):
    """A grade for one question. total is computed in code from the criteria, never by a model."""

    status: Literal["graded", "not_graded"]
    total: float | None = Field(default=None, ge=0, le=10, description="weighted 0-10; None if not graded")
    criteria: list[CriterionScore] = Field(default_factory=list)
    key_points: list[KeyPointVerdict] = Field(default_factory=list)
    summary: str = ""
    not_graded_reason: str | None = None
    provenance: Provenance
    model_answer: str | None = Field(
        default=None, description="the card's model answer, attached once the question is graded (never before)")


# --------------------------------------------------------------------------- model usage

class CallUsage(BaseModel):
    """Tokens of one model call, as the endpoint reported them."""

    purpose: str = Field(description="question, followup or grade")
    question_id: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = Field(default=0, description="reasoning tokens included, as providers bill them")
    reasoning_tokens: int = 0


class TokenUsage(BaseModel):
    """Every model call of a session; totals and cost are computed from them, here."""

    calls: list[CallUsage] = Field(default_factory=list)

    @property
    def prompt_tokens(self) -> int:
        return sum(c.prompt_tokens for c in self.calls)

    @property
    def completion_tokens(self) -> int:
        return sum(c.completion_tokens for c in self.calls)

    @property
    def reasoning_tokens(self) -> int:
        return sum(c.reasoning_tokens for c in self.calls)

    def cost(self, price_per_mtok: tuple[float, float] | None) -> float | None:
        """Cost at (input, output) prices per million tokens; None without prices."""
        if price_per_mtok is None:
            return None
        price_in, price_out = price_per_mtok
        return round(self.prompt_tokens / 1e6 * price_in + self.completion_tokens / 1e6 * price_out, 6)

    def summary(self, price_per_mtok: tuple[float, float] | None = None) -> dict:
        """Totals (and cost) as plain values, for exports."""
        out = {"calls": len(self.calls), "prompt_tokens": self.prompt_tokens,
               "completion_tokens": self.completion_tokens, "reasoning_tokens": self.reasoning_tokens}
        if price_per_mtok is not None:
            out["price_per_mtok"] = list(price_per_mtok)
            out["cost"] = self.cost(price_per_mtok)
        return out

    def line(self, price_per_mtok: tuple[float, float] | None = None, language: str = "zh") -> str:
        """One line for the report, the review and the Markdown export ("" when no call was made)."""
        if not self.calls:
            return ""
        zh = language == "zh"
        text = (f"{'模型用量' if zh else 'Model usage'}: {self.prompt_tokens:,} "
                f"{'输入' if zh else 'input'} + {self.completion_tokens:,} {'输出' if zh else 'output'} tokens")
        if self.reasoning_tokens:
            text += f" ({'其中推理' if zh else 'of which reasoning'} {self.reasoning_tokens:,})"
        text += f", {len(self.calls)} {'次调用' if zh else 'calls'}"
        cost = self.cost(price_per_mtok)
        if cost is not None:
            text += (f" · {'费用' if zh else 'cost'} {cost:.4f} "
                     f"({'按每百万 token' if zh else 'at'} {price_per_mtok[0]:g} / {price_per_mtok[1]:g}"
                     f"{'' if zh else ' per million tokens'})")
        return text
