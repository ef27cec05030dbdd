"""The Gradio app: start screen, streamed interview with grade cards, report, and review tab.

Per-user state lives only in the browser (gr.BrowserState: browser id, current session id and
a serialised copy of the session) and in the per-connection gr.State; the SQLite store holds the
full record. Nothing user-specific is kept in this module or in the closures below, so two
browsers never see each other's sessions.
"""

from __future__ import annotations

import asyncio
import contextvars
import os
import tempfile
import threading
import time
import uuid
from typing import Any

import gradio as gr
import pandas as pd

from interviewer.models import SessionConfig
from interviewer.ui import render
from interviewer.ui.render import esc
from interviewer.ui.services import Services, browser_secret

ALL = "全部 / all"
STREAM_INTERVAL = 0.05  # seconds between re-renders of a streamed message (20 per second)
LANGUAGES = [("中文", "zh"), ("English", "en")]

APP_CSS = render.CARD_CSS + """
#status-line{font-size:13px;color:#57606a}
#chat{min-height:420px}
#grade-card{max-height:760px;overflow-y:auto}
#report{margin-top:12px}
#report:empty{display:none}
.gradio-container{max-width:1400px !important}
"""


def _empty_browser() -> dict:
    return {"browser_id": "", "session_id": None, "state": None}


def _browser(bs: Any) -> dict:
    """The BrowserState value with a browser id (created on first visit)."""
    bs = dict(bs) if isinstance(bs, dict) else _empty_browser()
    if not bs.get("browser_id"):
        bs["browser_id"] = uuid.uuid4().hex
    return bs


