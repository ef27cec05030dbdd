"""The candidate never waits for the grade (issue 15, part 1): in LLM mode the app grades in the
background, the next question comes at once, the grade card follows, the report waits for every
grade (saying so), and a grade pending when the app is killed is finished on resume.

The real app in a subprocess over its Gradio HTTP API, the model a local fake server whose
grading replies take seconds (its question replies come at once)."""

from __future__ import annotations

import os
import signal

import pytest

from interviewer.bench.common import HttpApi, copy_built_bank, new_browser, start_args
from interviewer.store import TranscriptStore
from interviewer.testing.app_server import AppServer
from interviewer.testing.app_server import stored_session as stored
from interviewer.testing.fake_openai import FakeOpenAI, Latency
from tests.test_providers import provider_model

pytestmark = pytest.mark.slow

ANSWER = "LoRA 的 B 矩阵初始化为 0，A 用随机高斯初始化，训练开始时增量为零，不破坏预训练模型。"


def app_env(server: FakeOpenAI) -> dict:
    return {"MIANSHI_INTERVIEWER": "llm", "OPENAI_BASE_URL": server.base_url, "OPENAI_API_KEY": "sk-test",
            "MIANSHI_MODEL": server.model, "MIANSHI_LLM_TIMEOUT": "120"}


def test_next_question_does_not_wait_for_the_grade_and_the_report_waits_for_all(tmp_path, bank_settings, bank):
    data = tmp_path / "data"
    copy_built_bank(bank_settings.data_dir, data)
    slow_grades = Latency(complete=3.0)   # questions at once, every grade 3 s
    with FakeOpenAI(script=provider_model, provider="openai", latency=slow_grades) as server, \
            AppServer(data, **app_env(server)) as app:
        api = HttpApi(app.url)
        try:
            bs = api.call("/start", *start_args(2, False, new_browser()))["browser"]
            q1, q2 = bs["state"]["plan"]
            v = api.call("/answer", ANSWER, bs)
            bs = v["browser"]
            # The next question is there while the first answer is still being graded.
            state = bs["state"]
            assert state["current"] == 1 and [t["kind"] for t in state["turns"]].count("question") == 2
            assert state["records"][q1]["grade_pending"] and state["records"][q1]["grade"] is None
            assert "ms-pending" in v["cards"] and "评分中" in v["cards"]
            # The grade follows (the page runs /grades after each action).
            v = api.call("/grades", bs)
            bs = v["browser"]
            rec = bs["state"]["records"][q1]
            assert rec["grade"]["status"] == "graded" and not rec["grade_pending"]
            assert "ms-pending" not in v["cards"] and "ms-card" in v["cards"]
            # The last answer: the interview is over, but the report says it is grading, no total.
            v = api.call("/answer", ANSWER, bs)
            bs = v["browser"]
            assert bs["state"]["phase"] == "finished"
            assert "ms-report-pending" in v["report"] and "正在评分 1 个回答" in v["report"]
            assert "ms-overall" not in v["report"]
            downloads = api.call("/downloads", bs)    # the exports wait for the grades too
            v = api.call("/grades", bs)
            assert "ms-overall" in v["report"] and "ms-report-pending" not in v["report"]
            assert v["browser"]["state"]["records"][q2]["grade"]["status"] == "graded"
        finally:
            api.close()
        grading = [r for r in server.requests if "grading one answer" in r.body["messages"][0]["content"]]
        questions = [r for r in server.requests if r.body.get("stream")]
    # The next question was asked while the first grade was still being made: it did not wait for it.
    assert len(grading) == 2 and len(questions) == 2
    assert questions[1].received_at < grading[0].received_at + grading[0].served
    rec = stored(data / "mianshi.sqlite3", bs["session_id"])
    assert set(rec.current_grades()) == {q1, q2}
    md = downloads["chat"]["value"] if isinstance(downloads["chat"], dict) else downloads["chat"]
    assert md and "ms-" not in md


