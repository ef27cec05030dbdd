"""The review tab: this browser's past sessions, each as a transcript with its grade cards;
filters, regrade (old grades kept beside the new), Markdown/JSON export, delete, mastery chart.

A browser sees only the sessions it owns (owner = its browser id); with settings.admin every
session is listed. Ownership is checked on every action, not only when listing.
"""

from __future__ import annotations

from typing import Any

import gradio as gr
import pandas as pd

from interviewer.service import MAX_UPLOAD_BYTES, ImportRefused
from interviewer.ui import render
from interviewer.ui.render import esc

ALL = "全部 / all"


def _status(text: str, ok: bool) -> str:
    color = "#1a7f37" if ok else "#cf222e"
    return f'<span style="color:{color}">{esc(text)}</span>'


def _dt(value) -> str:
    return value.astimezone().strftime("%Y-%m-%d %H:%M") if value is not None else ""


def session_label(s) -> str:
    """One line per session in the list: when, topics, score, progress, status."""
    score = "—" if s.overall is None else f"{s.overall:.1f}/10"
    topics = ", ".join(s.topics[:4]) or "全部主题"
    status = "已完成 finished" if s.status == "finished" else "进行中 active"
    return f"{_dt(s.created_at)} · {topics} · {score} · {s.n_graded}/{s.n_questions} 题 · {status}"


