"""The bank's command line, run as a real subprocess against a small real corpus."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

from interviewer.config import REPO_ROOT


def run(args, env, check=True):
    proc = subprocess.run([sys.executable, "-m", "interviewer", *args], capture_output=True, text=True,
                          env=env, cwd=REPO_ROOT, timeout=300)
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


def test_ingest_questions_search(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name in ("000_f1b1afb021c88bc1.txt", "key_points.json"):
        shutil.copy(REPO_ROOT / "corpus" / name, corpus / name)
    (corpus / "broken.txt").write_bytes(b"\x00\x01\x02binary")
    extra = tmp_path / "mine.md"
    extra.write_text("## 一面\n1. 什么是 MoE 路由?\n", encoding="utf-8")
    env = {**os.environ, "MIANSHI_DATA_DIR": str(tmp_path / "data"), "MIANSHI_CORPUS_DIR": str(corpus),
           "MIANSHI_INTERVIEWER": "offline"}

    first = run(["ingest", str(extra)], env)
    assert "Question bank rebuilt: 2 documents, 26 cards" in first.stdout
    assert "一面" in first.stdout and "Redis" in first.stdout and "Cards without source notes: 26" in first.stdout
    assert "broken.txt: binary file" in first.stdout
    assert "indexing cards" in first.stderr  # the progress bar goes to stderr

    report = json.loads(run(["ingest", str(extra), "--json"], env).stdout)
    assert report["rebuilt"] is False and report["cards"] == 26 and report["documents"] == 2
    assert [s["reason"] for s in report["skipped"]] == ["binary file, not text"]

    cards = json.loads(run(["questions", "--section", "手撕", "--json"], env).stdout)
    assert [c["question"] for c in cards] == ["hot100无重复字符的最小子串", "经典150的区间链表反转"]
    listing = run(["questions", "--topic", "Redis"], env).stdout
    assert "000_f1b1afb021c88bc1:010" in listing and "LangChain" not in listing

    hits = json.loads(run(["search", "Redis 有序集合的底层实现 zset", "-k", "3", "--json"], env).stdout)
    assert len(hits) == 3 and hits[0]["card"]["id"] == "000_f1b1afb021c88bc1:010"
    assert set(hits[0]) == {"card", "score", "dense", "keyword"}
    text = run(["search", "zset", "--mode", "keyword"], env).stdout
    assert text.splitlines()[0].startswith("1. 1.000  000_f1b1afb021c88bc1:010  zset底层结构")

    bad = run(["search", "zset", "--mode", "bm25"], env, check=False)
    assert bad.returncode == 2 and "invalid choice" in bad.stderr
