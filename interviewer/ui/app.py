"""The Gradio app: layout and wiring of the interview and review tabs over the service layer.

`app.py` at the repository root builds it (`build_demo`) and launches it; tests build it in
process with `build_app(settings, services)`.
"""

from __future__ import annotations

import os

import gradio as gr

from interviewer import service
from interviewer.ui import render, streaming
from interviewer.ui.bank import BankUI
from interviewer.ui.bank_view import BANK_CSS
from interviewer.ui.interview import LANGUAGES, InterviewUI, empty_browser
from interviewer.ui.render import esc
from interviewer.ui.review import ReviewUI

APP_CSS = render.CARD_CSS + BANK_CSS + """
#status-line{font-size:13px;color:#57606a}
#chat{min-height:420px}
#grade-card{max-height:760px;overflow-y:auto}
#report{margin-top:12px}
#report:empty{display:none}
.gradio-container{max-width:1400px !important}
"""


def build_app(settings: service.Settings, services: service.Services | None = None) -> gr.Blocks:
    """The app for these settings. Services (bank, engine, store) are built once here if not given."""
    services = services or service.build_services(settings)
    # Gradio keeps what it serves (and every upload) in its cache dir: make that the services'
    # served dir, under the data dir, so each file exists once, deleting a session reaches every
    # copy, and a restart sweeps what a killed process left. Read when components are built.
    os.environ["GRADIO_TEMP_DIR"] = str(services.served_dir)
    ui = InterviewUI(services)
    review = ReviewUI(services, ui)
    bank = BankUI(services, ui)
    topics = list(services.bank.topics())
    sections = list(services.bank.sections())

    # Exports are served from where they are written (no copies); uploads are deleted once read.
    # Hourly, drop anything else over a day old.
    with gr.Blocks(title="Mianshi 面试", delete_cache=(3600, 86400)) as demo:
        bs = gr.BrowserState(empty_browser(), storage_key="mianshi-browser-v1",
                             secret=service.browser_secret(settings))
        st = gr.State(None)
        gr.HTML('<h2 style="margin:0">Mianshi 面试 · mock interviewer</h2>')
        with gr.Row(equal_height=True):
            gr.HTML(f'<div>{esc(settings.describe_interviewer())} · '
                    f'{len(services.bank.cards())} questions</div>', elem_id="status-line")
            check_btn = gr.Button("检查模型 Check the model", size="sm", scale=0, min_width=160,
                                  elem_id="check-model", visible=settings.use_llm)
        check_out = gr.HTML("", elem_id="check-result")

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

        with gr.Tab("题库 Bank", id="tab-bank") as bank_tab:
            bank.layout()

        ui.chatbot = chat
        outputs = [chat, cards, report, report_md, report_json, answer_in, st, bs]
        common = dict(streaming.COMMON_EVENT, outputs=outputs)
        raw = dict(streaming.RAW_EVENT, outputs=outputs)
        start_btn.click(ui.start, [topics_in, sections_in, n_in, followups_in, lang_in, weak_in, bs, st],
                        api_name="start", **common)
        # The answer box is cleared by the view of an accepted answer (a failed one keeps it).
        # No submit-on-Enter: answers are often several paragraphs, Enter must make a new line.
        events = [send_btn.click(ui.answer, [answer_in, bs, st], api_name="answer", **raw),
                  skip_btn.click(ui.skip, [bs, st], api_name="skip", **raw),
                  repeat_btn.click(ui.repeat, [bs, st], api_name="repeat", **raw),
                  end_btn.click(ui.end, [bs, st], api_name="end", **raw),
                  demo.load(ui.on_load, [bs], outputs, api_name="resume", postprocess=False, preprocess=False)]
        if getattr(services.engine, "background_grading", False):
            # Grades arrive after the action that asked for them (the next question streams
            # meanwhile): each action is followed by a wait for its session's grades. Over the
            # API: call /grades after /answer, /skip, /end or /resume.
            for i, event in enumerate(events):
                event.then(ui.grades, [bs, st], api_name="grades" if i == 0 else None,
                           api_visibility="public" if i == 0 else "private", **raw)
        report.change(ui.downloads, [bs, st], [report_md, report_json], api_name="downloads")

        check_btn.click(lambda: check_model_html(settings), None, check_out, api_name="check_model",
                        concurrency_limit=2)

        review.wire(demo, bs, review_tab)
        bank.wire(demo, bs, bank_tab, outputs, TO_INTERVIEW_TAB)
    return demo


def check_model_html(settings: service.Settings) -> str:
    """The connection check's result for the status line (one tiny request; the key never shown)."""
    result = service.check_model(settings)
    return render.check_html(result)


# After an interview starts from the bank tab, show it (a client-side tab switch: no server round trip).
TO_INTERVIEW_TAB = """() => { const tab = [...document.querySelectorAll('button[role=tab]')]
  .find(b => b.innerText.includes('面试 Interview')); if (tab) tab.click(); }"""


def launch_kwargs() -> dict:
    # max_file_size: Gradio refuses a larger upload while it arrives (HTTP 413), before it is stored.
    return {"css": APP_CSS, "theme": gr.themes.Soft(), "max_file_size": service.MAX_UPLOAD_BYTES}


def build_demo(settings: service.Settings | None = None) -> gr.Blocks:
    """The app as Spaces and `python app.py` run it: settings from the environment, services built
    once and shared read-only by all sessions. A data dir that cannot be used ends the process with
    one line that says what to change."""
    settings = settings or service.Settings.from_env()
    try:
        services = service.build_services(settings, background_grading=settings.background_grading)
    except (service.DataDirError, service.StoreError, service.ChromaServerError) as exc:
        raise SystemExit(f"Mianshi cannot start: {exc}") from None
    demo = build_app(settings, services)
    # Gradio's default is one event at a time across all users; an interview mostly waits on
    # the candidate, so many sessions can stream at once.
    demo.queue(default_concurrency_limit=settings.concurrency)
    return demo


def launch(demo: gr.Blocks, settings: service.Settings | None = None) -> None:
    settings = settings or service.Settings.from_env()
    demo.launch(server_name=settings.server_name, server_port=settings.server_port, show_error=True,
                footer_links=["api"], prevent_thread_lock=True, **launch_kwargs())
    streaming.freeze_startup()
    demo.block_thread()
