"""The interview as an explicit state machine: plan -> ask -> answer -> follow up or move on ->
grade -> ... -> finished, then a report computed in code from the grades.

States (Phase) and transitions:

    awaiting_answer   --answer, follow-up wanted-->  awaiting_followup
    awaiting_answer   --answer, no follow-up----->   (grade) awaiting_answer on the next question
    awaiting_followup --answer, another allowed-->   awaiting_followup
    awaiting_followup --answer, limit reached---->   (grade) awaiting_answer on the next question
    any               --skip-->                      (grade what was answered) next question
    any               --end-->                       (grade what was answered) finished
    last question graded / skipped ------------->    finished

The engine mutates the SessionState it is given (the UI keeps it in gr.BrowserState, so it is
plain JSON) and writes every turn and grade through the Recorder as it happens.

Background grading (`background_grading=True`, the app in LLM mode): an answer that is to be
graded is marked `grade_pending` in its record (and so in the stored snapshot), the grade runs in
the engine's thread pool and the next question is asked at once. The grade is written to the
store as soon as it is ready and set on the record; `wait_grades` waits for a session's grades,
and `ensure_grading` starts again any pending grade that no thread is working on (a resume
after a crash or a restart). Key points are
never put in the state or in an event before the question is graded: the state lives in the
candidate's browser.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections import defaultdict
from collections.abc import Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_futures
from datetime import datetime
from enum import Enum
from typing import Any, Literal

from pydantic import BaseModel, Field

from interviewer.config import Settings
from interviewer.engine.planner import CardHistory, PlannerHistory, plan_questions  # noqa: F401 (re-exported)
from interviewer.engine.recorder import NullRecorder, Recorder
from interviewer.grading.content import CardContent
from interviewer.grading.rubric import RUBRIC_VERSION
from interviewer.interviewers.base import InterviewerNotice
from interviewer.llm.client import Usage, usage_listener
from interviewer.models import CallUsage, Grade, Provenance, QuestionCard, SessionConfig, TokenUsage, Turn, utcnow
from interviewer.text import is_dont_know, missing_points

log = logging.getLogger(__name__)

# Follow-ups only help when there is something to probe: with no key points, an answer longer
# than this is taken as complete enough and the engine moves on.
SHORT_ANSWER_CHARS = 60


class Phase(str, Enum):
    awaiting_answer = "awaiting_answer"
    awaiting_followup = "awaiting_followup"
    finished = "finished"


class QuestionRecord(BaseModel):
    """One planned question and what happened to it."""

    card_id: str
    asked: str = ""
    followups: list[str] = Field(default_factory=list)
    answers: list[str] = Field(default_factory=list)
    skipped: bool = False
    grade: Grade | None = None
    grade_pending: bool = False  # answered and being graded in the background (not yet in `grade`)
    # Copied from the card at planning time so the report does not depend on the bank later.
    topics: list[str] = Field(default_factory=list)
    question: str = ""


class SessionState(BaseModel):
    """JSON-serialisable: stored in gr.BrowserState and SQLite."""

    id: str
    owner: str = ""
    config: SessionConfig
    plan: list[str]
    current: int = 0
    phase: Phase = Phase.awaiting_answer
    followups_asked: int = 0
    turns: list[Turn] = Field(default_factory=list)
    records: dict[str, QuestionRecord] = Field(default_factory=dict)
    interviewer_label: str = ""
    grader_label: str = ""
    created_at: datetime = Field(default_factory=utcnow)
    finished_at: datetime | None = None
    usage: TokenUsage = Field(default_factory=TokenUsage)  # every model call's tokens

    @property
    def current_id(self) -> str | None:
        return self.plan[self.current] if self.current < len(self.plan) else None


class Event(BaseModel):
    type: Literal["delta", "turn", "grade", "grading", "notice", "finished"]
    delta: str | None = None        # streamed text of the interviewer's current message (a preview)
    turn: Turn | None = None        # a completed message; its text is authoritative over the deltas
    grade: Grade | None = None
    question_id: str | None = None


class Report(BaseModel):
    session_id: str
    overall: float | None
    graded: int
    not_graded: int
    skipped: int
    pending: int = 0        # answers still being graded: the totals are not final while > 0
    by_topic: dict[str, float]
    by_criterion: dict[str, float]
    strongest: list[str]
    weakest: list[str]
    questions: list[QuestionRecord]
    usage: TokenUsage = Field(default_factory=TokenUsage)
    cost: float | None = None                       # at MIANSHI_PRICE_PER_MTOK, computed in code
    price_per_mtok: tuple[float, float] | None = None


# --------------------------------------------------------------------------- engine

def card_key_points(card: QuestionCard) -> list[str]:
    """Reviewed key points, else points split from the card's source notes (may be empty)."""
    if card.key_points:
        return list(card.key_points)
    if card.source_notes.strip():
        from interviewer.bank.keypoints import split_points

        return split_points(card.source_notes)
    return []


