"""The corpus bank plus the posts people add, each added card visible only to its owner.

Added cards live in the same Chroma collection as the corpus, with their owner in the metadata;
every query filters on it. The posts themselves live in the data dir, or on the Chroma server
beside the vectors when MIANSHI_CHROMA_URL is set, so every replica sees them. `owner=None`
means everyone (admin mode). The engine's view (`cards()`) is the shared corpus only: an added
card is asked only when its owner picks it.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass, field

from pydantic import BaseModel

from interviewer.bank.bank import (
    CANDIDATES,
    DENSE_WEIGHT,
    MODES,
    QuestionBank,
    SearchHit,
    dense_texts,
    fuse,
    keyword_text,
)
from interviewer.bank.bm25 import BM25Index
from interviewer.bank.embedding import Embedder
from interviewer.bank.extract import detect_company, dropped_chrome, extract_cards
from interviewer.bank.keypoints import split_points
from interviewer.bank.posts import (
    MAX_POSTS_PER_OWNER,
    MAX_QUESTIONS_PER_POST,
    Link,
    PostQueries,
    PostRecord,
    PostStore,
    post_id,
)
from interviewer.bank.readers import PostError, read_post
from interviewer.config import Settings
from interviewer.models import QuestionCard
from interviewer.text import search_tokens

# Two questions ask the same thing when their cosine similarity is at least SAME_DENSE, or at
# least NEAR_DENSE with most of the shorter one's content tokens in the other. Measured with this
# embedder on rewordings of corpus questions and on related-but-different ones (tests/test_library.py):
# "LoRA 的 B 矩阵为什么初始化为 0" ~ "lora初始化参数?为什么一半是0" is 0.54 with 4 of 6 tokens shared,
# "Layer Norm 和 Batch Norm 的区别" ~ "prenorm / postnorm区别" is 0.62 with none, and
# "讲一下你做过的 RAG 项目" ~ "挑一个你做过的最有代表性的项目，详细讲讲" 0.54 with 1 of 2.
SAME_DENSE = 0.85
NEAR_DENSE = 0.5
NEAR_OVERLAP = 0.6
PASTED = "粘贴 pasted"
KEYWORD_CACHE = 64


class Found(BaseModel):
    """A question the extractor found in a post, before anything is stored."""

    index: int
    question: str
    line: int
    section: str
    notes: str
    duplicate_of: str | None = None
    duplicate_question: str = ""
    similarity: float = 0.0


class Preview(BaseModel):
    doc_id: str
    owner: str
    name: str
    kind: str
    text: str
    company: str | None
    found: list[Found]
    dropped: list[str]
    already_added: bool = False


class AddResult(BaseModel):
    doc_id: str
    added: list[str]
    links: list[Link]
    message: str


class DocInfo(BaseModel):
    id: str
    name: str
    owner: str
    cards: int
    links: int = 0
    added_at: str = ""


@dataclass
class _Keyword:
    version: int
    cards: list[QuestionCard]
    index: BM25Index
    position: dict[str, int] = field(default_factory=dict)


class Library:
    def __init__(self, bank: QuestionBank, posts: PostQueries, embedder: Embedder):
        self.bank = bank
        self.posts = posts
        self.embedder = embedder
        self.report = bank.report
        self._store = bank._store
        self._lock = threading.RLock()
        self._vectors_checked = False
        self._keyword: dict[str | None, _Keyword] = {}
        self._retired: dict[str, QuestionCard] = {}  # cards of posts removed while this process runs

    @classmethod
    def open(cls, settings: Settings, embedder: Embedder | None = None, **kw) -> Library:
        embedder = embedder or Embedder()
        bank = QuestionBank.open(settings, embedder=embedder, **kw)
        return cls(bank, post_store(settings, bank), embedder)

    # ------------------------------------------------------------------ the engine's view (shared corpus)
    def cards(self, topic: str | None = None, section: str | None = None) -> list[QuestionCard]:
        return self.bank.cards(topic=topic, section=section)

    def get(self, card_id: str) -> QuestionCard:
        """Any card by id, including one whose post was removed while this process runs, so an
        interview under way can still grade it (nobody can browse, search or pick it any more)."""
        try:
            return self._current(card_id)
        except KeyError:
            if card_id in self._retired:
                return self._retired[card_id]
            raise

    def _current(self, card_id: str) -> QuestionCard:
        try:
            return self.bank.get(card_id)
        except KeyError:
            pass
        post = self.posts.get(card_id.rsplit(":", 1)[0])
        for card in post.cards if post else ():
            if card.id == card_id:
                return card
        raise KeyError(card_id)

    def topics(self) -> list[str]:
        return self.bank.topics()

    def sections(self) -> list[str]:
        return self.bank.sections()

    def search(self, query: str, k: int = 5, mode: str = "fused") -> list[SearchHit]:
        return self.bank.search(query, k=k, mode=mode)

    def __len__(self) -> int:
        return len(self.bank)

    # ------------------------------------------------------------------ an owner's view
    @staticmethod
    def sees(card: QuestionCard, owner: str | None) -> bool:
        return owner is None or card.owner in ("", owner)

    def added_cards(self, owner: str | None) -> list[QuestionCard]:
        return [c for p in self.posts.of(owner) for c in p.cards]

    def visible_cards(self, owner: str | None) -> list[QuestionCard]:
        return self.bank.cards() + self.added_cards(owner)

    def visible(self, card_id: str, owner: str | None) -> QuestionCard | None:
        try:
            card = self._current(card_id)
        except KeyError:
            return None
        return card if self.sees(card, owner) else None

    def docs(self, owner: str | None) -> list[DocInfo]:
        """The corpus documents, then this owner's posts (everyone's with owner=None)."""
        corpus: dict[str, int] = {}
        for c in self.bank.cards():
            corpus[c.id.rsplit(":", 1)[0]] = corpus.get(c.id.rsplit(":", 1)[0], 0) + 1
        names = {c.id.rsplit(":", 1)[0]: c.doc for c in self.bank.cards()}
        out = [DocInfo(id=d, name=names[d], owner="", cards=n) for d, n in corpus.items()]
        out += [DocInfo(id=p.id, name=p.name, owner=p.owner, cards=len(p.cards), links=len(p.links),
                        added_at=p.added_at.isoformat(timespec="seconds")) for p in self.posts.of(owner)]
        return out

    def doc_card_ids(self, doc_id: str, owner: str | None) -> list[str]:
        """A document's cards, and for a post the existing cards its questions linked to."""
        post = self.posts.get(doc_id)
        if post is not None:
            if owner is not None and post.owner != owner:
                return []
            return [c.id for c in post.cards] + [ln.card_id for ln in post.links]
        return [c.id for c in self.bank.cards() if c.id.rsplit(":", 1)[0] == doc_id]

    # ------------------------------------------------------------------ vectors of added cards
    def _vector_records(self, cards: list[QuestionCard], doc_id: str):
        ids, texts, metas = [], [], []
        for c in cards:
            for n, text in enumerate(dense_texts(c)):
                ids.append(f"{c.id}#{n}")
                texts.append(text)
                metas.append({"card_id": c.id, "doc": c.doc, "position": c.position, "section": c.section,
                              "owner": c.owner, "post": doc_id})
        return ids, texts, metas

    def _ensure_vectors(self) -> None:
        """The corpus is re-embedded when its index changed, which drops the collection: put the
        added cards' vectors back then (checked once per process)."""
        self.bank._ensure_vectors()
        if self._vectors_checked:
            return
        with self._lock:
            if self._vectors_checked:
                return
            posts = self.posts.of(None)
            want = sum(len(dense_texts(c)) for p in posts for c in p.cards)
            if self._store.count({"owner": {"$ne": ""}}) != want:
                for p in posts:
                    ids, texts, metas = self._vector_records(p.cards, p.id)
                    if ids:
                        self._store.upsert(ids, texts, metas, self.embedder.encode(texts))
            self._vectors_checked = True

    @staticmethod
    def _where(owner: str | None) -> dict | None:
        return None if owner is None else {"owner": {"$in": ["", owner]}}

    # ------------------------------------------------------------------ search
    def _keyword_index(self, owner: str | None) -> _Keyword:
        """BM25 over what this owner sees, rebuilt when a post was added, edited or removed."""
        cards = self.visible_cards(owner)
        version = hash((self.posts.stamp(), len(cards)))
        cached = self._keyword.get(owner)
        if cached is None or cached.version != version:
            cached = _Keyword(version, cards, BM25Index([search_tokens(keyword_text(c)) for c in cards]),
                              {c.id: i for i, c in enumerate(cards)})
            self._keyword[owner] = cached
            while len(self._keyword) > KEYWORD_CACHE:  # one index per recent owner, not per visitor ever
                self._keyword.pop(next(iter(self._keyword)))
        else:
            self._keyword[owner] = self._keyword.pop(owner)  # most recently used last
        return cached

    def search_for(self, query: str, owner: str | None, k: int = 10, mode: str = "fused") -> list[SearchHit]:
        """The CLI's fused search over what this owner sees (the corpus and their own cards)."""
        if mode not in MODES:
            raise ValueError(f"unknown search mode {mode!r} (use one of {', '.join(MODES)})")
        query = (query or "").strip()
        kw = self._keyword_index(owner)
        if not query or not kw.cards or k <= 0:
            return []
        n = min(len(kw.cards), max(CANDIDATES, k))
        dense: dict[int, float] = {}
        if mode != "keyword":
            self._ensure_vectors()
            vec = self.embedder.encode([query])[0]
            for vid, sim in self._store.query(vec, 2 * n, where=self._where(owner)):
                i = kw.position.get(vid.rsplit("#", 1)[0])
                if i is not None and sim > dense.get(i, -2.0):
                    dense[i] = sim
            dense = dict(sorted(dense.items(), key=lambda kv: -kv[1])[:n])
        keyword: dict[int, float] = {}
        if mode != "dense":
            hits = kw.index.top(search_tokens(query), n)
            best = hits[0][1] if hits else 1.0
            keyword = {i: s / best for i, s in hits}
        scored = dense if mode == "dense" else keyword if mode == "keyword" else fuse(dense, keyword, DENSE_WEIGHT)
        top = sorted(scored.items(), key=lambda kv: (-kv[1], kv[0]))[:k]
        return [SearchHit(card=kw.cards[i], score=round(s, 6), dense=round(dense.get(i, 0.0), 6),
                          keyword=round(keyword.get(i, 0.0), 6)) for i, s in top]

    # ------------------------------------------------------------------ adding a post
    def preview(self, owner: str, data: bytes, name: str = "") -> Preview:
        """What adding this post would do: the questions found (with near-duplicates marked) and the
        chrome dropped. Stores nothing. PostError when the post cannot be read or is over a limit."""
        if not owner:
            raise PostError("no owner: a post belongs to the browser (or --owner) that adds it")
        post = read_post(name, data)
        cards = extract_cards(post.text, name or PASTED)
        if len(cards) > MAX_QUESTIONS_PER_POST:
            raise PostError(f"{len(cards)} questions found; a post may hold at most {MAX_QUESTIONS_PER_POST}")
        doc_id = post_id(owner, post.text)
        name = name or _pasted_name(post.text)
        found = [Found(index=i, question=c.question, line=c.line, section=c.section, notes=c.source_notes)
                 for i, c in enumerate(cards)]
        self._mark_duplicates(found, owner, skip_doc=doc_id)
        return Preview(doc_id=doc_id, owner=owner, name=name, kind=post.kind, text=post.text,
                       company=detect_company(post.text), found=found,
                       dropped=post.dropped + dropped_chrome(post.text),
                       already_added=self.posts.get(doc_id) is not None)

    def _mark_duplicates(self, found: list[Found], owner: str, skip_doc: str = "") -> None:
        if not found:
            return
        self._ensure_vectors()
        exact = {_norm(c.question): c for c in self.visible_cards(owner) if not c.id.startswith(skip_doc + ":")}
        vectors = self.embedder.encode([f.question for f in found])
        results = self._store.query_many(vectors, 8, where=self._where(owner))
        for f, hits in zip(found, results):
            card, sim = exact.get(_norm(f.question)), 1.0
            if card is None:
                for vid, s in hits:
                    cid = vid.rsplit("#", 1)[0]
                    if not vid.endswith("#0") or cid.startswith(skip_doc + ":"):
                        continue
                    other = self.visible(cid, owner)
                    if other is not None and same_question(f.question, other.question, s):
                        card, sim = other, s
                        break
            if card is not None:
                f.duplicate_of, f.duplicate_question, f.similarity = card.id, card.question, round(float(sim), 3)

    def add(self, preview: Preview, keep: list[int] | None = None, edits: dict[int, str] | None = None,
            draft=None) -> AddResult:
        """Store the kept questions of a preview (edited where edits say so) as the owner's cards;
        near-duplicates link to the existing card instead. `draft(question, notes) -> list[str]`
        writes key points for a card whose post has no answer notes (a model, when configured).
        All or nothing: over a limit or on a failure nothing is stored."""
        owner = preview.owner
        if self.posts.get(preview.doc_id) is not None:
            return AddResult(doc_id=preview.doc_id, added=[], links=[],
                             message="this post was already added: nothing added")
        if len(self.posts.of(owner)) >= MAX_POSTS_PER_OWNER:
            raise PostError(f"you already have {MAX_POSTS_PER_OWNER} posts, the most one browser may add: "
                            "remove one first")
        keep_set = set(range(len(preview.found))) if keep is None else set(keep)
        edits = edits or {}
        chosen = []
        for f in preview.found:
            if f.index not in keep_set:
                continue
            text = (edits.get(f.index) or f.question).strip()
            if text:
                chosen.append(f.model_copy(update={"question": text, "duplicate_of": None}) if text != f.question
                              else f)
        if len(chosen) > MAX_QUESTIONS_PER_POST:
            raise PostError(f"{len(chosen)} questions; a post may hold at most {MAX_QUESTIONS_PER_POST}")
        self._mark_duplicates([f for f in chosen if f.duplicate_of is None], owner, skip_doc=preview.doc_id)
        links = [Link(question=f.question, line=f.line, card_id=f.duplicate_of, existing=f.duplicate_question,
                      similarity=f.similarity) for f in chosen if f.duplicate_of]
        cards = []
        for f in (f for f in chosen if not f.duplicate_of):
            cards.append(_new_card(preview, f, len(cards) + 1, draft))
        ids, texts, metas = self._vector_records(cards, preview.doc_id)
        record = PostRecord(id=preview.doc_id, owner=owner, name=preview.name, kind=preview.kind,
                            sha256=hashlib.sha256(preview.text.encode("utf-8")).hexdigest(), text=preview.text,
                            cards=cards, links=links)
        with self._lock:
            self._ensure_vectors()
            try:
                if ids:
                    self._store.upsert(ids, texts, metas, self.embedder.encode(texts))
                self.posts.put(record)
            except BaseException:
                self._store.delete({"post": preview.doc_id})
                self.posts.delete(preview.doc_id)
                raise
        msg = f"added {len(cards)} questions" + (f", {len(links)} linked to cards already in the bank" if links
                                                   else "")
        return AddResult(doc_id=preview.doc_id, added=[c.id for c in cards], links=links, message=msg)

    def remove(self, doc_id: str, owner: str | None) -> int:
        """Remove a post and its cards (transcripts keep their own copy). Returns the cards removed."""
        post = self.posts.get(doc_id)
        if post is None or (owner is not None and post.owner != owner):
            raise KeyError(doc_id)
        with self._lock:
            self._store.delete({"post": doc_id})
            self.posts.delete(doc_id)
            self._retired.update({c.id: c for c in post.cards})
        return len(post.cards)

    def set_key_points(self, card_id: str, owner: str | None, points: list[str]) -> QuestionCard:
        """Edit an added card's key points (its owner only); they are then 'edited', still unreviewed."""
        post = self.posts.get(card_id.rsplit(":", 1)[0])
        if post is None or (owner is not None and post.owner != owner):
            raise KeyError(card_id)
        points = [p.strip() for p in points if p.strip()]
        for i, c in enumerate(post.cards):
            if c.id == card_id:
                post.cards[i] = c.model_copy(update={"key_points": points, "key_points_origin": "edited"
                                                     if points else ""})
                with self._lock:
                    ids, texts, metas = self._vector_records([post.cards[i]], post.id)
                    self._store.delete({"card_id": card_id})
                    self._store.upsert(ids, texts, metas, self.embedder.encode(texts))
                    self.posts.put(post)
                return post.cards[i]
        raise KeyError(card_id)


