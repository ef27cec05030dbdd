"""Extraction from the four raw seed documents and from synthetic ones; safe corpus reading; notes."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from interviewer.bank.corpus import MAX_BYTES, load_corpus
from interviewer.bank.extract import extract_cards, normalise_section
from interviewer.bank.notes import NotesEntry, NotesFile, apply_notes, load_notes, question_similarity
from interviewer.config import REPO_ROOT
from interviewer.models import TOPICS, QuestionKind

CORPUS = REPO_ROOT / "corpus"
DOCS = {"000_f1b1afb021c88bc1.txt": 25, "001_d9b2635feb76d0f0.txt": 12,
        "002_ff9c8f03c75111e3.txt": 16, "003_d5fcd24e30ada98c.txt": 40}
# Chrome text that never belongs in a card; 回复/分享 etc. are checked as whole chrome lines because
# "生成回复" is a real question.
CHROME = ("登录", "相关推荐", "发布于", "发表于", "使用道具", "全部评论", "精彩评论", "原文链接", "显示全部楼层",
          "点赞 回复", "回复 分享", "点赞 评论")
CHROME_LINE = re.compile(r"^(点赞|回复|分享|评论|收藏|举报|支持|反对|\d+|\s)+$")


@pytest.fixture(scope="module")
def cards_by_doc():
    return {name: extract_cards((CORPUS / name).read_text(encoding="utf-8"), name) for name in DOCS}


@pytest.fixture(scope="module")
def all_cards(cards_by_doc):
    return [c for name in DOCS for c in cards_by_doc[name]]


def by_id(cards, card_id):
    return next(c for c in cards if c.id == card_id)


def test_counts_per_document(cards_by_doc):
    assert {name: len(cards) for name, cards in cards_by_doc.items()} == DOCS


def test_ids_positions_and_lines(cards_by_doc):
    for name, cards in cards_by_doc.items():
        lines = (CORPUS / name).read_text(encoding="utf-8").split("\n")
        assert [c.position for c in cards] == list(range(1, len(cards) + 1))
        assert [c.id for c in cards] == [f"{Path(name).stem}:{p:03d}" for p in range(1, len(cards) + 1)]
        assert [c.line for c in cards] == sorted(c.line for c in cards)
        for c in cards:
            assert c.doc == name and c.question.strip() == c.question and c.question
            if c.section != "手撕" or name != "002_ff9c8f03c75111e3.txt":  # 002's 手撕 are narrative sentences
                assert c.question[:6] in lines[c.line - 1], (c.id, c.question, lines[c.line - 1])


def test_sections_and_companies(cards_by_doc):
    def sections(name):
        out: dict[str, int] = {}
        for c in cards_by_doc[name]:
            out[c.section] = out.get(c.section, 0) + 1
        return out

    assert sections("000_f1b1afb021c88bc1.txt") == {"一面": 12, "手撕": 2, "二面": 11}
    assert sections("001_d9b2635feb76d0f0.txt") == {"一面": 7, "手撕": 1, "二面": 4}
    assert sections("002_ff9c8f03c75111e3.txt") == {"手撕": 2, "项目": 4, "八股": 10}
    assert sections("003_d5fcd24e30ada98c.txt") == {"LangChain": 21, "分布式训练": 11, "推理": 8}
    companies = {name: {c.company for c in cards} for name, cards in cards_by_doc.items()}
    assert companies == {"000_f1b1afb021c88bc1.txt": {"Simplex AI"}, "001_d9b2635feb76d0f0.txt": {"阿里饿了么"},
                         "002_ff9c8f03c75111e3.txt": {"智谱"}, "003_d5fcd24e30ada98c.txt": {None}}


def test_question_text_is_stripped_and_split(all_cards):
    assert by_id(all_cards, "000_f1b1afb021c88bc1:010").question == "zset底层结构"
    assert by_id(all_cards, "000_f1b1afb021c88bc1:013").question == "hot100无重复字符的最小子串"
    assert by_id(all_cards, "000_f1b1afb021c88bc1:014").question == "经典150的区间链表反转"
    assert by_id(all_cards, "001_d9b2635feb76d0f0:001").question == "lora初始化参数?为什么一半是0"
    assert by_id(all_cards, "001_d9b2635feb76d0f0:006").question == "外推能力"  # footnote "3" dropped
    assert by_id(all_cards, "001_d9b2635feb76d0f0:012").question == "问项目"
    p = by_id(all_cards, "002_ff9c8f03c75111e3:003")
    assert p.question == "项目具体解决问题" and p.source_notes.startswith("我介绍的项目是一个智能问答系统")
    sq = by_id(all_cards, "002_ff9c8f03c75111e3:014")
    assert sq.question == "torch squeeze 和 unsqueeze 干嘛的" and sq.source_notes.startswith("torch.squeeze")
    assert by_id(all_cards, "002_ff9c8f03c75111e3:001").question == "手撕 tokenizer"
    assert "RAG" in by_id(all_cards, "002_ff9c8f03c75111e3:002").question
    assert by_id(all_cards, "003_d5fcd24e30ada98c:028").question == "ZeRO,零冗余优化器的三个阶段?"


def test_source_notes_belong_to_their_question(all_cards):
    assert all(not c.source_notes for c in all_cards if c.doc.startswith("000"))
    code = by_id(all_cards, "001_d9b2635feb76d0f0:008")
    assert code.kind == QuestionKind.coding and "def quickselect" in code.source_notes
    assert "def quicksort" in code.source_notes and "    while l<r:" in code.source_notes  # indentation kept
    norm = by_id(all_cards, "001_d9b2635feb76d0f0:002")
    assert "Pre Norm" in norm.source_notes and "Quantization" not in norm.source_notes
    last = by_id(all_cards, "002_ff9c8f03c75111e3:016")
    assert last.source_notes.endswith("单机多卡主要通过")  # cut off in the source; no footer after it
    langchain9 = by_id(all_cards, "003_d5fcd24e30ada98c:009")
    assert "缺乏标准的可互操作数据类型问题" in langchain9.source_notes and "10." not in langchain9.source_notes
    assert by_id(all_cards, "003_d5fcd24e30ada98c:040").source_notes.endswith("以找到最佳的平衡点。")


def test_no_page_chrome_in_cards(all_cards):
    for c in all_cards:
        for word in CHROME:
            assert word not in c.question, (c.id, word)
            assert word not in c.source_notes, (c.id, word)
        assert not any(CHROME_LINE.match(line) for line in c.source_notes.split("\n") if line.strip()), c.id
        # The 相关推荐 mixed-precision post after 000's comments is not part of the interview.
        assert "apex" not in c.question + c.source_notes
        assert "QA:" not in c.question
        assert "kexue.fm" not in c.source_notes and "春天的美妙时光" not in c.source_notes
        assert "截屏" not in c.source_notes and "面完后约二面" not in c.source_notes


def test_kinds_topics_difficulty(all_cards):
    for c in all_cards:
        assert c.topics and set(c.topics) <= set(TOPICS) and 1 <= c.difficulty <= 3
    kinds = {c.id[-3:]: c.kind for c in all_cards if c.doc.startswith("002")}
    assert kinds["001"] == kinds["002"] == QuestionKind.coding
    assert kinds["003"] == kinds["004"] == QuestionKind.project
    assert kinds["005"] == kinds["006"] == QuestionKind.system_design
    assert by_id(all_cards, "000_f1b1afb021c88bc1:010").topics == ["Redis"]
    assert "LangChain" in by_id(all_cards, "003_d5fcd24e30ada98c:001").topics


@pytest.mark.parametrize("raw,expected", [
    ("三、大模型(LLMs)LangChain", "LangChain"), ("四、大模型分布式训练", "分布式训练"),
    ("五、大模型(LLMs)推理", "推理"), ("(三)专业知识问答(八股)", "八股"), ("手撕代码", "手撕"),
    ("项目介绍", "项目"), ("二面面经", "二面"), ("算法", "手撕")])
def test_normalise_section(raw, expected):
    assert normalise_section(raw) == expected


SYNTHETIC = """字节跳动后端实习面经
发布于 2025-03-01 北京

