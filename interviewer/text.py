"""Text rules shared by the bank, the interviewer and the grader: one copy of each.

- Segmentation: text is split into runs of CJK ideographs and latin words/numbers; CJK runs are
  cut into words by jieba. Every tokeniser below is a view of that one split:
  `words` (grading: content words, crude English stems), `raw_words` (all words, for structure
  and negation checks), `search_tokens` (BM25: jieba's search mode, technical terms kept whole)
  and `bigrams` (character bigrams plus latin terms: a cheap coverage check with no dictionary).
- `is_dont_know`: the one "I don't know" rule. The engine uses it to skip follow-ups, the grader
  to score 0 with the reason "does not know": both must agree, or "不懂" would get a follow-up
  and then a zero.
- `coverage` / `missing_points`: how much of a key point an answer touches, lexically.
"""

from __future__ import annotations

import functools
import re
import unicodedata

CJK_CHAR = re.compile(r"[\u4e00-\u9fff]")
CJK_RUN = re.compile(r"[\u4e00-\u9fff]+")
# A CJK run, a latin word (C++ and C# keep their marks), or a number.
_RUN = re.compile(r"[\u4e00-\u9fff]+|[A-Za-z][A-Za-z0-9]*[+#]*|\d+(?:\.\d+)?")
_LATIN = re.compile(r"[A-Za-z][A-Za-z0-9_+\-.]*|\d+")
_LATIN_WORD = re.compile(r"[A-Za-z0-9]+")

ZH_STOP = frozenset(
    "的 了 是 在 和 与 及 或 等 也 都 就 而 则 但 对 将 把 被 为 从 到 中 上 下 这 那 它 其 之 一 个 种 些 "
    "可 能 会 要 有 没 不 很 更 最 又 还 并 即 如 若 以 于 由 所 着 过 得 地 吗 呢 吧 啊 我 你 他 她 们 "
    "我们 你们 他们 这个 那个 这些 那些 一个 一种 可以 能够 需要 进行 通过 因为 所以 如果 但是 而且 或者 "
    "以及 然后 就是 还是 比如 例如 其中 这样 那样 什么 怎么 为什么 如何 哪些 是否 时候 的话 来说 "
    "一些 一般 主要 具有 使用 利用 作用 问题 方面 方法 情况 之间 时间 可能 不能 不会 没有 之后 之前 "
    "简述 说明 请 解释 判断 叙述 正确 答".split())
EN_STOP = frozenset(
    "a an the and or but if then else of to in on at by for with from as is are was were be been being "
    "it its this that these those there here which who whom whose what when where why how can could "
    "should would will shall may might must do does did done not no nor so such than too very also "
    "i you he she we they me him her us them my your our their his have has had having into onto over "
    "under about between through during before after above below up down out off again further once "
    "all any both each few more most other some same only own just because while until one two "
    "e g eg i e ie etc use used using state name explain describe give list".split())

# Function words and question filler that carry no topic in a search ("什么是 X" vs "X 是什么").
SEARCH_STOPWORDS = frozenset("""
的 了 是 在 和 与 及 或 吗 呢 吧 啊 么 嘛 什么 怎么 怎么样 怎样 如何 为什么 为何 哪些 哪个 那么 一个 一下 一些
这个 那个 这些 那些 可以 能 会 要 有 没有 对 把 被 让 给 从 到 用 于 中 上 下 时 时候 里 之 其 并 也 都 就 还 又
请 说说 讲讲 谈谈 介绍 一 下 吗 你 我 他 她 它 我们 你们 他们 问 问题 理解 区别 差别 不同 作用 关系 原理 方法
the a an of to in on for and or is are was were be what why how which does do with by as at it its this that
vs versus between difference explain
""".split())
_SEARCH_KEEP = re.compile(r"[0-9a-z\u4e00-\u9fff]")
_ASCII_TERM = re.compile(r"[a-z0-9][a-z0-9_\-.+#]*[a-z0-9+#]|[a-z0-9]")

# Bigrams too common to say anything about a key point.
_STOP_BIGRAMS = frozenset({"的是", "是一", "一个", "可以", "我们", "进行", "通过", "就是", "这个", "什么", "以及",
                           "因为", "所以", "如果", "然后", "使用", "需要", "没有", "不是", "他们", "它们"})

_DONT_KNOW = re.compile(
    r"^\W*(?:(?:这个|这道题|这题|这块|这里)?我?(?:也)?(?:真的)?"
    r"(?:不知道|不清楚|不太清楚|不会|不了解|不懂|忘了|没学过|没了解过|没听说过|没接触过|答不上来?|没印象)"
    r"|(?:i\s+)?(?:really\s+)?(?:don'?t|do\s+not)\s+know|no\s+idea|not\s+sure|i\s+forgot|no\s+submission"
    r"|pass|skip|跳过|略)\W*$",
    re.IGNORECASE,
)


