"""The package works when installed from its wheel, outside the checkout.

A wheel used to miss every non-.py file (the grader's calibration, the prompts): the offline
grader then quietly fell back to its default mix and LLM mode failed. This builds the wheel,
installs it into a fresh virtual environment in a temporary folder, and runs the installed
`mianshi` command from there: a calibrated offline grade, and one LLM-mode interview turn
against the fake model server.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from interviewer.config import REPO_ROOT
from interviewer.testing.fake_openai import FakeOpenAI
from tests.test_llm_path import grade_json

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """A fresh venv outside the checkout with the locked dependencies and the built wheel."""
    uv = shutil.which("uv")
    assert uv, "uv is not installed: scripts/dev.sh installs it before the tests run"
    root = tmp_path_factory.mktemp("install")
    dist = root / "dist"
    subprocess.run([uv, "build", "--wheel", "--out-dir", str(dist), str(REPO_ROOT)], check=True,
                   capture_output=True, timeout=600)
    wheel = next(dist.glob("mianshi-*.whl"))
    venv = root / "venv"
    subprocess.run([uv, "venv", "--python", sys.executable, str(venv)], check=True, capture_output=True)
    python = venv / "bin" / "python"
    subprocess.run([uv, "pip", "install", "--python", str(python), "-r", str(REPO_ROOT / "requirements.txt")],
                   check=True, capture_output=True, timeout=900)
    subprocess.run([uv, "pip", "install", "--python", str(python), "--no-deps", str(wheel)], check=True,
                   capture_output=True, timeout=300)
    return venv


def _env(tmp: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "MIANSHI_", "PYTHONPATH"))}
    env.update({"MIANSHI_DATA_DIR": str(tmp / "data")}, **extra)
    return env


def test_wheel_ships_its_data_files(installed):
    site = next((installed / "lib").glob("python3*/site-packages"))
    assert (site / "interviewer" / "grading" / "calibration.json").is_file()
    assert sorted(p.name for p in (site / "interviewer" / "llm" / "prompts").glob("*.md")) == sorted(
        p.name for p in (REPO_ROOT / "interviewer" / "llm" / "prompts").glob("*.md"))


def test_installed_cli_grades_with_the_calibrated_grader(installed, tmp_path):
    proc = subprocess.run(
        [str(installed / "bin" / "mianshi"), "grade", "--question", "什么是 KV cache？", "--offline", "--json",
         "--answer", "KV cache 缓存历史 token 的 key 和 value，避免每步重复计算注意力。",
         "--reference", "1. 缓存历史 token 的 key 和 value。\n2. 避免每一步重复计算注意力。"],
        cwd=tmp_path, env=_env(tmp_path), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    grade = json.loads(proc.stdout)["grade"]
    assert grade["status"] == "graded"
    # The version names the calibration file it loaded; without the file it would not.
    assert "+cal:" in grade["provenance"]["grader_version"]
    assert str(REPO_ROOT) not in proc.stdout + proc.stderr


def test_installed_cli_runs_an_llm_interview_turn(installed, tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(REPO_ROOT / "corpus" / "001_d9b2635feb76d0f0.txt", corpus)
    shutil.copy(REPO_ROOT / "corpus" / "key_points.json", corpus)

    def script(request):
        if request.body.get("response_format") or "Criteria" in request.body["messages"][-1]["content"]:
            return grade_json(request)
        return "请讲讲 LoRA 的初始化。"

    with FakeOpenAI(script=script) as server:
        env = _env(tmp_path, OPENAI_BASE_URL=server.base_url, OPENAI_API_KEY="test-key",
                   MIANSHI_MODEL="fake-model", MIANSHI_CORPUS_DIR=str(corpus))
        proc = subprocess.run([str(installed / "bin" / "mianshi"), "interview", "-n", "1", "--no-followups",
                               "--seed", "1"], input="B 初始化为 0，A 随机初始化，训练开始时 ΔW = 0。\n",
                              cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stderr
        assert "LLM interviewer: fake-model" in proc.stdout
        assert "请讲讲 LoRA 的初始化。" in proc.stdout       # the model phrased the question
        assert "[llm" in proc.stdout and "graded 1" in proc.stdout.replace("已评分 1", "graded 1")
        kinds = [("response_format" in r.body) for r in server.requests]
        assert any(kinds) and not all(kinds)                # a question and a grade went to the model
