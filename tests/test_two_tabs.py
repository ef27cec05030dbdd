"""Issue 14, item 1: two tabs of one browser on one session. Each tab holds its own copy; a tab
that is behind must not store its answer at an index the other tab already used (it replaced
the other tab's answer). The stale tab is told the session moved on and shown where it stands;
its answer is refused, never merged. Over the Gradio API (gradio_client) and in Chromium
(two pages of one context share the browser state, as two tabs do).
"""

from __future__ import annotations

import threading

import pytest

from interviewer.bench.common import call, client, copy_built_bank, new_browser, start_args
from interviewer.store import TranscriptStore
from interviewer.testing.app_server import AppServer
from tests.test_app_api import texts

pytestmark = pytest.mark.slow

MOVED_ON = "moved on in another tab"


@pytest.fixture(scope="module")
def server(tmp_path_factory, bank, bank_settings):
    data = tmp_path_factory.mktemp("two-tabs")
    copy_built_bank(bank_settings.data_dir, data)
    with AppServer(data) as srv:
        yield srv


def stored_answers(server, sid: str) -> tuple[list[str], dict[str, str]]:
    """(every candidate answer in order, current grade's answer per question) from the SQLite file."""
    store = TranscriptStore(server.data_dir / "mianshi.sqlite3", readonly=True)
    try:
        rec = store.get_session(sid)
    finally:
        store.close()
    answers = [t.text for t in rec.turns if t.role == "candidate" and t.kind == "answer"]
    return answers, {q: g.answer for q, g in rec.current_grades().items()}


def two_tabs(server):
    tab1, tab2 = client(server.url), client(server.url)
    bs = call(tab1, "/start", *start_args(3, False, new_browser()))["browser"]
    resumed = call(tab2, "/resume", bs)                 # the second tab opens: same browser state
    assert resumed["browser"]["session_id"] == bs["session_id"]
    return tab1, tab2, bs, resumed["browser"]


def test_a_stale_tab_is_told_and_its_answer_is_refused_over_the_api(server):
    tab1, tab2, bs1, bs2 = two_tabs(server)
    sid, first = bs1["session_id"], bs1["state"]["plan"][0]
    call(tab1, "/answer", "TAB1: LoRA 的 B 矩阵初始化为 0，A 随机初始化，训练开始时增量为零。", bs1)
    v = call(tab2, "/answer", "TAB2: 这是过时标签页的回答，不能覆盖第一个标签页的回答。", bs2)

    chat = texts(v["chat"])
    assert any(MOVED_ON in t for t in chat), chat[-2:]
    assert any(t.startswith("TAB1") for t in chat) and not any(t.startswith("TAB2") for t in chat)
    assert v["browser"]["state"]["current"] == 1        # shown where the session stands now
    answers, graded = stored_answers(server, sid)
    assert [a[:4] for a in answers] == ["TAB1"]
    assert graded[first].startswith("TAB1")

    # Now in step, the same tab's next answer is taken, for the current question.
    v = call(tab2, "/answer", "TAB2 again: Pre-Norm 训练更稳定。", v["browser"])
    assert not any(MOVED_ON in t for t in texts(v["chat"])[-3:])
    answers, graded = stored_answers(server, sid)
    assert [a[:4] for a in answers] == ["TAB1", "TAB2"]
    assert graded[bs1["state"]["plan"][1]].startswith("TAB2 again")


