"""The bank's index on a Chroma server (MIANSHI_CHROMA_URL), shared by app replicas: built once,
then only read.

Beside the vectors (vectors.COLLECTION) the server holds:
- SNAPSHOT: one record with what the on-disk snapshot file holds (cards, BM25 tokens, document
  names) and, in its metadata, the content hash, embedder and index version it was built from.
  It is written last, so its presence says the vectors are complete; a replica that did not
  build the index reads everything it needs from it (it never extracts or embeds the corpus).
- LOCK: the build lock, a collection created to hold it and deleted to release it. Creating a
  collection is atomic on the server (a unique name in its catalogue): of the replicas that start
  together on an empty server exactly one creates it and builds; the others wait for it to go
  and then read. A lock older than LOCK_STALE (its holder died) is broken; Chroma has no
  compare-and-delete, so two waiters breaking the same stale lock at once may both build: the
  builds are identical, so the cost is time, not a wrong index.
- POSTS: the posts people added (ChromaPostStore), so an owner sees their cards on every replica.

Why a lock in Chroma and not PostgreSQL's advisory lock: the bank works on a Chroma server with
or without MIANSHI_DATABASE_URL, and the lock then lives where the thing it guards lives.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import threading
import time
import uuid
from contextlib import contextmanager
from typing import Any

from pydantic import BaseModel

from interviewer.bank.errors import ChromaServerError, IndexMismatchError
from interviewer.bank.posts import PostQueries, PostRecord

SNAPSHOT = "question_bank_snapshot"
LOCK = "question_bank_build"
SNAPSHOT_ID = "snapshot"
# Builds of this corpus take seconds; a lock this old was left by a process that died.
LOCK_STALE = 15 * 60
POLL = 0.25
# Records of a collection without an embedding function still need a vector: one constant number.
NO_VECTOR = [0.0]


class IndexStamp(BaseModel):
    """What an index was built from (kept in the snapshot's and the vectors collection's metadata)."""

    content_hash: str
    embedder: str
    index_version: str
    vectors: int = 0
    built_by: str = ""
    built_at: float = 0.0

    def same_build(self, other: IndexStamp) -> bool:
        return (self.content_hash, self.embedder, self.index_version) == (
            other.content_hash, other.embedder, other.index_version)


def holder() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def missing(exc: Exception) -> bool:
    """chromadb's 'no such collection' (its error type moved between versions)."""
    return type(exc).__name__ == "NotFoundError" or "does not exist" in str(exc)


