"""The 题库 / Bank tab in a real browser (Debian chromium via Playwright) against the real server.

One browser pastes and uploads posts (the four corpus styles, a saved page with its chrome, a PDF
printed by chromium), reviews what was found, unticks and edits, adds; adding the same post
again adds nothing; a near-duplicate links. It finds the cards in the bank (by document and by
search), views them, interviews on exactly the picked cards and gets graded answers, or for a
card with no key points an honest "not graded". A second browser never sees any of it.
Screenshots of each step go to test-artifacts/ (docs/screenshots/ holds copies of them).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from interviewer.config import REPO_ROOT
from interviewer.testing.app_server import AppServer
from tests.test_app_browser import open_app, send
from tests.test_post_extraction import EXPECTED

pytestmark = [pytest.mark.browser, pytest.mark.slow]

POSTS = Path(__file__).parent / "data" / "posts"
# Like test_app_browser.py: into test-artifacts/ (gitignored); docs/screenshots/ has copies from a run.
SCREENSHOTS = REPO_ROOT / "test-artifacts"
PDF_POST = """<html><body style="font-family:'Noto Sans CJK SC','Noto Serif CJK SC',sans-serif">
<h2>字节跳动大模型面经</h2><p>二面</p><p>1. 什么是 MoE 的专家并行?</p><p>2. DeepSeek 的 MLA 是怎么省 KV cache 的?</p>
</body></html>"""
PDF_QUESTIONS = ["什么是 MoE 的专家并行?", "DeepSeek 的 MLA 是怎么省 KV cache 的?"]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with AppServer(tmp_path_factory.mktemp("bank-browser")) as srv:
        yield srv


def new_page(browser):
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="zh-CN")
    ctx.set_default_timeout(120_000)
    return ctx, ctx.new_page()


def shot(page, name: str, selector: str | None = None) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    if selector:
        page.locator(selector).screenshot(path=str(SCREENSHOTS / name))
    else:
        page.screenshot(path=str(SCREENSHOTS / name), full_page=True)


def open_bank(page, url: str) -> None:
    open_app(page, url)
    page.get_by_role("tab", name="题库 Bank").click()
    page.wait_for_selector("#bank-cards label")
    page.wait_for_function("document.querySelector('#bank-count').innerText.includes('道题')")


def labels(page) -> list[str]:
    return page.locator("#bank-cards label").all_inner_texts()


def status(page) -> str:
    """The status line's own text (not the loading timer Gradio shows over it)."""
    return page.evaluate("document.querySelector('#post-status .ms-post-status')?.innerText || ''")


def find(page, text: str | None = None, file: Path | None = None) -> list[str]:
    """Paste or upload a post, press Find and return the questions of the review table."""
    before = status(page)
    if file is not None:
        page.set_input_files("#post-file input[type=file]", str(file))
        # Uploaded (the name is shown as stem and suffix, with the size) and no longer uploading.
        page.wait_for_function(f"(() => {{ const t = document.querySelector('#post-file').innerText;"
                               f" return t.includes({file.stem!r}) && /\\d+(\\.\\d+)? ?[KM]?B/.test(t)"
                               f" && !t.includes('Uploading'); }})()")
    else:
        page.fill("#post-text textarea", text)
    page.click("#post-find")
    page.wait_for_function(f"(() => {{ const e = document.querySelector('#post-status .ms-post-status');"
                           f" return e && e.innerText !== {json.dumps(before)}; }})()")
    m = re.search(r"found (\d+) questions", status(page))
    got: list[str] = []
    for _ in range(100):  # the table renders after the status line
        got = found_questions(page)
        if m is None or len(got) == int(m.group(1)):
            break
        page.wait_for_timeout(200)
    return got


def found_questions(page) -> list[str]:
    return page.evaluate("""() => [...document.querySelectorAll('#post-found [data-col="2"]')]
        .filter(c => c.getAttribute('role') === 'gridcell')
        .sort((a, b) => +a.dataset.row - +b.dataset.row).map(c => c.innerText.trim())""")


def add(page) -> str:
    page.click("#post-add")
    page.wait_for_function("(document.querySelector('#post-status .ms-post-status')?.innerText || '')"
                           ".includes('added')")
    page.wait_for_timeout(500)
    return status(page)


