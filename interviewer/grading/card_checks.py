"""Catching confident wrong answers without a model: what a card knows about its wrong answers.

Three checks, each tied to one key point, each conservative (a false "wrong" on a correct answer is
worse than a missed one, because the candidate is told the truth is wrong):

1. **Facts** (card field `facts`, /work/content/SCHEMA.md): {point, subject[], holds[], not[]}. In
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
    """A literal term, case-insensitive, spaces/hyphens/underscores interchangeable or absent; a term
    that starts or ends with a latin letter or digit must not sit inside a longer latin word."""
    t = _norm(term).strip()
    if not t:
        return None
    parts = [re.escape(p) for p in re.split(r"[\s\-_]+", t) if p]
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

def check_facts(sentences: list[str], facts) -> list[PointFlag]:
    """Swapped facts: a subject said with a `not` term and none of its `holds` terms."""
    if not facts:
        return []
    subjects: list[tuple[str, ...]] = []
    for f in facts:
        key = tuple(sorted(_norm(s) for s in f.subject if s.strip()))
        if key and key not in subjects:
            subjects.append(key)
    support: dict[int, int] = {}
    against: dict[int, list[str]] = {}
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
            # The subject's own words are not evidence ("Stage 3" names no shard); strip them.
            stretch = "，".join(clauses)
            for alias in subj:
                pat = _pattern(alias)
                if pat is not None:
                    stretch = pat.sub(" ", stretch)
            for i, f in enumerate(facts):
                if tuple(sorted(_norm(s) for s in f.subject if s.strip())) != subj:
                    continue
                holds = _asserted(_find(f.holds, stretch), stretch)
                wrong = _asserted(_find(f.not_, stretch), stretch)
                if holds:
                    support[i] = support.get(i, 0) + 1
                elif wrong:
                    against.setdefault(i, []).append(sentence.strip())
    flags = []
    for i, evidence in against.items():
        f = facts[i]
        if support.get(i):
            # Said both ways: not a confident swap, but not something to trust either.
            flags.append(PointFlag(f.point, "doubt", "fact", evidence[0][:300],
                                   f"{f.subject[0]}: stated both ways"))
        else:
            flags.append(PointFlag(f.point, "wrong", "fact", evidence[0][:300],
                                   f"{f.subject[0]} ≠ {'/'.join(f.not_[:2])}"))
    return flags


# --------------------------------------------------------------------------- misconceptions

def _units(sentences: list[str]) -> list[str]:
    """Sentences, and for long ones also their halves at clause marks, so a claim made in one clause
    of a long sentence can be matched."""
    units = []
    for s in sentences:
        units.append(s)
        parts = [p for p in re.split(r"(?<=[，,；;])", s) if p.strip()]
        if len(parts) >= 3:
            for k in range(len(parts)):
                for j in range(k + 1, min(len(parts), k + 3) + 1):
                    if j - k < len(parts):
                        units.append("".join(parts[k:j]))
    return units


def check_misconceptions(sentences: list[str], points: list[str], misconceptions, embedder, language: str,
                         tok=None) -> list[PointFlag]:
    if not misconceptions or not sentences:
        return []
    tok = tok or (lambda t: frozenset(F.tokens(t)))
    units = _units(sentences)
    claims, truths = [], []
    for m in misconceptions:
        claim = m.claim if (language == "zh" or not m.claim_en) else m.claim_en
        if F.has_cjk(" ".join(sentences)) != F.has_cjk(claim) and m.claim_en and m.claim:
            claim = m.claim if F.has_cjk(" ".join(sentences)) else m.claim_en
        claims.append(claim)
        point = points[m.point] if 0 <= m.point < len(points) else ""
        truths.append([t for t in (m.why, point) if t.strip()])
    flat_truths = [t for ts in truths for t in ts]
    vecs = embedder.encode(units + claims + flat_truths)
    u_vecs = vecs[:len(units)]
    c_vecs = vecs[len(units):len(units) + len(claims)]
    t_vecs = vecs[len(units) + len(claims):]
    flags, pos = [], 0
    for k, m in enumerate(misconceptions):
        t_idx = list(range(pos, pos + len(truths[k])))
        pos += len(truths[k])
        c_tok = tok(claims[k])
        truth_tok = frozenset().union(*(tok(t) for t in truths[k])) if truths[k] else frozenset()
        own = c_tok - truth_tok  # the claim's own words: what makes it the wrong version
        if not c_tok:
            continue
        sim_c = u_vecs @ c_vecs[k]
        sim_t = (u_vecs @ t_vecs[t_idx].T).max(axis=1) if t_idx else np.zeros(len(units))
        best = None
        for j, unit in enumerate(units):
            u_tok = tok(unit)
            if sim_c[j] < CLAIM_SIM or sim_c[j] < sim_t[j] + CLAIM_MARGIN:
                continue
            if len(c_tok & u_tok) / len(c_tok) < CLAIM_WORDS:
                continue
            if own and not (own & u_tok):
                continue
            # The unit must not negate what the claim asserts ("LoRA 并不会重新初始化所有参数").
            if F._negations(F.raw_words(unit)) % 2 != F._negations(F.raw_words(claims[k])) % 2:
                continue
            if best is None or sim_c[j] > sim_c[best]:
                best = j
        if best is not None:
            flags.append(PointFlag(m.point, "wrong", "misconception", units[best][:300],
                                   (m.why or claims[k])[:120]))
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


def check_answer(analysis, points: list[str], misconceptions, facts, embedder, language: str) -> list[PointFlag]:
    """All flags for an analysed answer, one per point at most ("wrong" beats "doubt")."""
    if analysis.empty:
        return []
    flags = (check_facts(analysis.sentences, facts)
             + check_misconceptions(analysis.sentences, points, misconceptions, embedder, language)
             + check_inversions(points, analysis.points))
    by_point: dict[int, PointFlag] = {}
    for f in flags:
        if not 0 <= f.point < len(points):
            continue
        old = by_point.get(f.point)
        if old is None or (old.status == "doubt" and f.status == "wrong"):
            by_point[f.point] = f
    return [by_point[i] for i in sorted(by_point)]