class InterviewUI:
    """Event handlers. Holds only the shared read-only services; per-user data comes in as arguments."""

    def __init__(self, services: Services):
        self.s = services
        self.engine = services.engine
        self.settings = services.settings
        # The chat component, once built: views hand Gradio the chat already in its wire format
        # (the interview events run with Gradio's postprocessing off, see build_app).
        self.chatbot: gr.Chatbot | None = None

    # ------------------------------------------------------------------ state
    def _state_class(self):
        from interviewer.engine.session import SessionState

        return SessionState

    def resolve(self, st: Any, bs: dict):
        """The current session of this browser: the live copy, the store's snapshot, or BrowserState's."""
        sid = bs.get("session_id")
        owner = bs.get("browser_id")
        if not sid or not owner:
            return None
        if st is not None and getattr(st, "id", None) == sid and st.owner == owner:
            return st
        from interviewer.store import SessionNotFound, StoreError

        try:
            state = self._from_store(sid, owner)
            if state is not None:
                return state
            if self.s.store.exists(sid):
                # Someone else's session id (or one without a snapshot): never adopt a
                # browser-supplied state for it, or its turns would be written into that session.
                return None
        except SessionNotFound:
            if self.s.store.exists(sid):
                return None
        except StoreError:
            pass  # the store is unavailable: fall back to the copy kept in the browser
        raw = bs.get("state")
        if raw:
            try:
                state = self._state_class().model_validate(raw)
            except ValueError:
                return None
            if state.id == sid and state.owner == owner:
                return state
        return None

    def _from_store(self, sid: str, owner: str):
        """The store's latest snapshot (it fills in the turns from the turns table)."""
        snap = self.s.store.load_state(sid, owner=owner)
        if snap is None:
            return None
        state = self._state_class().model_validate(snap)
        # A snapshot taken just before a question was asked (the process was stopped mid-stream)
        # has the question in the turns but not in its record: take it from there, so resuming
        # does not ask it a second time.
        qid = state.current_id
        if getattr(state.phase, "value", state.phase) != "finished" and qid and not state.records[qid].asked:
            asked = [t.text for t in state.turns if t.question_id == qid and t.kind == "question"]
            if asked:
                state.records[qid].asked = asked[-1]
        return state

    def snapshot(self, state) -> str | None:
        """Store the state after every action, so a reload resumes exactly here. Returns a
        warning to show when the store could not take it (callable from any thread)."""
        if state is None:
            return None
        from interviewer.store import StoreError

        try:
            self.engine.record_session(state)
        except StoreError as exc:
            return str(exc)
        return None

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

    def chat_messages(self, state, pending: str | None = None) -> list[dict]:
        messages = [] if state is None else render.turns_to_messages(
            state.turns, pending=pending, language=self._lang(state), max_chars=self.settings.max_answer_chars)
        if self.chatbot is None:
            return messages
        # What Gradio's own postprocessing would send, made here in the handler's thread.
        return self.chatbot.postprocess(messages).model_dump()

    def cards_html(self, state, newest_first: bool = True) -> str:
        """Grade cards of the graded (and skipped) questions only: key points appear after grading."""
        if state is None:
            return ""
        lang = self._lang(state)
        cards = []
        for i, qid in enumerate(state.plan):
            rec = state.records.get(qid)
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
        return render.report_html(self.engine.report(state), self._lang(state))

    def downloads(self, bs, st):
        """The Markdown and JSON downloads of this browser's session once it is finished (run
        when the report changes, and callable as /downloads); else the buttons stay as they are."""
        state = self.resolve(st, _browser(bs))
        if state is None or getattr(state.phase, "value", state.phase) != "finished":
            return None, None
        md, js = self.export_files(state)
        return gr.update(value=md, visible=bool(md)), gr.update(value=js, visible=bool(js))

    def export_files(self, state) -> tuple[str | None, str | None]:
        from interviewer.store import StoreError

        try:
            record = self.s.store.get_session(state.id, owner=state.owner)
        except (KeyError, StoreError):
            return None, None
        return write_exports(self.s, record)

    def view(self, state, bs: dict, pending: str | None = None, final: bool = True, controls: bool = True,
             clear_answer: bool = False):
        """Outputs of every interview event: chat, cards, report, downloads, answer box, states.

        Gradio rebuilds a component, and its config and JSON schema, for every property update,
        gr.skip() included (an HTML's costs ~3 ms), so views send plain values wherever they can:
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
            self.chat_messages(state, pending),
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
    #
    # Each handler is an async generator that only forwards what a "job" produces: the job runs
    # in a thread of its own (the engine, the store and every view are blocking work) and hands
    # over previews and the final view through an asyncio queue. Gradio drives a sync generator
    # through a worker-thread hand-off per item, plus one to find its end (~1-2 ms each on this
    # 2-core machine); an async generator runs on its event loop, so an event costs one hand-off.

    async def _serve(self, job, *args):
        loop = asyncio.get_running_loop()
        feed: asyncio.Queue = asyncio.Queue()

        def publish(kind: str, item: Any) -> None:  # from the job's thread
            loop.call_soon_threadsafe(feed.put_nowait, (kind, item))

        def work() -> None:
            try:
                publish("final", job(*args, publish=publish))
            except BaseException as exc:  # raised from the handler, where Gradio shows it
                publish("error", exc)

        threading.Thread(target=contextvars.copy_context().run, args=(work,), name="mianshi-event",
                         daemon=True).start()
        while True:
            batch = [await feed.get()]
            while not feed.empty():
                batch.append(feed.get_nowait())
            preview = None
            for kind, item in batch:
                if kind == "warning":
                    gr.Warning(item)
                elif kind == "error":
                    raise item
                elif kind == "final":
                    yield item
                    return
                else:
                    preview = item  # the latest preview replaces any not yet sent
            if preview is not None:
                yield preview

    def _drive(self, events, state, bs: dict, publish, controls: bool = True, clear_answer: bool = False):
        """Run the engine's events (in the job's thread), then snapshot and return the final view.

        Offline, a whole turn takes tens of milliseconds: only the final view is sent. With a
        model, grading and phrasing take seconds, so the candidate sees their answer at once and
        the question as it streams (at most every STREAM_INTERVAL). A preview of a new message is
        held until the engine's next request to the model goes out (llm.before_request) or the
        engine is done: Gradio's work on it then overlaps the model's wait instead of delaying
        the request. This thread alone reads the state until it is done, and it runs to the end
        even if the browser went away, so the turn is graded and stored.
        """
        from interviewer.llm.client import before_request

        eager = self.settings.use_llm
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
                    if not pending:
                        # The first piece waits one interval too: a reply that arrives all at
                        # once then goes out with the final view instead of a preview just before it.
                        last = time.monotonic()
                    pending += ev.delta
                    due = time.monotonic() - last >= STREAM_INTERVAL
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
        except ValueError as exc:  # e.g. an action the current phase does not allow
            publish("warning", str(exc))
            clear_answer = False
        finally:
            before_request.set(None)
            warning = self.snapshot(state)
            if warning:
                publish("warning", warning)
        return self.view(state, bs, final=True, controls=controls, clear_answer=clear_answer)

    # ------------------------------------------------------------------ handlers
    async def on_load(self, bs):
        async for out in self._serve(self._load_job, bs):
            yield out

    def _load_job(self, bs, publish):
        bs = _browser(bs)
        state = self.resolve(None, bs)
        if state is None:
            bs = self._store_browser(bs, None)
        return self.view(state, bs)

    def _view_job(self, bs, st, publish):
        bs = _browser(bs)
        return self.view(self.resolve(st, bs), bs)

    async def start(self, topics, sections, n_questions, followups, language, weak_spots, bs, st):
        async for out in self._serve(self._start_job, topics, sections, n_questions, followups, language,
                                     weak_spots, bs):
            yield out

    def _start_job(self, topics, sections, n_questions, followups, language, weak_spots, bs, publish):
        bs = _browser(bs)
        config = SessionConfig(
            topics=[t for t in (topics or []) if t != ALL], sections=[s for s in (sections or []) if s != ALL],
            n_questions=int(n_questions), followups=bool(followups), language=language or "zh",
            weak_spots=bool(weak_spots))
        history = self.history(bs["browser_id"]) if weak_spots else None
        state = self.engine.start(config, owner=bs["browser_id"], history=history)
        try:
            return self._drive(self.engine.open(state), state, bs, publish)
        finally:
            self.s.warm_up_once()

    def _act_job(self, action: str, bs, st, *args, publish):
        bs = _browser(bs)
        state = self.resolve(st, bs)
        if state is None:
            publish("warning", "没有进行中的面试 / no interview in progress — 请先开始 (start one first)")
            return self.view(None, bs)
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
            async for out in self._serve(self._view_job, bs, st):
                yield out
            return
        async for out in self._serve(self._act_job, "answer", bs, st, text):
            yield out

    async def skip(self, bs, st):
        async for out in self._serve(self._act_job, "skip", bs, st):
            yield out

    async def repeat(self, bs, st):
        async for out in self._serve(self._act_job, "repeat", bs, st):
            yield out

    async def end(self, bs, st):
        async for out in self._serve(self._act_job, "end", bs, st):
            yield out

    # ------------------------------------------------------------------ progress
    def _card_topics(self, card_id: str) -> list[str]:
        return self.s.bank.get(card_id).topics

    def history(self, owner: str):
        from interviewer import progress

        return progress.history_for_planner(self.s.store, owner, card_topics=self._card_topics)

    def mastery(self, owner: str | None) -> pd.DataFrame:
        """Per-topic mastery (0-10, recency-weighted) of this browser's graded answers, for the chart."""
        from interviewer import progress

        data = progress.mastery(self.s.store, owner, card_topics=self._card_topics)
        return pd.DataFrame([{"topic": t, "mastery": v} for t, v in data.items()], columns=["topic", "mastery"])


