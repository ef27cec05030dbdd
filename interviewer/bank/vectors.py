"""The Chroma collection that holds the question cards' dense vectors.

Our own offline embedding function (wrapping interviewer.bank.embedding.Embedder) is registered with
Chroma under a fixed name, so a collection reopened by any client -- even one that does not pass
an embedding function -- rebuilds ours from its stored config and never falls back to Chroma's
default (which downloads a model from the network).

Where the collection lives: on disk in the data dir (chromadb.PersistentClient, the default), or on
a Chroma server (`chroma run`) when MIANSHI_CHROMA_URL is set, shared by every app replica.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import numpy as np
from chromadb.api.types import Documents, EmbeddingFunction, Embeddings
from chromadb.utils.embedding_functions import register_embedding_function

from interviewer.bank.embedding import EMBEDDING_DIM, EMBEDDING_MODEL, Embedder
from interviewer.bank.errors import ChromaServerError

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


def open_http_client(url: str):
    """A client of the Chroma server at url (http://host:port[/database]). A named database is
    created on first use, so one server can hold several deployments (and tests) apart."""
    import chromadb
    from chromadb.config import DEFAULT_DATABASE, DEFAULT_TENANT
    from chromadb.config import Settings as ChromaSettings

    parsed = urlparse(url)
    database = parsed.path.strip("/") or DEFAULT_DATABASE
    ssl = parsed.scheme == "https"

    def settings():
        return ChromaSettings(anonymized_telemetry=False)

    try:
        if database != DEFAULT_DATABASE:
            admin = chromadb.AdminClient(ChromaSettings(
                anonymized_telemetry=False, chroma_api_impl="chromadb.api.fastapi.FastAPI",
                chroma_server_host=parsed.hostname, chroma_server_http_port=parsed.port,
                chroma_server_ssl_enabled=ssl))
            try:
                admin.get_database(database, tenant=DEFAULT_TENANT)
            except Exception:  # noqa: BLE001 - NotFoundError; two replicas may create it at once
                try:
                    admin.create_database(database, tenant=DEFAULT_TENANT)
                except Exception as exc:  # noqa: BLE001
                    if "already exists" not in str(exc):
                        raise
        client = chromadb.HttpClient(host=parsed.hostname, port=parsed.port, ssl=ssl, settings=settings(),
                                     database=database)
        client.heartbeat()
    except Exception as exc:  # noqa: BLE001 - connection refused, timeout, a proxy's HTML: all one answer
        raise ChromaServerError(
            f"MIANSHI_CHROMA_URL={url}: no usable Chroma server there ({type(exc).__name__}: {exc}); "
            "start one with `chroma run --path DIR --host HOST --port PORT`") from exc
    return client


def connector(path: Path, url: str | None = None) -> Callable[[], Any]:
    """How to open the client: the Chroma server at url when one is set, else the store on disk at path."""
    if url:
        return lambda: open_http_client(url)
    return lambda: open_client(path)


class ChromaStore:
    """One collection of card vectors, on disk or on a Chroma server. The client opens on first use.

    On a server (shared=True) several replicas use the collection at once, so a rebuild replaces
    the corpus's vectors in place instead of dropping the collection under the other readers, and
    keeps the vectors of the cards people added."""

    def __init__(self, path: Path, embedder: Embedder, name: str = COLLECTION, url: str | None = None):
        self.path = path
        self.url = url
        self.shared = url is not None
        self._connect = connector(path, url)
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
                    self._client = self._client or self._connect()
                    col = self._create(self._client, exist_ok=True)
                    self._count = col.count()
                    self._collection = col
        return self._collection

    def replace(self, ids: list[str], documents: list[str], metadatas: list[dict], embeddings: np.ndarray,
                progress=None) -> None:
        """Drop the collection and write these records (embeddings precomputed by the caller)."""
        with self._lock:
            client = self._client or self._connect()
            self._client = client
            if self.shared:
                self._replace_in_place(client, ids, documents, metadatas, embeddings, progress)
                return
            try:
                client.delete_collection(self.name)
            except Exception:  # noqa: BLE001 - absent on first build; chroma's error type varies by version
                pass
            col = self._create(client)
            self._write_batches(col.add, ids, documents, metadatas, embeddings, progress)
            self._count = col.count()
            self._collection = col

    def _replace_in_place(self, client, ids, documents, metadatas, embeddings, progress) -> None:
        """The server's rebuild: delete the corpus's vectors (owner "") and add the new ones. The
        collection is recreated only when it was embedded another way (another model)."""
        col = self._create(client, exist_ok=True)
        ef = (col.configuration or {}).get("embedding_function")
        if not isinstance(ef, MianshiEmbeddingFunction) or ef.get_config() != self._ef.get_config():
            client.delete_collection(self.name)
            col = self._create(client)
        col.delete(where={"owner": ""})
        self._write_batches(col.upsert, ids, documents, metadatas, embeddings, progress)
        self._count = col.count()
        self._collection = col

    def _create(self, client, exist_ok: bool = False):
        """Our collection: our embedding function, cosine distance."""
        make = client.get_or_create_collection if exist_ok else client.create_collection
        return make(self.name, embedding_function=self._ef, configuration={"hnsw": {"space": "cosine"}})

    @staticmethod
    def _write_batches(write, ids, documents, metadatas, embeddings, progress) -> None:
        """`write` (a collection's add or upsert) in batches Chroma accepts, reporting progress."""
        for start in range(0, len(ids), ADD_BATCH):
            end = start + ADD_BATCH
            write(ids=ids[start:end], documents=documents[start:end], metadatas=metadatas[start:end],
                  embeddings=embeddings[start:end])
            if progress is not None:
                progress(min(end, len(ids)) - start)

    def client(self):
        """The open client (opened now if need be): the bank's shared index reads and writes through it."""
        with self._lock:
            self._client = self._client or self._connect()
            return self._client

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