def test_grade_pending_when_killed_is_finished_on_resume(tmp_path, bank_settings, bank):
    data = tmp_path / "data"
    copy_built_bank(bank_settings.data_dir, data)
    db = data / "mianshi.sqlite3"
    hung = Latency(complete=600.0)  # the grade never comes back before the kill
    with FakeOpenAI(script=provider_model, provider="openai", latency=hung) as server:
        first = AppServer(data, **app_env(server)).start()
        try:
            api = HttpApi(first.url)
            bs = api.call("/start", *start_args(3, False, new_browser()))["browser"]
            sid, plan = bs["session_id"], bs["state"]["plan"]
            bs = api.call("/answer", ANSWER, bs)["browser"]
            api.close()
            assert bs["state"]["records"][plan[0]]["grade_pending"]
            os.killpg(first.proc.pid, signal.SIGKILL)          # a crash while the grade is pending
            assert first.proc.wait(timeout=10) == -signal.SIGKILL
        finally:
            first.stop()
        assert any("grading one answer" in r.body["messages"][0]["content"] for r in server.requests)
    rec = stored(db, sid)
    assert plan[0] not in rec.current_grades()
    assert rec.state["records"][plan[0]]["grade_pending"] is True     # recorded as pending
    assert rec.state["records"][plan[0]]["answers"] == [ANSWER]

    with FakeOpenAI(script=provider_model, provider="openai") as server, AppServer(data, **app_env(server)) as second:
        api = HttpApi(second.url)
        try:
            browser = {"browser_id": bs["browser_id"], "session_id": sid, "state": None}
            v = api.call("/resume", browser)
            bs = v["browser"]
            assert bs["session_id"] == sid and bs["state"]["current"] == 1
            v = api.call("/grades", bs)
        finally:
            api.close()
        regraded = [r for r in server.requests if "grading one answer" in r.body["messages"][0]["content"]]
    grade = v["browser"]["state"]["records"][plan[0]]["grade"]
    assert grade["status"] == "graded" and grade["provenance"]["grader"] == "llm"
    assert len(regraded) == 1 and ANSWER in regraded[0].body["messages"][1]["content"]
    assert "ms-pending" not in v["cards"]
    # In the transcript on disk: the answer's grade, current, with the answer it grades.
    rec = stored(db, sid)
    q = next(q for q in rec.questions() if q.question_id == plan[0])
    assert q.grade is not None and q.grade.answer == ANSWER and q.grade.grade.status == "graded"


@pytest.mark.browser
def test_answering_before_the_grade_arrives_is_not_taken_for_another_tab(tmp_path, bank_settings, bank):
    """In the browser with a slow grader (a reasoning model takes long): the candidate answers the
    next question while the first grade is still being made. Both answers are taken (no "moved on"
    notice: that is for another tab), and both grades arrive."""
    from playwright.sync_api import sync_playwright

    from tests.test_app_browser import CHROMIUM, CHROMIUM_ARGS, open_app

    data = tmp_path / "data"
    copy_built_bank(bank_settings.data_dir, data)
    slow_grades = Latency(complete=6.0)
    with FakeOpenAI(script=provider_model, provider="openai", latency=slow_grades) as server, \
            AppServer(data, **app_env(server)) as app, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(120_000)
            open_app(page, app.url)
            box = page.locator("#n-questions input[type=number]")
            box.fill("3")
            box.press("Enter")
            page.locator("#followups input").uncheck()
            bots = "document.querySelectorAll('#chat [data-testid=bot]').length"
            page.click("#start-button")
            page.wait_for_function(f"{bots} >= 1")          # the first question
            for text in ("FIRST-ANSWER 先回答第一题。", "SECOND-ANSWER 紧接着回答第二题。"):
                page.wait_for_function("!document.querySelector('#answer-box textarea').disabled")
                before = page.evaluate(bots)
                page.fill("#answer-box textarea", text)
                page.click("#send-button")
                page.wait_for_function("document.querySelector('#answer-box textarea').value === ''")
                page.wait_for_function(f"{bots} > {before}")  # the next question, long before its grade
            # Both grade cards arrive (the second used to stay "评分中…" until the next action).
            page.wait_for_function("document.querySelectorAll('#grade-card .ms-card .ms-total').length >= 2",
                                   timeout=60_000)
            chat = page.locator("#chat").inner_text()
            assert "FIRST-ANSWER" in chat and "SECOND-ANSWER" in chat
            assert "another tab" not in chat and "另一个标签页" not in chat
        finally:
            browser.close()
    rec = stored(data / "mianshi.sqlite3", page_session_id(data))
    answers = [t.text for t in rec.turns if t.role == "candidate" and t.kind == "answer"]
    assert answers == ["FIRST-ANSWER 先回答第一题。", "SECOND-ANSWER 紧接着回答第二题。"]
    assert len(rec.current_grades()) == 2


def page_session_id(data) -> str:
    """The one session the browser made in this data dir."""
    store = TranscriptStore(data / "mianshi.sqlite3", readonly=True)
    try:
        (only,) = store.list_sessions()
        return only.id
    finally:
        store.close()
