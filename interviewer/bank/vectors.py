"""The Chroma collection that holds the question cards' dense vectors.

Our own offline embedding function (wrapping interviewer.bank.embedding.Embedder) is registered with
Chroma under a fixed name, so a collection reopened by any client -- even one that does not pass
an embedding function -- rebuilds ours from its stored config and never falls back to Chroma's
default (which downloads a model from the network).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np
from chromadb.api.types import Documents, EmbeddingFunction, Embeddings
from chromadb.utils.embedding_functions import register_embedding_function

from interviewer.bank.embedding import EMBEDDING_DIM, EMBEDDING_MODEL, Embedder

COLLECTION = "question_bank"
ADD_BATCH = 256


@register_embedding_function
class MianshiEmbeddingFunction(EmbeddingFunction[Documents]):
    """Chroma embedding function over our offline USE-multilingual Embedder (cosine space)."""

    def __init__(self, embedder: Embedder | None = None):
        # Built from a stored config there is no embedder to share: make one (it loads lazily).
        self._embedder = embedder or Embedder()

    @staticmethod
    def name() -> str:
        return "mianshi-usem3"

    def __call__(self, input: Documents) -> Embeddings:
        return list(self._embedder.encode(list(input)))

    def default_space(self) -> str:
        return "cosine"

    def supported_spaces(self) -> list[str]:
        return ["cosine", "ip"]

    def get_config(self) -> dict[str, Any]:
        return {"model": EMBEDDING_MODEL, "dim": EMBEDDING_DIM}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> MianshiEmbeddingFunction:
        if config.get("model", EMBEDDING_MODEL) != EMBEDDING_MODEL:
            raise ValueError(f"collection was embedded with {config.get('model')}, not {EMBEDDING_MODEL}")
        return MianshiEmbeddingFunction()

    @staticmethod
    def validate_config(config: dict[str, Any]) -> None:
        if config.get("dim", EMBEDDING_DIM) != EMBEDDING_DIM:
            raise ValueError("embedding dimension mismatch")


def open_client(path: Path):
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    path.mkdir(parents=True, exist_ok=True)
    # No telemetry: the machine (and a Space) may have no route out, and we send nothing anyway.
    return chromadb.PersistentClient(path=str(path), settings=ChromaSettings(anonymized_telemetry=False))


class ChromaStore:
    """One persistent collection of card vectors. The client opens on first use."""

    def __init__(self, path: Path, embedder: Embedder, name: str = COLLECTION):
        self.path = path
        self.name = name
        self._ef = MianshiEmbeddingFunction(embedder)
        self._lock = threading.Lock()
        self._client = None
        self._collection = None
        self._count = 0

    def _get(self):
        if self._collection is None:
            with self._lock:
                if self._collection is None:
                    self._client = open_client(self.path)
                    col = self._client.get_or_create_collection(
                        self.name, embedding_function=self._ef, configuration={"hnsw": {"space": "cosine"}})
                    self._count = col.count()
                    self._collection = col
        return self._collection

    def replace(self, ids: list[str], documents: list[str], metadatas: list[dict], embeddings: np.ndarray,
                progress=None) -> None:
        """Drop the collection and write these records (embeddings precomputed by the caller)."""
        with self._lock:
            client = self._client or open_client(self.path)
            self._client = client
            try:
                client.delete_collection(self.name)
            except Exception:  # noqa: BLE001 - absent on first build; chroma's error type varies by version
                pass
            col = client.create_collection(
                self.name, embedding_function=self._ef, configuration={"hnsw": {"space": "cosine"}})
            for start in range(0, len(ids), ADD_BATCH):
                end = start + ADD_BATCH
                col.add(ids=ids[start:end], documents=documents[start:end], metadatas=metadatas[start:end],
                        embeddings=embeddings[start:end])
                if progress is not None:
                    progress(min(end, len(ids)) - start)
            self._count = col.count()
            self._collection = col

    def _reopening(self, fn):
        """fn(collection); once more on a fresh handle when the collection was replaced meanwhile
        (a rebuild by another bank or process drops and recreates it, under a new id)."""
        try:
            return fn(self._get())
        except Exception as exc:  # noqa: BLE001 - chromadb's NotFoundError moves between versions
            if "does not exist" not in str(exc) and type(exc).__name__ != "NotFoundError":
                raise
            with self._lock:
                self._collection = None
            return fn(self._get())

    def count(self, where: dict | None = None) -> int:
        if where is None:
            self._get()
            return self._count
        return self._reopening(lambda col: len(col.get(where=where, include=[])["ids"]))

    def query(self, embedding: np.ndarray, n: int, where: dict | None = None) -> list[tuple[str, float]]:
        """(id, cosine similarity) of the n nearest cards (among those `where` matches), best first."""
        return self.query_many([embedding], n, where)[0]

    def query_many(self, embeddings, n: int, where: dict | None = None) -> list[list[tuple[str, float]]]:
        self._get()
        n = min(n, self._count)
        if n <= 0 or not len(embeddings):
            return [[] for _ in embeddings]
        res = self._reopening(lambda col: col.query(query_embeddings=list(embeddings), n_results=n, where=where,
                                                    include=["distances"]))
        return [[(i, 1.0 - float(d)) for i, d in zip(ids, dists)] for ids, dists in zip(res["ids"], res["distances"])]

    def upsert(self, ids: list[str], documents: list[str], metadatas: list[dict], embeddings: np.ndarray) -> None:
        """Add or replace these records (cards people add), keeping everything else."""
        def write(col):
            for start in range(0, len(ids), ADD_BATCH):
                end = start + ADD_BATCH
                col.upsert(ids=ids[start:end], documents=documents[start:end], metadatas=metadatas[start:end],
                           embeddings=embeddings[start:end])
            self._count = col.count()
        self._reopening(write)

    def delete(self, where: dict) -> None:
        def remove(col):
            col.delete(where=where)
            self._count = col.count()
        self._reopening(remove)
