"""The app over its Gradio API (gradio_client), against the real server in a subprocess.

The same named endpoints the page uses: /start, /answer, /skip, /repeat, /end, /resume, /downloads, and the
review tab's /sessions, /open_session, /regrade, /delete_session.
"""

from __future__ import annotations

import html
import json
import re
import threading
import uuid
from pathlib import Path

import pytest

from interviewer.testing.app_server import AppServer

pytestmark = pytest.mark.slow

ALL = "全部 / all"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with AppServer(tmp_path_factory.mktemp("app-api"), MIANSHI_MAX_ANSWER_CHARS="300") as srv:
        yield srv


def client(server):
    from gradio_client import Client

    return Client(server.url, verbose=False, download_files=str(server.data_dir / "downloads"))


VIEW = ("chat", "cards", "report", "report_md", "report_json", "answer_box", "browser")


def call(c, api: str, *args) -> dict:
    return dict(zip(VIEW, c.predict(*args, api_name=api)))


def texts(chat: list[dict]) -> list[str]:
    """The messages as the candidate reads them (the app sends them Markdown- and HTML-escaped)."""
    out = []
    for m in chat:
        content = m["content"]
        parts = content if isinstance(content, list) else [content]
        raw = "".join(p.get("text", "") if isinstance(p, dict) else str(p) for p in parts)
        out.append(html.unescape(re.sub(r"\\(.)", r"\1", raw)).replace("\xa0", " "))
    return out


def new_browser() -> dict:
    return {"browser_id": uuid.uuid4().hex, "session_id": None, "state": None}


def update_value(value):
    """DownloadButton outputs arrive as an update dict when visibility changes with them."""
    return value.get("value") if isinstance(value, dict) else value


def graded_ids(browser: dict) -> list[str]:
    records = browser["state"]["records"]
    return [qid for qid in browser["state"]["plan"] if records[qid]["grade"] is not None]


def test_interview_over_the_api(server):
    c = client(server)
    bs = new_browser()
    v = call(c, "/start", ["RAG", "LangChain"], [], 3, True, "zh", False, bs)
    bs = v["browser"]
    state = bs["state"]
    assert state["owner"] == bs["browser_id"] and len(state["plan"]) == 3
    assert any("第 1/3 题" in t for t in texts(v["chat"]))
    assert v["cards"] == ""                     # nothing graded yet: no key points anywhere
    assert v["report"] == ""

    followups = 0
    answers = ["RAG 先把文档切块做 embedding 存进向量库，检索 top-k 后拼进 prompt 给大模型生成",
               "LangChain 里有 chain、agent、memory 和 retriever 这些模块",
               "检索后再用 cross-encoder 做 rerank，提升相关性"]
    steps = 0
    while bs["state"]["phase"] != "finished":
        steps += 1
        assert steps < 10, "the interview did not finish"
        phase = bs["state"]["phase"]
        text = "补充一点：还要做 query 改写和 chunk 重叠" if phase == "awaiting_followup" else answers[steps % 3]
        followups += phase == "awaiting_followup"
        before = set(graded_ids(bs))
        v = call(c, "/answer", text, bs)
        bs = v["browser"]
        assert text in texts(v["chat"])
        # A card appears exactly for the graded questions, never for the one still being asked.
        shown = re.findall(r'data-question-id="([^"]+)"', v["cards"])
        assert sorted(shown) == sorted(graded_ids(bs))
        for _qid in set(graded_ids(bs)) - before:
            assert 'class="ms-total"' in v["cards"] and "ms-kp" in v["cards"] and "ms-criterion" in v["cards"]
    assert followups >= 1, "follow-ups were on but none was asked"

    assert "ms-overall" in v["report"] and "ms-topic" in v["report"] and "ms-crit" in v["report"]
    # The downloads are written when the report appears (the page runs /downloads then).
    md_file, json_file = c.predict(bs, api_name="/downloads")
    md = Path(update_value(md_file)).read_text(encoding="utf-8")
    exported = json.loads(Path(update_value(json_file)).read_text(encoding="utf-8"))
    assert bs["session_id"] in md
    assert bs["session_id"] in json.dumps(exported)
    assert answers[1] in md or answers[2] in md or answers[0] in md

    # A fresh connection with the same browser state resumes the finished session with its report.
    again = call(client(server), "/resume", bs)
    assert texts(again["chat"]) == texts(v["chat"])
    assert "ms-overall" in again["report"]

    # Review: the session is listed for this browser, opens, regrades with the old grade kept.
    listing, _mastery = c.predict(ALL, 0, bs, api_name="/sessions")
    assert [v for _, v in listing["choices"]] == [bs["session_id"]]
    transcript, md_path, json_path = c.predict(bs["session_id"], bs, api_name="/open_session")
    assert "ms-card" in transcript and Path(md_path).is_file() and Path(json_path).is_file()
    assert "ms-grade-version" not in transcript
    transcript, _, _ = c.predict(bs["session_id"], bs, api_name="/regrade")
    n_graded = len(graded_ids(bs))
    assert transcript.count('class="ms-grade-version"') == 2 * n_graded  # original + regrade side by side
    assert "superseded" in transcript and "current" in transcript

    # "Practise my weak spots": the planner gets this browser's history, so unseen cards come first.
    old_plan = set(bs["state"]["plan"])
    v = call(c, "/start", ["RAG", "LangChain"], [], 3, True, "zh", True, bs)
    assert v["browser"]["state"]["config"]["weak_spots"] is True
    assert not old_plan & set(v["browser"]["state"]["plan"])


