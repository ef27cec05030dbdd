"""Catching confident wrong answers without a model: what a card knows about its wrong answers.

Three checks, each tied to one key point, each conservative (a false "wrong" on a correct answer is
worse than a missed one, because the candidate is told the truth is wrong):

1. **Facts** (card field `facts`, see interviewer/models.py): {point, subject[], holds[], not[]}. In
   the stretch of an answer sentence that talks about the subject (its clause and the clauses after it,
   up to the next subject), a `not` term without any `holds` term means the facts were swapped
   ("Stage 2 切分参数" when stage 2 shards gradients). A `holds` term there is support.
2. **Misconceptions** (card field `misconceptions`): {claim, claim_en, point, why}. An answer unit that
   is close in words *and* meaning to the claim, closer in meaning to the claim than to the truth
   (`why` and the key point), and carries the claim's own words (those not in the truth), states it.
3. **Inversion cues** (no card content needed): the clause that carries a key point's words also
   carries a negation or inversion cue (不是/并非/相反/而不是, not/instead of/rather than) that the point
   does not. This cannot tell a correct contrast ("用 reduce-scatter 而不是 all-reduce") from an
   inverted fact, so it only lowers confidence ("doubt"), never marks a point wrong.

Everything is plain string matching plus the sentence vectors the grader already computes.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from interviewer.grading import features as F
from interviewer.grading.contradictions import GENERIC_SOURCES, TruthChecker

# A misconception is stated when an answer unit is at least this close to its claim ...
CLAIM_SIM = 0.62
# ... closer to the claim than to the truth by this margin ...
CLAIM_MARGIN = 0.02
# ... and contains this share of the claim's content words.
CLAIM_WORDS = 0.5

_NEG_BEFORE = re.compile(r"(不是|并非|而非|不|没有|没|未|无|非|not|no|never|instead\s+of|rather\s+than|n't)\s*$")
_INVERSION = re.compile(r"不是|并非|而非|相反|反而|而不是|并不|\bnot\b|n't\b|instead\s+of|rather\s+than|opposite|"
                        r"contrary", re.IGNORECASE)
_CLAUSE_SPLIT = re.compile(r"[，,；;：:（）()、]|\s+-\s+")


@dataclass
class PointFlag:
    point: int
    status: str          # "wrong" or "doubt"
    source: str          # "fact", "misconception" or "inversion"
    evidence: str        # the words of the answer that triggered it
    note: str            # what was found, for the grade card


def _norm(text: str) -> str:
    return unicodedata.normalize("NFKC", text).lower()


@lru_cache(maxsize=4096)
def _pattern(term: str) -> re.Pattern | None:
    """A literal term, case-insensitive, spaces/hyphens/underscores interchangeable or absent, a "的"
    allowed between two Chinese characters; a term that starts or ends with a latin letter or digit
    must not sit inside a longer latin word."""
    t = _norm(term).strip()
    if not t:
        return None
    # Between two Chinese characters a "的" may be inserted: "完整回答" is also said "完整的回答".
    parts = [re.sub(r"(?<=[\u4e00-\u9fff])(?=[\u4e00-\u9fff])", "的?", re.escape(p))
             for p in re.split(r"[\s\-_]+", t) if p]
    body = r"[\s\-_]*".join(parts)
    if re.match(r"[a-z0-9]", t):
        body = r"(?<![a-z0-9])" + body
    if re.search(r"[a-z]$", t):
        body = body + r"(?:s|es)?(?![a-z0-9])"  # plural: "gradient" also matches "gradients"
    elif re.search(r"[0-9]$", t):
        body = body + r"(?![a-z0-9])"
    return re.compile(body)


def _find(terms, text: str) -> list[re.Match]:
    out = []
    for term in terms:
        pat = _pattern(term)
        if pat is not None:
            out.extend(pat.finditer(text))
    return out


def _asserted(matches: list[re.Match], text: str) -> bool:
    """At least one occurrence is not directly negated ("不是参数", "not the parameters")."""
    return any(not _NEG_BEFORE.search(text[max(0, m.start() - 8):m.start()]) for m in matches)


# --------------------------------------------------------------------------- facts

def _subject_key(fact) -> tuple[str, ...]:
    return tuple(sorted(_norm(s) for s in fact.subject if s.strip()))


def _fact_evidence(sentences: list[str], facts
                   ) -> tuple[dict[int, int], dict[int, list[str]], dict[tuple[str, ...], list[str]]]:
    """(fact index -> how many stretches support it, fact index -> the sentences that say its `not`
    without any of its `holds`, subject -> the clauses said of it; a clause naming two subjects says
    nothing of either)."""
    subjects: list[tuple[str, ...]] = []
    for f in facts:
        key = _subject_key(f)
        if key and key not in subjects:
            subjects.append(key)
    support: dict[int, int] = {}
    against: dict[int, list[str]] = {}
    stated: dict[tuple[str, ...], list[str]] = {}
    for sentence in [part for s in sentences for part in F.split_sentences(s)]:
        text = _norm(sentence)
        # Stretches of the sentence about one subject: its clause and the clauses after it.
        spans: list[tuple[tuple[str, ...], list[str]]] = []
        for clause in _CLAUSE_SPLIT.split(text):
            if not clause.strip():
                continue
            named = [s for s in subjects if _find(s, clause)]
            if len(named) == 1:
                spans.append((named[0], [clause]))
            elif len(named) > 1:
                spans.append(((), [clause]))  # two subjects in one clause: cannot tell which is meant
            elif spans:
                spans[-1][1].append(clause)
        for subj, clauses in spans:
            if not subj:
                continue
            stated.setdefault(subj, []).extend(clauses)
            # The subject's own words are not evidence ("Stage 3" names no shard); strip them.
            stretch = "，".join(clauses)
            for alias in subj:
                pat = _pattern(alias)
                if pat is not None:
                    stretch = pat.sub(" ", stretch)
            for i, f in enumerate(facts):
                if _subject_key(f) != subj:
                    continue
                holds = _asserted(_find(f.holds, stretch), stretch)
                wrong = _asserted(_find(f.not_, stretch), stretch)
                if holds:
                    support[i] = support.get(i, 0) + 1
                elif wrong:
                    against.setdefault(i, []).append(sentence.strip())
    return support, against, stated


def check_facts(sentences: list[str], facts, language: str = "zh") -> list[PointFlag]:
    """Swapped facts: a subject said with a `not` term and none of its `holds` terms."""
    if not facts:
        return []
    support, against, _ = _fact_evidence(sentences, facts)
    flags = []
    for i, evidence in against.items():
        f = facts[i]
        if support.get(i):
            # Said both ways: not a confident swap, but not something to trust either.
            flags.append(PointFlag(f.point, "doubt", "fact", evidence[0][:300],
                                   f"{f.subject[0]}: stated both ways"))
        else:
            flags.append(PointFlag(f.point, "wrong", "fact", evidence[0][:300],
                                   f"{f.subject[0]} ≠ {'/'.join(f.not_[:2])}（应为 {'/'.join(f.holds[:2])}）"
                                   if language == "zh" else
                                   f"{f.subject[0]} is not {'/'.join(f.not_[:2])} but {'/'.join(f.holds[:2])}"))
    return flags


# --------------------------------------------------------------------------- misconceptions

def _units(sentences: list[str]) -> list[str]:
    """Sentences, and the opening clauses of long ones ("A 是 X，因为 Y，所以 Z" -> "A 是 X，"), so a claim
    made at the start of a long sentence can be matched. Units always start where the sentence starts:
    a clause from the middle has lost its subject ("各自编码成向量算相似度" said of the bi-encoder)."""
    units = []
    for s in sentences:
        if not s.strip():
            continue
        units.append(s)
        parts = [p for p in re.split(r"(?<=[，,；;：:])", s) if p.strip()]
        for k in range(1, len(parts)):
            units.append("".join(parts[:k]))
    return units


def _informative(toks) -> frozenset[str]:
    """Words that can tell one claim from another: not single Chinese characters, not very common words,
    not function words glued together ("是因为" = 是 + 因为: rare in the dictionary, yet it says nothing)."""
    return frozenset(t for t in toks if not (len(t) == 1 and F.has_cjk(t)) and F._background_weight(t) >= 0.5
                     and not _glued_function_words(t))


def _glued_function_words(t: str) -> bool:
    return F.has_cjk(t) and any(t[:i] in F.FUNCTION_WORDS and t[i:] in F.FUNCTION_WORDS for i in range(1, len(t)))


def _subject(claim: str, tok) -> str | None:
    """The claim's first informative word, in the order it is written."""
    for t in F.tokens(claim):
        if t in _informative([t]) and t in tok(claim):
            return t
    return None


