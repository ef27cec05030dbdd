"""QuestionBank over a real Chroma store on disk and on a real Chroma server (`chroma run`, read by
a replica that did not build the index): report, filters, search quality, rebuild rules."""

from __future__ import annotations

import shutil
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from interviewer.bank.bank import QuestionBank, dense_texts
from interviewer.bench.retrieval_set import RETRIEVAL_SET
from interviewer.config import REPO_ROOT, Settings
from interviewer.models import TOPICS

SEED = REPO_ROOT / "corpus"


@pytest.fixture(scope="module", params=["embedded", "chroma-server"])
def bank(request, embedder, tmp_path_factory):
    """The seed bank on disk (the session's), or on a Chroma server as a replica that did not build it."""
    if request.param == "embedded":
        return request.getfixturevalue("bank")
    server = request.getfixturevalue("chroma_server")
    url = server.database_url()

    def settings(name):
        return Settings.from_env({"MIANSHI_DATA_DIR": str(tmp_path_factory.mktemp(name)),
                                  "MIANSHI_CORPUS_DIR": str(SEED), "MIANSHI_CHROMA_URL": url})

    assert QuestionBank.open(settings("builder"), embedder=embedder).report.rebuilt
    reader = QuestionBank.open(settings("reader"), embedder=embedder)
    assert not reader.report.rebuilt and reader._store.shared
    return reader


def test_report_of_the_seed_corpus(bank):
    r = bank.report
    # 93 places in the sources; LangChain 4 and 8 are one question, kept as one card.
    assert r.documents == 4 and r.cards == 92 and r.skipped == [] and r.notes_problems == []
    assert r.cards_per_section == {"一面": 19, "手撕": 5, "二面": 15, "项目": 4, "八股": 10, "LangChain": 20,
                                   "分布式训练": 11, "推理": 8}
    assert r.cards_without_source_notes == 25 + 5  # all of 000; 001's LoRA (a screenshot) and 二面
    assert sum(r.cards_per_topic.values()) == sum(len(c.topics) for c in bank.cards())
    assert len(r.content_hash) == 64


def test_cards_filters_and_get(bank):
    assert len(bank.cards()) == 92
    assert all(c.key_points for c in bank.cards())
    langchain = bank.cards(section="LangChain")
    assert len(langchain) == 20 and all(c.section == "LangChain" for c in langchain)
    redis = bank.cards(topic="Redis")
    assert redis and all("Redis" in c.topics for c in redis)
    assert bank.cards(topic="Redis", section="LangChain") == []
    assert bank.get("000_f1b1afb021c88bc1:010").question == "zset底层结构"
    with pytest.raises(KeyError):
        bank.get("000_f1b1afb021c88bc1:999")
    assert bank.topics() and set(bank.topics()) <= set(TOPICS)
    assert bank.sections() == ["一面", "手撕", "二面", "项目", "八股", "LangChain", "分布式训练", "推理"]


@pytest.mark.parametrize("query,expected", [
    ("zset底层结构", "000_f1b1afb021c88bc1:010"),
    ("lora初始化参数", "001_d9b2635feb76d0f0:001"),
    ("LoRA 的 B 矩阵为什么初始化为 0", "001_d9b2635feb76d0f0:001"),
    ("KL 散度的三种估计", "002_ff9c8f03c75111e3:008"),
    ("register parameter 和 buffer 的区别", "002_ff9c8f03c75111e3:012"),
    ("ZeRO，零冗余优化器的三个阶段", "003_d5fcd24e30ada98c:028"),
    ("无重复字符的最长子串", "000_f1b1afb021c88bc1:013"),
])
def test_search_top1(bank, query, expected):
    hits = bank.search(query, k=3)
    assert hits[0].card.id == expected, [(h.card.id, h.card.question, h.score) for h in hits]
    assert hits[0].score >= hits[1].score >= hits[2].score