def test_skip_repeat_and_truncation(server):
    c = client(server)
    v = call(c, "/start", [], [], 2, False, "en", False, new_browser())
    bs = v["browser"]
    first = texts(v["chat"])[-1]
    v = call(c, "/repeat", bs)
    assert texts(v["chat"])[-1] == first                  # the same question, word for word
    v = call(c, "/answer", "x" * 500, bs)                   # over the 300-character limit
    bs = v["browser"]
    record = bs["state"]["records"][bs["state"]["plan"][0]]
    assert record["answers"] == ["x" * 300]
    assert any("answer too long" in t for t in texts(v["chat"]))
    v = call(c, "/skip", bs)
    bs = v["browser"]
    assert bs["state"]["phase"] == "finished" and bs["state"]["records"][bs["state"]["plan"][1]]["skipped"]
    assert "ms-overall" in v["report"]


def run_session(server, marker: str, barrier: threading.Barrier, out: dict) -> None:
    c = client(server)
    bs = new_browser()
    barrier.wait()
    v = call(c, "/start", [], [], 2, False, "zh", False, bs)
    bs = v["browser"]
    barrier.wait()  # both sessions are open at the same time
    for i in range(2):
        v = call(c, "/answer", f"{marker} answer {i}: attention 是 softmax(QK^T/sqrt(d))V", bs)
        bs = v["browser"]
    out[marker] = {"client": c, "browser": bs, "chat": texts(v["chat"]), "cards": v["cards"]}


def test_two_sessions_at_once_do_not_see_each_other(server):
    barrier = threading.Barrier(2)
    out: dict = {}
    threads = [threading.Thread(target=run_session, args=(server, m, barrier, out)) for m in ("ALPHA", "BRAVO")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=240)
    assert set(out) == {"ALPHA", "BRAVO"}
    a, b = out["ALPHA"], out["BRAVO"]
    assert a["browser"]["session_id"] != b["browser"]["session_id"]
    assert any("ALPHA" in t for t in a["chat"]) and not any("BRAVO" in t for t in a["chat"])
    assert any("BRAVO" in t for t in b["chat"]) and not any("ALPHA" in t for t in b["chat"])
    assert "BRAVO" not in a["cards"] and "ALPHA" not in b["cards"]

    for me, other in ((a, b), (b, a)):
        listing, _ = me["client"].predict(ALL, 0, me["browser"], api_name="/sessions")
        assert [v for _, v in listing["choices"]] == [me["browser"]["session_id"]]
        # Knowing another session's id is not enough to open, regrade or resume it.
        transcript, md, js = me["client"].predict(other["browser"]["session_id"], me["browser"],
                                                  api_name="/open_session")
        assert transcript == "" and md is None and js is None
        stolen = dict(me["browser"], session_id=other["browser"]["session_id"], state=other["browser"]["state"])
        resumed = call(me["client"], "/resume", stolen)
        assert resumed["chat"] == [] and resumed["browser"]["session_id"] is None


def test_review_imports_a_json_export_and_refuses_other_files(server, tmp_path):
    from gradio_client import handle_file

    # A real export: one answered question of a session, downloaded from the app's report.
    c = client(server)
    bs = call(c, "/start", ["Redis"], [], 1, False, "zh", False, new_browser())["browser"]
    marker = f"import-{uuid.uuid4().hex[:8]}"
    bs = call(c, "/answer", f"{marker}：缓存穿透查询不存在的数据，可以用布隆过滤器或者缓存空值。", bs)["browser"]
    bs = call(c, "/end", bs)["browser"]
    export_path = Path(update_value(c.predict(bs, api_name="/downloads")[1]))
    assert json.loads(export_path.read_text(encoding="utf-8"))["session"]["id"] == bs["session_id"]

    # Another browser imports it: it is listed for that browser and opens with the answer.
    other = new_browser()
    listing, _mastery, selected, status = c.predict(
        handle_file(str(export_path)), ALL, 0, other, api_name="/import_session")
    assert "imported" in status and selected
    assert selected in [v for _, v in listing["choices"]]
    transcript, _, _ = c.predict(selected, other, api_name="/open_session")
    assert marker in html.unescape(transcript)

    # Not an export: an image, and JSON of another shape. Refused with the reason; nothing added.
    png = tmp_path / "screenshot.json"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    wrong = tmp_path / "other.json"
    wrong.write_text(json.dumps({"hello": "world"}), encoding="utf-8")
    before, _ = c.predict(ALL, 0, other, api_name="/sessions")
    for bad in (png, wrong):
        listing, _mastery, _selected, status = c.predict(
            handle_file(str(bad)), ALL, 0, other, api_name="/import_session")
        assert "not imported" in status, status
        assert listing["choices"] == before["choices"]