def row_of(page, question: str) -> int:
    return found_questions(page).index(question)


def choose(page, elem: str, text: str) -> None:
    """Pick the option of a single-select dropdown whose label contains text."""
    field = page.locator(f"#{elem} input")
    field.click()
    field.fill(text)
    page.locator("ul[role=listbox] li", has_text=text).first.click()
    page.wait_for_timeout(300)


def wait_listing(page, predicate_js: str) -> None:
    page.wait_for_function(f"(() => {{ const ls = [...document.querySelectorAll('#bank-cards label')]"
                           f".map(l => l.innerText); return {predicate_js}; }})()")


def start_on_picked(page, n: int) -> None:
    page.click("#bank-start")
    page.wait_for_function(f"document.querySelector('#chat').innerText.includes('第 1/{n} 题')")
    page.wait_for_function("!document.querySelector('#answer-box textarea').disabled")


def answer_until_graded(page, text: str, cards_before: int) -> None:
    send(page, text)
    for _ in range(3):
        if page.locator("#grade-card .ms-card").count() > cards_before:
            return
        page.click("#skip-button")  # a follow-up: skipping it grades the main answer
        page.wait_for_function(f"document.querySelectorAll('#grade-card .ms-card').length > {cards_before}")
    assert page.locator("#grade-card .ms-card").count() > cards_before


@pytest.fixture(scope="module")
def added(server, browser, tmp_path_factory):
    """Browser A adds the posts; returns its context and page (kept open for the next tests)."""
    ctx, page = new_page(browser)
    open_bank(page, server.url)
    corpus_cards = len(labels(page))
    out = {"ctx": ctx, "page": page, "corpus_cards": corpus_cards}
    yield out
    ctx.close()


def test_add_posts_review_and_find_them(added, tmp_path):
    page = added["page"]

    # A saved page, uploaded: the questions are found and its chrome is shown as dropped, nothing stored yet.
    got = find(page, file=POSTS / "saved_page.html")
    assert got == [q for _, q, _ in EXPECTED["saved_page.html"]], status(page)
    chrome = page.locator("#post-preview").inner_text()
    for word in ("登录 / 注册", "全部评论", "相关推荐", "隐私政策"):
        assert word in chrome
    assert "尚未保存" in status(page)
    page.wait_for_function("!document.querySelector('#bank-doc').innerText.includes('saved_page')")
    shot(page, "bank-1-review-post.png", "#bank-add")
    assert "added 5 questions" in add(page)

    # The other styles, pasted; each found question by question.
    for name in ("bare_list.txt", "with_answers.md", "narrative.txt"):
        got = find(page, text=(POSTS / name).read_text(encoding="utf-8"))
        assert got == [q for _, q, _ in EXPECTED[name]], name
        add(page)

    # The numbered list: untick one question, edit another, and see the near-duplicate it links.
    got = find(page, text=(POSTS / "numbered.txt").read_text(encoding="utf-8"))
    assert got == [q for _, q, _ in EXPECTED["numbered.txt"]], status(page)
    preview = page.locator("#post-preview").inner_text()
    assert "LoRA 的 B 矩阵为什么初始化为 0" in preview and "lora初始化参数" in preview
    r = row_of(page, "大模型幻觉怎么缓解")
    cell = page.locator(f'#post-found [data-row="{r}"][data-col="2"][role=gridcell]')
    cell.dblclick()
    editor = cell.locator("textarea").first
    editor.fill("大模型幻觉怎么缓解？有哪些办法")
    editor.press("Enter")
    page.wait_for_timeout(300)
    r = row_of(page, "长上下文怎么处理")
    box = page.locator(f'#post-found [data-row="{r}"][data-col="1"] input[type=checkbox]')
    box.click()
    page.wait_for_timeout(300)
    assert not box.is_checked()
    assert "大模型幻觉怎么缓解？有哪些办法" in found_questions(page)
    shot(page, "bank-2-untick-edit.png", "#bank-add")
    result = add(page)
    assert "added 8 questions, 1 linked" in result and "lora初始化参数" in result

    # The same post again: the review says so, and adding adds nothing.
    find(page, text=(POSTS / "numbered.txt").read_text(encoding="utf-8"))
    assert "already added" in page.locator("#post-preview").inner_text()
    assert "nothing added" in add(page)

    # A PDF (printed by chromium from a page with Chinese text), uploaded.
    printer = added["ctx"].new_page()
    printer.set_content(PDF_POST)
    pdf = tmp_path / "bytedance.pdf"
    pdf.write_bytes(printer.pdf())
    printer.close()
    assert find(page, file=pdf) == PDF_QUESTIONS
    assert "added 2 questions" in add(page)

    # A broken file is named with its reason, and nothing is stored.
    bad = tmp_path / "scan.pdf"
    bad.write_bytes(b"%PDF-1.4 truncated")
    find(page, file=bad)
    assert "scan.pdf" in status(page) and "not a readable PDF" in status(page)

    # In the bank: everything added is listed, mine marked ★.
    wait_listing(page, "ls.some(l => l.includes('向量数据库选型为什么用 milvus'))")
    shown = labels(page)
    assert len(shown) == added["corpus_cards"] + 5 + 6 + 3 + 4 + 8 + 2
    assert "大模型幻觉怎么缓解？有哪些办法" in "\n".join(shown) and "长上下文怎么处理" not in "\n".join(shown)