# ---------------------------------------------------------------------- exports

def write_exports(services: Services, record) -> tuple[str, str]:
    """Markdown and JSON files of a session in the process's export dir (Gradio copies returned
    files to its cache). One file per session and format, replaced whole on each export, so
    exporting again does not pile up files."""
    from interviewer import export
    from interviewer.store import Scrubber

    scrubber = Scrubber.from_settings(services.settings)
    out = services.export_dir
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for suffix, text in (("md", export.to_markdown(record, scrubber)), ("json", export.dumps_json(record, scrubber))):
        path = out / f"mianshi-{record.id}.{suffix}"
        # Written beside and renamed over: a download of the same session at the same moment
        # reads the old file or the new one, never half of one.
        with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=out, delete=False, suffix=".part") as tmp:
            tmp.write(text)
        os.replace(tmp.name, path)
        paths.append(str(path))
    return paths[0], paths[1]


# ---------------------------------------------------------------------- layout

def build_app(settings, services: Services | None = None, env: dict[str, str] | None = None) -> gr.Blocks:
    """The app for these settings. Services (bank, engine, store) are built once here if not given."""
    from interviewer.ui.review import ReviewUI

    env = dict(os.environ if env is None else env)
    services = services or __import__("interviewer.ui.services", fromlist=["build_services"]).build_services(settings)
    ui = InterviewUI(services)
    review = ReviewUI(services, ui)
    topics = list(services.bank.topics())
    sections = list(services.bank.sections())

    # Gradio keeps a copy of every file it served (the exports): hourly, drop copies over a day old.
    with gr.Blocks(title="Mianshi 面试", delete_cache=(3600, 86400)) as demo:
        bs = gr.BrowserState(_empty_browser(), storage_key="mianshi-browser-v1",
                             secret=browser_secret(settings, env))
        st = gr.State(None)
        gr.HTML('<h2 style="margin:0">Mianshi 面试 · mock interviewer</h2>')
        gr.HTML(f'<div>{esc(settings.describe_interviewer())} · '
                f'{len(services.bank.cards())} questions</div>', elem_id="status-line")

        with gr.Tab("面试 Interview", id="tab-interview"):
            with gr.Accordion("开始新面试 / New interview", open=True, elem_id="start-screen"):
                with gr.Row():
                    topics_in = gr.Dropdown(topics, multiselect=True, label="主题 Topics（空 = 全部）",
                                            elem_id="topics", scale=3)
                    sections_in = gr.Dropdown(sections, multiselect=True, label="轮次/板块 Sections（空 = 全部）",
                                              elem_id="sections", scale=3)
                with gr.Row():
                    n_in = gr.Slider(1, 20, value=5, step=1, label="题目数 Questions", elem_id="n-questions")
                    followups_in = gr.Checkbox(True, label="追问 Follow-ups", elem_id="followups")
                    lang_in = gr.Radio(LANGUAGES, value="zh", label="语言 Language", elem_id="language")
                    weak_in = gr.Checkbox(False, label="练习我的弱项 Practise my weak spots", elem_id="weak-spots")
                    start_btn = gr.Button("开始面试 Start", variant="primary", elem_id="start-button")
            with gr.Row(equal_height=False):
                with gr.Column(scale=3):
                    chat = gr.Chatbot(label="面试 Interview", show_label=False, elem_id="chat", height=520,
                                      sanitize_html=True, latex_delimiters=[], feedback_options=None,
                                      buttons=[], group_consecutive_messages=False)
                    answer_in = gr.Textbox(label="你的回答 Your answer", lines=4, max_lines=12,
                                           elem_id="answer-box", interactive=False,
                                           placeholder="输入你的回答，然后点「发送」/ type your answer, then Send")
                    with gr.Row():
                        send_btn = gr.Button("发送 Send", variant="primary", elem_id="send-button")
                        skip_btn = gr.Button("跳过 Skip", elem_id="skip-button")
                        repeat_btn = gr.Button("重复问题 Repeat", elem_id="repeat-button")
                        end_btn = gr.Button("结束 End", variant="stop", elem_id="end-button")
                with gr.Column(scale=2):
                    gr.HTML("<b>评分卡 Grade cards</b>")
                    cards = gr.HTML("", elem_id="grade-card", max_height=760)
            report = gr.HTML("", elem_id="report")
            with gr.Row():
                report_md = gr.DownloadButton("下载 Markdown", visible=False, elem_id="report-md")
                report_json = gr.DownloadButton("下载 JSON", visible=False, elem_id="report-json")

        with gr.Tab("回顾 Review", id="tab-review") as review_tab:
            review.layout(topics)

        ui.chatbot = chat
        outputs = [chat, cards, report, report_md, report_json, answer_in, st, bs]
        # Gradio pre- and post-processes each input and output in a worker thread, one hand-off
        # per component: ~1-2 ms each on this 2-core machine, ~10 ms a turn. The views are
        # already in wire form (chat_messages), and the inputs of the actions below are a text,
        # the browser state (a JSON dict) and a gr.State, which need no preprocessing.
        common = dict(outputs=outputs, concurrency_limit="default", postprocess=False)
        raw = dict(common, preprocess=False)
        start_btn.click(ui.start, [topics_in, sections_in, n_in, followups_in, lang_in, weak_in, bs, st],
                        api_name="start", **common)
        # The answer box is cleared by the view of an accepted answer (a failed one keeps it).
        # No submit-on-Enter: answers are often several paragraphs, Enter must make a new line.
        send_btn.click(ui.answer, [answer_in, bs, st], api_name="answer", **raw)
        skip_btn.click(ui.skip, [bs, st], api_name="skip", **raw)
        repeat_btn.click(ui.repeat, [bs, st], api_name="repeat", **raw)
        end_btn.click(ui.end, [bs, st], api_name="end", **raw)
        demo.load(ui.on_load, [bs], outputs, api_name="resume", postprocess=False, preprocess=False)
        report.change(ui.downloads, [bs, st], [report_md, report_json], api_name="downloads")

        review.wire(demo, bs, review_tab)
    return demo


def launch_kwargs() -> dict:
    return {"css": APP_CSS, "theme": gr.themes.Soft()}
