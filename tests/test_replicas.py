"""Issue #17: two app replicas (`python app.py` twice) over one PostgreSQL and one Chroma server.

- A session started on replica A, answered on B, reloaded on A and exported from B: every answer
  once, in order, in the store and in the export; a tab still holding an old copy adds nothing.
- Behind the sticky proxy, replica A is SIGKILLed in the middle of a load: no acknowledged
  answer is lost, nothing is duplicated or crossed, and A's sessions finish on B.

The servers are real: PostgreSQL from the distribution's binaries and `chroma run` (the
fixtures in tests/conftest.py skip, saying why, only when one cannot start).
"""

from __future__ import annotations

import html
import json
import re
import uuid
from pathlib import Path

import pytest

from interviewer.bench.common import start_args
from interviewer.bench.load import open_store_readonly, run_load
from interviewer.config import REPO_ROOT, Settings
from interviewer.testing.replicas import Replicas

pytestmark = pytest.mark.slow

VIEW = ("chat", "cards", "report", "report_md", "report_json", "answer_box", "browser")
ANSWERS = ["LoRA 的 B 矩阵初始化为 0，A 用随机高斯初始化，训练开始时增量为零，不破坏预训练模型。",
           "Pre-Norm 训练更稳定，梯度可以沿残差直接回传；Post-Norm 上限高但深层容易不稳定。",
           "KV cache 缓存历史 token 的 key 和 value，解码每步只算新 token，显存随长度增长。"]


@pytest.fixture(scope="module")
def shared(request, tmp_path_factory, embedder):
    """MIANSHI_* of the shared back ends: a fresh PostgreSQL database and a Chroma database on
    the session's servers, the bank built there once (as `python -m interviewer ingest` does)."""
    from interviewer.bank.bank import QuestionBank

    database_url = request.getfixturevalue("postgres_server").create_database()
    chroma_url = request.getfixturevalue("chroma_server").database_url()
    env = {"MIANSHI_DATABASE_URL": database_url, "MIANSHI_CHROMA_URL": chroma_url}
    settings = Settings.from_env({"MIANSHI_DATA_DIR": str(tmp_path_factory.mktemp("ingest")),
                                  "MIANSHI_CORPUS_DIR": str(REPO_ROOT / "corpus"), **env})
    QuestionBank.open(settings, embedder=embedder)  # the embedder's cache makes this quick
    return env


@pytest.fixture(scope="module")
def replicas(shared, tmp_path_factory):
    reps = Replicas(tmp_path_factory.mktemp("replicas"), 2, **shared)
    try:
        reps.start()
    except RuntimeError as exc:
        pytest.fail(f"the replicas did not start: {exc}")
    yield reps
    reps.stop()


def client(url: str, downloads: Path | None = None):
    from gradio_client import Client

    kw = {"download_files": str(downloads)} if downloads else {}
    return Client(url, verbose=False, **kw)


def call(c, api: str, *args) -> dict:
    return dict(zip(VIEW, c.predict(*args, api_name=api)))


def chat_texts(view: dict) -> list[str]:
    """The messages as the candidate reads them (the app sends them Markdown- and HTML-escaped)."""
    out = []
    for m in view["chat"] or []:
        parts = m["content"] if isinstance(m["content"], list) else [m["content"]]
        raw = "".join(p.get("text", "") if isinstance(p, dict) else str(p) for p in parts)
        out.append(html.unescape(re.sub(r"\\(.)", r"\1", raw)).replace("\xa0", " "))
    return out


def stored_answers(database_url: str, session_id: str) -> list[str]:
    store = open_store_readonly(database_url)
    try:
        rec = store.get_session(session_id)
    finally:
        store.close()
    return [t.text for t in rec.turns if t.role == "candidate" and t.kind == "answer"]


