"""The interview tab's event handlers: events in, service calls, views out.

Per-user data (the session state, the browser's id) comes in as arguments; the handler object
holds only the shared, read-only services.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import gradio as gr
import pandas as pd

from interviewer import service
from interviewer.models import SessionConfig
from interviewer.ui import render, streaming

ALL = "全部 / all"
GRADE_WAIT = 900.0  # seconds a view waits for background grades (each is bounded by the grader's retries)
LANGUAGES = [("中文", "zh"), ("English", "en")]
# Shown to a tab whose copy of the session is behind (another tab answered first).
MOVED_ON = ("这场面试已在另一个标签页继续，这里显示的是最新进度；你的操作没有提交，如需要请重新发送。 / "
            "This interview moved on in another tab; this is where it stands now. Your action was not "
            "applied: send it again if you still want to.")


def empty_browser() -> dict:
    return {"browser_id": "", "session_id": None, "state": None}


def _browser(bs: Any) -> dict:
    """The BrowserState value with a browser id (created on first visit)."""
    bs = dict(bs) if isinstance(bs, dict) else empty_browser()
    if not bs.get("browser_id"):
        bs["browser_id"] = uuid.uuid4().hex
    return bs


class InterviewUI:
    """Event handlers. Holds only the shared read-only services; per-user data comes in as arguments."""

    def __init__(self, services: service.Services):
        self.s = services
        self.engine = services.engine
        self.settings = services.settings
        # The chat component, once built: views hand Gradio the chat already in its wire format
        # (the interview events run with Gradio's postprocessing off, see build_app).
        self.chatbot: gr.Chatbot | None = None

    # ------------------------------------------------------------------ state
    def resolve(self, st: Any, bs: dict):
        """The current session of this browser: the live copy, else what the service resumes."""
        sid = bs.get("session_id")
        owner = bs.get("browser_id")
        if not sid or not owner:
            return None
        if st is not None and getattr(st, "id", None) == sid and st.owner == owner:
            return st
        return self.s.resume(sid, owner, bs.get("state"))

    def snapshot(self, state) -> str | None:
        """Store the state after every action; a warning to show when the store could not take it."""
        return None if state is None else self.s.save(state)

    @staticmethod
    def _answer_box(state, finished: bool, controls: bool, clear: bool):
        if controls or finished:
            update = {"interactive": state is not None and not finished}
            return gr.update(value="", **update) if clear else gr.update(**update)
        return "" if clear else gr.skip()  # a plain value, not a property update (see view())

    def _store_browser(self, bs: dict, state) -> dict:
        bs = dict(bs)
        bs["session_id"] = state.id if state is not None else None
        bs["state"] = state.model_dump(mode="json") if state is not None else None
        return bs

    # ------------------------------------------------------------------ rendering
    def _lang(self, state) -> str:
        return state.config.language if state is not None else "zh"

    def chat_messages(self, state, pending: str | None = None, notice: str | None = None) -> list[dict]:
        messages = [] if state is None else render.turns_to_messages(
            state.turns, pending=pending, language=self._lang(state), max_chars=self.settings.max_answer_chars)
        if notice:  # said to this tab only, not part of the transcript
            messages.append(render.notice_message(notice))
        return streaming.wire_chat(self.chatbot, messages)

    def cards_html(self, state, newest_first: bool = True) -> str:
        """Grade cards of the graded (and skipped) questions only: key points appear after grading."""
        if state is None:
            return ""
        lang = self._lang(state)
        cards = []
        for i, qid in enumerate(state.plan):
            rec = state.records.get(qid)
            if rec is not None and rec.grade is None and rec.grade_pending:
                cards.append(render.pending_card_html(qid, rec.asked, lang, index=i + 1))
                continue
            if rec is None or (rec.grade is None and not rec.skipped):
                continue
            truncated = any(t.truncated for t in state.turns if t.question_id == qid and t.role == "candidate")
            cards.append(render.grade_card_html(
                qid, rec.asked, rec.answers, rec.grade, self.s.card(qid), lang, skipped=rec.skipped,
                truncated=truncated, index=i + 1))
        if newest_first:
            cards.reverse()
        return "".join(cards)

    def report_view(self, state) -> str:
        """The report's HTML once the session is finished, else ""."""
        if state is None or getattr(state.phase, "value", state.phase) != "finished":
            return ""
        report = self.engine.report(state)
        if report.pending:  # never a partial total as if it were final
            return render.report_pending_html(report.pending, self._lang(state))
        return render.report_html(report, self._lang(state))

    def downloads(self, bs, st):
        """The Markdown and JSON downloads of this browser's session once it is finished (run
        when the report changes, and callable as /downloads); else the buttons stay as they are."""
        try:
            state = self.resolve(st, _browser(bs))
        except service.UnusableState:
            return None, None
        if state is None or getattr(state.phase, "value", state.phase) != "finished":
            return None, None
        if self.engine.wait_grades(state, timeout=GRADE_WAIT):
            return None, None  # still grading: the exports come with the complete report
        md, js = self.export_files(state)
        return gr.update(value=md, visible=bool(md)), gr.update(value=js, visible=bool(js))

    def export_files(self, state) -> tuple[str | None, str | None]:
        return self.s.export_files(state.id, state.owner)

    def view(self, state, bs: dict, pending: str | None = None, final: bool = True, controls: bool = True,
             clear_answer: bool = False, notice: str | None = None):
        """Outputs of every interview event: chat, cards, report, downloads, answer box, states.

        Gradio rebuilds a component, and its config and JSON schema, for every property update,
        gr.skip() included, so views send plain values wherever they can:
        - the report is "" until the interview is finished, previews included;
        - the download buttons are filled by downloads(), when the report appears (report.change):
          writing the exports is not part of showing the last grade. A new interview hides them
          (controls=True); otherwise a plain None leaves a hidden button as it is;
        - controls=False (an action within a running interview) leaves the answer box as it is
          unless the action finished the interview; clear_answer empties it (an accepted answer).
        """
        finished = state is not None and getattr(state.phase, "value", state.phase) == "finished"
        report = self.report_view(state) if final else ""
        if controls and not finished:
            downloads = (gr.update(value=None, visible=False), gr.update(value=None, visible=False))
        else:
            downloads = (None, None)
        return (
            self.chat_messages(state, pending, notice),
            self.cards_html(state),
            report,
            *downloads,
            self._answer_box(state, finished, controls, clear_answer),
            # A preview leaves the session state alone (a skipped gr.State costs nothing, a set one
            # rebuilds its config); the final view sets both copies.
            state if final else gr.skip(),
            self._store_browser(bs, state) if final else gr.skip(),
        )

    # ------------------------------------------------------------------ serving an event
    # Each handler is an async generator over a job that runs in its own thread (streaming.serve).

    def _drive(self, events, state, bs: dict, publish, controls: bool = True, clear_answer: bool = False):
        """Run the engine's events (in the job's thread), then snapshot and return the final view.

        Offline, a whole turn takes tens of milliseconds: only the final view is sent. With a
        model, grading and phrasing take seconds, so the candidate sees their answer at once and
        the question as it streams (at most every STREAM_INTERVAL). A preview of a new message is
        held until the engine's next request to the model goes out (service.before_model_request) or the
        engine is done: Gradio's work on it then overlaps the model's wait instead of delaying
        the request. This thread alone reads the state until it is done, and it runs to the end
        even if the browser went away, so the turn is graded and stored.
        """
        before_request = service.before_model_request

        eager = self.settings.use_llm
        # With grading in the background, the next question is what the candidate waits for: its
        # first piece is shown at once instead of after one stream interval.
        first_now = getattr(self.engine, "background_grading", False)
        moved = False
        pending = ""
        shown = False
        last = 0.0
        held = False

        def preview() -> None:
            publish("view", self.view(state, bs, pending=pending or None, final=False, controls=controls))

        def release() -> None:
            nonlocal held
            if held:
                held = False
                preview()

        before_request.set(release)
        try:
            for ev in events:
                if not eager:
                    continue
                due = False
                if ev.type == "delta" and ev.delta:
                    if not pending and not first_now:
                        # The first piece waits one interval too: a reply that arrives all at
                        # once then goes out with the final view instead of a preview just before it.
                        last = time.monotonic()
                    pending += ev.delta
                    due = time.monotonic() - last >= streaming.STREAM_INTERVAL
                elif ev.type in ("turn", "grade", "notice", "finished"):
                    if ev.type in ("turn", "notice"):
                        # A completed turn replaces its preview; a notice may mean the model
                        # failed and the streamed text is void (the final turn is authoritative).
                        pending = ""
                    # The first message (usually the candidate's answer) is shown at once, as the
                    # model works on the grade; later ones ride on the next preview or the final view.
                    due = not shown
                if due:
                    last, shown = time.monotonic(), True
                    if ev.type == "delta":
                        preview()  # the model is streaming: show it now
                    else:
                        held = True
        except service.SessionMovedOn:
            # Another process stored a turn at this index first: its turn stands, and this copy
            # is void: not snapshotted, or it would overwrite the newer state.
            moved = True
        except ValueError as exc:  # e.g. an action the current phase does not allow
            publish("warning", str(exc))
            clear_answer = False
        finally:
            before_request.set(None)
            warning = None
            if not moved:
                try:
                    warning = self.snapshot(state)
                except service.SessionMovedOn:  # the store has more turns than this copy: show its state
                    moved = True
            if warning:
                publish("warning", warning)
        if moved:
            return self._moved_on(state, bs, publish)
        return self.view(state, bs, final=True, controls=controls, clear_answer=clear_answer)

    def _moved_on(self, stale, bs: dict, publish):
        """The store's state of a session this tab was behind on, with the reason."""
        publish("warning", MOVED_ON)
        current = self.s.load_session(stale.id, stale.owner) or stale
        return self.view(current, bs, notice=MOVED_ON)

    # ------------------------------------------------------------------ handlers
    async def on_load(self, bs):
        async for out in streaming.serve(self._load_job, bs):
            yield out

    def _resolve_or_say(self, st, bs: dict, publish):
        """resolve(), telling the candidate when the copy in their browser cannot be used."""
        try:
            return self.resolve(st, bs), None
        except service.UnusableState as exc:
            publish("warning", str(exc))
            return None, str(exc)

    def _load_job(self, bs, publish):
        bs = _browser(bs)
        state, problem = self._resolve_or_say(None, bs, publish)
        if state is None:
            bs = self._store_browser(bs, None)
        return self.view(state, bs, notice=problem)

    def _view_job(self, bs, st, publish):
        bs = _browser(bs)
        state, problem = self._resolve_or_say(st, bs, publish)
        return self.view(state, bs, notice=problem)

    async def start(self, topics, sections, n_questions, followups, language, weak_spots, bs, st):
        async for out in streaming.serve(self._start_job, topics, sections, n_questions, followups, language,
                                     weak_spots, bs):
            yield out

    def _start_job(self, topics, sections, n_questions, followups, language, weak_spots, bs, publish):
        bs = _browser(bs)
        config = SessionConfig(
            topics=[t for t in (topics or []) if t != ALL], sections=[s for s in (sections or []) if s != ALL],
            n_questions=int(n_questions), followups=bool(followups), language=language or "zh",
            weak_spots=bool(weak_spots))
        state = self.s.start(config, owner=bs["browser_id"])
        try:
            return self._drive(self.engine.open(state), state, bs, publish)
        finally:
            self.s.warm_up_once()

    def _act_job(self, action: str, bs, st, *args, publish):
        bs = _browser(bs)
        state, problem = self._resolve_or_say(st, bs, publish)
        if state is None:
            if problem is None:
                publish("warning", "没有进行中的面试 / no interview in progress — 请先开始 (start one first)")
            return self.view(None, self._store_browser(bs, None) if problem else bs, notice=problem)
        # One action per session at a time; a copy that is behind the store is not acted on.
        with self.s.exclusive(state) as current:
            if current is not state:
                publish("warning", MOVED_ON)
                return self.view(current, bs, notice=MOVED_ON)
            if getattr(state.phase, "value", state.phase) == "finished":
                return self.view(state, bs)
            # An action on a running interview: the answer box stays enabled and the downloads hidden
            # unless it finishes the interview (view() sends them then). An accepted answer clears the box.
            return self._drive(getattr(self.engine, action)(state, *args), state, bs, publish, controls=False,
                               clear_answer=action == "answer")

    async def answer(self, text, bs, st):
        text = "" if text is None else str(text)  # raw input (no preprocessing): an API client may send anything
        if not text.strip():
            gr.Warning("回答为空 / empty answer")
            async for out in streaming.serve(self._view_job, bs, st):
                yield out
            return
        async for out in streaming.serve(self._act_job, "answer", bs, st, text):
            yield out

    async def skip(self, bs, st):
        async for out in streaming.serve(self._act_job, "skip", bs, st):
            yield out

    async def repeat(self, bs, st):
        async for out in streaming.serve(self._act_job, "repeat", bs, st):
            yield out

    async def end(self, bs, st):
        async for out in streaming.serve(self._act_job, "end", bs, st):
            yield out

    async def grades(self, bs, st):
        """After an action: wait for this session's background grades, then the view with their
        cards (and the report, if it was waiting for them). Holds no lock: the candidate may
        answer the next question meanwhile."""
        async for out in streaming.serve(self._grades_job, bs, st):
            yield out

    def _grades_job(self, bs, st, publish):
        bs = _browser(bs)
        state, _ = self._resolve_or_say(st, bs, publish)
        if state is None or not self.engine.pending_grades(state):
            return self.view(state, bs, controls=False)
        # Until no grade of the session is pending, including grades of answers sent while this
        # waits: the page does not run this event again while it is running (the candidate who
        # answers the next question before the last grade arrived would see "grading…" forever).
        deadline = time.monotonic() + GRADE_WAIT
        while self.engine.pending_grades(state) and time.monotonic() < deadline:
            self.engine.wait_grades(state, timeout=max(0.0, deadline - time.monotonic()))
        return self.view(state, bs, controls=False)

    # ------------------------------------------------------------------ progress
    def mastery(self, owner: str | None) -> pd.DataFrame:
        """Per-topic mastery (0-10, recency-weighted) of this browser's graded answers, for the chart."""
        data = self.s.mastery(owner)
        return pd.DataFrame([{"topic": t, "mastery": v} for t, v in data.items()], columns=["topic", "mastery"])