class ReviewUI:
    def __init__(self, services, interview_ui):
        self.s = services
        self.ui = interview_ui

    def _owner(self, bs: Any) -> str | None:
        """Whose sessions this browser may see: its own, or everyone's in admin mode."""
        if self.s.settings.admin:
            return None
        owner = (bs or {}).get("browser_id") if isinstance(bs, dict) else None
        # A browser without an id owns nothing; "" would match sessions recorded without an owner.
        return owner or "\x00no-owner"

    # ------------------------------------------------------------------ handlers
    def list_sessions(self, topic, min_score, bs):
        """(review-list update, mastery data) for this browser, filtered by topic and minimum score."""
        sessions = self.s.store.list_sessions(
            owner=self._owner(bs), topic=None if not topic or topic == ALL else topic,
            min_score=float(min_score) if min_score else None)
        choices = [(session_label(s), s.id) for s in sessions]
        return gr.update(choices=choices, value=None), self.ui.mastery(self._owner(bs))

    def _record(self, session_id, bs):
        if not session_id:
            return None
        try:
            return self.s.store.get_session(session_id, owner=self._owner(bs))
        except KeyError:  # SessionNotFound: unknown, or someone else's
            return None

    def transcript(self, record) -> str:
        """The session as escaped text, question by question, each followed by its grade card."""
        if record is None:
            return ""
        language = (record.config or {}).get("language", "zh")
        parts = [f'<div class="ms-meta">{esc(_dt(record.created_at))} · {esc(record.interviewer_label)} · '
                 f'{esc(record.grader_label)} · session {esc(record.id)}</div>']
        usage = render.usage_html((record.state or {}).get("usage"), self.s.settings.price_per_mtok, language)
        if usage:
            parts.append(usage)
        session_turns = [t for t in record.turns if t.question_id is None]
        parts.append(render.transcript_html(session_turns, language))
        for i, q in enumerate(record.questions()):
            card = self.s.card(q.question_id)
            asked = next((t.text for t in q.turns if t.kind == "question"), card.question if card else q.question_id)
            answers = [t.text for t in q.turns if t.role == "candidate" and t.kind == "answer"]
            truncated = any(t.truncated for t in q.turns if t.role == "candidate")
            grades = sorted(([q.grade] if q.grade else []) + list(q.superseded), key=lambda g: g.id)
            history = [(self._heading(g, n, language), g.grade) for n, g in enumerate(grades)]
            skipped = not answers and any(t.kind == "skip" for t in q.turns)
            parts.append('<div class="ms-question">')
            parts.append(render.transcript_html(q.turns, language))
            parts.append(render.grade_card_html(
                q.question_id, asked, answers, q.grade.grade if q.grade else None, card, language,
                skipped=skipped, truncated=truncated, history=history, index=i + 1))
            parts.append("</div>")
        return "".join(parts)

    @staticmethod
    def _heading(stored, n: int, language: str) -> str:
        t = render.T.get(language, render.T["zh"])
        which = t["original"] if n == 0 else f'{t["regrade"]} #{n}'
        state = ("当前 current" if stored.is_current else "已被取代 superseded")
        return f"{which} · {_dt(stored.created_at)} · {state}"

    def open_session(self, session_id, bs):
        record = self._record(session_id, bs)
        if record is None:
            return "", None, None
        md, js = self.export(record)
        return self.transcript(record), md, js

    def export(self, record) -> tuple[str, str]:
        return self.s.write_exports(record)

    def regrade(self, session_id, bs):
        """Grade every answered question again with the current grader; old grades stay beside."""
        record = self._record(session_id, bs)
        if record is None:
            gr.Warning("请先选择一场面试 / choose a session first")
            return "", None, None
        done = self.s.regrade(record)
        gr.Info(f"已重新评分 {done} 题 / regraded {done} question(s)")
        return self.open_session(record.id, bs)

    def delete(self, session_id, topic, min_score, bs):
        record = self._record(session_id, bs)
        if record is not None:
            self.s.delete_session(record.id, owner=self._owner(bs))
            gr.Info("已删除 / deleted")
        listing, mastery = self.list_sessions(topic, min_score, bs)
        return listing, mastery, "", None, None, ""

    def import_session(self, path, topic, min_score, bs):
        """Restore an exported JSON transcript for review, owned by this browser.

        Returns (review-list, mastery, selected session id, status line). A file that is not a
        Mianshi JSON export (an image, binary, malformed or a different format) is refused with
        the reason; nothing is written then.
        """
        owner = (bs or {}).get("browser_id") if isinstance(bs, dict) else None
        listing, mastery = self.list_sessions(topic, min_score, bs)
        if not path:
            return listing, mastery, gr.skip(), ""
        if not owner:
            return listing, mastery, gr.skip(), _status("请先开始或刷新页面 / reload the page first", ok=False)
        try:
            sid = self.s.import_file(path, owner)
        except ImportRefused as exc:
            return listing, mastery, gr.skip(), _status(f"未导入 / not imported: {exc}", ok=False)
        listing, mastery = self.list_sessions(topic, min_score, bs)
        return listing, mastery, sid, _status(f"已导入 / imported: session {sid}", ok=True)

    # ------------------------------------------------------------------ layout
    def layout(self, topics: list[str]) -> None:
        with gr.Row():
            self.topic = gr.Dropdown([ALL] + topics, value=ALL, label="主题 Topic", elem_id="review-topic")
            self.min_score = gr.Slider(0, 10, value=0, step=0.5, label="最低分 Min score",
                                       elem_id="review-min-score")
            self.refresh = gr.Button("刷新 Refresh", elem_id="review-refresh")
        with gr.Row(equal_height=False):
            with gr.Column(scale=2):
                self.list = gr.Radio([], label="我的面试 My sessions", elem_id="review-list")
                self.mastery_plot = gr.BarPlot(
                    pd.DataFrame(columns=["topic", "mastery"]), x="topic", y="mastery", y_lim=[0, 10],
                    title="掌握度 Mastery by topic (0-10)", x_label_angle=-30, height=300,
                    elem_id="mastery-chart")
            with gr.Column(scale=3):
                with gr.Row():
                    self.regrade_btn = gr.Button("重新评分 Regrade", elem_id="regrade-button")
                    self.export_md = gr.DownloadButton("导出 Markdown", elem_id="export-md")
                    self.export_json = gr.DownloadButton("导出 JSON", elem_id="export-json")
                    self.delete_btn = gr.Button("删除 Delete", variant="stop", elem_id="delete-button")
                with gr.Row():
                    limit = f"{MAX_UPLOAD_BYTES // 2**20} MB"
                    self.import_btn = gr.UploadButton(f"导入 JSON Import（≤ {limit}）", file_types=[".json"],
                                                      file_count="single", elem_id="import-json")
                    self.import_status = gr.HTML("", elem_id="import-status")
                self.transcript_html = gr.HTML("", elem_id="review-transcript")
                self.selected = gr.Textbox("", visible=False, elem_id="review-selected")

    def wire(self, demo, bs, review_tab) -> None:
        listing = dict(fn=self.list_sessions, inputs=[self.topic, self.min_score, bs],
                       outputs=[self.list, self.mastery_plot])
        review_tab.select(**listing, api_name=False)
        self.refresh.click(**listing, api_name="sessions")
        self.topic.change(**listing, api_name=False)
        self.min_score.release(**listing, api_name=False)
        # The selected session id lives in a hidden textbox so every action (and an API client)
        # names the session explicitly; the radio only sets it.
        self.list.input(lambda v: v or "", self.list, self.selected, api_name=False)
        views = [self.transcript_html, self.export_md, self.export_json]
        self.selected.change(self.open_session, [self.selected, bs], views, api_name="open_session")
        self.regrade_btn.click(self.regrade, [self.selected, bs], views, api_name="regrade")
        self.import_btn.upload(self.import_session, [self.import_btn, self.topic, self.min_score, bs],
                               [self.list, self.mastery_plot, self.selected, self.import_status],
                               api_name="import_session")
        self.delete_btn.click(self.delete, [self.selected, self.topic, self.min_score, bs],
                              [self.list, self.mastery_plot, *views, self.selected], api_name="delete_session")
