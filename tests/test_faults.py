"""Faults: the model endpoint hangs, answers 500, sends malformed or truncated streams or vanishes;
the transcript store turns read-only or its disk fills up; the corpus holds broken files.

The app runs for real in this process (build_app + launch on 127.0.0.1, through Gradio's HTTP and
queue, driven by gradio_client) in LLM mode against the local fake OpenAI server with a short
timeout, and on a transcript store whose SQLite connection can be switched to read-only
(`mode=ro`: SQLite's own "readonly database") or full (`max_page_count`: a real SQLITE_FULL).
For each fault: the session goes on (the next request works), the candidate gets a clear message,
and no stored turn is lost.
"""

from __future__ import annotations

import shutil
import sqlite3

import pytest

from interviewer.bench.common import call, client, new_browser, start_args
from interviewer.config import REPO_ROOT, Settings
from interviewer.llm.client import RetryPolicy
from interviewer.store import TranscriptStore
from interviewer.testing.app_server import inprocess_app
from interviewer.testing.fake_openai import FakeOpenAI, Reply

pytestmark = pytest.mark.slow

FAST = RetryPolicy(max_retries=0, base_delay=0.01, max_delay=0.02)
TIMEOUT = 0.5
ANSWER = "LoRA 的 B 矩阵初始化为 0，A 用随机高斯初始化，训练开始时增量为零；只训练低秩矩阵，参数量很小。"


class SwitchableStore(TranscriptStore):
    """The real store; `mode` turns its next connections read-only or unable to grow."""

    _mode = "ok"

    @property
    def mode(self) -> str:
        return self._mode

    @mode.setter
    def mode(self, value: str) -> None:
        self._mode = value
        self.reconnect()  # the store keeps its write connection: the next write opens one in this mode

    def _open_connection(self):
        if self.mode == "readonly":
            conn = sqlite3.connect(self.path.resolve().as_uri() + "?mode=ro", uri=True, isolation_level=None,
                                   check_same_thread=False)
            conn.row_factory = sqlite3.Row
            return conn
        conn = super()._open_connection()
        if self.mode == "full":
            pages = conn.execute("PRAGMA page_count").fetchone()[0]
            conn.execute(f"PRAGMA max_page_count = {pages}")
        return conn


class Faults:
    """What the fake model does now: 'ok', or one fault for every request."""

    def __init__(self):
        self.mode = "ok"

    def __call__(self, request):
        from interviewer.bench.common import fake_model_script

        if self.mode == "ok":
            return fake_model_script(request)
        return {
            "hang": Reply(delay=30),                       # far beyond the client's timeout
            "500": Reply(status=500, error_message="upstream exploded"),
            "malformed": Reply(malformed=True),            # a 200 whose body is not JSON / SSE
            "truncated": Reply(content="好的，下一个问题是关于注意力机制的" * 3, drop_after=1),
        }[self.mode]


@pytest.fixture(scope="module")
def app(tmp_path_factory, bank, embedder):
    """The real Gradio app in LLM mode, in this process, over the session's built bank."""
    data = tmp_path_factory.mktemp("faults")
    faults = Faults()
    fake = FakeOpenAI(script=faults).start()
    settings = Settings.from_env({"MIANSHI_DATA_DIR": str(data), "OPENAI_BASE_URL": fake.base_url,
                                  "OPENAI_API_KEY": "dummy", "MIANSHI_MODEL": "fake-model",
                                  "MIANSHI_INTERVIEWER": "llm", "MIANSHI_LLM_TIMEOUT": str(TIMEOUT),
                                  "MIANSHI_LLM_MAX_RETRIES": "0", "MIANSHI_BROWSER_SECRET": "test-secret"})
    store = SwitchableStore(settings.db_path)
    try:
        with inprocess_app(settings, bank, embedder, store, retry=FAST, timeout=TIMEOUT) as (url, _demo):
            yield {"url": url, "faults": faults, "fake": fake, "store": store, "data": data}
    finally:
        fake.stop()


def chat_text(view) -> str:
    return "\n".join(str(m.get("content")) for m in view["chat"])


def stored(store, sid):
    return TranscriptStore(store.path, readonly=True).get_session(sid)


@pytest.mark.parametrize("fault", ["hang", "500", "malformed", "truncated"])
def test_model_faults_fall_back_with_a_notice_and_the_next_request_works(app, fault):
    c = client(app["url"])
    app["faults"].mode = fault
    try:
        v = call(c, "/start", *start_args(3, False, new_browser()))
        bs = v["browser"]
        state = bs["state"]
        first = state["records"][state["plan"][0]]
        # The question is still asked (the offline interviewer's text), with a message saying why.
        assert first["asked"].strip()
        assert "模型" in chat_text(v) and "失败" in chat_text(v)
        v = call(c, "/answer", ANSWER, bs)
        bs = v["browser"]
        grade = bs["state"]["records"][state["plan"][0]]["grade"]
        assert grade["status"] == "graded" and grade["provenance"]["grader"] == "offline"
        assert grade["provenance"]["fallback_reason"]                  # labelled, not passed off as the model's
        assert "ms-total" in v["cards"] and "离线评分" in chat_text(v)
    finally:
        app["faults"].mode = "ok"
    # The model is back: the same session goes on and is graded by the model.
    v = call(c, "/answer", ANSWER + "（模型恢复后）", bs)
    bs = v["browser"]
    grade = bs["state"]["records"][state["plan"][1]]["grade"]
    assert grade["status"] == "graded" and grade["provenance"]["grader"] == "llm"
    assert not grade["provenance"]["fallback_reason"]
    rec = stored(app["store"], bs["session_id"])
    assert [t.text for t in rec.turns if t.kind == "answer"] == [ANSWER, ANSWER + "（模型恢复后）"]
    assert set(rec.current_grades()) == set(state["plan"][:2])