def post_store(settings: Settings, bank: QuestionBank):
    """Where the posts people add live: beside the bank's vectors, on the Chroma server when there
    is one (every replica sees them), else in the data dir."""
    if bank._store.shared:
        from interviewer.bank.shared import ChromaPostStore

        return ChromaPostStore(bank._store.client())
    return PostStore(settings.data_dir / "posts")


def same_question(a: str, b: str, similarity: float) -> bool:
    if similarity >= SAME_DENSE:
        return True
    ta, tb = _content_tokens(a), _content_tokens(b)
    if similarity < NEAR_DENSE or min(len(ta), len(tb)) < 2:
        return False
    return len(ta & tb) / min(len(ta), len(tb)) >= NEAR_OVERLAP


def _content_tokens(text: str) -> set[str]:
    """Search tokens without single CJK characters (讲, 做, 过 say little about what is asked)."""
    return {t for t in search_tokens(text) if len(t) > 1 or t.isascii()}


def _pasted_name(text: str) -> str:
    """A pasted post is named by its first line (its title, usually)."""
    first = next((line.strip(" #\t") for line in text.splitlines() if line.strip(" #\t")), "")
    return f"{first[:40]} · {PASTED}" if first else PASTED


def _norm(text: str) -> str:
    return "".join(ch for ch in text.lower() if ch.isalnum())


def _new_card(preview: Preview, f: Found, position: int, draft) -> QuestionCard:
    from interviewer.bank.extract import guess_difficulty, guess_kind, guess_topics

    points, origin = [], ""
    if f.notes.strip():
        points, origin = split_points(f.notes), "post"
    elif draft is not None:
        try:
            points = [p for p in (draft(f.question, f.notes) or []) if p.strip()]
        except Exception:  # noqa: BLE001 - a failed draft leaves the card without key points
            points = []
        origin = "model" if points else ""
    kind = guess_kind(f.question, f.section)
    return QuestionCard(
        id=f"{preview.doc_id}:{position:03d}", question=f.question, doc=preview.name, position=position,
        line=f.line, section=f.section, company=preview.company, topics=guess_topics(f.question, f.section, f.notes),
        kind=kind, difficulty=guess_difficulty(f.question, kind), source_notes=f.notes, key_points=points,
        owner=preview.owner, key_points_origin=origin)


__all__ = ["AddResult", "DocInfo", "Found", "Library", "PostError", "Preview"]