class SharedIndex:
    """Read, write and lock the bank's index on the server. `client` is an open chromadb client."""

    def __init__(self, client, url: str):
        self.client = client
        self.url = url

    # ------------------------------------------------------------------ reading
    def read(self) -> tuple[IndexStamp, dict[str, Any]] | None:
        """The stored snapshot and its stamp, or None when no complete index is there."""
        try:
            col = self.client.get_collection(SNAPSHOT)
        except Exception as exc:  # noqa: BLE001
            if missing(exc):
                return None
            raise
        got = col.get(ids=[SNAPSHOT_ID], include=["documents", "metadatas"])
        if not got["ids"]:
            return None
        return IndexStamp.model_validate(got["metadatas"][0]), json.loads(got["documents"][0])

    def mismatch(self, stored: IndexStamp, ours: IndexStamp) -> IndexMismatchError:
        return IndexMismatchError(
            f"MIANSHI_CHROMA_URL={self.url} holds a question bank built from another corpus or version "
            f"(hash {stored.content_hash[:12]}, {stored.embedder}, index v{stored.index_version}; this replica has "
            f"{ours.content_hash[:12]}, {ours.embedder}, v{ours.index_version}): run `python -m interviewer ingest` "
            "with this corpus to rebuild it, or point the variable at the right server")

    # ------------------------------------------------------------------ writing (under the lock)
    def clear(self) -> None:
        """Drop the snapshot first, so a replica starting during a rebuild waits instead of reading half."""
        try:
            self.client.delete_collection(SNAPSHOT)
        except Exception as exc:  # noqa: BLE001
            if not missing(exc):
                raise

    def write(self, stamp: IndexStamp, snapshot: dict[str, Any], vectors) -> None:
        """Record the finished build: the stamp on the vectors collection, then the snapshot."""
        meta = stamp.model_dump()
        vectors.modify(metadata=meta)
        col = self.client.get_or_create_collection(SNAPSHOT, embedding_function=None)
        col.upsert(ids=[SNAPSHOT_ID], documents=[json.dumps(snapshot, ensure_ascii=False)],
                   embeddings=[NO_VECTOR], metadatas=[meta])

    # ------------------------------------------------------------------ the build lock
    @contextmanager
    def build_lock(self, wait: float = LOCK_STALE + 60):
        """Hold the build lock (waiting for another builder first, saying so once on stderr)."""
        deadline = time.monotonic() + wait
        said = False
        while True:
            try:
                self.client.create_collection(LOCK, embedding_function=None,
                                              metadata={"holder": holder(), "since": time.time()})
                break
            except Exception as exc:  # noqa: BLE001 - chromadb raises a bare ChromaError for a taken name
                if "already exists" not in str(exc):
                    raise
            info = self._lock_info()
            if info is not None and time.time() - float(info.get("since", 0)) > LOCK_STALE:
                print(f"MIANSHI_CHROMA_URL={self.url}: breaking a stale bank build lock of {info.get('holder')}",
                      file=sys.stderr)
                self._unlock()
                continue
            if not said and info is not None:
                print(f"MIANSHI_CHROMA_URL={self.url}: {info.get('holder')} is building the question bank; "
                      "waiting for it", file=sys.stderr)
                said = True
            if time.monotonic() > deadline:
                raise ChromaServerError(f"MIANSHI_CHROMA_URL={self.url}: the bank build lock is still held by "
                                        f"{(info or {}).get('holder')}")
            time.sleep(POLL)
        try:
            yield
        finally:
            self._unlock()

    def _lock_info(self) -> dict | None:
        try:
            return dict(self.client.get_collection(LOCK).metadata or {})
        except Exception as exc:  # noqa: BLE001
            if missing(exc):
                return None
            raise

    def _unlock(self) -> None:
        try:
            self.client.delete_collection(LOCK)
        except Exception as exc:  # noqa: BLE001 - already gone (broken as stale by another process)
            if not missing(exc):
                raise


# ---------------------------------------------------------------------- posts people added

POSTS = "mianshi_posts"


class ChromaPostStore(PostQueries):
    """Posts people added, on the Chroma server beside the bank, so an owner's posts are the same on
    every replica: one record per post (its PostRecord as JSON; owner and a revision in metadata).

    The same interface as posts.PostStore. Each read lists the ids and revisions (small) and
    fetches only the posts added or changed since this replica last looked.
    """

    def __init__(self, client):
        self.client = client
        self._lock = threading.Lock()
        self._col = None
        self._cache: dict[str, PostRecord] = {}
        self._revs: dict[str, str] = {}

    def _collection(self):
        if self._col is None:
            self._col = self.client.get_or_create_collection(POSTS, embedding_function=None)
        return self._col

    def all(self) -> dict[str, PostRecord]:
        with self._lock:
            col = self._collection()
            listed = col.get(include=["metadatas"])
            revs = {i: str((m or {}).get("rev", "")) for i, m in zip(listed["ids"], listed["metadatas"])}
            if revs != self._revs:
                changed = [i for i, rev in revs.items() if self._revs.get(i) != rev]
                cache = {i: p for i, p in self._cache.items() if i in revs and i not in changed}
                if changed:
                    got = col.get(ids=changed, include=["documents"])
                    for i, doc in zip(got["ids"], got["documents"]):
                        try:
                            cache[i] = PostRecord.model_validate_json(doc)
                        except ValueError:
                            continue  # a foreign record is not a post
                self._cache, self._revs = cache, revs
            return dict(self._cache)

    def stamp(self) -> tuple:
        """Changes whenever a post is written or removed, on any replica (as seen by all())."""
        self.all()
        with self._lock:
            return tuple(sorted(self._revs.items()))

    def put(self, record: PostRecord) -> None:
        rev = f"{time.time_ns()}-{uuid.uuid4().hex[:8]}"
        self._collection().upsert(ids=[record.id], documents=[record.model_dump_json()], embeddings=[NO_VECTOR],
                                  metadatas=[{"owner": record.owner, "rev": rev}])

    def delete(self, doc_id: str) -> None:
        self._collection().delete(ids=[doc_id])