def test_kv_cache_finds_an_inference_memory_card(bank):
    # No seed question says "KV cache"; its cards are the ones whose answers are about it.
    hits = bank.search("KV cache", k=3)
    assert hits[0].card.id in {"003_d5fcd24e30ada98c:033", "003_d5fcd24e30ada98c:026", "000_f1b1afb021c88bc1:025"}
    assert hits[0].keyword > 0


def test_modes_and_hit_fields(bank):
    dense = bank.search("Redis 有序集合的内部实现", k=5, mode="dense")
    keyword = bank.search("Redis 有序集合的内部实现", k=5, mode="keyword")
    fused = bank.search("Redis 有序集合的内部实现", k=5, mode="fused")
    assert len(dense) == len(fused) == 5 and 1 <= len(keyword) <= 5
    assert all(-1 <= h.dense <= 1 and h.keyword == 0 and h.score == h.dense for h in dense)
    assert all(0 < h.keyword <= 1 and h.score == h.keyword for h in keyword) and keyword[0].keyword == 1
    assert all(0 <= h.score <= 1 for h in fused)
    assert bank.search("zset", k=2, mode="keyword")[0].card.id == "000_f1b1afb021c88bc1:010"
    assert bank.search("   ") == [] and bank.search("zset", k=0) == []
    with pytest.raises(ValueError):
        bank.search("zset", mode="bm25")


def test_labelled_retrieval_set_fused_top1(bank):
    assert len(RETRIEVAL_SET) >= 40
    for expected in RETRIEVAL_SET.values():
        bank.get(expected)
    hits = {q: bank.search(q, k=1)[0].card.id for q in RETRIEVAL_SET}
    misses = {q: (hits[q], want) for q, want in RETRIEVAL_SET.items() if hits[q] != want}
    top1 = 1 - len(misses) / len(RETRIEVAL_SET)
    assert top1 >= 0.85, (top1, misses)


def test_concurrent_search_gives_the_same_results(bank):
    queries = list(RETRIEVAL_SET)[:16]
    sequential = [[h.card.id for h in bank.search(q, k=3)] for q in queries]
    with ThreadPoolExecutor(max_workers=4) as pool:
        parallel = list(pool.map(lambda q: [h.card.id for h in bank.search(q, k=3)], queries * 2))
    assert parallel == sequential * 2


# ------------------------------------------------------------------ building and rebuilding


def _small_settings(tmp_path, docs=("000_f1b1afb021c88bc1.txt",)) -> Settings:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name in docs:
        shutil.copy(SEED / name, corpus / name)
    shutil.copy(SEED / "key_points.json", corpus / "key_points.json")
    return Settings.from_env({"MIANSHI_DATA_DIR": str(tmp_path / "data"), "MIANSHI_CORPUS_DIR": str(corpus)})


def test_reopen_reuses_the_index_and_changes_rebuild(tmp_path, embedder):
    settings = _small_settings(tmp_path)
    first = QuestionBank.open(settings, embedder=embedder)
    assert first.report.rebuilt and first.report.cards == 25

    t0 = time.perf_counter()
    again = QuestionBank.open(settings, embedder=embedder)
    elapsed = time.perf_counter() - t0
    assert not again.report.rebuilt and elapsed < 1.0
    assert again.report.content_hash == first.report.content_hash
    assert again._store._client is None  # Chroma is not even opened until a dense query
    assert [c.model_dump() for c in again.cards()] == [c.model_dump() for c in first.cards()]
    assert again.search("zset底层结构", k=1)[0].card.id == "000_f1b1afb021c88bc1:010"

    doc = settings.corpus_dir / "000_f1b1afb021c88bc1.txt"
    text = doc.read_text(encoding="utf-8")
    assert "vllm,也是长时间没看了\n" in text
    doc.write_text(text.replace("vllm,也是长时间没看了\n", "vllm,也是长时间没看了\n12. 投机采样的原理\n"),
                   encoding="utf-8")
    changed = QuestionBank.open(settings, embedder=embedder)
    assert changed.report.rebuilt and changed.report.cards == 26
    assert changed.report.content_hash != first.report.content_hash
    assert changed.search("speculative decoding 投机采样", k=1)[0].card.question == "投机采样的原理"

    notes = settings.corpus_dir / "key_points.json"
    notes.write_text(notes.read_text(encoding="utf-8").replace("\n", "\n "), encoding="utf-8")
    assert QuestionBank.open(settings, embedder=embedder).report.rebuilt
    assert QuestionBank.open(settings, embedder=embedder, rebuild=True).report.rebuilt
    assert not QuestionBank.open(settings, embedder=embedder).report.rebuilt


