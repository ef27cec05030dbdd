"""The bank on a real Chroma server (`chroma run`, MIANSHI_CHROMA_URL) shared by replicas: one
builds, the others only read (with our registered embedding function and the stored BM25 half),
two replicas starting at once build once, another corpus's index is refused in one line, and
posts people add are seen on every replica by their owner only."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time

import pytest

from interviewer.bank.bank import PUBLIC, QuestionBank, dense_texts
from interviewer.bank.embedding import Embedder
from interviewer.bank.errors import ChromaServerError, IndexMismatchError
from interviewer.bench.retrieval_set import RETRIEVAL_SET
from interviewer.config import REPO_ROOT, Settings

SEED = REPO_ROOT / "corpus"
QUERIES = list(RETRIEVAL_SET)[:12] + ["KV cache", "zset底层结构"]


class CountingEmbedder(Embedder):
    """The real embedder, counting the texts it is asked to embed."""

    def __init__(self, shared: Embedder):
        super().__init__()
        self._model = shared._get_model()  # one loaded model for the whole run
        self.texts: list[str] = []

    def encode(self, texts):
        self.texts += texts
        return super().encode(texts)


def replica(tmp_path_factory, url: str, corpus=SEED) -> Settings:
    """A replica's settings: its own data dir (nothing shared on disk), the server's URL."""
    return Settings.from_env({"MIANSHI_DATA_DIR": str(tmp_path_factory.mktemp("replica")),
                              "MIANSHI_CORPUS_DIR": str(corpus), "MIANSHI_CHROMA_URL": url,
                              "MIANSHI_INTERVIEWER": "offline"})


def results(bank) -> dict:
    return {mode: {q: [(h.card.id, round(h.score, 4)) for h in bank.search(q, k=5, mode=mode)] for q in QUERIES}
            for mode in ("dense", "keyword", "fused")}


@pytest.fixture(scope="module")
def built(chroma_server, tmp_path_factory, embedder):
    """A server database with the seed bank built by one replica: (url, the builder's bank)."""
    url = chroma_server.database_url()
    builder = QuestionBank.open(replica(tmp_path_factory, url), embedder=embedder)
    assert builder.report.rebuilt
    return url, builder


def test_a_second_replica_only_reads_and_searches_the_same(built, tmp_path_factory, embedder):
    url, builder = built
    counting = CountingEmbedder(embedder)
    settings = replica(tmp_path_factory, url)
    t0 = time.perf_counter()
    reader = QuestionBank.open(settings, embedder=counting)
    opened = time.perf_counter() - t0
    assert not reader.report.rebuilt and reader.report.content_hash == builder.report.content_hash
    assert [c.model_dump() for c in reader.cards()] == [c.model_dump() for c in builder.cards()]
    assert counting.texts == [] and opened < 3.0, opened  # read, not extracted or embedded
    assert not (settings.data_dir / "chroma").exists()  # nothing of the bank on the replica's disk
    assert results(reader) == results(builder)
    assert set(counting.texts) == set(QUERIES)  # it embedded the queries, nothing else
    assert reader._store.count(PUBLIC) == sum(len(dense_texts(c)) for c in reader.cards())


def test_the_reading_replica_embeds_with_the_registered_function(built, tmp_path_factory, embedder):
    from interviewer.bank.vectors import COLLECTION, MianshiEmbeddingFunction, open_http_client

    url, builder = built
    reader = QuestionBank.open(replica(tmp_path_factory, url), embedder=embedder)
    # A client that passes no embedding function gets ours back from the collection's stored config.
    col = open_http_client(url).get_collection(COLLECTION)
    ef = col.configuration["embedding_function"]
    assert isinstance(ef, MianshiEmbeddingFunction) and ef.get_config()["model"] == embedder.name
    by_text = col.query(query_texts=["zset底层结构"], n_results=3, where=PUBLIC, include=["distances"])
    by_reader = reader._store.query(embedder.encode(["zset底层结构"])[0], 3, where=PUBLIC)
    assert by_text["ids"][0] == [i for i, _ in by_reader]
    assert [round(1 - d, 4) for d in by_text["distances"][0]] == [round(s, 4) for _, s in by_reader]


def test_another_corpus_is_refused_in_one_line_until_ingest_replaces_it(chroma_server, tmp_path_factory,
                                                                        embedder, monkeypatch, capsys):
    import shutil

    from interviewer.cli import main

    url = chroma_server.database_url()
    corpus = tmp_path_factory.mktemp("corpus")
    for name in ("000_f1b1afb021c88bc1.txt", "key_points.json"):
        shutil.copy(SEED / name, corpus / name)
    first = QuestionBank.open(replica(tmp_path_factory, url, corpus), embedder=embedder)
    assert first.report.rebuilt and first.report.cards == 25

    other = tmp_path_factory.mktemp("corpus")
    shutil.copytree(corpus, other, dirs_exist_ok=True)
    (other / "extra.md").write_text("## 一面\n1. 什么是 MoE 路由?\n", encoding="utf-8")
    with pytest.raises(IndexMismatchError) as err:
        QuestionBank.open(replica(tmp_path_factory, url, other), embedder=embedder)
    line = str(err.value)
    assert "\n" not in line and line.startswith(f"MIANSHI_CHROMA_URL={url} ") and "python -m interviewer ingest" in line

    # The operator's command replaces it; then the changed replica reads, the old corpus is refused.
    env = replica(tmp_path_factory, url, other)
    monkeypatch.setenv("MIANSHI_DATA_DIR", str(env.data_dir))
    monkeypatch.setenv("MIANSHI_CORPUS_DIR", str(other))
    monkeypatch.setenv("MIANSHI_CHROMA_URL", url)
    assert main(["ingest", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["rebuilt"] and report["cards"] == 26
    again = QuestionBank.open(replica(tmp_path_factory, url, other), embedder=embedder)
    assert not again.report.rebuilt and again.search("MoE 路由", k=1)[0].card.id == "extra:001"
    with pytest.raises(IndexMismatchError):
        QuestionBank.open(replica(tmp_path_factory, url, corpus), embedder=embedder)
    # The replica opened before the rebuild still answers (its collection was refilled in place).
    assert first.search("zset底层结构", k=1, mode="dense")[0].card.id == "000_f1b1afb021c88bc1:010"


def test_no_server_at_the_url_is_one_line_naming_the_variable(tmp_path, embedder, monkeypatch, capsys):
    from interviewer.cli import main
    from interviewer.testing.chroma_server import free_port

    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(ChromaServerError, match=f"^MIANSHI_CHROMA_URL={url}: no usable Chroma server there"):
        QuestionBank.open(Settings.from_env({"MIANSHI_DATA_DIR": str(tmp_path), "MIANSHI_CHROMA_URL": url}),
                          embedder=embedder)
    monkeypatch.setenv("MIANSHI_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("MIANSHI_CHROMA_URL", url)
    assert main(["search", "zset"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: MIANSHI_CHROMA_URL={url}: ") and "\n" not in err
    with pytest.raises(ValueError, match="MIANSHI_CHROMA_URL"):
        Settings.from_env({"MIANSHI_CHROMA_URL": "127.0.0.1:8000"})


def test_a_held_build_lock_is_waited_for_and_a_stale_one_broken(chroma_server, tmp_path_factory, embedder):
    from interviewer.bank.shared import LOCK, LOCK_STALE, SharedIndex
    from interviewer.bank.vectors import open_http_client

    url = chroma_server.database_url()
    client = open_http_client(url)
    client.create_collection(LOCK, embedding_function=None, metadata={"holder": "elsewhere:1", "since": time.time()})
    released = threading.Timer(1.5, lambda: client.delete_collection(LOCK))
    released.start()
    t0 = time.perf_counter()
    bank = QuestionBank.open(replica(tmp_path_factory, url), embedder=embedder)
    assert bank.report.rebuilt and time.perf_counter() - t0 >= 1.5  # waited for the holder, then built
    released.join()

    url = chroma_server.database_url()
    client = open_http_client(url)
    client.create_collection(LOCK, embedding_function=None,
                             metadata={"holder": "dead:1", "since": time.time() - LOCK_STALE - 1})
    assert QuestionBank.open(replica(tmp_path_factory, url), embedder=embedder).report.rebuilt
    assert SharedIndex(client, url)._lock_info() is None  # released after the build


RACER = """
import json, os, resource, sys, time
from interviewer.bank.bank import QuestionBank
from interviewer.bank.embedding import Embedder
from interviewer.config import Settings
from tests.test_chroma_server import results
embedder = Embedder()
embedder.encode(["warm up"])  # both racers reach the open with the model loaded
go = float(os.environ["RACE_AT"])
early = time.time() < go  # at the line before the start: a real race, not one after the other
while time.time() < go:
    time.sleep(0.005)
t0 = time.perf_counter()
bank = QuestionBank.open(Settings.from_env(), embedder=embedder)
opened = time.perf_counter() - t0
print(json.dumps({"early": early, "rebuilt": bank.report.rebuilt, "open_s": opened, "results": results(bank),
                  "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def test_two_replicas_starting_at_once_on_an_empty_server_build_once(chroma_server, tmp_path_factory):
    url = chroma_server.database_url()
    race_at = time.time() + 25  # both have loaded the model by then (2 cores shared with other tests)
    procs = []
    for _ in range(2):
        env = dict(os.environ, MIANSHI_CHROMA_URL=url, MIANSHI_DATA_DIR=str(tmp_path_factory.mktemp("racer")),
                   MIANSHI_CORPUS_DIR=str(SEED), RACE_AT=str(race_at))
        procs.append(subprocess.Popen([sys.executable, "-c", RACER], cwd=REPO_ROOT, env=env,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    outs = []
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err[-2000:]
        outs.append((json.loads(out.strip().splitlines()[-1]), err))
    assert all(o["early"] for o, _ in outs), "a racer loaded too slowly to start with the other"
    assert sorted(o["rebuilt"] for o, _ in outs) == [False, True]  # exactly one built
    assert outs[0][0]["results"] == outs[1][0]["results"]
    waiter = next(err for o, err in outs if not o["rebuilt"])
    assert "is building the question bank; waiting for it" in waiter
    for o, _ in outs:
        print(f"racer rebuilt={o['rebuilt']} open {o['open_s']:.2f}s maxrss {o['maxrss_mb']:.0f} MB")


def test_posts_are_seen_on_every_replica_by_their_owner_only(built, tmp_path_factory, embedder):
    from interviewer.bank.library import Library

    url, _ = built
    a = Library.open(replica(tmp_path_factory, url), embedder=embedder)
    b = Library.open(replica(tmp_path_factory, url), embedder=embedder)
    text = "小红书 Agent 一面\n1. 向量数据库选型为什么用 milvus?\n2. 多路召回的结果怎么融合排序?\n"
    added = a.add(a.preview("alice", text.encode(), "alice.md"))
    assert len(added.added) == 2

    assert set(added.added) <= {c.id for c in b.visible_cards("alice")}
    assert not set(added.added) & {c.id for c in b.visible_cards("bob")}
    assert b.visible(added.added[0], "alice") is not None and b.visible(added.added[0], "bob") is None
    assert b.search_for("向量数据库选型为什么用 milvus", "alice", k=1, mode="dense")[0].card.id in added.added
    assert not {h.card.id for h in b.search_for("向量数据库选型为什么用 milvus", "bob", k=10)} & set(added.added)
    assert added.doc_id in {d.id for d in b.docs("alice")} and added.doc_id not in {d.id for d in b.docs("bob")}

    # Edits and removal on one replica are seen on the other; nobody else may remove them.
    edited = b.set_key_points(added.added[0], "alice", ["HNSW 索引", "水平扩展"])
    assert a.visible(added.added[0], "alice").key_points == edited.key_points
    with pytest.raises(KeyError):
        b.remove(added.doc_id, "bob")
    assert b.remove(added.doc_id, "alice") == 2
    assert a.visible(added.added[0], "alice") is None and a.posts.of("alice") == []
    assert a._store.count({"post": added.doc_id}) == 0
