"""Wrong statements caught against the card's own truth, with nothing recorded about them (issue 12).

The card's *truth* is every text it holds that states what is right: its key points, its model
answers (zh and en) and its misconceptions' `why`. Without a model, the grader can still see an
answer clause that says the opposite of a truth clause about the same thing, in four ways that need
no hand-written misconception:

1. **Antonym flip.** An answer clause uses a term whose antonym a truth clause uses for the same
   subject ("温度越高越确定" against "温度越低越确定", "decreases the base" against "increases the base"),
   and no truth clause about that subject uses the answer's term. The lexicon (`ANTONYMS`) is generic
   language knowledge: directions, orders, modes (增加/减少, 之前/之后, 同步/异步, 节点内/跨节点, ...).
2. **Swapped attributes.** Sibling names (named alike: Pre-Norm/Post-Norm, cross-encoder/bi-encoder,
   TP/PP, Stage 2/Stage 3) each get the words the truth says of them. An answer clause about one
   sibling that carries at least two words the truth says only of another sibling, and none of its
   own, ties the sibling to the other's attribute (the generic version of a card's `facts`).
3. **Expansions.** An acronym spelled out (the words' initials spell it: "DPO = Deep Policy
   Optimization") differently from how the truth spells it out.
4. **Years and stated limits.** A year, or a number said as a default/maximum ("默认 16 层"), that the
   truth gives differently for the same unit and subject.

"Same subject" always means: both clauses name the same single thing (a latin name, as the cards'
names are), or, when neither names one, they share at least two informative words besides the
flipped terms. A clause negated differently from the truth clause is left alone (the negation rule
in features.py owns that), and so is any answer clause the truth itself says (`supported`). All of it
is conservative on purpose: a false "wrong" tells a candidate that the truth is wrong.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from interviewer.grading import features as F
from interviewer.text import _stem

# Generic antonym pairs (language knowledge, not taken from any answer set). Each pair is symmetric.
_ANTONYMS_ZH = [
    ("增加", "减少"), ("增大", "减小"), ("变大", "变小"), ("调大", "调小"), ("调高", "调低"), ("升高", "降低"),
    ("提高", "降低"), ("放大", "缩小"), ("扩大", "缩小"), ("越高", "越低"), ("越大", "越小"), ("越多", "越少"),
    ("越快", "越慢"), ("越强", "越弱"), ("越长", "越短"), ("更高", "更低"), ("更大", "更小"), ("更多", "更少"),
    ("更快", "更慢"), ("更强", "更弱"), ("更长", "更短"), ("最高", "最低"), ("最大", "最小"), ("最多", "最少"),
    ("最早", "最晚"), ("上溢", "下溢"), ("上界", "下界"), ("上限", "下限"), ("升序", "降序"), ("之前", "之后"),
    ("事前", "事后"), ("先于", "晚于"), ("同步", "异步"), ("串行", "并行"), ("顺序执行", "并行执行"),
    ("有状态", "无状态"), ("静态", "动态"), ("显式", "隐式"), ("稀疏", "稠密"), ("离线", "在线"),
    ("可变", "不可变"), ("水平", "垂直"), ("横向", "纵向"), ("节点内", "跨节点"), ("机内", "跨机"),
    ("单进程", "多进程"), ("单线程", "多线程"), ("全量", "增量"), ("浅拷贝", "深拷贝"), ("有偏", "无偏"),
    ("有损", "无损"), ("阻塞", "非阻塞"), ("乐观", "悲观"), ("强一致", "最终一致"), ("可靠", "不可靠"),
    ("面向连接", "无连接"), ("长连接", "短连接"), ("冻结", "更新"), ("只读", "可写"), ("线性", "非线性"),
    ("确定性", "随机性"), ("上采样", "下采样"), ("过拟合", "欠拟合"), ("高方差", "低方差"), ("高偏差", "低偏差"),
    ("左连接", "右连接"), ("入栈", "出栈"), ("前缀", "后缀"), ("大端", "小端"), ("下降", "上升"),
]
_ANTONYMS_EN = [
    ("increase", "decrease"), ("increases", "decreases"), ("increased", "decreased"), ("increasing", "decreasing"),
    ("raise", "lower"), ("raises", "lowers"), ("larger", "smaller"), ("bigger", "smaller"), ("higher", "lower"),
    ("more", "fewer"), ("faster", "slower"), ("longer", "shorter"), ("stronger", "weaker"),
    ("maximum", "minimum"), ("max", "min"), ("largest", "smallest"), ("highest", "lowest"), ("most", "least"),
    ("overflow", "underflow"), ("upper", "lower"), ("ascending", "descending"), ("before", "after"),
    ("earlier", "later"), ("synchronous", "asynchronous"), ("sync", "async"), ("serial", "parallel"),
    ("sequential", "parallel"), ("sequentially", "in parallel"), ("stateful", "stateless"),
    ("static", "dynamic"), ("statically", "dynamically"), ("explicit", "implicit"), ("sparse", "dense"),
    ("online", "offline"), ("mutable", "immutable"), ("horizontal", "vertical"), ("horizontally", "vertically"),
    ("within a node", "across nodes"), ("inside a node", "across nodes"), ("intra-node", "inter-node"),
    ("single process", "multiple processes"), ("single-process", "multi-process"), ("full", "incremental"),
    ("shallow", "deep"), ("biased", "unbiased"), ("lossy", "lossless"), ("blocking", "non-blocking"),
    ("optimistic", "pessimistic"), ("reliable", "unreliable"), ("connection-oriented", "connectionless"),
    ("frozen", "updated"), ("read-only", "writable"), ("linear", "nonlinear"), ("deterministic", "random"),
    ("overfitting", "underfitting"), ("well", "poorly"), ("better", "worse"), ("upsampling", "downsampling"),
    ("big-endian", "little-endian"), ("encrypted", "unencrypted"), ("grows", "shrinks"),
    ("strong", "weak"), ("high", "low"), ("large", "small"), ("fast", "slow"), ("long", "short"),
]


def _lexicon() -> dict[str, frozenset[str]]:
    out: dict[str, set[str]] = {}
    for a, b in _ANTONYMS_ZH + _ANTONYMS_EN:
        out.setdefault(a, set()).add(b)
        out.setdefault(b, set()).add(a)
    return {k: frozenset(v) for k, v in out.items()}


ANTONYMS = _lexicon()
# Terms of one pair that contain the other ("可变" in "不可变", "可靠" in "不可靠", "更新" in "增量更新"
# is fine): the longer one is matched first and its span is not matched again.
_SORTED_TERMS = sorted(ANTONYMS, key=len, reverse=True)

# Two informative shared words make two clauses "about the same thing" when neither names a thing.
SHARED_WORDS = 2
# A swap needs at least this many words the truth says only of the other sibling.
SWAP_WORDS = 2
# Words at least this informative in general language (features._background_weight) can say what a
# clause is about; 很/进行/使用-like words cannot.
WORD_WEIGHT = 0.25

_CLAUSE = re.compile(r"[，,；;：:。！？!?（）()]|\s+-\s+|(?<=[a-z0-9])\.\s")
# A latin name, with a short number after a short word ("Stage 2", "GPT 4"; not "Anthropic 2024").
_LATIN = re.compile(r"(?<![A-Za-z0-9])[A-Za-z][A-Za-z0-9]*(?:[-_][A-Za-z0-9]+)*"
                    r"(?:(?<![A-Za-z]{7})\s?\d{1,2}(?![\d.]))?")
_YEAR = re.compile(r"(?<!\d)(19[5-9]\d|20[0-4]\d)(?!\d)")
_QUALIFIED_NUMBER = re.compile(
    r"(默认|最高|最多|最大|上限|最长|default|max(?:imum)?|at\s+most|up\s+to|limit(?:ed)?\s+to)\D{0,6}?"
    r"(\d+(?:\.\d+)?)\s*([a-z%]+|[\u4e00-\u9fff])", re.IGNORECASE)
_WORD = re.compile(r"[A-Za-z][A-Za-z-]*")
_NUMBER_UNIT = re.compile(r"(\d+(?:\.\d+)?)\s*([a-z%]+|[\u4e00-\u9fff])", re.IGNORECASE)
# Units whose numbers are facts of a thing (a default of 128 entries, at most 32 levels), not counters
# that any example can use.
_UNITS = frozenset("层 字节 位 秒 毫秒 天 年 % bytes byte bits bit kb mb gb tb ms s layers levels tokens token".split())


# The contradictions read from words (not the acronym check): alone, they only lower confidence.
GENERIC_SOURCES = ("antonym", "swap", "number")


@dataclass
class Contradiction:
    point: int
    source: str      # "antonym", "swap", "expansion" or "number"
    evidence: str    # the answer's clause
    note: str        # what the truth says instead


def _norm(text: str) -> str:
    return unicodedata.normalize("NFKC", text)


def _name_key(term: str) -> str:
    key = re.sub(r"[\s\-_]", "", term.lower())
    return key[:-1] if len(key) > 3 and key.endswith("s") and not key.endswith("ss") else key


def _is_name(term: str, in_cjk: bool) -> bool:
    """A latin term that names a thing: an acronym, a mixed-case or hyphenated or numbered term, or any
    latin word written inside Chinese text (that is how the cards write names)."""
    core = re.sub(r"\s?\d+$", "", term) or term
    if len(_name_key(term)) < 2 or core.lower() in F.EN_STOP:
        return False
    if re.search(r"\d|[-_]", term) or sum(c.isupper() for c in core) >= 2 or re.search(r"[a-z][A-Z]", core):
        return True
    return in_cjk and len(core) >= 2


def _names(clause: str, in_cjk: bool, with_pos: bool = False) -> list:
    """The names a text says, normalised (Pre-Norm -> prenorm), in order; with their surface words and
    start when `with_pos`."""
    out, seen = [], set()
    for m in _LATIN.finditer(clause):
        t = m.group(0).strip()
        if _is_name(t, in_cjk):
            k = _name_key(t)
            if k not in seen:
                seen.add(k)
                out.append((k, t, m.start()) if with_pos else k)
    return out


# Shared starts and ends that make words alike without making them one family.
_COMMON_PREFIXES = frozenset("multi inter intra trans super under over semi auto self micro macro hyper meta "
                             "non sub pre post anti".split())
_COMMON_SUFFIXES = frozenset("tion sion ment ness ance ence able ible ring ting ding ling ization ator ing er".split())


def _same_name(a: str, b: str) -> bool:
    """One thing written two ways: equal stems (cache/caching), or one the other's abbreviation, its
    letters in order starting with the same letter (ln/layernorm)."""
    if _stem(a) == _stem(b):
        return True
    short, long_ = sorted((a, b), key=len)
    if len(short) <= 4 and short[0] == long_[0]:
        it = iter(long_)
        return all(ch in it for ch in short)
    return False


def _siblings(a: str, b: str) -> bool:
    """Named alike, so one can be mistaken for the other: two names of one family, sharing a start of
    4+ letters or an end of 4+ (prenorm/postnorm, crossencoder/biencoder, stage2/stage3) that is not a
    common prefix or suffix (multi-, -tion), each with a part of its own (repetition is not a sibling of
    repetitionpenalty). Short acronyms (TP/PP, KL/RL) are not judged alike: too many unrelated ones share
    a letter."""
    if a == b or a.startswith(b) or b.startswith(a) or a.endswith(b) or b.endswith(a) or _same_name(a, b):
        return False
    pre = 0
    while pre < min(len(a), len(b)) and a[pre] == b[pre]:
        pre += 1
    suf = 0
    while suf < min(len(a), len(b)) and a[-1 - suf] == b[-1 - suf]:
        suf += 1
    return ((pre >= 4 and a[:pre] not in _COMMON_PREFIXES)
            or (suf >= 4 and a[len(a) - suf:] not in _COMMON_SUFFIXES))


_NEG_RIGHT_BEFORE = re.compile(r"(不是|不会|不能|不再|不要|不用|不必|不需要|没有|并非|并不|从不|不|没|未|非|无|"
                               r"\bnot|\bno|\bnever|n't|\bcannot)\s*(be\s+|is\s+|are\s+)?$", re.IGNORECASE)


def _negated(text: str, start: int) -> bool:
    """The term right after a negation word ("不增加", "没有减少", "does not increase")."""
    return bool(_NEG_RIGHT_BEFORE.search(text[max(0, start - 12):start]))


# Comparatives relate two things, and either side can be said ("A is faster than B" is "B is slower than
# A"): they count only between clauses about the same named thing.
_RELATIONAL = frozenset("更高 更低 更大 更小 更多 更少 更快 更慢 更强 更弱 更长 更短 "
                        "larger bigger smaller higher lower more fewer faster slower longer shorter stronger weaker "
                        "better worse earlier later".split())


def _family(term: str) -> str:
    """English comparatives and their base share a family (stronger, strongest, strong)."""
    return term[:4] if re.match(r"[a-z]{4}", term) else term


def _both_poles(terms) -> bool:
    """A clause that says both poles of a pair compares them ("a stronger signal drowns a weak one")."""
    fams = {_family(t) for t in terms}
    return any(_family(o) in fams for t in terms for o in ANTONYMS[t])


def _antonym_terms(clause: str) -> list[str]:
    """The lexicon terms a clause asserts (longest first; a directly negated term is not asserted)."""
    low = clause.lower()
    taken = [False] * len(low)
    found = []
    for term in _SORTED_TERMS:
        pat = _term_pattern(term)
        for m in pat.finditer(low):
            if any(taken[m.start():m.end()]):
                continue
            for i in range(m.start(), m.end()):
                taken[i] = True
            if not _negated(low, m.start()) and term not in found:
                found.append(term)
    return found


@lru_cache(maxsize=512)
def _term_pattern(term: str) -> re.Pattern:
    body = re.escape(term).replace(r"\ ", r"\s+").replace(r"\-", r"[-\s]?")
    if re.match(r"[a-z]", term):
        body = r"(?<![a-z])" + body + r"(?![a-z])"
    return re.compile(body)


@dataclass
class _Clause:
    text: str
    cjk: bool
    names: tuple[str, ...]   # names said in it, or those of the clause before; the first is its subject
    words: frozenset[str]    # informative words, names' own words and question words removed
    terms: tuple[str, ...]   # antonym-lexicon terms it asserts
    parity: int              # negation parity
    point: int = -1          # the key point it belongs to (truth clauses of key points)


def _clauses(text: str, tok, q_tok, point: int = -1) -> list[_Clause]:
    """Clauses of a text. A clause's subject (its first name) is a name it opens with; otherwise the
    subject of the sentence so far (Chinese states the topic once, then its comments clause by clause)."""
    out = []
    for sentence in F.split_sentences(_norm(text)):
        topic = ""
        pos_in = 0
        for raw in _CLAUSE.split(sentence):
            at = sentence.find(raw, pos_in) if raw else -1
            aside = at > 0 and sentence[at - 1] in "（("  # a parenthesis names an aside, not a new topic
            pos_in = at + len(raw) if at >= 0 else pos_in
            if not raw or not re.search(r"\w", raw):
                continue
            cjk = F.has_cjk(raw)
            found = _names(raw, cjk, with_pos=True)
            opens = [k for k, _, pos in found if pos - (len(raw) - len(raw.lstrip())) <= 2]
            if opens and not aside:
                topic = opens[0]
            elif found and not topic:
                topic = found[0][0]
            names = tuple(dict.fromkeys(([topic] if topic else []) + [k for k, _, _ in found]))
            name_words = frozenset(t for _, surface, _ in found for t in tok(surface)) | frozenset(
                t for n in names for t in tok(n))
            words = frozenset(t for t in tok(raw) if t not in q_tok and t not in name_words
                              and not (len(t) == 1 and F.has_cjk(t)) and F._background_weight(t) >= WORD_WEIGHT
                              and not any(ch.isdigit() for ch in t) and len(t) > 1)
            out.append(_Clause(raw.strip(), cjk, names, words, tuple(_antonym_terms(raw)),
                               _parity(raw), point))
    return out


def _same_subject(a: _Clause, b: _Clause, exclude: frozenset[str] = frozenset()) -> bool:
    """Both clauses are about one thing: the same first name and a shared word (the attribute), or,
    when they do not both name something, SHARED_WORDS shared words."""
    shared = len((a.words & b.words) - exclude)
    if a.names and b.names:
        # another name both say counts as a shared word ("防止梯度上溢成 inf" / "解决下溢，遇 inf 跳过")
        return a.names[0] == b.names[0] and shared + len(set(a.names[1:]) & set(b.names[1:])) >= 1
    return shared >= SHARED_WORDS


def _point_of(clause: _Clause, points_tok: list[frozenset[str]], extra: frozenset[str] = frozenset()) -> int:
    if clause.point >= 0:
        return clause.point
    want = clause.words | extra | frozenset(clause.names)
    best, best_n = -1, 0
    for i, pt in enumerate(points_tok):
        n = len(want & pt)
        if n > best_n:
            best, best_n = i, n
    return best


# --------------------------------------------------------------------------- expansions

def _expansions(text: str) -> dict[str, set[str]]:
    """acronym -> how the text spells it out (the next words whose initials spell it)."""
    out: dict[str, set[str]] = {}
    for m in re.finditer(r"(?<![A-Za-z])([A-Z]{2,6})(?![A-Za-z])", text):
        acro = m.group(1)
        window = text[m.end():m.end() + 80]
        words = _WORD.findall(window)
        for start in range(0, min(4, len(words))):
            run = words[start:start + len(acro)]
            if len(run) == len(acro) and all(w[0].lower() == c.lower() for w, c in zip(run, acro)) \
                    and any(w[0].isupper() for w in run):
                out.setdefault(acro, set()).add(" ".join(_name_key(w).rstrip("s") for w in run))
                break
    return out


# --------------------------------------------------------------------------- the checks

def _parity(text: str) -> int:
    return F._negations(F.stated_words(text)) % 2


def supported(text: str, truth: list[tuple[frozenset[str], int]], tok) -> bool:
    """The truth itself says this: all its words are in one truth clause negated alike."""
    words = frozenset(t for t in tok(text) if not (len(t) == 1 and F.has_cjk(t)))
    if len(words) < 2:
        return False
    parity = _parity(text)
    return any(words <= w and p == parity for w, p in truth)


class TruthChecker:
    """The card's truth, split and indexed once per card (card_checks caches it); read-only afterwards."""

    def __init__(self, points: list[str], truth: list[str], question: str = "", tok=None):
        self.tok = tok or (lambda t: frozenset(F.tokens(t)))
        self.q_tok = self.tok(question) if question else frozenset()
        self.points_tok = [self.tok(p) for p in points]
        self.points_names = [set(_names(_norm(p), F.has_cjk(p))) for p in points]
        self.clauses: list[_Clause] = []
        for i, p in enumerate(points):
            self.clauses += _clauses(p, self.tok, self.q_tok, point=i)
        for t in truth:
            if t and t.strip():
                self.clauses += _clauses(t, self.tok, self.q_tok)
        # What the truth says, clause by clause, for `supported`. Not whole sentences: a sentence that
        # swaps two of a long truth sentence's terms still uses only its words.
        self.said_as: list[tuple[frozenset[str], int]] = [(frozenset(self.tok(c.text)), c.parity)
                                                          for c in self.clauses]
        self.expansions: dict[str, set[str]] = {}
        for t in list(points) + list(truth):
            for k, v in _expansions(_norm(t)).items():
                self.expansions.setdefault(k, set()).update(v)
        # name -> the informative words the truth says of it (in clauses naming it alone)
        self.said: dict[tuple[str, bool], set[str]] = {}
        for c in self.clauses:
            if c.names and not c.parity:  # what a negated clause says is not said of the name
                self.said.setdefault((c.names[0], c.cjk), set()).update(c.words)
        self.years = {y for c in self.clauses for y in _YEAR.findall(c.text)}
        # name -> the names the truth says in one sentence with it
        # name -> the names the truth says in one clause with it (a clause's topic included: "Post-Norm:
        # ..., 原始 Transformer 使用" ties the original Transformer to Post-Norm)
        self.pairs: dict[tuple[str, bool], set[str]] = {}
        for c in self.clauses:
            for x in c.names:
                self.pairs.setdefault((x, c.cjk), set()).update(set(c.names) - {x})

    def is_supported(self, clause: str) -> bool:
        return supported(_norm(clause), self.said_as, self.tok)

    # ---------------------------------------------------------------- rules

    def _antonym(self, c: _Clause) -> Contradiction | None:
        if not c.terms or _both_poles(c.terms):
            return None
        lex = frozenset(t for term in c.terms for t in self.tok(term))
        for term in c.terms:
            if term in _RELATIONAL and not c.names:
                continue
            opposite = ANTONYMS[term]
            same = [t for t in self.clauses if t.cjk == c.cjk and _same_subject(c, t, lex)]
            if not same or any(term in t.terms for t in same):
                continue  # the truth says this term of the subject too
            for t in same:
                hit = opposite & set(t.terms)
                if hit and t.parity == c.parity and not (set(c.terms) & hit):
                    point = _point_of(t, self.points_tok, c.words)
                    if point >= 0:
                        return Contradiction(point, "antonym", c.text,
                                             f"{term} ↔ {'/'.join(sorted(hit))}: {t.text[:80]}")
        return None

    def _swap(self, c: _Clause) -> Contradiction | None:
        if not c.names or c.parity:
            return None
        own = self.said.get((c.names[0], c.cjk))
        if own is None:
            return None
        for (other, cjk), theirs in self.said.items():
            if cjk != c.cjk or not _siblings(c.names[0], other) or other in c.names:
                continue
            only_theirs = (c.words & theirs) - own
            only_own = (c.words & own) - theirs
            if len(only_theirs) >= SWAP_WORDS and not only_own:
                # The wrong statement is about this sibling: mark the point that talks about it.
                pts = [i for i, names in enumerate(self.points_names) if c.names[0] in names]
                point = _point_of(_Clause(c.text, c.cjk, c.names, c.words | only_theirs, (), 0),
                                  self.points_tok)
                point = pts[0] if pts and point not in pts else point
                if point >= 0:
                    return Contradiction(point, "swap", c.text,
                                         f"{c.names[0]} ≠ {'/'.join(sorted(only_theirs)[:3])} ({other})")
        return None

    def _number(self, c: _Clause) -> Contradiction | None:
        years = set(_YEAR.findall(c.text))
        if years and self.years and not (years & self.years):
            for t in self.clauses:
                ty = set(_YEAR.findall(t.text))
                if ty and t.cjk == c.cjk and (set(c.names) & set(t.names) or len(c.words & t.words) >= 1):
                    point = _point_of(t, self.points_tok)
                    if point >= 0:
                        return Contradiction(point, "number", c.text, f"{'/'.join(sorted(years))} ≠ "
                                             f"{'/'.join(sorted(ty))}: {t.text[:80]}")
        for m in _QUALIFIED_NUMBER.finditer(c.text):
            value, unit = m.group(2), m.group(3).lower()
            if unit not in _UNITS:
                continue
            told = {v for t in self.clauses if t.cjk == c.cjk
                    for v, u in _NUMBER_UNIT.findall(t.text) if u.lower() == unit}
            limits = [t for t in self.clauses if t.cjk == c.cjk and any(
                tm.group(3).lower() == unit for tm in _QUALIFIED_NUMBER.finditer(t.text))]
            if limits and told and value not in told:
                t = limits[0]
                point = _point_of(t, self.points_tok)
                if point >= 0:
                    return Contradiction(point, "number", c.text,
                                         f"{value}{unit} ≠ {'/'.join(sorted(told))}{unit}: {t.text[:80]}")
        return None

    def _pairs(self, sentence: str) -> Contradiction | None:
        """A clause ties name x to name y where the truth ties x only to y's sibling y2, and the clause
        names no sibling of y that the truth ties to x: "原始 Transformer 就是 Pre-Norm" when the truth
        says the original Transformer used Post-Norm."""
        if _parity(sentence):
            return None
        cjk = F.has_cjk(sentence)
        for clause in re.split(r"[、/]|\band\b|\bor\b", sentence):
            names = set(_names(clause, cjk))
            if len(names) < 2:
                continue
            for x in sorted(names):
                partners = self.pairs.get((x, cjk), set())
                if not partners:
                    continue
                for y in sorted(names - {x}):
                    if y in partners or _siblings(x, y) or _same_name(x, y) or (y, cjk) not in self.pairs:
                        continue
                    right = sorted(y2 for y2 in partners if _siblings(y, y2))
                    if not right or any(y2 in names for y2 in right):
                        continue
                    pts = [i for i, pn in enumerate(self.points_names) if x in pn and right[0] in pn] or \
                          [i for i, pn in enumerate(self.points_names) if x in pn]
                    if pts:
                        return Contradiction(pts[0], "swap", sentence.strip()[:300], f"{x} ↔ {right[0]}, not {y}")
        return None

    def check(self, sentences: list[str]) -> list[Contradiction]:
        found: list[Contradiction] = []
        answer_text = _norm(" ".join(sentences))
        for acro, spelled in _expansions(answer_text).items():
            truth = self.expansions.get(acro)
            if truth and not (spelled & truth):
                point = next((i for i, pt in enumerate(self.points_tok) if acro.lower() in pt), -1)
                if point < 0:
                    point = next((i for i, p in enumerate(self.points_tok) if any(
                        w in p for w in " ".join(truth).split())), -1)
                if point >= 0:
                    found.append(Contradiction(point, "expansion", acro,
                                               f"{acro} = {sorted(truth)[0]}, not {sorted(spelled)[0]}"))
        for s in sentences:
            for part in _CLAUSE.split(_norm(s)):
                if part and re.search(r"\w", part) and not self.is_supported(part):
                    hit = self._pairs(part)
                    if hit:
                        hit.evidence = s.strip()[:300]
                        found.append(hit)
            for c in _clauses(s, self.tok, self.q_tok):
                if self.is_supported(c.text):
                    continue
                hit = self._swap(c) or self._antonym(c) or self._number(c)
                if hit:
                    hit.evidence = s.strip()[:300] if len(c.text) < 12 else c.text[:300]
                    found.append(hit)
        return found
