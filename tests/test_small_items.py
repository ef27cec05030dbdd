"""Issue 14, item 9: the smaller ones. Ingest of a missing file, symlink loops, FIFOs and UTF-16;
`grade` of an empty answer, from a file or stdin, and of a question no card is about; an answer
stored at the instant of a kill; resuming a command-line interview. Real files, the real bank,
the real store, the real command line.
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys

import pytest

from interviewer.bank.corpus import load_corpus
from interviewer.cli import main
from interviewer.config import REPO_ROOT, Settings
from interviewer.models import SessionConfig
from interviewer.store import TranscriptStore
from tests.test_cli_engine import _env

QUESTION_TEXT = "## 一面\n1. 什么是 MoE 路由？\n2. 讲讲 LoRA 的初始化\n"


# --------------------------------------------------------------------------- corpus

def test_fifos_symlink_loops_are_reported_and_utf16_is_read(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    os.mkfifo(corpus / "pipe.txt")
    (corpus / "loop.md").symlink_to(corpus / "loop.md")
    (corpus / "dangling.txt").symlink_to(corpus / "nowhere.txt")
    (corpus / "utf16.txt").write_bytes(QUESTION_TEXT.encode("utf-16"))          # with its byte-order mark
    (corpus / "utf16be.md").write_bytes(b"\xfe\xff" + QUESTION_TEXT.encode("utf-16-be"))
    docs, skipped = load_corpus(corpus, extra_paths=[tmp_path / "no-such.txt", corpus / "pipe.txt"])
    assert sorted(d.name for d in docs) == ["utf16.txt", "utf16be.md"]
    assert all("MoE 路由" in d.text and d.encoding == "utf-16" for d in docs)
    reasons = {os.path.basename(s.path): s.reason for s in skipped}
    assert "FIFO" in reasons["pipe.txt"]
    assert reasons["loop.md"] == "symlink loop"
    assert "broken symlink" in reasons["dangling.txt"]
    assert reasons["no-such.txt"] == "no such file"


def run_cli(args, env_extra: dict, stdin: str | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MIANSHI_", "OPENAI_"))}
    env.update(env_extra)
    return subprocess.run([sys.executable, "-m", "interviewer", *args], cwd=REPO_ROOT, env=env, input=stdin,
                          capture_output=True, text=True, timeout=300)


def test_ingest_of_a_missing_file_exits_non_zero(bank, bank_settings, tmp_path):
    env = {"MIANSHI_DATA_DIR": str(bank_settings.data_dir), "MIANSHI_CORPUS_DIR": str(bank_settings.corpus_dir)}
    r = run_cli(["ingest", str(tmp_path / "nonexistent.txt")], env)
    assert r.returncode == 1
    assert "nonexistent.txt: no such file" in r.stderr


# --------------------------------------------------------------------------- grade

def test_grade_refuses_an_empty_answer_and_reads_a_file_or_stdin(bank, bank_settings, monkeypatch, capsys,
                                                                   tmp_path):
    _env(monkeypatch, bank_settings)
    ref = ["--question", "什么是 KV cache？", "--reference", "缓存历史 token 的 key 和 value。", "--offline"]
    assert main(["grade", *ref, "--answer", "   "]) == 1
    assert "answer is empty" in capsys.readouterr().err
    answer = tmp_path / "answer.txt"
    answer.write_bytes("缓存 key 和 value，避免重复计算。".encode("utf-16"))
    assert main(["grade", *ref, "--answer-file", str(answer), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["grade"]["total"] > 0
    monkeypatch.setattr(sys, "stdin", io.StringIO("缓存 key 和 value。\n第二行也算。\n"))
    assert main(["grade", *ref, "--answer-file", "-", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["grade"]["status"] == "graded"
    assert main(["grade", *ref, "--answer-file", str(tmp_path / "missing.txt")]) == 1
    assert "cannot read" in capsys.readouterr().err


def test_grade_names_the_card_it_used_and_refuses_an_unrelated_question(bank, bank_settings, monkeypatch,
                                                                        capsys):
    _env(monkeypatch, bank_settings)
    assert main(["grade", "--question", "今天天气怎么样", "--answer", "晴天，适合出门。", "--offline"]) == 1
    err = capsys.readouterr().err
    assert "no bank card is about this question" in err and re.search(r"similarity 0\.\d\d", err)
    assert main(["grade", "--question", "LoRA 的 B 矩阵为什么初始化为 0", "--answer",
                 "B 初始化为 0，训练开始时增量为零。", "--offline"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"key points from bank card 001_d9b2635feb76d0f0:001 .*similarity 0\.\d\d", out)


# --------------------------------------------------------------------------- kills and resuming

@pytest.fixture()
def services(bank, embedder, bank_settings, tmp_path):
    from interviewer.engine.factory import build_engine
    from interviewer.service import Services

    settings = Settings.from_env({"MIANSHI_DATA_DIR": str(tmp_path / "data"), "MIANSHI_INTERVIEWER": "offline",
                                  "MIANSHI_CORPUS_DIR": str(bank_settings.corpus_dir)})
    store = TranscriptStore(settings.db_path)
    engine = build_engine(settings, bank, embedder=embedder, recorder=store)
    return Services(settings=settings, bank=bank, engine=engine, grader=engine.grader, store=store,
                    embedder=embedder)


def test_an_answer_stored_at_the_instant_of_a_kill_is_graded_on_resume_not_replaced(services):
    state = services.start(SessionConfig(n_questions=3, followups=False), owner="me")
    list(services.engine.open(state))
    first = state.plan[0]
    events = services.engine.answer(state, "FIRST: LoRA 的 B 初始化为 0，A 随机初始化。")
    for ev in events:            # the process dies right after the answer is stored: nothing more runs
        if ev.type == "turn" and ev.turn.role == "candidate":
            break
    del state, events

    resumed = services.resume(services.store.get_session(
        services.store.list_sessions()[0].id).id, "me")
    assert resumed.current == 1 and resumed.records[first].grade is not None
    list(services.engine.answer(resumed, "SECOND: Pre-Norm 更稳定。"))
    rec = services.store.get_session(resumed.id)
    grades = rec.current_grades()
    assert grades[first].answer.startswith("FIRST")
    assert grades[resumed.plan[1]].answer.startswith("SECOND")
    answers = [t.text[:6] for t in rec.turns if t.kind == "answer"]
    assert answers == ["FIRST:", "SECOND"]


def test_a_cli_interview_can_be_resumed(bank, bank_settings, monkeypatch, capsys, tmp_path):
    _env(monkeypatch, bank_settings, MIANSHI_DATA_DIR=str(tmp_path / "data"))
    import shutil

    shutil.copytree(bank_settings.data_dir / "chroma", tmp_path / "data" / "chroma")
    for f in bank_settings.data_dir.iterdir():
        if f.is_file() and "sqlite3" not in f.name:
            shutil.copy(f, tmp_path / "data" / f.name)

    class Interrupted(io.StringIO):
        """One answer, then the candidate presses Ctrl-C."""
        def __init__(self):
            super().__init__("KV cache 缓存历史 token 的 key 和 value。\n")

        def readline(self, *a):
            line = super().readline(*a)
            if not line:
                raise KeyboardInterrupt
            return line

    monkeypatch.setattr(sys, "stdin", Interrupted())
    code = main(["interview", "-n", "3", "--offline", "--no-followups", "--seed", "3"])
    assert code == 130
    out = capsys.readouterr().out
    sid = re.search(r"--resume ([0-9a-f]{32})", out).group(1)

    monkeypatch.setattr(sys, "stdin", io.StringIO("Pre-Norm 更稳定。\nRAG 先检索再生成。\n"))
    assert main(["interview", "--resume", sid, "--offline"]) == 0
    out = capsys.readouterr().out
    assert "第 2/3 题" in out and "面试报告" in out and "已评分 3" in out
    rec = TranscriptStore(tmp_path / "data" / "mianshi.sqlite3").get_session(sid)
    assert rec.status == "finished" and len(rec.current_grades()) == 3
    assert main(["interview", "--resume", "no-such-session", "--offline"]) == 1
    assert "no interview" in capsys.readouterr().err