def test_find_cards_view_them_and_interview_on_them(added):
    page = added["page"]
    # By document: the numbered post's cards and the corpus card its LoRA question linked to.
    choose(page, "bank-doc", "小红书大模型应用开发面经")
    wait_listing(page, "ls.length === 9")
    assert any("lora初始化参数" in label for label in labels(page)), labels(page)
    choose(page, "bank-doc", "全部 / all")

    # By search (the CLI's fused search over what this browser sees).
    page.fill("#bank-query textarea, #bank-query input", "向量数据库 milvus 选型")
    page.click("#bank-search")
    wait_listing(page, "ls.length > 0 && ls[0].includes('向量数据库选型为什么用 milvus')")

    # The card view of a card with the post's own answer notes.
    page.fill("#bank-query textarea, #bank-query input", "")
    choose(page, "bank-doc", "快手大模型面经")
    wait_listing(page, "ls.length === 4")  # 3 cards and the Flash Attention card it linked to
    choose(page, "bank-view-select", "RoPE 位置编码的原理是什么?")
    view = page.locator("#bank-card-view")
    page.wait_for_function("document.querySelector('#bank-card-view').innerText.includes('RoPE')")
    text = view.inner_text()
    assert "快手大模型面经(含答案) · 粘贴 pasted" in text and "来自原帖，未审核" in text and "相对位置" in text
    assert "你还没答过" in text
    assert page.locator("#bank-kp-edit").is_visible()  # the owner may edit its key points
    shot(page, "bank-3-card-view.png")

    # Interview on exactly the picked cards (the whole document).
    page.click("#bank-select-all")
    page.wait_for_timeout(300)
    assert page.locator("#bank-cards input:checked").count() == 4
    start_on_picked(page, 4)
    chat = page.locator("#chat").inner_text()
    picked = ("Flash Attention", "RoPE 位置编码", "SFT 和 RLHF", "混合精度训练")
    assert any(q in chat for q in picked), chat
    asked = 0
    for _ in range(4):
        before = page.locator("#grade-card .ms-card").count()
        answer_until_graded(page, "旋转位置编码让 query 和 key 的内积只依赖相对位置；分块计算注意力不写回显存；"
                                  "奖励模型加 PPO 和 KL 惩罚；loss scaling 防止 fp16 梯度下溢。", before)
        asked += 1
        if page.locator("#report .ms-overall").count():
            break
    page.wait_for_selector("#report .ms-overall")
    assert asked == 4
    cards = page.locator("#grade-card .ms-card")
    questions = cards.locator("h4").all_inner_texts()
    assert all(any(q in h for q in picked) for h in questions), questions
    graded = [c for c in cards.all() if c.locator(".ms-total").count()]
    assert graded, "the cards with the post's notes are graded"
    assert "来自原帖，未审核" in graded[0].inner_text()
    shot(page, "bank-4-interview-graded.png")

    # A card with no key points (a bare list): the answer is recorded, honestly not graded.
    page.get_by_role("tab", name="题库 Bank").click()
    choose(page, "bank-doc", "美团大模型算法实习一面")
    wait_listing(page, "ls.length === 6")
    page.locator("#bank-cards label", has_text="多头注意力为什么要除以根号 d").click()
    start_on_picked(page, 1)
    answer_until_graded(page, "因为点积的方差随维度 d 增大，除以根号 d 让 softmax 不进入饱和区，梯度更稳定。", 0)
    card = page.locator("#grade-card .ms-card").first
    assert card.locator(".ms-total").count() == 0
    assert "没有参考要点" in card.locator(".ms-ng").inner_text()
    shot(page, "bank-5-not-graded.png")

    # The card view now says how this browser did.
    page.get_by_role("tab", name="题库 Bank").click()
    choose(page, "bank-doc", "快手大模型面经")
    wait_listing(page, "ls.length === 4")
    choose(page, "bank-view-select", "RoPE 位置编码的原理是什么?")
    page.wait_for_function("document.querySelector('#bank-card-view').innerText.includes('你之前答过 1 次')")

    # Its owner edits its key points in the card view; they are then labelled as edited, still unreviewed.
    page.fill("#bank-kp-edit textarea", "query 和 key 按位置旋转\n内积只依赖相对位置\n可配合位置插值外推")
    page.click("#bank-kp-save")
    page.wait_for_function("document.querySelector('#bank-card-view').innerText.includes('作者编辑，未审核')")
    view = page.locator("#bank-card-view .ms-bank-kp li").all_inner_texts()
    assert view == ["query 和 key 按位置旋转", "内积只依赖相对位置", "可配合位置插值外推"]


