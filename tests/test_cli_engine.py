"""`python -m interviewer interview` and `grade` on the real bank, driven through stdin."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys

from interviewer.cli import main
from interviewer.config import REPO_ROOT
from interviewer.testing.fake_openai import FakeOpenAI
from tests.test_llm_path import grade_json


def _env(monkeypatch, bank_settings, **extra):
    for key in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "MIANSHI_MODEL"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("MIANSHI_DATA_DIR", str(bank_settings.data_dir))
    monkeypatch.setenv("MIANSHI_CORPUS_DIR", str(bank_settings.corpus_dir))
    for k, v in extra.items():
        monkeypatch.setenv(k, v)


def test_interview_offline_from_piped_stdin(bank, bank_settings, monkeypatch, capsys):
    _env(monkeypatch, bank_settings)
    card = bank.get(bank.cards(topic="LangChain")[0].id)
    monkeypatch.setattr(sys, "stdin", io.StringIO("\n/repeat\n不知道\n/skip\n"))
    code = main(["interview", "--topic", "LangChain", "-n", "3", "--offline", "--seed", "4", "--no-followups"])
    out = capsys.readouterr().out
    assert code == 0
    assert "离线评分" in out and "回答是空的" in out
    assert out.count("第 1/3 题") == 2                      # asked, then repeated
    assert "== 得分 0.0/10 ==" in out                         # 不知道 graded as such
    assert "[offline" in out and "面试报告" in out and "跳过 1" in out
    assert card.question in out or any(c.question in out for c in bank.cards(topic="LangChain"))


def test_interview_subprocess_end_early(bank, bank_settings):
    env = {**os.environ, "MIANSHI_DATA_DIR": str(bank_settings.data_dir),
           "MIANSHI_CORPUS_DIR": str(bank_settings.corpus_dir), "MIANSHI_INTERVIEWER": "offline"}
    env.pop("OPENAI_BASE_URL", None), env.pop("OPENAI_API_KEY", None)
    answer = "KV cache 缓存历史 token 的 key 和 value，避免每步重复计算注意力。"
    proc = subprocess.run([sys.executable, "-m", "interviewer", "interview", "--section", "推理", "-n", "4",
                           "--seed", "2", "--lang", "en"], input=f"{answer}\n/end\n", text=True,
                          capture_output=True, cwd=REPO_ROOT, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "Question 1 of 4 (original Chinese)" in proc.stdout and "no translation model" in proc.stdout
    assert "Question 3 of 4" not in proc.stdout                      # ended early
    assert "Interview report" in proc.stdout and "graded 1" in proc.stdout


def test_grade_with_reference_and_from_bank(bank, bank_settings, monkeypatch, capsys):
    _env(monkeypatch, bank_settings)
    assert main(["grade", "--question", "什么是 KV cache？", "--answer", "缓存 key 和 value，避免重复计算。",
                 "--reference", "1. 缓存历史 token 的 key 和 value。\n2. 避免每一步重复计算注意力。", "--json",
                 "--offline"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["grade"]["status"] == "graded" and data["key_points_from"] == {"reference": "given"}
    assert [v["point"] for v in data["grade"]["key_points"]] == [
        "缓存历史 token 的 key 和 value。", "避免每一步重复计算注意力。"]
    target = bank.cards(section="推理")[0]
    main(["grade", "--question", target.question, "--answer", "不知道", "--offline"])
    out = capsys.readouterr().out
    assert f"key points from bank card {target.id}" in out


def test_grade_through_a_model_endpoint(bank, bank_settings, monkeypatch, capsys):
    with FakeOpenAI(script=lambda r: grade_json(r, scores=(10, 10, 10))) as server:
        _env(monkeypatch, bank_settings, OPENAI_BASE_URL=server.base_url, OPENAI_API_KEY="dummy",
             MIANSHI_MODEL="fake-model")
        code = main(["grade", "--question", "什么是 KV cache？", "--answer", "缓存 key 和 value。",
                     "--reference", "缓存历史 token 的 key 和 value。", "--json"])
    grade = json.loads(capsys.readouterr().out)["grade"]
    assert code == 0 and grade["total"] == 10.0
    assert grade["provenance"]["grader"] == "llm" and grade["provenance"]["model"] == "fake-model"
