"""The app in a real browser: Debian chromium driven by Playwright against the real server.

A three-question interview with typed answers and a follow-up, grade cards (shown only after
grading), a reload that resumes, a <script> answer that stays text, an over-long answer cut with a
notice, the report with its downloads; then the review tab: open, regrade, export, delete.
Screenshots go to test-artifacts/ (gitignored); the README's were copied from there.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from interviewer.config import REPO_ROOT
from interviewer.testing.app_server import AppServer

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = REPO_ROOT / "test-artifacts"
MAX_CHARS = 300
XSS = '<script>alert(1)</script><img src=x onerror="window.__xss=1;alert(2)"> **不是粗体**'


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with AppServer(tmp_path_factory.mktemp("app-browser"), MIANSHI_MAX_ANSWER_CHARS=str(MAX_CHARS)) as srv:
        yield srv


@pytest.fixture()
def context(browser):
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True, locale="zh-CN")
    # Generous: the machine has 2 cores shared with other test runs; grading then slows down.
    ctx.set_default_timeout(120_000)
    yield ctx
    ctx.close()


def shot(page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    page.screenshot(path=str(path), full_page=True)
    return path


def open_app(page, url: str) -> None:
    page.goto(url)
    page.wait_for_selector("#start-button")
    # The load event resumes or initialises the browser state; wait until it has run.
    page.wait_for_function("!document.querySelector('#chat [data-testid=\"status-tracker\"].pending')")
    page.wait_for_timeout(500)


def start_interview(page, n: int, topic: str | None = None) -> None:
    if topic:
        field = page.locator("#topics input")
        field.click()
        field.fill(topic)
        field.press("Enter")
        page.keyboard.press("Escape")
        assert topic in page.locator("#topics").inner_text()
    box = page.locator("#n-questions input[type=number]")
    box.fill(str(n))
    box.press("Enter")
    page.click("#start-button")
    page.wait_for_function(f"document.querySelector('#chat').innerText.includes('第 1/{n} 题')")
    page.wait_for_function("!document.querySelector('#answer-box textarea').disabled")


def n_cards(page) -> int:
    return page.locator("#grade-card .ms-card").count()


def send(page, text: str) -> None:
    """Type an answer, send it, and wait until it was taken (the box clears only on success)."""
    page.fill("#answer-box textarea", text)
    page.click("#send-button")
    page.wait_for_function("document.querySelector('#answer-box textarea').value === ''")
    page.wait_for_timeout(300)


def click_and_wait(page, button: str, cards_before: int) -> None:
    page.click(button)
    page.wait_for_function(f"document.querySelectorAll('#grade-card .ms-card').length > {cards_before}")


def last_bot_text(page) -> str:
    return page.locator("#chat [data-testid=bot]").last.inner_text()


def check_card(card) -> None:
    """A graded card shows total, criteria with reasons, key-point verdicts, source and grader."""
    total = card.locator(".ms-total").inner_text()
    assert "/ 10" in total and any(ch.isdigit() for ch in total)
    assert card.locator(".ms-criterion").count() >= 3
    assert card.locator(".ms-kp").count() >= 1
    assert ".txt" in card.locator(".ms-source").inner_text()
    assert "offline" in card.locator(".ms-grader").inner_text()


def test_interview_in_the_browser(server, context):
    page = context.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    open_app(page, server.url)
    assert "Offline interviewer" in page.locator("#status-line").inner_text()
    shot(page, "01-start.png")

    start_interview(page, 3, topic="RAG")
    assert n_cards(page) == 0 and page.locator("#grade-card .ms-kp").count() == 0

    # Question 1, typed answers until graded; a short partial answer draws a follow-up.
    send(page, "RAG 是检索增强生成：先把文档切块、用 embedding 模型向量化存入向量库")
    followups = 0
    while n_cards(page) == 0:
        followups += 1
        assert followups <= 3
        # A follow-up is on screen and nothing is graded yet: no key points are visible.
        assert page.locator("#grade-card .ms-kp").count() == 0
        assert "第 2/3 题" not in page.locator("#chat").inner_text()
        send(page, "补充：查询时检索 top-k 相关片段，可以用 BM25 和向量混合检索，再用 cross-encoder 重排序，"
                   "最后把片段拼进 prompt 让大模型生成答案，减少幻觉")
    assert followups >= 1, "follow-ups are on, but the partial answer drew none"
    check_card(page.locator("#grade-card .ms-card").first)
    assert "第 2/3 题" in page.locator("#chat").inner_text()
    shot(page, "02-graded.png")

    # Reload mid-interview: the same question is waiting, with the chat and the card.
    chat_before = page.locator("#chat").inner_text()
    page.reload()
    page.wait_for_selector("#start-button")
    page.wait_for_function("document.querySelector('#chat').innerText.includes('第 2/3 题')")
    page.wait_for_function("document.querySelectorAll('#grade-card .ms-card').length === 1")
    assert page.locator("#chat").inner_text().strip() == chat_before.strip()
    page.wait_for_function("!document.querySelector('#answer-box textarea').disabled")

    # Question 2: an answer full of markup is shown as text and never runs.
    send(page, XSS)
    user_msg = page.locator("#chat [data-testid=user]").last
    assert "<script>alert(1)</script>" in user_msg.inner_text()
    assert "**不是粗体**" in user_msg.inner_text()
    assert page.locator("#chat script, #chat img[src=x], #grade-card script, #grade-card img").count() == 0
    if n_cards(page) == 1:  # a follow-up was asked: skip it, which grades the main answer
        click_and_wait(page, "#skip-button", 1)
    assert XSS in page.locator("#grade-card .ms-card").first.locator(".ms-answer").inner_text()
    assert page.evaluate("window.__xss") is None and dialogs == []

    # Question 3: an over-long answer is cut, with a visible notice; then end the interview.
    send(page, "长回答：" + "注意力机制的计算与缓存。" * 40)
    assert "回答过长，已截断" in page.locator("#chat").inner_text()
    if not page.locator("#report .ms-overall").count():
        page.click("#end-button")
    page.wait_for_selector("#report .ms-overall")
    assert n_cards(page) == 3
    report = page.locator("#report")
    assert "总体得分" in report.inner_text()
    assert report.locator(".ms-topic").count() >= 1 and report.locator(".ms-crit").count() >= 3
    assert page.locator("#answer-box textarea").is_disabled()

    with page.expect_download() as dl:
        page.click("#report-md")
    md = Path(dl.value.path()).read_text(encoding="utf-8")
    assert "<script>alert(1)</script>" in md or "&lt;script&gt;" in md or "\\<script\\>" in md
    with page.expect_download() as dl:
        page.click("#report-json")
    data = json.loads(Path(dl.value.path()).read_text(encoding="utf-8"))
    assert len([g for g in data["grades"] if g["is_current"]]) == 3
    page.locator("#report").scroll_into_view_if_needed()
    shot(page, "03-report.png")
    assert dialogs == []


def test_review_tab_open_regrade_export_delete(server, context, browser):
    page = context.new_page()
    open_app(page, server.url)
    start_interview(page, 1)
    send(page, "Transformer 用 self-attention 建模全局依赖，多头注意力，位置编码，残差和 LayerNorm")
    if not page.locator("#report .ms-overall").count():
        page.click("#end-button")
    page.wait_for_selector("#report .ms-overall")

    page.get_by_role("tab", name="回顾 Review").click()
    page.wait_for_selector("#review-list label")
    assert page.locator("#review-list label").count() == 1
    page.locator("#review-list label").first.click()
    page.wait_for_selector("#review-transcript .ms-card")
    assert page.locator("#review-transcript .ms-grade-version").count() == 0
    assert "Transformer" in page.locator("#review-transcript").inner_text()

    page.click("#regrade-button")
    page.wait_for_selector("#review-transcript .ms-grade-version >> nth=1")
    versions = page.locator("#review-transcript .ms-grade-version")
    assert versions.count() == 2
    assert "已被取代 superseded" in versions.nth(0).inner_text() and "当前 current" in versions.nth(1).inner_text()
    page.wait_for_selector("#mastery-chart canvas, #mastery-chart svg")
    shot(page, "04-review.png")

    with page.expect_download() as dl:
        page.click("#export-md")
    assert "Transformer" in Path(dl.value.path()).read_text(encoding="utf-8")
    with page.expect_download() as dl:
        page.click("#export-json")
    data = json.loads(Path(dl.value.path()).read_text(encoding="utf-8"))
    assert len(data["grades"]) == 2 and sum(g["is_current"] for g in data["grades"]) == 1

    # Another browser sees none of this browser's sessions.
    other = browser.new_context(viewport={"width": 1200, "height": 900})
    try:
        page2 = other.new_page()
        open_app(page2, server.url)
        page2.get_by_role("tab", name="回顾 Review").click()
        page2.wait_for_selector("#review-list")
        page2.wait_for_timeout(1500)
        assert page2.locator("#review-list label").count() == 0
    finally:
        other.close()

    page.click("#delete-button")
    page.wait_for_function("document.querySelectorAll('#review-list label').length === 0")
    assert page.locator("#review-transcript .ms-card").count() == 0


SCREENSHOTS = REPO_ROOT / "docs" / "screenshots"


@pytest.mark.parametrize("language", ["zh", "en"])
def test_offline_follow_ups_read_like_a_person(server, context, language):
    """An offline interview with follow-ups on: the follow-ups are the cards' reviewed questions,
    never template glue; the model answer appears on the grade card only after grading. The
    transcript screenshot is kept in docs/screenshots/ for review."""
    page = context.new_page()
    open_app(page, server.url)
    if language == "en":
        page.locator("#language label").filter(has_text="English").click()
    field = page.locator("#topics input")
    field.click()
    field.fill("微调")
    field.press("Enter")
    page.keyboard.press("Escape")
    box = page.locator("#n-questions input[type=number]")
    box.fill("1")
    box.press("Enter")
    page.click("#start-button")
    first = "Question 1 of 1" if language == "en" else "第 1/1 题"
    page.wait_for_function(f"document.querySelector('#chat').innerText.includes({json.dumps(first)})")
    page.wait_for_function("!document.querySelector('#answer-box textarea').disabled")
    answer = ("LoRA 在原权重旁边加一个低秩旁路，只训练这两个小矩阵。" if language == "zh" else
              "LoRA adds a low-rank side branch next to the frozen weight and trains only the two small matrices.")
    bubbles_before = page.locator("#chat [data-testid=bot]").count()
    send(page, answer)
    page.wait_for_function(f"document.querySelectorAll('#chat [data-testid=bot]').length > {bubbles_before}")
    followup = last_bot_text(page)
    assert not any(glue in followup for glue in ("说明为什么", "吗？它是怎么做的", "能再具体讲讲"))
    assert followup.strip().endswith(("？", "?", "。", ".")) and len(followup) > 8
    assert page.locator("#grade-card .ms-model-answer").count() == 0       # not before grading
    cards = n_cards(page)
    send(page, "不太确定。" if language == "zh" else "Not sure.")
    page.wait_for_function(f"document.querySelectorAll('#grade-card .ms-card').length > {cards}")
    card = page.locator("#grade-card .ms-card").first
    assert card.locator(".ms-model-answer").count() == 1
    label = "Model answer" if language == "en" else "参考答案"
    assert label in card.locator(".ms-model-answer").inner_text()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"05-followup-{language}.png"), full_page=True)