def test_start_on_a_answer_on_b_reload_on_a_export_on_b(replicas, shared, tmp_path):
    a, b = (s.url for s in replicas.servers)
    browser = {"browser_id": uuid.uuid4().hex, "session_id": None, "state": None}
    tag = uuid.uuid4().hex[:6]
    answers = [f"[{tag}-{i}] {text}" for i, text in enumerate(ANSWERS)]

    tab_a = client(a)
    bs = call(tab_a, "/start", *start_args(3, False, browser))["browser"]
    sid, plan = bs["session_id"], bs["state"]["plan"]
    stale = bs                                             # what tab A still holds

    bs = call(client(b), "/answer", answers[0], bs)["browser"]   # the next request lands on B
    assert bs["session_id"] == sid and bs["state"]["current"] == 1

    # Tab A acts on its old copy (it never saw B's answer): refused, nothing added.
    view = call(tab_a, "/answer", answers[1], stale)
    assert view["browser"]["state"]["current"] == 1
    assert stored_answers(shared["MIANSHI_DATABASE_URL"], sid) == answers[:1]

    # A reload on A: a new page (new Gradio session, no in-memory state), the browser's ids.
    view = call(client(a), "/resume", {"browser_id": browser["browser_id"], "session_id": sid, "state": None})
    bs = view["browser"]
    assert bs["session_id"] == sid and bs["state"]["current"] == 1
    assert sum(answers[0] in t for t in chat_texts(view)) == 1   # shown once, as stored

    bs = call(client(a), "/answer", answers[1], bs)["browser"]
    bs = call(client(b), "/answer", answers[2], bs)["browser"]
    assert bs["state"]["phase"] == "finished"

    # Export on B: the JSON download served by B holds every answer once, in order.
    on_b = client(b, downloads=tmp_path)
    _md, js = on_b.predict(bs, api_name="/downloads")
    js = js["value"] if isinstance(js, dict) else js
    export = json.loads(Path(js).read_text(encoding="utf-8"))
    exported = [t["text"] for t in export["turns"] if t["role"] == "candidate" and t["kind"] == "answer"]
    assert exported == answers
    assert stored_answers(shared["MIANSHI_DATABASE_URL"], sid) == answers
    asked = [t["question_id"] for t in export["turns"] if t["role"] == "interviewer" and t["kind"] == "question"]
    assert asked == plan


@pytest.mark.browser
def test_a_browser_reloaded_onto_the_other_replica_resumes_its_interview(replicas, shared, browser):
    """Through the proxy in Chromium: the page's replica is replaced by the other one (its cookie
    names the other replica, as the proxy does when a replica is down) and the page reloads: the
    browser keeps its ids, the other replica reads them (one browser secret for all replicas),
    and the interview goes on from the shared database."""
    from tests.test_app_browser import open_app, send, start_interview

    ctx = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="zh-CN")
    ctx.set_default_timeout(120_000)
    try:
        page = ctx.new_page()
        open_app(page, replicas.url)
        first = next(c["value"] for c in ctx.cookies() if c["name"] == "mianshi-replica")
        page.locator("#followups input").uncheck()
        start_interview(page, 2)
        tag = uuid.uuid4().hex[:6]
        send(page, f"[{tag}-0] {ANSWERS[0]}")
        page.wait_for_function("document.querySelector('#chat')?.innerText.includes('第 2/2 题')")

        other = "r1" if first == "r0" else "r0"
        ctx.add_cookies([{"name": "mianshi-replica", "value": other, "url": replicas.url}])
        page.reload()
        page.wait_for_selector("#start-button")
        page.wait_for_function("document.querySelector('#chat')?.innerText.includes('第 2/2 题')")
        page.wait_for_function("!document.querySelector('#answer-box textarea').disabled")
        assert page.locator("#chat").inner_text().count(f"[{tag}-0]") == 1
        send(page, f"[{tag}-1] {ANSWERS[1]}")
        page.wait_for_selector("#report .ms-overall")
        assert next(c["value"] for c in ctx.cookies() if c["name"] == "mianshi-replica") == other
    finally:
        ctx.close()
    store = open_store_readonly(shared["MIANSHI_DATABASE_URL"])
    try:
        found = [s for s in store.list_sessions()
                 if any(f"[{tag}-0]" in t.text for t in store.get_session(s.id).turns)]
        assert len(found) == 1
        answers = [t.text for t in store.get_session(found[0].id).turns if t.role == "candidate"]
        assert answers == [f"[{tag}-0] {ANSWERS[0]}", f"[{tag}-1] {ANSWERS[1]}"]
    finally:
        store.close()


def test_killing_a_replica_mid_load_loses_no_answered_turn(replicas, shared):
    """8 candidates through the proxy; replica A is SIGKILLed when half the answers are in."""
    def kill_a():
        replicas.kill(0)

    result = run_load(replicas.url, shared["MIANSHI_DATABASE_URL"], candidates=8, questions=2, followups=True,
                      think=0.3, time_limit=150, failover=True, midway=kill_a)
    assert replicas.servers[0].proc is None or replicas.servers[0].proc.poll() is not None  # A is gone
    assert result.errors == [], replicas.logs()
    assert result.problems == []          # every acknowledged answer stored once, in order, in its session
    from interviewer.bench import load

    on_a = [c for c in load._last_candidates if c.replica == "r0"]
    assert on_a, "the proxy sent no candidate to replica A"
    assert all(c.finished for c in load._last_candidates)   # A's sessions finished on B
