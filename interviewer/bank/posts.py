"""Posts people added, kept under the data dir: one JSON file per post with its text, its cards
and the questions it linked to existing cards. Written whole and renamed over, so a reader sees
a post entirely or not at all.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from datetime import datetime
from pathlib import Path

from pydantic import BaseModel, Field

from interviewer.models import QuestionCard, utcnow

MAX_POSTS_PER_OWNER = 50
MAX_QUESTIONS_PER_POST = 500


class Link(BaseModel):
    """A question of the post that is already in the bank: it points at that card instead."""

    question: str
    line: int
    card_id: str
    existing: str = Field(description="the existing card's question")
    similarity: float


class PostRecord(BaseModel):
    id: str
    owner: str
    name: str = Field(description="file name, or 'pasted post'")
    kind: str = "text"
    sha256: str
    added_at: datetime = Field(default_factory=utcnow)
    text: str
    cards: list[QuestionCard] = Field(default_factory=list)
    links: list[Link] = Field(default_factory=list)


def post_id(owner: str, text: str) -> str:
    """The same text added by the same owner is the same post."""
    norm = "\n".join(line.strip() for line in text.strip().splitlines() if line.strip())
    return "p" + hashlib.sha256(f"{owner}\0{norm}".encode()).hexdigest()[:11]


class PostQueries:
    """What the library asks of a post store, answered from its all(): one place for both stores
    (this directory, and shared.ChromaPostStore on a Chroma server)."""

    def all(self) -> dict[str, PostRecord]:
        raise NotImplementedError

    def get(self, doc_id: str) -> PostRecord | None:
        return self.all().get(doc_id)

    def of(self, owner: str | None) -> list[PostRecord]:
        """This owner's posts, oldest first (None: everyone's)."""
        return sorted((p for p in self.all().values() if owner is None or p.owner == owner),
                      key=lambda p: p.added_at)


class PostStore(PostQueries):
    """The posts directory. Re-read when it changed on disk (the CLI may add while the app runs)."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self._lock = threading.Lock()
        self._cache: dict[str, PostRecord] = {}
        self._stamp: tuple | None = None

    def _stamp_now(self) -> tuple:
        try:
            st = self.root.stat()
        except FileNotFoundError:
            return ()
        return (st.st_mtime_ns, st.st_ino)

    def all(self) -> dict[str, PostRecord]:
        with self._lock:
            stamp = self._stamp_now()
            if stamp != self._stamp:
                posts = {}
                for path in sorted(self.root.glob("p*.json")) if self.root.is_dir() else []:
                    try:
                        rec = PostRecord.model_validate_json(path.read_text(encoding="utf-8"))
                    except (OSError, ValueError):
                        continue  # a foreign or torn file is not a post
                    posts[rec.id] = rec
                self._cache, self._stamp = posts, stamp
            return dict(self._cache)

    def stamp(self) -> tuple | None:
        """Changes whenever a post is written or removed (as seen by all())."""
        self.all()
        return self._stamp

    def put(self, record: PostRecord) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        path = self.root / f"{record.id}.json"
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        tmp.write_text(json.dumps(record.model_dump(mode="json"), ensure_ascii=False), encoding="utf-8")
        os.replace(tmp, path)

    def delete(self, doc_id: str) -> None:
        (self.root / f"{doc_id}.json").unlink(missing_ok=True)