_TEXT = {
    "zh": {
        "offline_grading": "评分说明：本场为离线评分（句向量相似度 + 关键词覆盖，并对照题目已知的错误说法和参考答案），"
                           "没有使用大模型。它衡量的是要点覆盖：题库记录过的错误说法、互换的事实、拼错的缩写全称，"
                           "以及与参考答案明显相反的说法（如“越高/越低”说反、把 A 的特点安到 B 上）"
                           "会被判为答错或降低可信度；"
                           "其他说错的地方（换了说法的错误机制、错误的数字等）可能照样得分；"
                           "偶尔也会把措辞接近某个错误说法的正确回答判为答错（总分封顶 1.5，摘要会写出匹配到的说法）。"
                           "分数仅供参考。",
        "empty": "回答是空的，没有提交。请输入你的回答，或输入 /skip 跳过、/end 结束。",
        "truncated": "回答超过 {limit} 字，只保留了前 {limit} 字用于评分。",
        "finished": "面试已经结束。",
        "grade_fallback": "模型评分失败（{reason}），本题改用离线评分。",
        "not_graded": "本题未评分：{reason}",
        "done": "面试结束，感谢参与！",
    },
    "en": {
        "offline_grading": "Grading note: this session is graded offline (sentence embeddings + keyword "
                           "coverage, checked against the question's known wrong claims and its model answer), "
                           "without a language model. It measures coverage of the key points: wrong claims the bank "
                           "records, swapped facts, misspelled acronym expansions and plain contradictions of the "
                           "model answer (higher/lower flipped, one thing's property given to its namesake) are "
                           "marked wrong or lower the confidence; other mistakes (a wrong mechanism in new words, a "
                           "wrong number) can still earn points, and a correct answer worded close to a recorded wrong "
                           "claim is sometimes marked wrong (total capped at 1.5; the summary quotes the claim it "
                           "matched). Scores are indicative.",
        "empty": "Your answer was empty and was not submitted. Type an answer, or /skip to skip, /end to finish.",
        "truncated": "Your answer was longer than {limit} characters; only the first {limit} are graded.",
        "finished": "The interview is already over.",
        "grade_fallback": "Model grading failed ({reason}); this question was graded offline.",
        "not_graded": "This question was not graded: {reason}",
        "done": "The interview is over. Thank you!",
    },
}


def _t(language: str, key: str, **kw: Any) -> str:
    return _TEXT.get(language, _TEXT["zh"])[key].format(**kw)