def test_a_second_browser_never_sees_the_first_browsers_cards(added, server, browser):
    mine = ["向量数据库选型为什么用 milvus", "RoPE 位置编码的原理是什么?", "多头注意力为什么要除以根号 d",
            "什么是 MoE 的专家并行?", "Layer Norm 和 Batch Norm 的区别"]
    # The first browser has its cards (added by the tests above, which run first).
    first = added["page"]
    first.get_by_role("tab", name="题库 Bank").click()
    choose(first, "bank-doc", "全部 / all")
    wait_listing(first, "ls.some(l => l.includes('向量数据库选型为什么用 milvus'))")
    assert all(q in "\n".join(labels(first)) for q in mine)

    ctx, page = new_page(browser)
    try:
        open_bank(page, server.url)
        shown = "\n".join(labels(page))
        assert len(labels(page)) == added["corpus_cards"]
        assert not any(q in shown for q in mine) and "★" not in shown
        page.get_by_text("我的文档 Documents").click()
        page.wait_for_selector("#bank-docs .ms-doc")
        assert page.locator("#bank-docs .ms-doc").count() == 4  # the corpus only
        assert "粘贴 pasted" not in page.locator("#bank-docs").inner_text()
        assert "saved_page.html" not in page.locator("#bank-docs").inner_text()
        for q in mine:
            page.fill("#bank-query textarea, #bank-query input", q)
            page.click("#bank-search")
            page.wait_for_function(f"document.querySelector('#bank-count').innerText.includes({q!r})")
            assert not any(m in "\n".join(labels(page)) for m in mine), q
        # Its own interviews draw from the corpus only.
        page.get_by_role("tab", name="面试 Interview").click()
        box = page.locator("#n-questions input[type=number]")
        box.fill("20")
        box.press("Enter")
        page.click("#start-button")
        page.wait_for_function("document.querySelector('#chat').innerText.includes('第 1/20 题')")
        shot(page, "bank-6-second-browser.png")
        for n in range(1, 21):  # skip through all 20: every question asked is from the corpus
            page.click("#skip-button")
            page.wait_for_function(f"document.querySelectorAll('#grade-card .ms-card').length >= {n}")
        page.wait_for_selector("#report .ms-overall")
        asked = page.locator("#grade-card .ms-card h4").all_inner_texts()
        assert len(asked) == 20
        every_added = [q for name in EXPECTED for _, q, _ in EXPECTED[name]] + PDF_QUESTIONS
        corpus_too = {"什么是 Flash Attention?", "LoRA 的 B 矩阵为什么初始化为 0"}  # linked, never added
        assert not [h for h in asked for q in set(every_added) - corpus_too if q in h]
    finally:
        ctx.close()
