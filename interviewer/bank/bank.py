"""QuestionBank: the corpus as searchable question cards.

Built only when something changed: the content hash covers every ingested document, the reviewed
notes file, the extractor version and the embedding model. Otherwise the cards and BM25 postings
load from a JSON snapshot stored beside the Chroma collection; Chroma itself and the embedding
model open only when the first dense query needs them.

With MIANSHI_CHROMA_URL the collection and that snapshot live on a Chroma server instead, shared by
every app replica: built once (interviewer.bank.shared), then only read.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, Field

from interviewer.bank.bm25 import BM25Index
from interviewer.bank.corpus import SkippedFile, load_corpus
from interviewer.bank.embedding import EMBEDDING_MODEL, Embedder
from interviewer.bank.extract import EXTRACTOR_VERSION, extract_cards
from interviewer.bank.notes import NotesError, apply_notes, load_notes, notes_path
from interviewer.config import Settings
from interviewer.models import TOPICS, QuestionCard
from interviewer.text import search_tokens

SearchMode = Literal["dense", "keyword", "fused"]
MODES: tuple[str, ...] = ("dense", "keyword", "fused")
# Bump when what is indexed (index_text, snapshot layout) changes.
INDEX_VERSION = "3"  # 3: corpus vectors carry owner "" (cards people add carry theirs)
SNAPSHOT_FILE = "mianshi_bank.json"
EMBED_BATCH = 64
# Candidates each retriever contributes to fusion.
CANDIDATES = 50
# Fused score = DENSE_WEIGHT * dense' + (1 - DENSE_WEIGHT) * keyword', both rescaled to [0, 1]
# per query (measured on interviewer/bench/retrieval_set.py with interviewer/bench/bank_bench.py;
# see docs/benchmarks-bank.md).
DENSE_WEIGHT = 0.7
# The corpus's vectors in the shared collection (cards people add carry their owner instead).
PUBLIC = {"owner": ""}


class SearchHit(BaseModel):
    card: QuestionCard
    score: float = Field(description="the ranking score of the chosen mode")
    dense: float = Field(description="cosine similarity of query and card (0 when not a dense candidate)")
    keyword: float = Field(description="BM25 score divided by the query's best BM25 score (0..1)")


class IngestReport(BaseModel):
    documents: int
    cards: int
    cards_per_section: dict[str, int]
    cards_per_topic: dict[str, int]
    cards_without_source_notes: int
    skipped: list[SkippedFile]
    rebuilt: bool
    content_hash: str
    document_names: list[str] = Field(default_factory=list)
    notes_problems: list[str] = Field(default_factory=list)


def dense_texts(card: QuestionCard) -> list[str]:
    """The texts embedded for a card: one vector per text, a query scores the best of them.

    The question alone matches queries that reword the question; the question with its reviewed
    key points matches queries that name the answer's terms ("KV cache 分页管理" -> Paged
    Attention). Measured on interviewer/bench/retrieval_set.py (docs/benchmarks-bank.md): max over both beats
    either one and beats one vector of everything.
    """
    texts = [card.question]
    if card.key_points:
        texts.append(card.question + " " + " ".join(card.key_points))
    return texts


def keyword_text(card: QuestionCard) -> str:
    """What BM25 indexes: the question, its section and topics and the reviewed key points."""
    return " ".join([card.question, card.section, " ".join(card.topics), " ".join(card.key_points)]).strip()


def content_hash(documents, notes_bytes: bytes | None) -> str:
    h = hashlib.sha256()
    h.update(f"index={INDEX_VERSION};extractor={EXTRACTOR_VERSION};embedding={EMBEDDING_MODEL}\n".encode())
    for doc in sorted(documents, key=lambda d: d.name):
        h.update(doc.name.encode() + b"\0" + hashlib.sha256(doc.raw).digest())
    h.update(b"notes\0" + (hashlib.sha256(notes_bytes).digest() if notes_bytes is not None else b"absent"))
    return h.hexdigest()


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + f".tmp{os.getpid()}")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


class QuestionBank:
    """Cards, filters and hybrid search. Immutable after open(), so searches may run concurrently."""

    def __init__(self, cards: list[QuestionCard], tokens: list[list[str]], store, embedder: Embedder,
                 report: IngestReport):
        self._cards = cards
        # A duplicate merged into another card (notes' same_as) still resolves, for old transcripts.
        self._by_id = {alias: c for c in cards for alias in c.also_at} | {c.id: c for c in cards}
        self._index_of = {c.id: i for i, c in enumerate(cards)}
        self._bm25 = BM25Index(tokens)
        self._store = store
        self._embedder = embedder
        self._heal_lock = threading.Lock()
        self._healed = False
        self.report = report

    # ------------------------------------------------------------------ building

    @classmethod
    def open(cls, settings: Settings, embedder: Embedder | None = None, rebuild: bool = False,
             progress: bool = False, extra_paths=(), refresh_shared: bool = False) -> QuestionBank:
        """The bank of settings.corpus_dir: reused when its index is current, else built.

        On a Chroma server (settings.chroma_url) a replica builds only a missing index, under the
        server's build lock, and refuses one built from another corpus or version unless
        `refresh_shared` (the operator's `ingest`) or `rebuild` says to replace it.
        """
        from interviewer.bank.vectors import ChromaStore

        embedder = embedder or Embedder()
        docs, skipped = load_corpus(settings.corpus_dir, extra_paths)
        npath = notes_path(settings.corpus_dir)
        notes_bytes = npath.read_bytes() if npath.is_file() else None
        digest = content_hash(docs, notes_bytes)
        store = ChromaStore(settings.chroma_dir, embedder, url=settings.chroma_url)
        if store.shared:
            return cls._open_shared(settings, store, embedder, docs, skipped, npath, digest,
                                    replace=rebuild or refresh_shared, rebuild=rebuild, progress=progress)
        snap_path = settings.chroma_dir / SNAPSHOT_FILE

        snapshot = None
        if not rebuild and snap_path.is_file():
            try:
                snapshot = json.loads(snap_path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                snapshot = None  # a torn or foreign file: rebuild
        if snapshot and snapshot.get("content_hash") == digest:
            return cls._from_snapshot(snapshot, store, embedder, skipped, digest)

        snapshot, bank = cls._build(docs, skipped, npath, digest, store, embedder, progress)
        settings.chroma_dir.mkdir(parents=True, exist_ok=True)
        _atomic_write(snap_path, json.dumps(snapshot, ensure_ascii=False))
        return bank

    @classmethod
    def _from_snapshot(cls, snapshot: dict, store, embedder: Embedder, skipped, digest: str) -> QuestionBank:
        cards = [QuestionCard.model_validate(c) for c in snapshot["cards"]]
        report = cls._make_report(cards, snapshot["document_names"], skipped + [
            SkippedFile.model_validate(s) for s in snapshot.get("empty_documents", [])],
            rebuilt=False, digest=digest, notes_problems=snapshot.get("notes_problems", []))
        return cls(cards, snapshot["tokens"], store, embedder, report)

    @classmethod
    def _build(cls, docs, skipped, npath: Path, digest: str, store, embedder: Embedder,
               progress: bool) -> tuple[dict, QuestionBank]:
        """Extract and embed the corpus into store: (the snapshot to keep, the bank)."""
        cards, empty, problems = cls._extract(docs, npath)
        tokens = [search_tokens(keyword_text(c)) for c in cards]
        cls._embed_into(store, embedder, cards, progress)
        snapshot = {
            "content_hash": digest, "document_names": [d.name for d in docs],
            "cards": [c.model_dump(mode="json") for c in cards], "tokens": tokens,
            "empty_documents": [e.model_dump() for e in empty], "notes_problems": problems,
        }
        report = cls._make_report(cards, [d.name for d in docs], skipped + empty, rebuilt=True, digest=digest,
                                  notes_problems=problems)
        bank = cls(cards, tokens, store, embedder, report)
        bank._healed = True
        return snapshot, bank

    @classmethod
    def _open_shared(cls, settings: Settings, store, embedder: Embedder, docs, skipped, npath: Path, digest: str,
                     replace: bool, rebuild: bool, progress: bool) -> QuestionBank:
        """The bank on a Chroma server: read the index another replica built, or build it once."""
        from interviewer.bank.shared import IndexStamp, SharedIndex, holder

        index = SharedIndex(store.client(), settings.chroma_url or "")
        ours = IndexStamp(content_hash=digest, embedder=EMBEDDING_MODEL, index_version=INDEX_VERSION)

        def current() -> dict | None:
            found = index.read()
            if found is None:
                return None
            stamp, snapshot = found
            if not stamp.same_build(ours):
                if replace:
                    return None
                raise index.mismatch(stamp, ours)
            # Complete only with all its vectors (a lost or half-replaced collection is rebuilt).
            return snapshot if store.count(PUBLIC) == stamp.vectors else None

        def reader(snapshot: dict) -> QuestionBank:
            bank = cls._from_snapshot(snapshot, store, embedder, skipped, digest)
            bank._healed = True  # a replica never re-embeds on its own: the index is the builder's
            return bank

        snapshot = None if rebuild else current()
        if snapshot is not None:
            return reader(snapshot)
        with index.build_lock():
            snapshot = None if rebuild else current()  # built by another replica while we waited
            if snapshot is not None:
                return reader(snapshot)
            index.clear()
            snapshot, bank = cls._build(docs, skipped, npath, digest, store, embedder, progress)
            stamp = ours.model_copy(update={"vectors": store.count(PUBLIC), "built_by": holder(),
                                            "built_at": round(time.time(), 3)})
            index.write(stamp, snapshot, store._get())
            return bank

    @staticmethod
    def _extract(docs, npath: Path) -> tuple[list[QuestionCard], list[SkippedFile], list[str]]:
        cards: list[QuestionCard] = []
        empty: list[SkippedFile] = []
        for doc in docs:
            try:
                found = extract_cards(doc.text, doc.name)
            except Exception as exc:  # noqa: BLE001 - one odd document must not stop the corpus
                empty.append(SkippedFile(path=str(doc.path), reason=f"extraction failed: {exc!r}"))
                continue
            if not found:
                empty.append(SkippedFile(path=str(doc.path), reason="no questions found"))
            cards += found
        try:
            notes = load_notes(npath)
        except NotesError as exc:
            return cards, empty, [str(exc)]
        cards, notes_report = apply_notes(cards, notes, npath)
        return cards, empty, notes_report.problems

    @staticmethod
    def _embed_into(store, embedder: Embedder, cards: list[QuestionCard], progress: bool) -> None:
        from tqdm import tqdm

        ids: list[str] = []
        texts: list[str] = []
        metas: list[dict] = []
        for c in cards:
            for n, text in enumerate(dense_texts(c)):
                ids.append(f"{c.id}#{n}")
                texts.append(text)
                metas.append({"card_id": c.id, "doc": c.doc, "position": c.position, "section": c.section,
                              "owner": c.owner})
        vectors = np.zeros((len(texts), embedder.dim), dtype=np.float32)
        with tqdm(total=len(texts) * 2, desc="indexing cards", unit="vec", file=sys.stderr,
                  disable=not progress) as bar:
            for start in range(0, len(texts), EMBED_BATCH):
                batch = texts[start:start + EMBED_BATCH]
                vectors[start:start + len(batch)] = embedder.encode(batch)
                bar.update(len(batch))
            store.replace(ids, texts, metas, vectors, progress=bar.update)

    @staticmethod
    def _make_report(cards, names, skipped, rebuilt, digest, notes_problems) -> IngestReport:
        per_topic = Counter(t for c in cards for t in c.topics)
        return IngestReport(
            documents=len(names), cards=len(cards),
            cards_per_section=dict(Counter(c.section or "(none)" for c in cards)),
            cards_per_topic={t: per_topic[t] for t in TOPICS if per_topic[t]},
            cards_without_source_notes=sum(1 for c in cards if not c.source_notes.strip()),
            skipped=skipped, rebuilt=rebuilt, content_hash=digest, document_names=list(names),
            notes_problems=list(notes_problems))

    # ------------------------------------------------------------------ reading

    def cards(self, topic: str | None = None, section: str | None = None) -> list[QuestionCard]:
        return [c for c in self._cards
                if (topic is None or topic in c.topics) and (section is None or c.section == section)]

    def get(self, card_id: str) -> QuestionCard:
        return self._by_id[card_id]

    def topics(self) -> list[str]:
        present = {t for c in self._cards for t in c.topics}
        return [t for t in TOPICS if t in present]

    def sections(self) -> list[str]:
        return list(dict.fromkeys(c.section for c in self._cards if c.section))

    def __len__(self) -> int:
        return len(self._cards)

    # ------------------------------------------------------------------ search

    def _ensure_vectors(self) -> None:
        """The snapshot says the index is current; if the Chroma files were lost, re-embed once."""
        if self._healed:
            return
        with self._heal_lock:
            if not self._healed:
                if self._store.count(PUBLIC) != sum(len(dense_texts(c)) for c in self._cards):
                    self._embed_into(self._store, self._embedder, self._cards, progress=False)
                self._healed = True

    def dense_candidates(self, query: str, n: int) -> dict[int, float]:
        self._ensure_vectors()
        vec = self._embedder.encode([query])[0]
        best: dict[int, float] = {}
        # Several vectors per card: ask for enough to cover n cards, keep each card's best.
        for vid, sim in self._store.query(vec, 2 * n, where=PUBLIC):
            i = self._index_of.get(vid.rsplit("#", 1)[0])
            if i is not None and sim > best.get(i, -2.0):
                best[i] = sim
        return dict(sorted(best.items(), key=lambda kv: -kv[1])[:n])

    def keyword_candidates(self, query: str, n: int) -> dict[int, float]:
        hits = self._bm25.top(search_tokens(query), n)
        best = hits[0][1] if hits else 1.0
        return {i: s / best for i, s in hits}

    def search(self, query: str, k: int = 5, mode: SearchMode = "fused") -> list[SearchHit]:
        if mode not in MODES:
            raise ValueError(f"unknown search mode {mode!r} (use one of {', '.join(MODES)})")
        query = (query or "").strip()
        if not query or not self._cards or k <= 0:
            return []
        n = min(len(self._cards), max(CANDIDATES, k))
        dense = self.dense_candidates(query, n) if mode != "keyword" else {}
        keyword = self.keyword_candidates(query, n) if mode != "dense" else {}
        if mode == "dense":
            scored = dense
        elif mode == "keyword":
            scored = keyword
        else:
            scored = fuse(dense, keyword, DENSE_WEIGHT)
        best = sorted(scored.items(), key=lambda kv: (-kv[1], kv[0]))[:k]
        return [SearchHit(card=self._cards[i], score=round(s, 6), dense=round(dense.get(i, 0.0), 6),
                          keyword=round(keyword.get(i, 0.0), 6)) for i, s in best]


def fuse(dense: dict[int, float], keyword: dict[int, float], weight: float) -> dict[int, float]:
    """Weighted mix of min-max rescaled dense similarity and max-normalised BM25.

    Dense cosines of this model bunch together (unrelated ~0.2, related ~0.6), so they are rescaled
    over the candidates; a card missing from one retriever's candidates scores 0 there.
    """
    if dense:
        lo, hi = min(dense.values()), max(dense.values())
        span = (hi - lo) or 1.0
        dn = {i: (s - lo) / span for i, s in dense.items()}
    else:
        dn = {}
    return {i: weight * dn.get(i, 0.0) + (1 - weight) * keyword.get(i, 0.0) for i in set(dn) | set(keyword)}