一面
1. Kafka 如何保证消息不丢失:生产端 acks=all,broker 端多副本,消费端手动提交 offset。
2. 进程和线程的区别:进程是资源分配的单位,线程是调度的单位,同一进程的线程共享内存。
3. 讲讲 HTTPS 握手过程
点赞 回复 分享

二面
  • 如何设计一个短链服务?
发号器生成自增 id,转 62 进制;用缓存扛读。
  • Go 的 GMP 模型
G 是协程,M 是线程,P 是处理器。
  • 手撕:合并两个有序链表
def merge(a, b):
    pass

全部评论
楼主过了吗
点赞 回复
"""


def test_synthetic_document_in_a_similar_format():
    cards = extract_cards(SYNTHETIC, "my_notes.txt")
    assert [(c.id, c.section, c.question) for c in cards] == [
        ("my_notes:001", "一面", "Kafka 如何保证消息不丢失"),
        ("my_notes:002", "一面", "进程和线程的区别"),
        ("my_notes:003", "一面", "讲讲 HTTPS 握手过程"),
        ("my_notes:004", "二面", "如何设计一个短链服务?"),
        ("my_notes:005", "二面", "Go 的 GMP 模型"),
        ("my_notes:006", "手撕", "合并两个有序链表"),
    ]
    assert cards[0].company == "字节跳动"
    assert cards[0].source_notes.startswith("生产端 acks=all")
    assert cards[2].source_notes == ""  # the chrome line under it is dropped
    assert cards[3].source_notes.startswith("发号器") and "GMP" not in cards[3].source_notes
    assert cards[5].kind == QuestionKind.coding and "def merge" in cards[5].source_notes
    assert "楼主" not in " ".join(c.source_notes for c in cards)


def test_synthetic_markdown_with_plain_questions():
    text = ("# 某厂大模型面经\n\n## 一面\n\n说说 Transformer 的结构?\n\n讲一下注意力为什么要除以根号 d\n\n"
            "这一轮面试官人很好。\n\n## 二面\n\n1. 什么是 RAG?\n检索增强生成。\n2. 如何评估检索质量?\n")
    cards = extract_cards(text, "notes.md")
    assert [(c.section, c.question) for c in cards] == [
        ("一面", "说说 Transformer 的结构?"), ("一面", "讲一下注意力为什么要除以根号 d"),
        ("二面", "什么是 RAG?"), ("二面", "如何评估检索质量?")]
    assert cards[2].source_notes == "检索增强生成。"
    assert "RAG" in cards[2].topics


def test_document_without_questions_yields_nothing():
    assert extract_cards("今天天气不错。\n点赞 回复 分享\n", "x.txt") == []


# ------------------------------------------------------------------ corpus reading


def test_broken_inputs_are_skipped_with_reasons(tmp_path):
    (tmp_path / "good.txt").write_text("一面\n1. 什么是 LoRA?\n", encoding="utf-8")
    (tmp_path / "gbk.txt").write_bytes("二面\n1. 缓存雪崩怎么处理?\n".encode("gbk"))
    (tmp_path / "binary.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    (tmp_path / "empty.md").write_bytes(b"")
    (tmp_path / "blank.md").write_text("  \n\n", encoding="utf-8")
    (tmp_path / "garbage.txt").write_bytes(b"\xff\xfe\xff\xfe\x81\x30\xff" * 50)
    with open(tmp_path / "huge.txt", "wb") as f:
        f.truncate(MAX_BYTES + 1)
    (tmp_path / "key_points.json").write_text("{}", encoding="utf-8")
    (tmp_path / "ignored.pdf").write_bytes(b"%PDF")
    extra = tmp_path / "elsewhere"
    extra.mkdir()
    (extra / "slides.pdf").write_bytes(b"%PDF")
    docs, skipped = load_corpus(tmp_path, [extra / "slides.pdf", extra / "missing.md"])
    assert sorted(d.name for d in docs) == ["gbk.txt", "good.txt"]
    assert next(d for d in docs if d.name == "gbk.txt").encoding == "gb18030"
    assert "缓存雪崩" in next(d for d in docs if d.name == "gbk.txt").text
    reasons = {Path(s.path).name: s.reason for s in skipped}
    assert set(reasons) == {"binary.txt", "empty.md", "blank.md", "garbage.txt", "huge.txt", "slides.pdf",
                            "missing.md"}
    assert "binary" in reasons["binary.txt"]
    assert "empty" in reasons["empty.md"] and "empty" in reasons["blank.md"]
    assert "GBK" in reasons["garbage.txt"]
    assert "too large" in reasons["huge.txt"]
    assert "unsupported" in reasons["slides.pdf"] and "no such file" in reasons["missing.md"]


# ------------------------------------------------------------------ reviewed notes


@pytest.fixture(scope="module")
def notes():
    loaded = load_notes(CORPUS / "key_points.json")
    assert loaded is not None, "corpus/key_points.json is missing"
    return loaded


def test_every_seed_card_has_reviewed_key_points(all_cards, notes):
    cards, report = apply_notes(all_cards, notes, CORPUS / "key_points.json")
    assert report.problems == []
    missing = [c.id for c in cards if not 3 <= len(c.key_points) <= 8]
    assert missing == [], f"cards without 3-8 key points: {missing}"


def test_each_notes_entry_matches_exactly_one_card(all_cards, notes):
    keys = [(e.doc, e.position) for e in notes.cards]
    assert len(keys) == len(set(keys)), "duplicate entries"
    by_key = {(c.doc, c.position): c for c in all_cards}
    unmatched = [k for k in keys if k not in by_key]
    assert unmatched == []
    for e in notes.cards:
        card = by_key[(e.doc, e.position)]
        best = max(all_cards, key=lambda c: question_similarity(e.question, c.question))
        assert best.id == card.id, (e.doc, e.position, e.question, best.question)
    assert len(keys) == len(all_cards)


def test_notes_override_and_mismatch_is_reported(all_cards, tmp_path):
    card = all_cards[0]
    good = NotesEntry(doc=card.doc, position=card.position, question=card.question + "？", topics=["项目"],
                      kind="system_design", difficulty=3, key_points=["a", "b", "c"], correction="x")
    wrong = NotesEntry(doc=card.doc, position=2, question="完全不同的一道题: Transformer 位置编码", key_points=["a"])
    ghost = NotesEntry(doc=card.doc, position=999, question="?", key_points=["a"])
    path = tmp_path / "key_points.json"
    path.write_text(NotesFile(cards=[good, wrong, ghost]).model_dump_json(), encoding="utf-8")
    out, report = apply_notes(all_cards, load_notes(path), path)
    first = out[0]
    assert first.key_points == ["a", "b", "c"] and first.correction == "x"
    assert first.topics == ["项目"] and first.kind == QuestionKind.system_design and first.difficulty == 3
    assert out[1].key_points == []  # the mismatched entry is not attached
    assert report.applied == 1 and len(report.problems) == 2
    assert "does not match" in report.problems[0] and "no card at this position" in report.problems[1]
    path.write_text(json.dumps({"cards": [{"doc": 1}]}), encoding="utf-8")
    with pytest.raises(ValueError):
        load_notes(path)