def test_two_answers_at_the_same_moment_one_is_taken_the_other_refused(server):
    tab1, tab2, bs1, bs2 = two_tabs(server)
    sid, first = bs1["session_id"], bs1["state"]["plan"][0]
    barrier = threading.Barrier(2)
    out: dict[str, dict] = {}

    def send(name, c, bs):
        barrier.wait()
        out[name] = call(c, "/answer", f"{name}: KV cache 缓存历史 token 的 key 和 value，解码时只算新 token。", bs)

    threads = [threading.Thread(target=send, args=a) for a in (("ONE", tab1, bs1), ("TWO", tab2, bs2))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert set(out) == {"ONE", "TWO"}
    answers, graded = stored_answers(server, sid)
    assert len(answers) == 1, answers                  # one taken, the other neither stored nor merged
    winner = answers[0][:3]
    loser = "TWO" if winner == "ONE" else "ONE"
    assert graded[first].startswith(winner)            # the grade is of the answer that is shown
    assert any(MOVED_ON in t for t in texts(out[loser]["chat"]))
    assert not any(t.startswith(loser) for t in texts(out[loser]["chat"]))
    assert all(not t.startswith(loser) for t in texts(out[winner]["chat"]))


# --------------------------------------------------------------------------- browser

@pytest.mark.browser
def test_two_tabs_in_the_browser(server, tmp_path):
    from playwright.sync_api import sync_playwright

    from tests.test_app_browser import CHROMIUM, CHROMIUM_ARGS, open_app, start_interview

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            ctx = browser.new_context(viewport={"width": 1300, "height": 900}, locale="zh-CN")
            ctx.set_default_timeout(120_000)
            tab1 = ctx.new_page()
            open_app(tab1, server.url)
            tab1.locator("#followups input[type=checkbox]").uncheck()   # every answer is graded at once
            start_interview(tab1, 2)
            tab2 = ctx.new_page()                      # same context: same local storage, same session
            open_app(tab2, server.url)
            tab2.wait_for_function("document.querySelector('#chat').innerText.includes('第 1/2 题')")
            assert tab2.locator("#chat").inner_text().strip() == tab1.locator("#chat").inner_text().strip()

            tab1.fill("#answer-box textarea", "TAB1: I don't think it's zero — LoRA's B matrix starts at 0.")
            tab1.click("#send-button")
            tab1.wait_for_function("document.querySelector('#answer-box textarea').value === ''")
            tab1.wait_for_function("document.querySelector('#chat').innerText.includes('第 2/2 题')")
            # Apostrophes read as apostrophes (they showed as &#x27;).
            chat1 = tab1.locator("#chat").inner_text()
            assert "I don't think it's zero — LoRA's B" in chat1 and "&#x27;" not in chat1

            tab2.fill("#answer-box textarea", "TAB2: the stale tab's answer")
            tab2.click("#send-button")
            tab2.wait_for_function(f"document.querySelector('#chat').innerText.includes({MOVED_ON!r})")
            chat2 = tab2.locator("#chat").inner_text()
            assert "TAB1: I don't think" in chat2 and "第 2/2 题" in chat2
            assert "TAB2: the stale tab" not in chat2
            # Refused, not lost: the text stays in the box to send again.
            assert tab2.locator("#answer-box textarea").input_value() == "TAB2: the stale tab's answer"
            tab2.click("#send-button")
            tab2.wait_for_function("document.querySelector('#answer-box textarea').value === ''")
            tab2.wait_for_selector("#report .ms-overall")

        finally:
            browser.close()
    store = TranscriptStore(server.data_dir / "mianshi.sqlite3", readonly=True)
    try:
        sessions = [s for s in store.list_sessions() if s.n_answered == 2 and s.n_questions == 2]
        assert sessions
        rec = store.get_session(sessions[0].id)
    finally:
        store.close()
    answers = [t.text for t in rec.turns if t.role == "candidate" and t.kind == "answer"]
    assert [a[:4] for a in answers] == ["TAB1", "TAB2"]
    assert [g.answer[:4] for g in rec.current_grades().values()] == ["TAB1", "TAB2"]


# --------------------------------------------------------------------------- forged state

def forged(bank, card_id: str, asked: str = "") -> dict:
    owner = new_browser()["browser_id"]
    state = {"id": "forged-session-1", "owner": owner,
             "config": {"topics": [], "sections": [], "n_questions": 1, "followups": False, "language": "zh"},
             "plan": [card_id], "current": 0, "phase": "awaiting_answer",
             "records": {card_id: {"card_id": card_id, "asked": asked}}}
    return {"browser_id": owner, "session_id": state["id"], "state": state}


def raw_call(url: str, api: str, *args) -> dict:
    """One call over the HTTP API with the JSON written by hand: a lone surrogate goes out as the
    escape \\ud800, as a browser's JSON may carry it (gradio_client cannot encode it at all)."""
    import json

    import httpx

    from interviewer.bench.common import VIEW

    with httpx.Client(base_url=url, timeout=120) as http:
        body = json.dumps({"data": list(args), "session_hash": "forged"}).encode("ascii")
        event_id = http.post(f"/gradio_api/call/{api}", content=body,
                             headers={"content-type": "application/json"}).json()["event_id"]
        event = None
        with http.stream("GET", f"/gradio_api/call/{api}/{event_id}") as stream:
            for line in stream.iter_lines():
                if line.startswith("event:"):
                    event = line[6:].strip()
                elif line.startswith("data:") and event in ("complete", "error"):
                    assert event == "complete", line
                    values = json.loads(line[5:])
                    return dict(zip(VIEW, [v for v in values if v is not None][:6] + [values[-1]]))
    raise AssertionError("no result")


@pytest.mark.parametrize("case", ["unknown card", "lone surrogate"])
def test_a_forged_state_gets_a_clear_message(server, bank, case):
    card = bank.cards()[0].id
    bs = forged(bank, "no-such-doc:999") if case == "unknown card" else forged(bank, card, asked="题目 \ud800 x")
    for api, args in (("resume", (bs,)), ("answer", ("一个回答", bs))):
        v = raw_call(server.url, api, *args)
        said = " ".join(texts(v["chat"]))
        assert "start a new one" in said, (api, said)
        assert "Traceback" not in said and "Error" not in said and "\ud800" not in said
        assert v["browser"]["session_id"] is None