def _squash(text: str) -> str:
    return re.sub(r"[\s\-_]+", "", _norm(text))


def _rejects_claim(unit: str, claim: str) -> bool:
    """The unit rejects, with a contrast cue, a phrase the claim asserts and does not assert it itself:
    "反向用 reduce-scatter 代替 all-reduce" rejects "反向时还是用 all-reduce 同步梯度"."""
    stated = _squash(F._CONTRAST.sub(" ", unit))
    c = _squash(claim)
    for m in F._CONTRAST.finditer(unit):
        phrase = _squash(m.group(0)[len(m.group(1)):])
        if len(phrase) >= 2 and phrase in c and phrase not in stated:
            return True
    return False


_NUMBER = re.compile(r"(?<![\w.])\d+(?:\.\d+)?(?![\w.])")


def _other_number(unit: str, claim: str) -> bool:
    """The claim's point is a number the unit does not say, and the unit says another one instead:
    "temperature 设为 0 近似 greedy" is not "temperature 设为 1 就等于 greedy"."""
    c, u = set(_NUMBER.findall(claim)), set(_NUMBER.findall(unit))
    return bool(c) and not (c & u) and bool(u - c)


def _attached(text: str, names: list[str]) -> dict[str, set[str]]:
    """name -> the informative words that follow it, up to the next name (in the text's order)."""
    out: dict[str, set[str]] = {}
    current = None
    for w in F.tokens(text):
        if w in names:
            current = w
            out.setdefault(w, set())
        elif current is not None and _informative([w]):
            out[current].add(w)
    return out