def test_broken_files_are_skipped_and_the_rest_ingests(tmp_path, embedder):
    settings = _small_settings(tmp_path)
    corpus = settings.corpus_dir
    (corpus / "binary.txt").write_bytes(bytes(range(256)) * 4)
    (corpus / "empty.md").write_bytes(b"")
    (corpus / "huge.txt").write_bytes(b"a" * (5 * 1024 * 1024 + 1))
    (corpus / "gbk.txt").write_bytes("二面\n1. 缓存雪崩怎么处理?\n2. 消息积压怎么办?\n".encode("gbk"))
    (corpus / "chatter.md").write_text("今天面试很顺利。\n", encoding="utf-8")
    outside = tmp_path / "mine.md"
    outside.write_text("## 一面\n1. 什么是 MoE 路由?\n", encoding="utf-8")
    b = QuestionBank.open(settings, embedder=embedder, extra_paths=[outside, tmp_path / "nope.txt"])
    reasons = {s.path.rsplit("/", 1)[-1]: s.reason for s in b.report.skipped}
    assert set(reasons) == {"binary.txt", "empty.md", "huge.txt", "chatter.md", "nope.txt"}
    assert "binary" in reasons["binary.txt"] and "empty" in reasons["empty.md"]
    assert "too large" in reasons["huge.txt"] and reasons["chatter.md"] == "no questions found"
    assert b.report.documents == 4 and b.report.cards == 25 + 2 + 1
    assert [c.question for c in b.cards() if c.doc == "gbk.txt"] == ["缓存雪崩怎么处理?", "消息积压怎么办?"]
    assert b.search("MoE 路由", k=1)[0].card.id == "mine:001"
    # Skipped files are reported again on a reopen that reuses the index.
    again = QuestionBank.open(settings, embedder=embedder, extra_paths=[outside, tmp_path / "nope.txt"])
    assert not again.report.rebuilt
    assert {s.path.rsplit("/", 1)[-1] for s in again.report.skipped} == set(reasons)


def test_collection_reopens_with_our_registered_embedding_function(tmp_path, embedder):
    from interviewer.bank.vectors import COLLECTION, MianshiEmbeddingFunction, open_client

    settings = _small_settings(tmp_path)
    QuestionBank.open(settings, embedder=embedder)
    client = open_client(settings.chroma_dir)
    col = client.get_collection(COLLECTION)  # no embedding function passed: built from the stored config
    assert isinstance(col.configuration["embedding_function"], MianshiEmbeddingFunction)
    assert col.configuration["embedding_function"].get_config()["model"] == embedder.name
    # Query by text: embeds through the rebuilt function (offline), never Chroma's downloading default.
    res = col.query(query_texts=["zset底层结构"], n_results=1)
    assert res["ids"][0][0].startswith("000_f1b1afb021c88bc1:010#")


def test_lost_vectors_are_rebuilt_on_first_dense_query(tmp_path, embedder):
    from interviewer.bank.vectors import COLLECTION, open_client

    settings = _small_settings(tmp_path)
    QuestionBank.open(settings, embedder=embedder)
    open_client(settings.chroma_dir).delete_collection(COLLECTION)
    b = QuestionBank.open(settings, embedder=embedder)
    assert not b.report.rebuilt
    assert b.search("zset底层结构", k=1, mode="dense")[0].card.id == "000_f1b1afb021c88bc1:010"
    assert b._store.count() == sum(len(dense_texts(c)) for c in b.cards())
