"""Issue 14: the app is killed (SIGKILL) at random points of 30 answered turns, seeded.

After each restart on the same data dir, every answer the app acknowledged is in the transcript
exactly once and has a current grade of it (an answer stored just before the kill is graded on
resume, not replaced by the next one); an answer whose request died with the process is there
at most once. The real app in a subprocess, real HTTP, the real SQLite file read directly.
"""

from __future__ import annotations

import os
import random
import signal
import threading
import time

import pytest

from interviewer.bench.common import HttpApi, copy_built_bank, new_browser, start_args
from interviewer.store import TranscriptStore
from interviewer.testing.app_server import AppServer

pytestmark = pytest.mark.slow

SEED = 14
TURNS = 30
KILLS = 8
QUESTIONS = 10
BODY = "：LoRA 的 B 初始化为 0，A 随机初始化；KV cache 缓存 key 和 value；RAG 先检索再生成。"


def check(db, sent: dict[str, bool]) -> int:
    """Every acknowledged answer stored once; an unacknowledged one at most once; every stored answer
    graded (one stored just before a kill too). Returns how many unacknowledged answers were stored."""
    store = TranscriptStore(db, readonly=True)
    try:
        records = [store.get_session(s.id) for s in store.list_sessions()]
    finally:
        store.close()
    answers = [t.text for r in records for t in r.turns if t.role == "candidate" and t.kind == "answer"]
    graded = [g.answer for r in records for g in r.current_grades().values()]
    for text, acked in sent.items():
        n = answers.count(text)
        assert n == 1 if acked else n <= 1, (text, acked, n)
        if n:
            assert sum(text in g for g in graded) == 1, f"stored but not graded: {text} (acknowledged: {acked})"
    return sum(1 for text, acked in sent.items() if not acked and text in answers)


def test_random_kills_lose_nothing_acknowledged(tmp_path, bank, bank_settings):
    rng = random.Random(SEED)
    kill_at = set(rng.sample(range(1, TURNS), KILLS))
    data = tmp_path / "data"
    copy_built_bank(bank_settings.data_dir, data)
    db = data / "mianshi.sqlite3"
    browser = new_browser()
    sent: dict[str, bool] = {}
    took: list[float] = []     # how long an answer takes here: the kills land within that span
    app = AppServer(data).start()
    try:
        api = HttpApi(app.url)
        bs = api.call("/start", *start_args(QUESTIONS, False, browser))["browser"]
        for i in range(TURNS):
            if bs["state"]["phase"] == "finished":
                bs = api.call("/start", *start_args(QUESTIONS, False, bs))["browser"]
            text = f"ANSWER-{i:02d}{BODY}"
            if i not in kill_at:
                t0 = time.monotonic()
                bs = api.call("/answer", text, bs)["browser"]
                took.append(time.monotonic() - t0)
                sent[text] = True
                continue
            result: dict = {}

            def answer(url=app.url, text=text, bs=bs, result=result):
                try:
                    result["view"] = HttpApi(url).call("/answer", text, bs)
                except Exception as exc:  # the process died under the request
                    result["error"] = exc

            worker = threading.Thread(target=answer)
            worker.start()
            time.sleep(rng.uniform(0.2, 1.1) * sorted(took)[len(took) // 2])   # a random instant of the turn
            os.killpg(app.proc.pid, signal.SIGKILL)
            app.proc.wait(timeout=10)
            worker.join(timeout=60)
            sent[text] = "view" in result
            app.stop()
            app = AppServer(data).start()
            api = HttpApi(app.url)
            # The same browser comes back (its copy of the state is not needed).
            bs = api.call("/resume", {"browser_id": browser["browser_id"], "session_id": bs["session_id"],
                                      "state": None})["browser"]
            assert bs["session_id"] is not None
            check(db, sent)
        check(db, sent)
    finally:
        app.stop()
    assert sum(sent.values()) >= TURNS - KILLS