def _swaps_back(unit: str, claim: str) -> bool:
    """A claim that pairs two named things with attributes ("namespace 限制 CPU 和内存，cgroups 隔离进程")
    is not stated by a unit that gives one of the names two or more of the *other* name's attributes
    and none of its own: "namespace（进程、网络）和 cgroups（限 CPU、内存）" is the truth the claim swapped.
    Names are the claim's latin words; each needs attributes of its own in the claim."""
    names = list(dict.fromkeys(w for w in F.tokens(claim) if not F.has_cjk(w) and len(w) > 1 and _informative([w])))
    if len(names) < 2:
        return False
    c, u = _attached(claim, names), _attached(unit, names)
    for n in names:
        for m in names:
            if (m != n and c.get(n) and c.get(m) and u.get(n) and not (u[n] & c[n])
                    and u[n] & (c[m] - c[n])):
                return True
    return False


def check_misconceptions(sentences: list[str], points: list[str], misconceptions, embedder, language: str,
                         tok=None, question: str = "", facts=()) -> list[PointFlag]:
    """A unit states a misconception when it is close to the claim in meaning (CLAIM_SIM) and closer to it
    than to the truth (`why`, the key point), carries CLAIM_WORDS of the claim's content words, and
    carries what makes the claim wrong: one of its own informative words (not in the truth), or the
    claim's negation where the truth has none (or the reverse). A claim about a named thing must name
    it: every latin term of the claim that is not in the question (Pre-Norm, DPO, TokenTextSplitter)
    must be in the unit, so "Post-Norm 是先相加再 LN" does not state the Pre-Norm claim. Each unit is
    compared with the claim in its own language (`claim` for Chinese units, `claim_en` otherwise).
    A unit that is the truth of another subject than the claim's (`_truth_of_another`) does not state it."""
    if not misconceptions or not sentences:
        return []
    tok = tok or (lambda t: frozenset(F.tokens(t)))
    units = _units(sentences)
    zh_unit = np.array([F.has_cjk(u) for u in units])
    texts_zh = [m.claim or m.claim_en for m in misconceptions]
    texts_en = [m.claim_en or m.claim for m in misconceptions]
    truths = []
    for m in misconceptions:
        point = points[m.point] if 0 <= m.point < len(points) else ""
        truths.append([t for t in (m.why, point) if t.strip()])
    flat_truths = [t for ts in truths for t in ts]
    k_m = len(misconceptions)
    q_tok = tok(question) if question else frozenset()
    u_toks = [tok(u) for u in units]

    def words_agree(j: int, k: int) -> bool:
        """The word tests below, which need no embedding: checked first, so only the units that
        could state some claim are embedded (the same flags, for a fraction of the encoder's time).
        The share of the claim's words is also taken without the words the question already says:
        they are context an answer need not repeat ("混合精度训练需要额外的校准步骤" is stated by
        "需要先跑一个校准步骤" in an answer to a question on mixed precision)."""
        claim = texts_zh[k] if zh_unit[j] else texts_en[k]
        c_all = tok(claim)
        if not c_all:
            return False
        c_own = (c_all - q_tok) or c_all
        if max(len(c_all & u_toks[j]) / len(c_all), len(c_own & u_toks[j]) / len(c_own)) < CLAIM_WORDS:
            return False
        return not any(not F.has_cjk(t) and len(t) > 1 and t not in q_tok and t not in u_toks[j]
                       for t in _informative(c_all))

    agree = np.array([[words_agree(j, k) for k in range(k_m)] for j in range(len(units))], dtype=bool)
    if not agree.any():
        return []
    candidates = [j for j in range(len(units)) if agree[j].any()]
    vecs = embedder.encode([units[j] for j in candidates] + texts_zh + texts_en + flat_truths)
    n_c = len(candidates)
    u_vecs = np.zeros((len(units), vecs.shape[1]), dtype=vecs.dtype)
    u_vecs[candidates] = vecs[:n_c]
    zh_vecs = vecs[n_c:n_c + k_m]
    en_vecs = vecs[n_c + k_m:n_c + 2 * k_m]
    t_vecs = vecs[n_c + 2 * k_m:]
    unit_parity = [F._negations(F.raw_words(u)) % 2 if agree[j].any() else 0 for j, u in enumerate(units)]
    readings: dict[int, tuple] = {}   # unit -> its _fact_evidence, read once for all claims
    flags, pos = [], 0
    for k, m in enumerate(misconceptions):
        t_idx = list(range(pos, pos + len(truths[k])))
        pos += len(truths[k])
        truth_tok = frozenset().union(*(tok(t) for t in truths[k])) if truths[k] else frozenset()
        truth_parity = F._negations(F.raw_words(" ".join(truths[k]))) % 2 if truths[k] else 0
        sim_c = np.where(zh_unit, u_vecs @ zh_vecs[k], u_vecs @ en_vecs[k])
        sim_t = (u_vecs @ t_vecs[t_idx].T).max(axis=1) if t_idx else np.zeros(len(units))
        best = None
        for j in range(len(units)):
            if not agree[j, k] or sim_c[j] < CLAIM_SIM or sim_c[j] < sim_t[j] + CLAIM_MARGIN:
                continue
            claim = texts_zh[k] if zh_unit[j] else texts_en[k]
            c_tok = _informative(tok(claim))
            claim_parity = F._negations(F.raw_words(claim)) % 2
            # The unit must not negate what the claim asserts ("LoRA 并不会重新初始化所有参数").
            if unit_parity[j] != claim_parity:
                continue
            own = c_tok - truth_tok
            # What the unit rejects ("用 reduce-scatter 代替 all-reduce") is not what it states, and a
            # unit that rejects a word the claim asserts rejects the claim.
            stated = tok(F._CONTRAST.sub(" ", units[j]))
            if _rejects_claim(units[j], claim) or _swaps_back(units[j], claim) or _other_number(units[j], claim):
                continue
            if facts:
                if j not in readings:
                    readings[j] = _fact_evidence([units[j]], facts)
                if _truth_of_another(readings[j], facts, claim, tok):
                    continue
            if not (own & stated) and claim_parity == truth_parity:
                continue
            # A claim is about its subject (its first informative word): a unit that leaves it out and
            # names another thing the question asks about instead ("流水线并行按层切" against "张量并行按层切",
            # the question naming both) is about that other thing and does not state the claim.
            # The same for any of the question's things the claim names: "缓存击穿指一个热门 key 失效" is
            # not the claim "缓存穿透是指 key 过期了" when the question asks about both.
            subject = _subject(claim, tok)
            claim_topics = c_tok & q_tok
            other_topics = _informative(stated & q_tok) - c_tok
            if other_topics and ((subject and subject not in stated) or claim_topics - stated):
                continue
            if best is None or sim_c[j] > sim_c[best]:
                best = j
        if best is not None:
            flags.append(PointFlag(m.point, "wrong", "misconception", units[best][:300],
                                   (m.why or m.claim)[:120]))
    return flags


