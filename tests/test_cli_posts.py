"""Posts from the command line, as real subprocesses on one data dir: ingest FILE --owner,
questions --owner, docs, docs remove; a broken file is named with its reason."""

from __future__ import annotations

import json
import os
from pathlib import Path

from tests.test_cli_bank import run

POSTS = Path(__file__).parent / "data" / "posts"


def test_ingest_questions_docs_remove(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MIANSHI_", "OPENAI_"))}
    env.update(MIANSHI_DATA_DIR=str(tmp_path / "data"), MIANSHI_INTERVIEWER="offline")
    broken = tmp_path / "scan.pdf"
    broken.write_bytes(b"%PDF-1.4\ntruncated")

    first = run(["ingest", str(POSTS / "numbered.txt"), str(POSTS / "saved_page.html"), str(broken),
                 "--owner", "alice"], env, check=False)
    assert first.returncode == 1  # one file failed; the others were added
    assert "numbered.txt: p" in first.stdout and "added 9 questions, 1 linked" in first.stdout
    assert "linked: LoRA 的 B 矩阵为什么初始化为 0  ->  001_d9b2635feb76d0f0:001" in first.stdout
    assert "saved_page.html: p" in first.stdout and "added 5 questions" in first.stdout
    assert f"{broken}: not a readable PDF" in first.stderr

    again = run(["ingest", str(POSTS / "numbered.txt"), "--owner", "alice"], env)
    assert "already added: nothing added" in again.stdout

    mine = run(["questions", "--owner", "alice", "--json"], env)
    alice = [c for c in json.loads(mine.stdout) if c["owner"] == "alice"]
    assert len(alice) == 14 and "向量数据库选型为什么用 milvus" in {c["question"] for c in alice}
    theirs = json.loads(run(["questions", "--owner", "bob", "--json"], env).stdout)
    assert theirs and not any(c["owner"] for c in theirs)
    plain = run(["questions", "--owner", "alice", "--section", "手撕"], env).stdout
    assert "合并两个有序链表" in plain and "实现一个多头注意力" in plain

    docs = json.loads(run(["docs", "--owner", "alice", "--json"], env).stdout)
    posts = [d for d in docs if d["owner"] == "alice"]
    assert [d["name"] for d in posts] == ["numbered.txt", "saved_page.html"]
    assert len([d for d in docs if not d["owner"]]) == 4  # the corpus documents
    assert not [d for d in json.loads(run(["docs", "--owner", "bob", "--json"], env).stdout) if d["owner"]]
    admin = json.loads(run(["docs", "--json"], {**env, "MIANSHI_ADMIN": "1"}).stdout)
    assert {d["id"] for d in posts} <= {d["id"] for d in admin}

    page = next(d for d in posts if d["name"] == "saved_page.html")
    refused = run(["docs", "remove", page["id"], "--owner", "bob"], env, check=False)
    assert refused.returncode == 1 and "no post" in refused.stderr
    removed = run(["docs", "remove", page["id"], "--owner", "alice"], env)
    assert f"removed {page['id']} and its 5 cards" in removed.stdout
    left = [c for c in json.loads(run(["questions", "--owner", "alice", "--json"], env).stdout) if c["owner"]]
    assert len(left) == 9 and "实现一个多头注意力" not in {c["question"] for c in left}


def test_ingest_owner_needs_files_and_an_owner(tmp_path):
    env = {**os.environ, "MIANSHI_DATA_DIR": str(tmp_path / "data"), "MIANSHI_INTERVIEWER": "offline"}
    assert run(["ingest", "--owner", "alice"], env, check=False).returncode == 2
    assert run(["ingest", str(POSTS / "numbered.txt"), "--owner", " "], env, check=False).returncode == 2
