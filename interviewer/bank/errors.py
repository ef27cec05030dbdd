"""Why the bank cannot open, in one line (kept apart so the CLI can catch them without importing Chroma)."""

from __future__ import annotations


class ChromaServerError(RuntimeError):
    """The Chroma server of MIANSHI_CHROMA_URL cannot be used (the message names the variable)."""


class IndexMismatchError(ChromaServerError):
    """The server holds an index built from another corpus, extractor, embedder or index version."""