# --------------------------------------------------------------------------- inversion cues

def check_inversions(points: list[str], matches, tok=None) -> list[PointFlag]:
    """A point's best-matching clause carries an inversion cue the point does not: doubt, not wrong."""
    tok = tok or (lambda t: frozenset(F.tokens(t)))
    flags = []
    for i, (p, m) in enumerate(zip(points, matches)):
        if not m.evidence or _INVERSION.search(p) or m.coverage < 0.3:
            continue
        p_tok = tok(p)
        if not p_tok:
            continue
        for clause in re.split(r"[，,；;。.!?！？]", m.evidence):
            c_tok = tok(clause)
            if len(p_tok & c_tok) >= max(2, 0.3 * len(p_tok)) and _INVERSION.search(clause):
                flags.append(PointFlag(i, "doubt", "inversion", clause.strip()[:300], clause.strip()[:60]))
                break
    return flags


def _truth_of_another(reading, facts, claim: str, tok) -> bool:
    """The unit whose `_fact_evidence` is `reading` states some of the card's facts truly and none
    falsely, only of subjects the claim does not name, and each of its clauses that says one of the
    claim's words names its subject and says a `holds` term of it: "双塔把 query 和文档各自编码成向量再
    算余弦" is the bi-encoder's truth, not the claim "精排模型也是分别编码成向量再算余弦"; "穿透用布隆过滤器，
    它判断存在就一定存在" still states the claim "布隆过滤器判断存在就一定存在" (its last clause names no
    subject)."""
    support, against, stated = reading
    if not support or any(i not in support for i in against):
        return False
    c, words = _norm(claim), tok(claim)
    for key, clauses in stated.items():
        if _find(key, c):
            return False
        holds = [t for f in facts if _subject_key(f) == key for t in f.holds]
        if any(tok(clause) & words and not (_find(key, clause) and _find(holds, clause)) for clause in clauses):
            return False
    return True