@functools.cache  # setLogLevel clears logging's caches: once per process, not per tokenised text
def load_jieba():
    import logging

    import jieba

    # jieba logs its dictionary loading at DEBUG/INFO on stderr; the CLI's output must stay clean.
    jieba.setLogLevel(logging.WARNING)
    return jieba


def has_cjk(text: str) -> bool:
    return bool(CJK_CHAR.search(text))


def is_dont_know(text: str) -> bool:
    """'不知道', '不懂', "I don't know" and their variants, alone: an answer no follow-up can rescue."""
    return bool(_DONT_KNOW.match(text))


def _stem(word: str) -> str:
    # A crude suffix stripper: enough to match "queues"/"queued"/"queue" without a stemmer package.
    if len(word) > 4:
        if word.endswith("ies"):
            word = word[:-3] + "y"
        elif word.endswith("sses"):
            word = word[:-2]
        elif word.endswith("s") and not word.endswith("ss"):
            word = word[:-1]
    for suffix in ("ing", "ed", "ly"):
        if len(word) - len(suffix) >= 4 and word.endswith(suffix):
            word = word[: -len(suffix)]
            break
    if len(word) > 3 and word.endswith("e"):
        word = word[:-1]
    return word


def _runs(text: str):
    """(is_cjk, run) over the text, lower-cased: the one split every tokeniser starts from."""
    for m in _RUN.finditer(text.lower()):
        run = m.group(0)
        yield bool(CJK_CHAR.match(run)), run


def words(text: str, keep_stop: bool = False) -> list[str]:
    """Content words: jieba words for Chinese runs, lower-cased crude stems for latin words."""
    jieba = load_jieba()
    out: list[str] = []
    for cjk, run in _runs(text):
        if cjk:
            out.extend(w for w in jieba.lcut(run, HMM=False) if keep_stop or w not in ZH_STOP)
        elif keep_stop or run not in EN_STOP:
            out.append(_stem(run))
    return out


def raw_words(text: str) -> list[str]:
    """All words (function words kept, no stemming): for structure and negation checks."""
    jieba = load_jieba()
    out: list[str] = []
    for cjk, run in _runs(text):
        if cjk:
            out.extend(jieba.lcut(run, HMM=False))
        else:
            out.append(run)
    return out


def search_tokens(text: str) -> list[str]:
    """Search tokens: jieba's search-mode words for Chinese, whole lowercase terms for English.

    English technical terms are kept whole ("kv", "cache", "fp16"); a hyphenated term that reaches
    here whole also yields its parts, so "p tuning" and "p-tuning" meet.
    """
    text = unicodedata.normalize("NFKC", text).lower()
    tokens: list[str] = []
    for word in load_jieba().lcut_for_search(text):
        word = word.strip()
        if not word:
            continue
        if word.isascii():
            for term in _ASCII_TERM.findall(word):
                if term not in SEARCH_STOPWORDS:
                    tokens.append(term)
                    if "-" in term:
                        tokens += [p for p in term.split("-") if p and p not in SEARCH_STOPWORDS]
        elif _SEARCH_KEEP.search(word) and word not in SEARCH_STOPWORDS:
            tokens.append(word)
    return tokens


def char_bigrams(text: str) -> set[str]:
    """The CJK character bigrams of a text."""
    grams: set[str] = set()
    for run in CJK_RUN.findall(text):
        grams.update(run[i:i + 2] for i in range(len(run) - 1))
    return grams


def bigrams(text: str) -> set[str]:
    """CJK character bigrams (a lone character counts alone) plus lower-cased latin terms, minus
    bigrams too common to mean anything. Needs no dictionary, so it is cheap on every answer."""
    out: set[str] = set()
    for run in CJK_RUN.findall(text):
        out.update(run[i:i + 2] for i in range(len(run) - 1))
        if len(run) == 1:
            out.add(run)
    out.update(w.lower() for w in _LATIN.findall(text) if len(w) > 1 or w.isdigit())
    return out - _STOP_BIGRAMS


def text_units(text: str, latin_weight: int = 1) -> int:
    """Length in comparable units: a CJK character counts 1, a latin word `latin_weight`."""
    return len(CJK_CHAR.findall(text)) + latin_weight * len(_LATIN_WORD.findall(text))


def coverage(point: str, answer: str) -> float:
    """Share of the point's bigrams and latin terms that appear in the answer (0..1)."""
    want = bigrams(point)
    if not want:
        return 1.0
    return len(want & bigrams(answer)) / len(want)


def missing_points(key_points: list[str], answers: list[str], threshold: float = 0.5) -> list[str]:
    """Key points the answers barely touch, least covered first (stable for equal coverage)."""
    joined = "\n".join(answers)
    scored = [(coverage(p, joined), i, p) for i, p in enumerate(key_points)]
    return [p for c, _, p in sorted(scored) if c < threshold]