def test_model_endpoint_disappears_mid_stream(app):
    """The server stops while a question is streaming: the app falls back, then keeps serving
    when the endpoint returns (a new server on the same port is not guaranteed, so the fake is
    stopped and restarted in place)."""
    fake: FakeOpenAI = app["fake"]
    c = client(app["url"])
    app["faults"].mode = "truncated"
    try:
        v = call(c, "/start", *start_args(2, False, new_browser()))
    finally:
        app["faults"].mode = "ok"
    bs = v["browser"]
    fake.stop()                                             # gone: connection refused
    try:
        v = call(c, "/answer", ANSWER, bs)
        bs = v["browser"]
        qid = bs["state"]["plan"][0]
        assert bs["state"]["records"][qid]["grade"]["provenance"]["fallback_reason"]
        assert bs["state"]["records"][bs["state"]["plan"][1]]["asked"].strip()   # next question asked anyway
        assert "失败" in chat_text(v)
    finally:
        fake.restart()                                      # back, on the same port
    v = call(c, "/answer", ANSWER, bs)
    assert v["browser"]["state"]["phase"] == "finished"
    rec = stored(app["store"], bs["session_id"])
    assert len([t for t in rec.turns if t.kind == "answer"]) == 2 and len(rec.current_grades()) == 2


@pytest.mark.parametrize("mode,message", [("readonly", "read-only"), ("full", "full")])
def test_store_read_only_or_disk_full(app, mode, message):
    from gradio_client.exceptions import AppError

    store: SwitchableStore = app["store"]
    c = client(app["url"])
    v = call(c, "/start", *start_args(3, False, new_browser()))
    bs = v["browser"]
    sid = bs["session_id"]
    bs = call(c, "/answer", ANSWER, bs)["browser"]                # stored normally
    before = stored(store, sid)
    store.mode = mode
    try:
        with pytest.raises(AppError) as err:
            call(c, "/answer", ANSWER + " 第二题", bs)
        assert message in str(err.value) and "not saved" in str(err.value)
        # Reading still works while writes fail: the review list is served.
        listing, _ = c.predict("全部 / all", 0, bs, api_name="/sessions")
        assert sid in [v for _, v in listing["choices"]]
    finally:
        store.mode = "ok"
    after_fault = stored(store, sid)
    # Nothing stored before the fault is lost or changed (a write that fitted may have been added).
    assert [t.model_dump() for t in after_fault.turns[:len(before.turns)]] == [t.model_dump() for t in before.turns]
    assert set(before.current_grades()) <= set(after_fault.current_grades())
    with sqlite3.connect(store.path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    # The disk has room again: the same browser goes on and finishes the session.
    for _ in range(6):
        if bs["state"]["phase"] == "finished":
            break
        bs = call(c, "/answer", ANSWER + " 继续", bs)["browser"]
    assert bs["state"]["phase"] == "finished"
    rec = stored(store, sid)
    assert [t.text for t in rec.turns[:len(before.turns)]] == [t.text for t in before.turns]
    assert rec.status == "finished" and len(rec.current_grades()) >= 2


def test_broken_corpus_files_are_skipped_by_name_and_the_bank_serves(tmp_path, embedder):
    """Binary, empty, GBK, huge and truncated-UTF-8 files beside a real 面经: the bank is built from
    what can be read, says which files were skipped and why, and an interview runs on it."""
    from interviewer.bank.bank import QuestionBank
    from interviewer.engine.factory import build_engine
    from interviewer.models import SessionConfig

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(REPO_ROOT / "corpus" / "001_d9b2635feb76d0f0.txt", corpus)
    (corpus / "binary.txt").write_bytes(bytes(range(256)) * 64)
    (corpus / "empty.md").write_bytes(b"")
    (corpus / "huge.txt").write_bytes(("一面\n1. 什么是注意力机制？\n" * 260_000).encode("utf-8"))
    (corpus / "gbk.txt").write_bytes("字节跳动 一面\n1. 介绍一下 KV cache 的作用？\n2. 什么是 MoE？\n".encode("gbk"))
    (corpus / "cut.txt").write_bytes("一面\n1. 讲讲 RoPE？\n".encode() + "旋转".encode()[:-1])
    settings = Settings.from_env({"MIANSHI_DATA_DIR": str(tmp_path / "data"), "MIANSHI_CORPUS_DIR": str(corpus),
                                  "MIANSHI_INTERVIEWER": "offline"})
    bank = QuestionBank.open(settings, embedder=embedder)
    skipped = {s.path if isinstance(s.path, str) else str(s.path): s.reason for s in bank.report.skipped}
    names = {k.rsplit("/", 1)[-1]: v for k, v in skipped.items()}
    assert {"binary.txt", "empty.md", "huge.txt"} <= set(names)
    assert all(reason.strip() for reason in names.values())
    questions = [c.question for c in bank.cards()]
    assert any("KV cache" in q for q in questions)                 # the GBK file was read
    assert sum(c.doc.startswith("001_") for c in bank.cards()) == 12
    store = TranscriptStore(settings.db_path)
    engine = build_engine(settings, bank, embedder=embedder, recorder=store)
    state = engine.start(SessionConfig(n_questions=2, followups=False))
    list(engine.open(state))
    list(engine.answer(state, ANSWER))
    list(engine.answer(state, ANSWER))
    assert state.phase.value == "finished"
    assert len(store.get_session(state.id).current_grades()) == 2