@lru_cache(maxsize=256)
def _truth_checker(points: tuple[str, ...], truth: tuple[str, ...], question: str) -> TruthChecker:
    """A card's truth indexed once, not on every grade of it (~15 ms a card). The checker is only
    read after it is built, so one instance serves every session grading that card."""
    return TruthChecker(list(points), list(truth), question)


def check_answer(analysis, points: list[str], misconceptions, facts, embedder, language: str,
                 question: str = "", truth=()) -> list[PointFlag]:
    """All flags for an analysed answer, one per point at most ("wrong" beats "doubt").

    Besides the card's recorded misconceptions and facts, the answer is checked against the card's own
    truth (key points, model answers, the misconceptions' `why`: grading/contradictions.py). A point
    whose wrong verdict rests on an answer sentence the truth itself says is not marked wrong; it gets
    a "supported" flag, which also keeps the negation rule (features._negation_conflict) off it."""
    if analysis.empty:
        return []
    truth_texts = [t for t in truth if t] + [m.why for m in misconceptions or [] if getattr(m, "why", "")]
    checker = _truth_checker(tuple(points), tuple(truth_texts), question)
    recorded = (check_facts(analysis.sentences, facts, language)
                + check_misconceptions(analysis.sentences, points, misconceptions, embedder, language,
                                       question=question, facts=facts or ()))
    # A bare keyword list states nothing about how the names relate (it is capped at partly anyway).
    found = [] if analysis.keyword_list else checker.check(analysis.sentences)
    # An acronym spelled out otherwise than the truth spells it is wrong on its own. The other generic
    # contradictions read meaning from words, so one alone only lowers confidence (the point counts as
    # partly answered at most); two on different points, or one beside a recorded error, make a
    # confidently wrong answer.
    corroborated = (len({c.point for c in found if c.source in GENERIC_SOURCES}) >= 2
                    or any(f.status == "wrong" for f in recorded))
    generic = [PointFlag(c.point, "wrong" if c.source == "expansion" or corroborated else "doubt", c.source,
                         c.evidence, c.note) for c in found]
    flags = recorded + generic + check_inversions(points, analysis.points)
    by_point: dict[int, PointFlag] = {}
    for f in flags:
        if not 0 <= f.point < len(points):
            continue
        old = by_point.get(f.point)
        if old is None or (old.status == "doubt" and f.status == "wrong") or (
                old.status == f.status == "doubt" and old.source == "inversion"):
            by_point[f.point] = f
    # A sentence the card's truth says cannot be a wrong statement of it.
    for i, m in enumerate(analysis.points):
        f = by_point.get(i)
        evidence = f.evidence if f is not None and f.status == "wrong" else (m.evidence if m.negation_conflict else "")
        if evidence and _said_by_truth(evidence, checker):
            by_point[i] = PointFlag(i, "supported", "truth", evidence[:300], "the card's truth says this")
    return [by_point[i] for i in sorted(by_point)]


def _said_by_truth(sentence: str, checker: TruthChecker) -> bool:
    """Each clause of the sentence is said by one clause of the card's truth."""
    clauses = [c for c in re.split(r"[，,；;：:。!?！？（）()]", sentence) if len(F.tokens(c)) >= 2]
    return bool(clauses) and all(checker.is_supported(c) for c in clauses)
