"""BM25 over jieba tokens, with an inverted index so a query touches only the postings of its terms.

rank_bm25.BM25Okapi.get_scores loops over every document for every query term in Python; at
10,000 cards that is tens of milliseconds per query. The inverted index below scores the same
Okapi formula (same k1, b and idf floor as rank_bm25) with numpy over the postings only.
"""

from __future__ import annotations

import functools
import math
import re
import unicodedata
from collections import Counter

import numpy as np

# Function words and question filler that carry no topic ("什么是 X" vs "X 是什么").
STOPWORDS = frozenset("""
的 了 是 在 和 与 及 或 吗 呢 吧 啊 么 嘛 什么 怎么 怎么样 怎样 如何 为什么 为何 哪些 哪个 那么 一个 一下 一些
这个 那个 这些 那些 可以 能 会 要 有 没有 对 把 被 让 给 从 到 用 于 中 上 下 时 时候 里 之 其 并 也 都 就 还 又
请 说说 讲讲 谈谈 介绍 一 下 吗 你 我 他 她 它 我们 你们 他们 问 问题 理解 区别 差别 不同 作用 关系 原理 方法
the a an of to in on for and or is are was were be what why how which does do with by as at it its this that
vs versus between difference explain
""".split())
# Everything that is not a letter, digit or CJK ideograph is punctuation/symbol to a tokeniser.
_KEEP = re.compile(r"[0-9a-z\u4e00-\u9fff]")
_ASCII_TERM = re.compile(r"[a-z0-9][a-z0-9_\-.+#]*[a-z0-9+#]|[a-z0-9]")


@functools.cache  # setLogLevel clears logging's caches: once per process, not per tokenised text
def load_jieba():
    import logging

    import jieba

    # jieba logs its dictionary loading at DEBUG/INFO on stderr; the CLI's output must stay clean.
    jieba.setLogLevel(logging.WARNING)
    return jieba


def tokenize(text: str) -> list[str]:
    """Search tokens: jieba's search-mode words for Chinese, whole lowercase terms for English.

    English technical terms are kept whole ("kv", "cache", "p-tuning", "fp16"); a hyphenated term
    also yields its parts so "p tuning" and "p-tuning" meet.
    """
    text = unicodedata.normalize("NFKC", text).lower()
    tokens: list[str] = []
    for word in load_jieba().lcut_for_search(text):
        word = word.strip()
        if not word:
            continue
        if word.isascii():
            for term in _ASCII_TERM.findall(word):
                if term not in STOPWORDS:
                    tokens.append(term)
                    if "-" in term:
                        tokens += [p for p in term.split("-") if p and p not in STOPWORDS]
        elif _KEEP.search(word) and word not in STOPWORDS:
            tokens.append(word)
    return tokens


class BM25Index:
    """Okapi BM25 over pre-tokenised documents. Immutable after construction (safe to share)."""

    def __init__(self, docs_tokens: list[list[str]], k1: float = 1.5, b: float = 0.75, epsilon: float = 0.25):
        self.n = len(docs_tokens)
        lengths = np.array([len(d) for d in docs_tokens], dtype=np.float32)
        avgdl = float(lengths.mean()) if self.n else 0.0
        postings: dict[str, tuple[list[int], list[int]]] = {}
        for i, doc in enumerate(docs_tokens):
            for term, tf in Counter(doc).items():
                ids, tfs = postings.setdefault(term, ([], []))
                ids.append(i)
                tfs.append(tf)
        # idf as in rank_bm25.BM25Okapi: negative idfs are floored at epsilon * mean idf.
        idf = {t: math.log(self.n - len(ids) + 0.5) - math.log(len(ids) + 0.5) for t, (ids, _) in postings.items()}
        mean_idf = sum(idf.values()) / len(idf) if idf else 0.0
        floor = epsilon * mean_idf
        norm = k1 * (1 - b + b * lengths / avgdl) if self.n else lengths
        self._postings: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for term, (ids, tfs) in postings.items():
            ids_a = np.asarray(ids, dtype=np.int32)
            tf_a = np.asarray(tfs, dtype=np.float32)
            w = idf[term] if idf[term] >= 0 else floor
            # Precompute the whole per-posting contribution: a query is then a sum of gathers.
            self._postings[term] = (ids_a, (w * tf_a * (k1 + 1) / (tf_a + norm[ids_a])).astype(np.float32))

    def scores(self, query_tokens: list[str]) -> np.ndarray:
        out = np.zeros(self.n, dtype=np.float32)
        for term in query_tokens:
            hit = self._postings.get(term)
            if hit is not None:
                # Posting ids are unique within a term, so fancy-index += is exact.
                out[hit[0]] += hit[1]
        return out

    def top(self, query_tokens: list[str], k: int) -> list[tuple[int, float]]:
        """(doc index, score) of the best k documents with a positive score, best first."""
        s = self.scores(query_tokens)
        nz = np.flatnonzero(s > 0)
        if nz.size == 0:
            return []
        if nz.size > k:
            nz = nz[np.argpartition(-s[nz], k - 1)[:k]]
        order = nz[np.argsort(-s[nz], kind="stable")]
        return [(int(i), float(s[i])) for i in order]

