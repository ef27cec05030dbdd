"""Markdown / JSON export and JSON import, through a real store on disk and the real CLI."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime

import pytest
from markdown_it import MarkdownIt

from interviewer.config import REPO_ROOT, Settings
from interviewer.export import (
    FORMAT_VERSION,
    InvalidExport,
    dumps_json,
    import_json,
    md_escape,
    md_fence,
    to_json,
    to_markdown,
)
from interviewer.models import CriterionScore, Grade, KeyPointStatus, KeyPointVerdict, Provenance, Turn
from interviewer.store import Scrubber, TranscriptStore

INJECTION = ('<script>alert("x")</script> <img src=x onerror=alert(1)> [click](javascript:alert(1)) '
             "**bold** # not a heading\n```\n</code></pre><b>out</b>\n````")


def grade(total: float, grader: str = "offline", evidence: str = "B=0", summary: str = "good",
          fallback: str | None = None) -> Grade:
    return Grade(
        status="graded", total=total,
        criteria=[CriterionScore(criterion="correctness", score=total, weight=0.5, reason="matches | the point"),
                  CriterionScore(criterion="depth", score=total, weight=0.3, reason="<i>deep</i>"),
                  CriterionScore(criterion="clarity", score=total, weight=0.2)],
        key_points=[KeyPointVerdict(point="B 初始化为 0", status=KeyPointStatus.covered, evidence=evidence),
                    KeyPointVerdict(point="A 随机高斯", status=KeyPointStatus.missing)],
        summary=summary,
        provenance=Provenance(grader=grader, grader_version=f"{grader}-v1", rubric_version="rubric-v1",
                              model="gpt-4o-mini" if grader == "llm" else None,
                              endpoint_host="api.openai.com" if grader == "llm" else None,
                              structured_mode="json_schema" if grader == "llm" else None,
                              fallback_reason=fallback),
    )


def fill(store: TranscriptStore, sid: str = "sess-1", owner: str = "browser-secret-owner") -> None:
    state = {
        "id": sid, "owner": owner,
        "config": {"topics": ["微调"], "sections": [], "n_questions": 2, "followups": True, "max_followups": 1,
                   "language": "zh", "weak_spots": False, "seed": 7},
        "plan": ["d:001", "d:002"], "current": 1, "phase": "finished", "followups_asked": 0,
        "records": {"d:001": {"card_id": "d:001", "question": "LoRA 初始化?", "topics": ["微调"]},
                    "d:002": {"card_id": "d:002", "question": "PPO 的 KL?", "topics": ["RLHF"]}},
        "interviewer_label": "Offline interviewer", "grader_label": "offline grader",
        "created_at": datetime(2025, 3, 1, 10, 0, tzinfo=UTC).isoformat(), "finished_at": None,
    }
    store.record_session(state)
    texts = [("interviewer", "question", "d:001", "LoRA 初始化参数? 为什么一半是 0"),
             ("candidate", "answer", "d:001", INJECTION),
             ("interviewer", "followup", "d:001", "那 A 呢?"),
             ("candidate", "answer", "d:001", "A 用高斯"),
             ("interviewer", "question", "d:002", "PPO 的 KL 惩罚?"),
             ("candidate", "skip", "d:002", "")]
    for i, (role, kind, qid, text) in enumerate(texts):
        store.record_turn(Turn(session_id=sid, index=i, question_id=qid, role=role, kind=kind, text=text))
    store.record_grade(sid, "d:001", grade(4.0, evidence=INJECTION, summary=INJECTION), INJECTION)
    store.add_regrade(sid, "d:001", grade(8.5, grader="llm", evidence=INJECTION), INJECTION + "\nA 用高斯")


@pytest.fixture()
def store(tmp_path) -> TranscriptStore:
    s = TranscriptStore(tmp_path / "m.sqlite3")
    fill(s)
    return s


def render(md: str) -> str:
    # CommonMark with raw HTML enabled: the strictest test that nothing we escaped becomes HTML.
    return MarkdownIt("commonmark", {"html": True}).enable("table").render(md)


def test_markdown_has_the_dialogue_and_a_grade_card(store):
    md = to_markdown(store.get_session("sess-1"))
    assert md.startswith("# 模拟面试记录")
    assert "## 题目 1: LoRA 初始化?" in md and "## 题目 2: PPO 的 KL?" in md
    assert "**追问:** 那 A 呢?" in md and "A 用高斯" in md and "（跳过）" in md
    assert "#### 评分: 8.5 / 10" in md
    assert "| 正确性 | 8.5 | 0.5 | matches \\| the point |" in md
    assert "✅ covered — B 初始化为 0" in md and "❌ missing — A 随机高斯" in md
    assert "llm grader llm-v1 · rubric rubric-v1 · model gpt-4o-mini @ api.openai.com · json\\_schema" in md
    assert "之前的评分" in md and "4.0 / 10" in md  # the superseded grade is mentioned
    assert "**总分:** 8.5 / 10" in md
    html = render(md)
    assert "<table>" in html and "<h4>评分: 8.5 / 10</h4>" in html
    assert "browser-secret-owner" not in md


def test_markdown_shows_injected_html_and_markdown_as_text(store):
    md = to_markdown(store.get_session("sess-1"))
    html = render(md)
    for bad in ("<script", "<img", "<b>out", "href=\"javascript", "<i>deep", "<strong>bold"):
        assert bad not in html, bad
    # ...and the candidate's words are all still there, as text.
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html
    assert "[click](javascript:alert(1))" in html and "**bold**" in html
    # Once in the answer's fence, once in the key point's quoted evidence (inline, escaped).
    assert html.count("&lt;/code&gt;&lt;/pre&gt;&lt;b&gt;out&lt;/b&gt;") == 2


def test_escape_helpers():
    assert render(md_escape("# h\n- item\n1. one\n> quote")).count("<p>") == 1
    assert "<h1>" not in render(md_escape("# h")) and "<li>" not in render(md_escape("- x\n1. y"))
    block = md_fence("a ```` b")
    assert block.startswith("`````text\n") and render(block).count("<pre>") == 1


def test_json_export_is_complete_and_has_no_owner_or_secret(tmp_path):
    s = TranscriptStore(tmp_path / "k.sqlite3")
    fill(s)
    data = to_json(s.get_session("sess-1"), Scrubber(["Offline interviewer"]))  # any secret value
    assert data["format"] == "mianshi-session" and data["format_version"] == FORMAT_VERSION
    assert len(data["turns"]) == 6
    assert [(g["grade"]["total"], g["is_current"]) for g in data["grades"]] == [(4.0, False), (8.5, True)]
    assert data["grades"][1]["grade"]["provenance"]["model"] == "gpt-4o-mini"
    assert data["session"]["state"]["owner"] == "" and "browser-secret-owner" not in json.dumps(data)
    assert data["session"]["interviewer_label"] == "[REDACTED]"


def test_import_round_trip_keeps_a_free_id_and_renames_on_collision(store, tmp_path):
    text = dumps_json(store.get_session("sess-1"))
    other = TranscriptStore(tmp_path / "other.sqlite3")
    assert import_json(other, text, owner="me") == "sess-1"  # free id: kept
    a, b = store.get_session("sess-1"), other.get_session("sess-1", owner="me")
    assert [t.model_dump(exclude={"session_id"}) for t in a.turns] == [t.model_dump(exclude={"session_id"})
                                                                      for t in b.turns]
    assert [(g.grade, g.is_current, g.answer) for g in a.grades] == [(g.grade, g.is_current, g.answer)
                                                                      for g in b.grades]
    assert (b.overall, b.n_answered, b.status, b.created_at) == (a.overall, a.n_answered, a.status, a.created_at)
    assert to_markdown(b) == to_markdown(a)

    new_id = import_json(other, text.encode())  # collides: a new id, everything moved to it
    assert new_id != "sess-1"
    c = other.get_session(new_id)
    assert {t.session_id for t in c.turns} == {new_id} and c.state["id"] == new_id
    assert len(c.grades) == 2 and c.owner == ""
    assert len(other.get_session("sess-1").grades) == 2  # the original is untouched


@pytest.mark.parametrize("mutate, message", [
    (lambda d: "not json {", "invalid JSON at line 1"),
    (lambda d: b"\xff\xfe\x00garbage", "not UTF-8"),
    (lambda d: [1, 2], "top level must be a JSON object"),
    (lambda d: {**d, "format": "something-else"}, "\"format\" must be"),
    (lambda d: {**d, "format_version": 99}, "newer Mianshi"),
    (lambda d: {**d, "turns": [{**d["turns"][0], "role": "hacker"}]}, "turns.0.role"),
    (lambda d: {**d, "grades": [{**d["grades"][0], "grade": {"status": "graded", "total": 50}}]}, "grades.0.grade"),
    (lambda d: {**d, "turns": d["turns"] + d["turns"][:1]}, "same index"),
    (lambda d: {**d, "grades": [{**g, "is_current": True} for g in d["grades"]]}, "more than one current"),
    (lambda d: {**d, "session": {**d["session"], "config": {"n_questions": 0}}}, "session.config.n_questions"),
    (lambda d: {**d, "extra": 1}, "extra: Extra inputs are not permitted"),
])
def test_malformed_files_are_rejected_with_a_clear_message(store, tmp_path, mutate, message):
    data = to_json(store.get_session("sess-1"))
    bad = mutate(data)
    other = TranscriptStore(tmp_path / "o.sqlite3")
    with pytest.raises(InvalidExport, match=message.replace("(", r"\(").replace("|", r"\|")):
        import_json(other, bad if isinstance(bad, (str, bytes)) else json.dumps(bad))
    assert other.list_sessions() == []  # nothing half-imported


# --------------------------------------------------------------------------- CLI

def cli(data_dir, *args, env_extra=None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MIANSHI_", "OPENAI_"))}
    env.update({"MIANSHI_DATA_DIR": str(data_dir), **(env_extra or {})})
    return subprocess.run([sys.executable, "-m", "interviewer", *args], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def test_cli_sessions_export_import_delete(tmp_path):
    data = tmp_path / "data"
    fill(TranscriptStore.from_settings(Settings.from_env({"MIANSHI_DATA_DIR": str(data)})))

    r = cli(data, "sessions", "--json")
    assert r.returncode == 0, r.stderr
    rows = json.loads(r.stdout)
    assert [(x["id"], x["overall"], x["n_answered"]) for x in rows] == [("sess-1", 8.5, 1)]
    r = cli(data, "sessions")
    assert r.returncode == 0 and "sess-1" in r.stdout and "8.5" in r.stdout

    r = cli(data, "export", "sess-1", "--format", "md")
    assert r.returncode == 0 and "#### 评分: 8.5 / 10" in r.stdout
    out = tmp_path / "s.json"
    r = cli(data, "export", "sess-1", "--format", "json", "-o", str(out))
    assert r.returncode == 0, r.stderr
    assert json.loads(out.read_text(encoding="utf-8"))["session"]["id"] == "sess-1"

    r = cli(data, "delete", "sess-1")
    assert r.returncode == 0 and "deleted" in r.stdout
    assert cli(data, "sessions", "--json").stdout.strip() == "[]"
    r = cli(data, "delete", "sess-1")
    assert r.returncode == 1 and "no session" in r.stderr

    r = cli(data, "import", str(out))
    assert r.returncode == 0 and "sess-1" in r.stdout, r.stderr
    assert json.loads(cli(data, "sessions", "--json").stdout)[0]["overall"] == 8.5


def test_cli_errors_are_clear(tmp_path):
    data = tmp_path / "data"
    r = cli(data, "export", "missing", "--format", "json")
    assert r.returncode == 1 and "no session 'missing'" in r.stderr and "Traceback" not in r.stderr
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "mianshi-session", "format_version": 1}', encoding="utf-8")
    r = cli(data, "import", str(bad))
    assert r.returncode == 1 and "invalid Mianshi session file" in r.stderr and "Traceback" not in r.stderr
    r = cli(data, "import", str(tmp_path / "nope.json"))
    assert r.returncode == 1 and "cannot read" in r.stderr
    blocker = tmp_path / "file-not-dir"
    blocker.write_text("x")
    r = cli(blocker, "sessions")
    assert r.returncode == 1 and "cannot be opened" in r.stderr and "Traceback" not in r.stderr


def test_cli_export_scrubs_the_configured_key_even_from_old_rows(tmp_path):
    data = tmp_path / "data"
    key = "private-endpoint-credential-1234"  # not key-shaped: only the value match can catch it
    store = TranscriptStore(data / "mianshi.sqlite3")
    fill(store)
    # A row written before the key was configured (or by an older version) still holds it.
    with sqlite3.connect(store.path) as conn:
        conn.execute("UPDATE turns SET text = ? WHERE idx = 3", (f"my key is {key}",))
    for fmt in ("json", "md"):
        r = cli(data, "export", "sess-1", "--format", fmt, env_extra={"OPENAI_API_KEY": key})
        assert r.returncode == 0, r.stderr
        assert key not in r.stdout + r.stderr and "[REDACTED]" in r.stdout


def test_app_exports_replace_their_files_instead_of_piling_up(store, tmp_path):
    # The app writes a session's downloads each time its report appears: one file per session
    # and format in the process's export dir, rewritten whole, never a new temp dir per export.
    from interviewer.service import Services

    fill(store)
    services = Services(settings=Settings.from_env({"MIANSHI_DATA_DIR": str(tmp_path)}), bank=None,
                        engine=None, grader=None, store=store, served_dir=tmp_path)
    record = store.get_session("sess-1")
    first = services.write_exports(record)
    second = services.write_exports(record)
    assert first == second
    assert sorted(p.name for p in (tmp_path / "exports").iterdir()) == ["mianshi-sess-1.json", "mianshi-sess-1.md"]
    assert json.loads(open(second[1], encoding="utf-8").read())["session"]["id"] == "sess-1"
    assert "sess-1" in open(second[0], encoding="utf-8").read()