class InterviewEngine:
    """Drives sessions. Holds no per-session state itself: everything is in the SessionState."""

    def __init__(self, bank, interviewer, grader, recorder: Recorder | None = None,
                 settings: Settings | None = None, background_grading: bool = False):
        self.bank = bank
        self.interviewer = interviewer
        self.grader = grader
        self.recorder: Recorder = recorder if recorder is not None else NullRecorder()
        self.max_answer_chars = settings.max_answer_chars if settings is not None else 4000
        self.price_per_mtok = settings.price_per_mtok if settings is not None else None
        self._usage_lock = threading.Lock()
        self.background_grading = background_grading
        self._grading: dict[tuple[str, str], Future] = {}   # (session id, question id) -> its grade
        self._grading_lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None
        # Grades mostly wait on the model: as many at once as the app serves events.
        self._pool_size = max(4, settings.concurrency if settings is not None else 8)

    # ----------------------------------------------------------------- lifecycle

    def start(self, config: SessionConfig, owner: str = "",
              history: PlannerHistory | Mapping[str, Any] | None = None) -> SessionState:
        """Plan the session and record it. Raises ValueError when no question matches."""
        cards = self.bank.cards()
        if config.card_ids:  # a pick from the bank tab may hold cards only their owner sees
            cards = [c for c in map(self._card_or_none, config.card_ids) if c is not None]
        plan = plan_questions(cards, config, history)
        if not plan:
            raise ValueError(f"no questions match topics={config.topics} sections={config.sections}")
        by_id = {c.id: c for c in cards}
        state = SessionState(
            id=uuid.uuid4().hex, owner=owner, config=config, plan=plan,
            records={cid: QuestionRecord(card_id=cid, topics=list(by_id[cid].topics),
                                         question=by_id[cid].question) for cid in plan},
            interviewer_label=getattr(self.interviewer, "label", type(self.interviewer).__name__),
            grader_label=getattr(self.grader, "label", getattr(self.grader, "kind", "grader")),
        )
        self.record_session(state)
        return state

    def _card_or_none(self, card_id: str) -> QuestionCard | None:
        try:
            return self.bank.get(card_id)
        except KeyError:
            return None

    def open(self, state: SessionState) -> Iterator[Event]:
        """Ask the current question (session notices first). If it was already asked (a reload),
        re-send the last interviewer turn without recording anything new."""
        if state.phase == Phase.finished:
            yield Event(type="finished", question_id=None)
            return
        record = state.records[state.current_id]
        if record.asked:
            last = next((t for t in reversed(state.turns) if t.role == "interviewer"), None)
            if last is not None:
                yield Event(type="turn", turn=last, question_id=last.question_id)
            return
        if not state.turns:
            lang = state.config.language
            for text in self.interviewer.intro(lang):
                yield self._notice(state, text, None)
            if getattr(self.grader, "kind", "") == "offline":
                yield self._notice(state, _t(lang, "offline_grading"), None)
        yield from self._ask_current(state)

    def answer(self, state: SessionState, text: str) -> Iterator[Event]:
        """The candidate's answer to the current question or follow-up."""
        if state.phase == Phase.finished:
            yield self._notice(state, _t(state.config.language, "finished"), None)
            return
        qid = state.current_id
        lang = state.config.language
        if not text or not text.strip():
            # Nothing is lost and nothing advances: the candidate can simply answer again.
            yield self._notice(state, _t(lang, "empty"), qid)
            return
        # A lone surrogate (a browser can send one as a JSON escape) cannot be stored as UTF-8:
        # it becomes U+FFFD; a valid surrogate pair becomes its character.
        text = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace").strip()
        truncated = len(text) > self.max_answer_chars
        if truncated:
            text = text[: self.max_answer_chars]
        yield self._turn(state, "candidate", "answer", text, qid, truncated=truncated)
        if truncated:
            yield self._notice(state, _t(lang, "truncated", limit=self.max_answer_chars), qid)
        state.records[qid].answers.append(text)
        yield from self._after_answer(state)

    def _after_answer(self, state: SessionState) -> Iterator[Event]:
        """Follow up on the current question's answers, or grade them and move on."""
        qid = state.current_id
        record = state.records[qid]
        if self._followup_allowed(state) and not is_dont_know(record.answers[-1]):
            card = self.bank.get(qid)
            key_points = card_key_points(card)
            missing = missing_points(key_points, record.answers)
            wanted = bool(missing) if key_points else len("".join(record.answers)) < SHORT_ANSWER_CHARS
            if wanted:
                yield from self._ask_followup(state, card, key_points, missing)
                return
        yield from self._grade_current(state)
        yield from self._advance(state)

    def settle(self, state: SessionState) -> Iterator[Event]:
        """Finish what a stopped process left half-done, taking the stored turns as the truth.

        The snapshot is written on phase changes, the turns as they happen: a process killed just
        after an answer was stored leaves a snapshot without it. The answer is put back and
        followed up or graded now (never replaced by the next one); a button press stored without
        its effect is carried out; a question planned but never asked is asked.
        """
        if state.phase == Phase.finished:
            return
        qid = state.current_id
        record = state.records[qid]
        mine = [t for t in state.turns if t.question_id == qid]
        answers = [t.text for t in mine if t.role == "candidate" and t.kind == "answer"]
        followups = [t.text for t in mine if t.role == "interviewer" and t.kind == "followup"]
        if len(answers) > len(record.answers):
            record.answers = answers
        if len(followups) > len(record.followups):
            record.followups = followups
            state.followups_asked = len(followups)
            self._set_phase(state, Phase.awaiting_followup)
        last = next((t for t in reversed(mine) if t.kind in ("question", "followup", "answer", "skip", "end")), None)
        if last is not None and last.role == "candidate" and record.grade is None:
            if last.kind == "answer":
                yield from self._after_answer(state)
            elif last.kind == "skip":
                yield from self._after_skip(state)
            elif last.kind == "end":
                yield from self._after_end(state)
        elif not record.asked:
            yield from self.open(state)

    def skip(self, state: SessionState) -> Iterator[Event]:
        """Skip the current question (or the rest of it, if answered already) and move on."""
        if state.phase == Phase.finished:
            yield self._notice(state, _t(state.config.language, "finished"), None)
            return
        qid = state.current_id
        yield self._turn(state, "candidate", "skip", "/skip", qid)
        yield from self._after_skip(state)

    def _after_skip(self, state: SessionState) -> Iterator[Event]:
        """The effect of a recorded /skip: grade what was answered, else mark skipped; move on."""
        if state.records[state.current_id].answers:
            yield from self._grade_current(state)   # a skipped follow-up still grades the main answer
        else:
            state.records[state.current_id].skipped = True
        yield from self._advance(state)

    def repeat(self, state: SessionState) -> Iterator[Event]:
        """Say the current question (or follow-up) again, word for word."""
        if state.phase == Phase.finished:
            yield self._notice(state, _t(state.config.language, "finished"), None)
            return
        qid = state.current_id
        record = state.records[qid]
        yield self._turn(state, "candidate", "repeat", "/repeat", qid)
        if state.phase == Phase.awaiting_followup and record.followups:
            yield self._turn(state, "interviewer", "followup", record.followups[-1], qid)
        elif record.asked:
            yield self._turn(state, "interviewer", "question", record.asked, qid)
        else:
            yield from self._ask_current(state)

    def end(self, state: SessionState) -> Iterator[Event]:
        """End early: grade what was answered, finish."""
        if state.phase == Phase.finished:
            yield Event(type="finished")
            return
        qid = state.current_id
        yield self._turn(state, "candidate", "end", "/end", qid)
        yield from self._after_end(state)

    def _after_end(self, state: SessionState) -> Iterator[Event]:
        """The effect of a recorded /end: grade what was answered (unless graded or grading), finish."""
        record = state.records[state.current_id]
        if record.answers and record.grade is None and not record.grade_pending:
            yield from self._grade_current(state)
        yield from self._finish(state)

    # ----------------------------------------------------------------- report

    def report(self, state: SessionState) -> Report:
        """Computed in code from the grades: means of weighted totals, per topic and criterion."""
        asked = [state.records[cid] for cid in state.plan if state.records[cid].asked]
        graded = [r for r in asked if r.grade is not None and r.grade.status == "graded"]
        not_graded = [r for r in asked if r.grade is not None and r.grade.status == "not_graded"]
        topic_scores: dict[str, list[float]] = defaultdict(list)
        crit_scores: dict[str, list[float]] = defaultdict(list)
        covered: list[str] = []
        missed: list[str] = []
        for r in graded:
            for topic in r.topics or ["其他"]:
                topic_scores[topic].append(r.grade.total)
            for c in r.grade.criteria:
                crit_scores[c.criterion].append(c.score)
            for v in r.grade.key_points:
                (covered if v.status.value == "covered" else missed if v.status.value in ("missing", "wrong")
                 else []).append(v.point)

        def mean(xs: list[float]) -> float:
            return round(sum(xs) / len(xs), 1)

        by_topic = {t: mean(v) for t, v in sorted(topic_scores.items())}
        ranked = sorted(by_topic, key=lambda t: (by_topic[t], t))
        strongest = [t for t in reversed(ranked) if by_topic[t] >= 7.0] + covered
        weakest = [t for t in ranked if by_topic[t] < 6.0] + missed
        return Report(
            session_id=state.id,
            overall=mean([r.grade.total for r in graded]) if graded else None,
            graded=len(graded), not_graded=len(not_graded),
            pending=sum(1 for r in asked if r.grade_pending and r.grade is None),
            skipped=sum(1 for r in asked if r.skipped),
            by_topic=by_topic,
            by_criterion={k: mean(v) for k, v in sorted(crit_scores.items())},
            strongest=strongest[:5], weakest=weakest[:5],
            questions=asked,
            usage=state.usage, cost=state.usage.cost(self.price_per_mtok), price_per_mtok=self.price_per_mtok,
        )

    # ----------------------------------------------------------------- internals

    def _followup_allowed(self, state: SessionState) -> bool:
        limit = state.config.max_followups if state.config.followups else 0
        return state.followups_asked < limit

    # ----------------------------------------------------------------- model usage

    def _usage_recorder(self, state: SessionState, purpose: str, qid: str | None):
        def add(usage: Usage) -> None:
            call = CallUsage(purpose=purpose, question_id=qid, prompt_tokens=usage.prompt_tokens,
                             completion_tokens=usage.completion_tokens, reasoning_tokens=usage.reasoning_tokens)
            with self._usage_lock:  # a background grade may add at the same time as a question
                state.usage.calls.append(call)
        return add

    def _metered(self, state: SessionState, stream, purpose: str, qid: str | None):
        """The interviewer's stream, with every model call it makes added to the session's usage.
        The listener is set only while the stream runs (never across a yield to the caller)."""
        it = iter(stream)
        record = self._usage_recorder(state, purpose, qid)
        while True:
            token = usage_listener.set(record)
            try:
                chunk = next(it)
            except StopIteration:
                return
            finally:
                usage_listener.reset(token)
            yield chunk

    def _grade_metered(self, state: SessionState, card: QuestionCard, answer: str, language: str) -> Grade:
        token = usage_listener.set(self._usage_recorder(state, "grade", card.id))
        try:
            return self.grade_answer(card, answer, language)
        finally:
            usage_listener.reset(token)

    def _ask_current(self, state: SessionState) -> Iterator[Event]:
        qid = state.current_id
        card = self.bank.get(qid)
        stream = self._metered(state, self.interviewer.ask(card, index=state.current, total=len(state.plan),
                                                           language=state.config.language), "question", qid)
        text = yield from self._stream(state, stream, qid)
        state.records[qid].asked = text
        yield self._turn(state, "interviewer", "question", text, qid)

    def _ask_followup(self, state: SessionState, card: QuestionCard, key_points: list[str],
                      missing: list[str]) -> Iterator[Event]:
        qid = card.id
        record = state.records[qid]
        stream = self._metered(state, self.interviewer.followup(
            card, key_points=key_points, answers=list(record.answers), missing=missing,
            language=state.config.language, asked=list(record.followups)), "followup", qid)
        text = yield from self._stream(state, stream, qid)
        record.followups.append(text)
        state.followups_asked += 1
        yield self._turn(state, "interviewer", "followup", text, qid)
        self._set_phase(state, Phase.awaiting_followup)

    def _stream(self, state: SessionState, stream, qid: str):
        """Forward deltas as events; notices become notice turns. Returns the full text."""
        parts: list[str] = []
        for chunk in stream:
            if isinstance(chunk, InterviewerNotice):
                if chunk.reset:
                    parts.clear()
                yield self._notice(state, chunk.text, qid)
            elif chunk:
                parts.append(chunk)
                yield Event(type="delta", delta=chunk, question_id=qid)
        return "".join(parts).strip()

    # ----------------------------------------------------------------- background grading

    def _submit_grade(self, state: SessionState, qid: str) -> Future:
        """Grade a pending answer in the pool (once per session and question)."""
        key = (state.id, qid)
        with self._grading_lock:
            future = self._grading.get(key)
            if future is not None:
                return future
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=self._pool_size, thread_name_prefix="mianshi-grade")
            future = self._grading[key] = self._pool.submit(self._grade_pending, state, qid)
        return future

    def _grade_pending(self, state: SessionState, qid: str) -> Grade:
        record = state.records[qid]
        answer = "\n\n".join(record.answers)
        try:
            grade = self._grade_metered(state, self.bank.get(qid), answer, state.config.language)
            try:
                self.recorder.record_grade(state.id, qid, grade, answer)  # on disk before it is shown
            except Exception:  # the store is unavailable: the grade is still shown and kept in the state
                log.exception("could not store the grade of %s in session %s", qid, state.id)
            record.grade = grade
            record.grade_pending = False
            return grade
        finally:
            with self._grading_lock:
                self._grading.pop((state.id, qid), None)

    def pending_grades(self, state: SessionState) -> list[str]:
        """Question ids of this session whose answers are being graded."""
        return [qid for qid in state.plan if state.records[qid].grade_pending and state.records[qid].grade is None]

    def ensure_grading(self, state: SessionState) -> int:
        """Start the pending grades no thread is working on (after a resume); returns how many are pending."""
        pending = self.pending_grades(state)
        for qid in pending:
            self._submit_grade(state, qid)
        return len(pending)

    def wait_grades(self, state: SessionState, timeout: float | None = None) -> int:
        """Wait (at most `timeout` seconds) until this session's pending grades are done.
        Returns how many are still pending."""
        if not self.ensure_grading(state):
            return 0
        with self._grading_lock:
            futures = {qid: f for (sid, qid), f in self._grading.items() if sid == state.id}
        wait_futures(list(futures.values()), timeout=timeout)
        for qid, future in futures.items():
            # The grade was made on the copy of the state it was started with; this one may be
            # another copy of the same session (resumed from the store or the browser meanwhile).
            record = state.records[qid]
            if future.done() and not future.exception() and record.grade is None:
                record.grade, record.grade_pending = future.result(), False
        return len(self.pending_grades(state))

    def _grade_current(self, state: SessionState) -> Iterator[Event]:
        qid = state.current_id
        record = state.records[qid]
        if self.background_grading:
            # The next question is asked at once; the grade follows (see wait_grades).
            record.grade_pending = True
            self._submit_grade(state, qid)
            yield Event(type="grading", question_id=qid)
            return
        card = self.bank.get(qid)
        answer = "\n\n".join(record.answers)
        lang = state.config.language
        grade = self._grade_metered(state, card, answer, lang)
        record.grade = grade
        self.recorder.record_grade(state.id, qid, grade, answer)
        if grade.provenance.fallback_reason:
            yield self._notice(state, _t(lang, "grade_fallback", reason=grade.provenance.fallback_reason), qid)
        if grade.status == "not_graded":
            yield self._notice(state, _t(lang, "not_graded", reason=grade.not_graded_reason or "?"), qid)
        yield Event(type="grade", grade=grade, question_id=qid)

    def grade_answer(self, card: QuestionCard, answer: str, language: str) -> Grade:
        """Grade an answer to a card: the one place an interview and a regrade grade. The card's
        model answer rides on the grade: the candidate sees it once the question is graded, and
        the transcript keeps it with the grade."""
        try:
            grade = self.grader.grade(card.question, card_key_points(card), answer, kind=card.kind,
                                      language=language, content=CardContent.of(card))
        except Exception as exc:  # the protocol says graders never raise; a bug must not end the session
            grade = Grade(status="not_graded", not_graded_reason=f"grader error: {type(exc).__name__}: {exc}",
                          provenance=Provenance(grader=getattr(self.grader, "kind", "offline"),
                                                grader_version="unknown", rubric_version=RUBRIC_VERSION))
        model_answer = card.answer_in(language)
        return grade.model_copy(update={"model_answer": model_answer}) if model_answer else grade

    def _advance(self, state: SessionState) -> Iterator[Event]:
        state.current += 1
        state.followups_asked = 0
        if state.current >= len(state.plan):
            yield from self._finish(state)
            return
        self._set_phase(state, Phase.awaiting_answer, force=True)
        yield from self._ask_current(state)

    def _finish(self, state: SessionState) -> Iterator[Event]:
        state.finished_at = utcnow()
        state.followups_asked = 0
        yield self._notice(state, _t(state.config.language, "done"), None)
        self._set_phase(state, Phase.finished)
        yield Event(type="finished")

    def _set_phase(self, state: SessionState, phase: Phase, force: bool = False) -> None:
        changed = state.phase != phase
        state.phase = phase
        if changed or force:  # force: a new question is progress the store should see too
            self.record_session(state)

    def record_session(self, state: SessionState) -> None:
        """Write the resume snapshot now (the engine does on every phase change and new question)."""
        # The state is the store's resume snapshot; status is the store's coarse view. Turns are
        # left out: each was recorded as it happened, and the store fills them in on resume.
        row = state.model_dump(mode="json", exclude={"turns"})
        row["status"] = "finished" if state.phase == Phase.finished else "active"
        # The snapshot's version: the store refuses it when more turns are stored than this copy
        # has seen (another tab or replica moved the session on; SessionMovedOn).
        row["turns_seen"] = len(state.turns)
        self.recorder.record_session(row)

    def _turn(self, state: SessionState, role: str, kind: str, text: str, qid: str | None,
              truncated: bool = False) -> Event:
        turn = Turn(session_id=state.id, index=len(state.turns), question_id=qid, role=role, kind=kind,
                    text=text, truncated=truncated)
        state.turns.append(turn)
        self.recorder.record_turn(turn)
        return Event(type="turn", turn=turn, question_id=qid)

    def _notice(self, state: SessionState, text: str, qid: str | None) -> Event:
        event = self._turn(state, "system", "notice", text, qid)
        return Event(type="notice", turn=event.turn, question_id=qid)


