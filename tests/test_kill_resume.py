"""Issue #6: the app process is SIGKILLed mid-interview; after a restart on the same data dir every
answered turn and grade is in the store, and the same browser resumes the session and finishes it."""

from __future__ import annotations

import os
import signal

import pytest

from interviewer.bench.common import call, client, copy_built_bank, new_browser, start_args
from interviewer.testing.app_server import AppServer
from interviewer.testing.app_server import stored_session as stored

pytestmark = pytest.mark.slow

ANSWERS = ["LoRA 的 B 矩阵初始化为 0，A 用随机高斯初始化，训练开始时增量为零，不破坏预训练模型。",
           "Pre-Norm 训练更稳定，梯度可以沿残差直接回传；Post-Norm 上限高但深层容易不稳定。",
           "KV cache 缓存历史 token 的 key 和 value，解码每步只算新 token，显存随长度增长。",
           "RAG 先切块做 embedding 入库，检索 top-k 后 rerank，再拼进 prompt 生成。"]


def test_sigkill_mid_interview_then_resume_and_finish(tmp_path, bank, bank_settings):
    data = tmp_path / "data"
    copy_built_bank(bank_settings.data_dir, data)             # the bank is built already: start faster
    db = data / "mianshi.sqlite3"
    first = AppServer(data).start()
    try:
        c = client(first.url)
        v = call(c, "/start", *start_args(4, False, new_browser()))
        bs = v["browser"]
        sid, plan = bs["session_id"], bs["state"]["plan"]
        for text in ANSWERS[:2]:
            bs = call(c, "/answer", text, bs)["browser"]
        assert bs["state"]["current"] == 2 and bs["state"]["phase"] == "awaiting_answer"
        os.killpg(first.proc.pid, signal.SIGKILL)       # no shutdown handler, no flush: a crash
        assert first.proc.wait(timeout=10) == -signal.SIGKILL
    finally:
        first.stop()

    # Everything answered before the kill is on disk, without the app running.
    rec = stored(db, sid)
    answers = [(t.question_id, t.text) for t in rec.turns if t.role == "candidate" and t.kind == "answer"]
    assert answers == [(plan[0], ANSWERS[0]), (plan[1], ANSWERS[1])]
    grades = rec.current_grades()
    assert set(grades) == {plan[0], plan[1]}
    assert all(g.grade.status == "graded" and g.answer for g in grades.values())
    asked = [t.question_id for t in rec.turns if t.kind == "question"]
    assert asked == plan[:3]                               # the third question had been shown
    assert rec.status == "active"

    second = AppServer(data).start()                       # same data dir, new process, new port
    try:
        c = client(second.url)
        # The same browser (its id and session id); its local copy of the state is not needed.
        browser = {"browser_id": bs["browser_id"], "session_id": sid, "state": None}
        v = call(c, "/resume", browser)
        bs = v["browser"]
        assert bs["session_id"] == sid and bs["state"]["current"] == 2
        chat = [str(m["content"]) for m in v["chat"]]
        assert any("LoRA" in m for m in chat) and any("3/4" in m for m in chat)
        assert v["answer_box"].get("interactive") is True
        for text in ANSWERS[2:]:
            v = call(c, "/answer", text, bs)
            bs = v["browser"]
        assert bs["state"]["phase"] == "finished"
        assert "ms-overall" in v["report"]
        # A stranger's browser that knows the session id still cannot resume it.
        stolen = call(c, "/resume", {"browser_id": new_browser()["browser_id"], "session_id": sid, "state": None})
        assert stolen["chat"] == [] and stolen["browser"]["session_id"] is None
    finally:
        second.stop()

    rec = stored(db, sid)
    answers = [(t.question_id, t.text) for t in rec.turns if t.role == "candidate" and t.kind == "answer"]
    assert answers == list(zip(plan, ANSWERS))
    assert set(rec.current_grades()) == set(plan)
    assert [t.question_id for t in rec.turns if t.kind == "question"] == plan   # nothing asked twice
    assert [t.index for t in rec.turns] == list(range(len(rec.turns)))
    assert rec.status == "finished"
