"""The 题库 / Bank tab: browse and search every card this browser sees, view a card, pick cards
(or a whole document, or a search result) and interview on exactly those; add a post (paste or
upload), review the questions found and the chrome dropped, untick or edit, then add.

Cards a browser adds belong to it (its browser id): no other browser sees them in the bank, in
search or in interviews. The handler object holds only the shared services.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gradio as gr
import pandas as pd

from interviewer import service
from interviewer.models import SessionConfig
from interviewer.ui import streaming
from interviewer.ui.bank_view import card_label, card_view_html, docs_html, preview_html, status_html
from interviewer.ui.interview import LANGUAGES, _browser

ALL = "全部 / all"
MAX_PICK = 20  # an interview asks at most 20 questions
FOUND_COLUMNS = ["#", "添加 add", "问题 question (可编辑 editable)", "行 line", "板块 section", "已有 duplicate of"]
UPLOAD_TYPES = [".txt", ".md", ".html", ".htm", ".pdf"]


def _opt(value) -> str | None:
    return None if not value or value == ALL else value


def _owner(bs: Any) -> str:
    return (bs or {}).get("browser_id", "") if isinstance(bs, dict) else ""


def _truthy(value) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes", "✓")
    return bool(value) and value == value  # NaN is not ticked


class BankUI:
    def __init__(self, services: service.Services, interview_ui):
        self.s = services
        self.ui = interview_ui
        self.actions = services.bank_actions

    # ------------------------------------------------------------------ layout
    def layout(self, languages=LANGUAGES) -> None:
        with gr.Row():
            self.query = gr.Textbox(label="搜索 Search (same fused search as the CLI)", elem_id="bank-query", scale=4)
            self.search_btn = gr.Button("搜索 Search", elem_id="bank-search", scale=1)
        with gr.Row():
            self.section = gr.Dropdown([ALL], value=ALL, label="板块 Section", elem_id="bank-section")
            self.topic = gr.Dropdown([ALL], value=ALL, label="主题 Topic", elem_id="bank-topic")
            self.company = gr.Dropdown([ALL], value=ALL, label="公司 Company", elem_id="bank-company")
            self.kind = gr.Dropdown([ALL], value=ALL, label="类型 Kind", elem_id="bank-kind")
            self.doc = gr.Dropdown([(ALL, ALL)], value=ALL, label="文档 Document", elem_id="bank-doc")
        self.count = gr.HTML("", elem_id="bank-count")
        with gr.Row(equal_height=False):
            with gr.Column(scale=3):
                self.picks = gr.CheckboxGroup([], label="题目 Cards — 勾选后开始面试 (tick, then start)",
                                              elem_id="bank-cards")
                with gr.Row():
                    self.select_all = gr.Button("全选当前列表 Pick all shown", elem_id="bank-select-all")
                    self.clear = gr.Button("清空 Clear", elem_id="bank-clear")
                    self.lang = gr.Radio(languages, value="zh", label="语言 Language", elem_id="bank-language")
                    self.start_btn = gr.Button("用选中的题面试 Interview on the picked cards", variant="primary",
                                               elem_id="bank-start")
            with gr.Column(scale=2):
                self.view_select = gr.Dropdown([], label="查看 View a card", elem_id="bank-view-select")
                self.view = gr.HTML(card_view_html(None), elem_id="bank-card-view")
                self.kp_edit = gr.Textbox(label="编辑要点（每行一条）Edit key points (one per line)", lines=4,
                                          visible=False, elem_id="bank-kp-edit")
                self.kp_save = gr.Button("保存要点 Save key points", visible=False, elem_id="bank-kp-save")
        with gr.Accordion("添加面经 Add a post", open=True, elem_id="bank-add"):
            with gr.Row():
                self.post_text = gr.Textbox(label="粘贴面经 Paste a post", lines=8, max_lines=20, elem_id="post-text",
                                            scale=3)
                self.post_file = gr.File(label="或上传 or upload .txt .md .html .pdf (≤ 2 MB)",
                                         file_types=UPLOAD_TYPES, type="filepath", elem_id="post-file", scale=2)
            self.find_btn = gr.Button("找题 Find questions", elem_id="post-find")
            self.post_status = gr.HTML("", elem_id="post-status")
            self.found = gr.Dataframe(pd.DataFrame(columns=FOUND_COLUMNS), headers=FOUND_COLUMNS,
                                      datatype=["number", "bool", "str", "number", "str", "str"],
                                      interactive=True, static_columns=[0, 3, 4, 5], elem_id="post-found",
                                      label="找到的题 Found questions — 取消勾选或编辑 untick or edit")
            self.preview_info = gr.HTML("", elem_id="post-preview")
            self.add_btn = gr.Button("添加 Add", variant="primary", elem_id="post-add")
        with gr.Accordion("我的文档 Documents", open=False, elem_id="bank-docs-box"):
            self.docs = gr.HTML("", elem_id="bank-docs")
            with gr.Row():
                self.remove_doc = gr.Dropdown([], label="删除一篇添加的面经 Remove an added post",
                                              elem_id="doc-remove-id")
                self.remove_btn = gr.Button("删除 Remove", variant="stop", elem_id="doc-remove")
        self.shown = gr.State([])
        self.preview_state = gr.State(None)

    # ------------------------------------------------------------------ handlers: browse
    def refresh_meta(self, bs):
        """Filter choices and the documents list for this browser."""
        owner = _owner(bs)
        facets = self.actions.facets(owner)
        docs = self.actions.docs(owner)
        mine = [(f"{d.name} ({d.id})", d.id) for d in docs if d.owner]

        def dd(values):
            return gr.update(choices=[ALL, *values])
        return (dd(facets["section"]), dd(facets["topic"]), dd(facets["company"]), dd(facets["kind"]),
                gr.update(choices=[(ALL, ALL)] + [(f"{d.name} ({d.cards})", d.id) for d in docs]),
                docs_html(docs), gr.update(choices=mine, value=None))

    def filter(self, query, section, topic, company, kind, doc, bs):
        f = service_filter(query, section, topic, company, kind, doc)
        cards = self.actions.cards(_owner(bs), f)
        choices = [(card_label(c), c.id) for c in cards]
        what = f"搜索 “{f.query}”: " if f.query else ""
        count = f'<div class="ms-meta" id="bank-count-text">{what}{len(cards)} 道题 cards</div>'
        return (gr.update(choices=choices, value=[]), gr.update(choices=choices, value=None), count,
                [c.id for c in cards])

    def pick_all(self, shown):
        return gr.update(value=list(shown or []))

    def view_card(self, card_id, bs):
        view = self.actions.view(card_id, _owner(bs)) if card_id else None
        editable = view is not None and view.owned
        return (card_view_html(view),
                gr.update(visible=editable, value="\n".join(view.card.key_points) if editable else ""),
                gr.update(visible=editable))

    def save_key_points(self, card_id, text, bs):
        try:
            self.actions.set_key_points(card_id, _owner(bs), text or "")
        except KeyError:
            gr.Warning("只能编辑你自己添加的题 / you can edit only cards you added")
        return self.view_card(card_id, bs)

    # ------------------------------------------------------------------ handlers: add a post
    def find(self, text, file, bs):
        owner = _owner(bs)
        empty = pd.DataFrame(columns=FOUND_COLUMNS)
        if not owner:
            return None, empty, "", status_html("浏览器尚未就绪，请刷新 / browser not ready: reload", False)
        if file:
            path = Path(file)
            if path.stat().st_size > service.MAX_POST_BYTES:  # refuse before reading it into memory
                return None, empty, "", status_html(
                    f"{path.name}: 无法添加 cannot add — too large: {path.stat().st_size / 2**20:.1f} MB "
                    f"(a post is at most {service.MAX_POST_BYTES // 2**20} MB)", False)
            name, data = path.name, path.read_bytes()
        elif text and text.strip():
            name, data = "", text.encode("utf-8")
        else:
            return None, empty, "", status_html("先粘贴或上传一篇面经 / paste or upload a post first", False)
        try:
            preview = self.actions.preview(owner, data, name)
        except service.PostError as exc:
            label = f"{name}: " if name else ""
            return None, empty, "", status_html(f"{label}无法添加 cannot add — {exc}", False)
        rows = [[f.index + 1, True, f.question, f.line, f.section, f.duplicate_question and
                 f"{f.duplicate_question} ({f.duplicate_of})"] for f in preview.found]
        df = pd.DataFrame(rows, columns=FOUND_COLUMNS)
        msg = (f"找到 {len(preview.found)} 道题，尚未保存：检查后点「添加」 · found {len(preview.found)} questions, "
               "nothing stored yet: review, then Add")
        return preview, df, preview_html(preview), status_html(msg, bool(preview.found))

    def add(self, preview, table, bs):
        owner = _owner(bs)
        if preview is None:
            return preview, gr.skip(), gr.skip(), status_html("先找题 / find questions first", False), gr.skip(), \
                gr.skip()
        keep, edits = [], {}
        if isinstance(table, pd.DataFrame) and len(table):
            for row in table.itertuples(index=False):
                index = int(row[0]) - 1
                if _truthy(row[1]):
                    keep.append(index)
                if 0 <= index < len(preview.found) and str(row[2]).strip() != preview.found[index].question:
                    edits[index] = str(row[2])
        try:
            result = self.actions.add(preview, owner, keep=keep, edits=edits)
        except service.PostError as exc:
            return (preview, gr.skip(), gr.skip(), status_html(f"没有添加任何题 nothing added — {exc}", False),
                    gr.skip(), gr.skip())
        lines = [f"{result.message} ({result.doc_id})"]
        lines += [f"链接 linked: {ln.question} → {ln.existing} ({ln.card_id})" for ln in result.links]
        # The post is in: clear the form, so the next Find reads the next post.
        return None, pd.DataFrame(columns=FOUND_COLUMNS), "", status_html("\n".join(lines), True), "", None

    def remove(self, doc_id, bs):
        if not doc_id:
            return status_html("先选择一篇 / pick a post first", False)
        try:
            n = self.actions.remove(doc_id, _owner(bs))
        except KeyError:
            return status_html("只能删除你自己添加的面经 / you can remove only posts you added", False)
        return status_html(f"已删除 removed {doc_id} ({n} 题 cards); 面试记录保留各自的副本 transcripts keep "
                           "their copy", True)

    # ------------------------------------------------------------------ handlers: interview on the pick
    async def start(self, picks, language, bs, st):
        async for out in streaming.serve(self._start_job, picks, language, bs):
            yield out

    def _start_job(self, picks, language, bs, publish):
        bs = _browser(bs)
        ids = [p for p in (picks or []) if isinstance(p, str)]
        if not ids:
            publish("warning", "先勾选题目 / pick some cards first")
            return self.ui.view(self.ui.resolve(None, bs), bs)
        if len(ids) > MAX_PICK:
            publish("warning", f"一场面试最多 {MAX_PICK} 题，只用前 {MAX_PICK} 道 / at most {MAX_PICK} questions")
        config = SessionConfig(card_ids=ids[:MAX_PICK], n_questions=min(MAX_PICK, len(ids)), followups=True,
                               language=language or "zh")
        try:
            state = self.s.start(config, owner=bs["browser_id"])
        except ValueError as exc:
            publish("warning", f"无法开始 cannot start: {exc}")
            return self.ui.view(self.ui.resolve(None, bs), bs)
        try:
            return self.ui._drive(self.ui.engine.open(state), state, bs, publish)
        finally:
            self.s.warm_up_once()

    # ------------------------------------------------------------------ wiring
    def wire(self, demo, bs, tab, interview_outputs, to_interview_js: str) -> None:
        filters = [self.query, self.section, self.topic, self.company, self.kind, self.doc, bs]
        listing = [self.picks, self.view_select, self.count, self.shown]
        meta = [self.section, self.topic, self.company, self.kind, self.doc, self.docs, self.remove_doc]
        tab.select(self.refresh_meta, [bs], meta, api_name="bank_meta").then(
            self.filter, filters, listing, api_name="bank_cards")
        for trigger in (self.search_btn.click, self.query.submit, self.section.input, self.topic.input,
                        self.company.input, self.kind.input, self.doc.input):
            trigger(self.filter, filters, listing, api_visibility="private")
        self.select_all.click(self.pick_all, [self.shown], [self.picks], api_visibility="private")
        self.clear.click(lambda: gr.update(value=[]), None, [self.picks], api_visibility="private")
        self.view_select.input(self.view_card, [self.view_select, bs], [self.view, self.kp_edit, self.kp_save],
                               api_name="bank_card")
        self.kp_save.click(self.save_key_points, [self.view_select, self.kp_edit, bs],
                           [self.view, self.kp_edit, self.kp_save], api_name="bank_key_points")
        self.find_btn.click(self.find, [self.post_text, self.post_file, bs],
                            [self.preview_state, self.found, self.preview_info, self.post_status],
                            api_name="post_find")
        self.add_btn.click(self.add, [self.preview_state, self.found, bs],
                           [self.preview_state, self.found, self.preview_info, self.post_status, self.post_text,
                            self.post_file],
                           api_name="post_add").then(
            self.refresh_meta, [bs], meta, api_visibility="private").then(
            self.filter, filters, listing, api_visibility="private")
        self.remove_btn.click(self.remove, [self.remove_doc, bs], [self.post_status], api_name="doc_remove").then(
            self.refresh_meta, [bs], meta, api_visibility="private").then(
            self.filter, filters, listing, api_visibility="private")
        self.start_btn.click(self.start, [self.picks, self.lang, bs, interview_outputs[-2]], api_name="bank_start",
                             **dict(streaming.COMMON_EVENT, outputs=interview_outputs)).then(
            None, None, None, js=to_interview_js)


def service_filter(query, section, topic, company, kind, doc):
    return service.CardFilter(query=(query or "").strip(), section=_opt(section), topic=_opt(topic),
                              company=_opt(company), kind=_opt(kind), doc=_opt(doc))
