"""What the offline grader measures about an answer: per-key-point coverage and a few whole-answer signals.

Everything here is deterministic and model-free except the sentence embeddings. The same
`analyse()` is used by the grader at run time and by `scripts/fit_grader.py` to fit the
calibration, so what was measured in evaluation is what the app computes.

Signals that could be gamed are computed so that gaming does not pay:
- words that already appear in the question earn little (copying the question back covers nothing);
- sentences that restate the question, say "I don't know" or talk to the grader
  ("忽略以上评分标准", "SYSTEM: ...") are set aside before anything is measured;
- coverage takes the best-matching sentence per point, so padding adds nothing, and length is
  counted only over on-topic sentences;
- a bare list of keywords is recognised by its lack of function words (no explanation).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import numpy as np

from interviewer.text import CJK_CHAR as _CJK_CHAR
from interviewer.text import EN_STOP, ZH_STOP, char_bigrams, has_cjk, is_dont_know, load_jieba, raw_words, text_units  # noqa: F401
from interviewer.text import words as tokens

# Analyse at most this much of an answer: a 1 MB paste must not stall the session.
MAX_ANALYSED_CHARS = 20_000
# At most this many answer units are embedded; longer answers are chunked coarser.
MAX_UNITS = 160
# Embedding costs time in proportion to the text. Beyond this many
# characters only the sentences sharing most words with the reference are embedded; the rest
# count as off topic. Interview answers are far shorter, so this only bounds pathological input.
EMBED_CHAR_BUDGET = 3000

# A sentence is on topic if this similar to a point or the reference (and shares a word with it,
# unless it is clearly similar): see analyse().
ON_TOPIC_SIM = 0.3
CLEARLY_ON_TOPIC_SIM = 0.55

_SENT_SPLIT = re.compile(r"(?<=[。！？!?；;])|\n+|(?<=[.])\s+")

# Words that tie an explanation together. A bare keyword list has almost none of them.
# ("a"/"an" are left out: single letters are usually variable names here, as in "A 和 B".)
FUNCTION_WORDS = frozenset(
    "的 了 是 在 因为 所以 如果 但是 而 则 会 可以 能 就 把 被 让 使 导致 从而 因此 由于 这样 通过 需要 "
    "用 对 和 与 时 后 前 中 都 也 只 不 没有 要 来 去 为 以 并 即 当 该 其 它 这 那 "
    "is are was were be been the of to in on for with by because so that which when if then "
    "than this it can will would should must does do not no as while since thus therefore hence".split())
NEGATIONS_ZH = frozenset("不 没 没有 无 无法 未 非 不能 不是 不会 不可 不可以 不行 不必 不用 不要 不需要 别 "
                         "并不 并不是 并非 并没有 绝不 从不 从未 毫无 无需 无须 毋需 不需".split())
# Words that start with 不 but do not negate what follows.
NOT_NEGATIONS_ZH = frozenset("不同 不仅 不断 不过 不管 不少 不久 不但 不如 不论 不然 不停 不足".split())
# A negation denies what follows it closely: the words it may reach.
NEGATION_REACH = 3
# Function words a negation may deny ("不可以" / "可以删除", "cannot" / "can").
MODALS = frozenset("可以 能 会 是 需要 要 用 can could will would should must be is are does do need".split())
NEGATIONS_EN = frozenset("not no never cannot can't isn't doesn't don't won't aren't without".split())
# "A 而不是 B" / "用 A 代替 B" / "A instead of B": what follows the cue is rejected, not A.
_CONTRAST = re.compile(r"(而不是|而非|代替|取代|替代|rather\s+than|instead\s+of)[^，,；;。.!?！？]*", re.IGNORECASE)
_JUDGE_TRUE = re.compile(r"^\W*(正确|对的|对|是的|yes|true|correct)(?![\w])", re.IGNORECASE)
_JUDGE_FALSE = re.compile(r"^\W*(错误|不正确|不对|错的|错|否|no|false|incorrect|wrong)(?![\w])", re.IGNORECASE)

# Sentences addressed to the grader. Each alternative needs a directive aimed at the grade, so an
# answer that merely mentions a reward model's "评分标准" or a chat template's "system:" turn is
# still graded.
_GRADE_WORDS = r"(评分|打分|分数|满分|10\s*分|十分|grade|grader|grading|score|marks|rubric|10\s*/\s*10)"
_INJECTION = re.compile(
    r"(忽略|无视|不要管|忘记|忘掉).{0,12}(评分|打分|指令|规则|标准)"
    r"|给(我|这个回答|本回答|这道题|这个答案)?.{0,6}(满分|10\s*分|十分|100\s*分)"
    r"|(打|评|判)\s*(满分|10\s*分|十分)|你(现在)?是.{0,6}(评分|打分|阅卷)"
    r"|ignore\s+(all\s+|the\s+|any\s+|your\s+)*(previous|prior|above|earlier|grading|rubric|instructions)"
    r"|(^|\s)(system|assistant|grader)\s*[:：].{0,80}" + _GRADE_WORDS
    + r"|you\s+are\s+now\s+(the\s+|an?\s+)?(grader|evaluator|judge|examiner|marker)"
    r"|\b10\s*/\s*10\b|score\s*[:=]\s*10\b"
    r"|(give|award|assign)s?\s+(me|this(\s+answer)?|the\s+answer)\s+(a\s+|the\s+)?"
    r"(full|maximum|max|perfect|10|ten)\b(\s*(marks|score|points|/\s*10|out\s+of\s+10))?"
    r"|deserves?\s+(full\s+marks|a\s+(10|ten|perfect\s+score))"
    r"|(full|perfect)\s+marks",
    re.IGNORECASE,
)


# --------------------------------------------------------------------------- text helpers

def split_sentences(text: str) -> list[str]:
    parts = [p.strip() for p in _SENT_SPLIT.split(text)]
    parts = [p for p in parts if p and re.search(r"\w", p)]
    # Merge very short fragments into the previous sentence: "O(1)。" alone matches nothing.
    merged: list[str] = []
    for p in parts:
        if merged and text_units(p) < 4:
            merged[-1] = f"{merged[-1]} {p}"
        else:
            merged.append(p)
    return merged


def _chunk(sentences: list[str], limit: int) -> list[str]:
    if len(sentences) <= limit:
        return sentences
    size = math.ceil(len(sentences) / limit)
    return [" ".join(sentences[i:i + size]) for i in range(0, len(sentences), size)]


def _background_weight(token: str) -> float:
    """How informative a word is in general language (jieba's dictionary frequencies), 0.2-1."""
    jieba = load_jieba()

    if not _CJK_CHAR.match(token):
        # Latin terms in these answers are mostly technical (TCP, LoRA, ACK): keep them strong.
        return 1.0 if len(token) > 2 else 0.6
    dt = jieba.dt
    dt.check_initialized()
    freq = dt.FREQ.get(token, 0)
    if freq <= 0:
        return 1.0
    info = math.log(dt.total / freq)  # ~7 for very common words, ~17 for rare ones
    return float(min(1.0, max(0.2, (info - 6.0) / 8.0)))


def _a_not_a(words: list[str], i: int) -> bool:
    """words[i] is the 不/没 of an A-not-A question ("对不对", "是不是", "能不能", "有没有"): it asks, it
    does not negate ("执行一下验证对不对" states no negation)."""
    w = words[i]
    if len(w) == 3 and w[1] in "不没" and w[0] == w[2]:
        return True
    if w in ("不", "没") and 0 < i < len(words) - 1 and words[i - 1] == words[i + 1]:
        return True
    return len(w) >= 2 and w[0] in "不没" and i > 0 and words[i - 1] == w[1:]


def _negations(words: list[str], about: set[str] | frozenset[str] | None = None,
               also: set[str] | frozenset[str] = frozenset()) -> int:
    """How many negations `words` carry; with `about`, only those followed within NEGATION_REACH words by
    one of those words (what the negation denies: "not present" denies nothing of a point about length),
    or being itself one of `also`."""
    n = 0
    for i, w in enumerate(words):
        if about is not None and w not in also and not about.intersection(words[i + 1:i + 1 + NEGATION_REACH]):
            continue
        # 非 bound to one character is an adjective of its own (非负, 非空, 非零), not a negated clause.
        if w == "非" and i + 1 < len(words) and len(words[i + 1]) == 1 and has_cjk(words[i + 1]):
            continue
        if _a_not_a(words, i):
            continue
        if w in NEGATIONS_EN or w in NEGATIONS_ZH or (w.startswith("不") and w not in NOT_NEGATIONS_ZH):
            n += 1
        elif w == "t" and i > 0 and words[i - 1].endswith("n") and words[i - 1] not in NEGATIONS_EN:
            n += 1  # "doesn't" split into "doesn" + "t"
    return n


def stated_words(text: str) -> list[str]:
    """The words of what a text states: a phrase it rejects ("而不是 B", "instead of B") left out."""
    return raw_words(_CONTRAST.sub(" ", text))


def _judgement(text: str) -> bool | None:
    """The verdict a true/false answer opens with ("错误，……" / "Yes, ..."), if any."""
    if _JUDGE_FALSE.match(text):
        return False
    if _JUDGE_TRUE.match(text):
        return True
    return None


def _negation_conflict(point: str, sentence: str, point_toks: set[str], tok=None, emb: float = 1.0,
                       opening: str | None = None) -> bool:
    """The answer sentence says the point's opposite: the opposite true/false verdict, or nearly the
    point's words with a different negation parity ("B 不是初始化为 0" against "B 初始化为 0").
    Crude on purpose: offline "wrong" detection is limited, and grades say so."""
    tok = tok or (lambda t: frozenset(tokens(t)))
    # A true/false verdict opens the answer, wherever the best-matching sentence is.
    jp, js = _judgement(point), _judgement(opening if opening is not None else sentence)
    if jp is not None and js is not None:
        return jp != js
    if not point_toks or emb <= 0.6:
        return False
    # A lead-in ("一、单链表：") names what the next sentence says: it states nothing of its own.
    if sentence.rstrip().endswith((":", "：")):
        return False
    # Compare the clause of the sentence that carries the point (a long sentence may negate elsewhere).
    clauses = [c for c in re.split(r"[，,；;]", sentence) if c.strip()] or [sentence]
    best = max(clauses, key=lambda c: len(point_toks & tok(c)))
    if len(point_toks & tok(best)) / len(point_toks) < 0.6:
        return False
    p_clauses = [c for c in re.split(r"[，,；;]", point) if c.strip()] or [point]
    p_best = max(p_clauses, key=lambda c: len(tok(c) & tok(best)))
    # One side negates and the other does not. A negation counts only where it denies something the
    # other side also says: "not present in ..." in an answer denies nothing of a point about header
    # length, nor "无需重新训练" in a point anything of an answer about hallucination (offline-6; offline-5
    # compared the parity of all negations and flagged 17 well-scored ADS/SAF answers, now 5: "no flow
    # control and no connect"). Looser rules (clause-by-clause matching) flagged correct answers on the
    # dev sets far more often than wrong ones, so this stays strict and misses many contradictions.
    # "A 而不是 B" / "A rather than B" contrasts A with B: it negates B, not the point it states.
    said_words, meant_words = stated_words(best), stated_words(p_best)

    def denials(words: list[str], other_toks, other_words: list[str]) -> int:
        # The same negation word on both sides ("显存不够" / "显存不够时") counts on both.
        return _negations(words, about=other_toks | (set(other_words) & MODALS), also=set(other_words))

    said = denials(said_words, point_toks, meant_words)
    meant = denials(meant_words, tok(best), said_words)
    if said and not meant:
        # A point that lists items ("no ACK, loss possible, no flow control") may deny the same thing
        # in another of its clauses than the one chosen.
        meant = denials(stated_words(point), tok(best), said_words)
    if bool(said) == bool(meant):
        return False
    # A negated point that the matching clause only names ("单链表，不可以，……", "no flow control,
    # connect or disconnect"): the negation sits in a neighbouring clause. Only an answer whose whole
    # sentence negates nothing states the point's opposite.
    if meant and not said:
        return _negations(stated_words(sentence)) == 0
    return True


def _is_keyword_list(text: str, structure: float) -> bool:
    """Terms with nothing that ties them together: (almost) no function words and only very short
    segments between separators (spaces separate segments in Chinese text, not in English)."""
    if structure >= 0.03:
        return False
    sep = r"[,，、;；/|\n]+|\s+" if has_cjk(text) else r"[,，、;；/|\n]+"
    segments = [seg for seg in re.split(sep, text) if re.search(r"\w", seg)]
    if len(segments) < 4:
        return False
    return sum(len(raw_words(seg)) for seg in segments) / len(segments) <= 3.0


def _select_for_embedding(sentences: list[str], points: list[str], question: str, tok) -> tuple[list[str], int]:
    """(the sentences to embed, the length in units of those left out)."""
    if sum(len(s) for s in sentences) <= EMBED_CHAR_BUDGET:
        return sentences, 0
    ref = tok(" ".join(points)) - tok(question)
    ranked = sorted(range(len(sentences)),
                    key=lambda j: (-len(ref & tok(sentences[j])) / math.sqrt(1 + len(sentences[j])), j))
    chosen, used = [], 0
    for j in ranked:
        if used + len(sentences[j]) > EMBED_CHAR_BUDGET and chosen:
            continue
        chosen.append(j)
        used += len(sentences[j])
    left_out = sum(text_units(sentences[j]) for j in set(range(len(sentences))) - set(chosen))
    return [sentences[j] for j in sorted(chosen)], left_out


# --------------------------------------------------------------------------- analysis

FEATURE_NAMES: tuple[str, ...] = (
    "emb_cov",       # mean over points of the best answer-sentence similarity
    "emb_cov_min",   # mean of the lower half of those similarities (are all points touched?)
    "lex_cov",       # weighted recall of the points' words (question words discounted)
    "bigram_cov",    # recall of the reference's Chinese character bigrams (word-level for English)
    "whole_sim",     # similarity of the (on-topic) answer to the whole reference
    "len_ratio",     # log length of the on-topic answer relative to the reference
    "offtopic",      # share of the answer's length in sentences unrelated to the reference
    "novelty",       # share of the answer's content words that are not in the question
    "structure",     # share of function words: explanations have them, keyword lists do not
)


@dataclass
class PointMatch:
    point: str
    emb: float          # best cosine similarity to an answer sentence
    lex: float          # weighted word recall of this point
    coverage: float     # combined 0-1
    evidence: str       # the best-matching answer sentence
    negation_conflict: bool
    bigram: float = 0.0  # recall of the point's own character bigrams (English: its words), question's excluded


@dataclass
class Analysis:
    features: dict[str, float]
    points: list[PointMatch]
    sentences: list[str]              # the answer sentences that were analysed
    truncated: bool = False           # the answer was longer than MAX_ANALYSED_CHARS
    set_aside: dict[str, int] = field(default_factory=dict)  # reason -> sentences removed
    empty: bool = False               # nothing gradable left
    keyword_list: bool = False
    answer_units: int = 0             # length of the on-topic sentences
    total_units: int = 0              # length of everything analysed (set-aside sentences excluded)
    mentions_complexity: bool = False

    def vector(self) -> np.ndarray:
        return np.array([self.features[n] for n in FEATURE_NAMES], dtype=np.float64)


def _point_bigram_recall(point: str, point_toks, a_bigrams, a_tokens, q_bigrams, q_tokens) -> float:
    """Share of the point's own Chinese character bigrams and latin words (those not in the question)
    that the answer contains: segmentation-free, and blind to word weights."""
    items = {("b", g) for g in char_bigrams(point) - q_bigrams}
    items |= {("w", t) for t in set(point_toks) - q_tokens if not _CJK_CHAR.match(t)}
    if not items:
        return 0.0
    found = sum(1 for kind, x in items if (x in a_bigrams if kind == "b" else x in a_tokens))
    return found / len(items)


def _point_coverage(emb: float, lex: float) -> float:
    # Embedding similarity of a sentence to a paraphrase is rarely below 0.3 or above 0.85.
    e = min(1.0, max(0.0, (emb - 0.35) / 0.45))
    return 0.5 * e + 0.5 * lex


def analyse(question: str, points: list[str], answer: str, embedder) -> Analysis:
    """Measure how an answer covers the key points (see the module docstring)."""
    # Word sets are asked for repeatedly (points, clauses, sentences): tokenise each text once.
    # The memo lives only for this call.
    memo: dict[str, frozenset[str]] = {}

    def tok(t: str) -> frozenset[str]:
        if t not in memo:
            memo[t] = frozenset(tokens(t))
        return memo[t]

    truncated = len(answer) > MAX_ANALYSED_CHARS
    text = answer[:MAX_ANALYSED_CHARS]
    reference = "\n".join(points)
    q_tokens = tok(question)
    q_bigrams = char_bigrams(question)

    # ---- set aside what is not an answer: don't-know, talking to the grader, restating the question
    set_aside: dict[str, int] = {}
    sentences: list[str] = []
    seen: set[str] = set()
    for s in split_sentences(text):
        key = " ".join(s.split())
        if key in seen:
            # Saying the same sentence again adds nothing an interviewer would credit.
            set_aside["repeated"] = set_aside.get("repeated", 0) + 1
            continue
        seen.add(key)
        if _INJECTION.search(s):
            set_aside["injection"] = set_aside.get("injection", 0) + 1
        elif is_dont_know(s):
            set_aside["dont_know"] = set_aside.get("dont_know", 0) + 1
        else:
            sentences.append(s)
    sentences, unembedded_units = _select_for_embedding(_chunk(sentences, MAX_UNITS), points, question, tok)

    n_points = len(points)
    if sentences:
        # The question and each of its sentences: a copied fragment matches its own sentence best.
        q_parts = [question] + [q for q in split_sentences(question) if q != question]
        vecs = embedder.encode(points + [reference] + q_parts + sentences)
        k = n_points + 1 + len(q_parts)
        p_vecs, ref_vec, q_vecs, s_vecs = vecs[:n_points], vecs[n_points], vecs[n_points + 1:k], vecs[k:]
        q_sims = (s_vecs @ q_vecs.T).max(axis=1) if question.strip() else np.zeros(len(sentences))
        ps_sims = p_vecs @ s_vecs.T          # points x sentences
        best_point = ps_sims.max(axis=0)
        keep = []
        for j, s in enumerate(sentences):
            s_tok = tok(s)
            new = s_tok - q_tokens
            # A sentence that is the question again covers nothing: it means the question and adds
            # few words of its own, or it is made almost only of the question's words.
            if s_tok and ((q_sims[j] > 0.8 and q_sims[j] >= best_point[j] and len(new) <= 0.5 * len(s_tok))
                          or (q_sims[j] > 0.6 and len(new) <= 0.2 * len(s_tok))):
                set_aside["question_copy"] = set_aside.get("question_copy", 0) + 1
            else:
                keep.append(j)
        sentences = [sentences[j] for j in keep]
        s_vecs = s_vecs[keep]
        ps_sims = ps_sims[:, keep]

    if not sentences:
        return Analysis(features={n: 0.0 for n in FEATURE_NAMES} | {"offtopic": 1.0 if set_aside else 0.0},
                        points=[PointMatch(p, 0.0, 0.0, 0.0, "", False) for p in points],
                        sentences=[], truncated=truncated, set_aside=set_aside, empty=True)

    kept_text = "\n".join(sentences)
    a_tokens_list = tokens(kept_text)
    a_tokens = set(a_tokens_list)
    a_bigrams = char_bigrams(kept_text)

    # ---- word weights: informative words, rarer across the points, discounted if in the question
    point_tokens = [tok(p) for p in points]
    df: dict[str, int] = {}
    for pt in point_tokens:
        for t in pt:
            df[t] = df.get(t, 0) + 1

    def weight(t: str) -> float:
        idf = math.log(1.0 + n_points / df.get(t, 1))
        return idf * _background_weight(t) * (0.25 if t in q_tokens else 1.0)

    matches: list[PointMatch] = []
    lex_num = lex_den = 0.0
    for i, p in enumerate(points):
        w = {t: weight(t) for t in point_tokens[i]}
        den = sum(w.values())
        num = sum(v for t, v in w.items() if t in a_tokens)
        lex = num / den if den > 0 else 0.0
        lex_num += num
        lex_den += den
        j = int(np.argmax(ps_sims[i]))
        emb = float(ps_sims[i, j])
        evidence = sentences[j]
        conflict = _negation_conflict(p, evidence, point_tokens[i], tok, emb, opening=sentences[0])
        matches.append(PointMatch(p, emb, lex, _point_coverage(emb, lex), evidence[:300], conflict,
                                  _point_bigram_recall(p, point_tokens[i], a_bigrams, a_tokens, q_bigrams,
                                                       q_tokens)))

    embs = np.sort(np.array([m.emb for m in matches]))
    low_half = embs[: max(1, len(embs) // 2)]

    ref_bigrams = char_bigrams(reference) - q_bigrams
    if ref_bigrams:
        bigram_cov = len(ref_bigrams & a_bigrams) / len(ref_bigrams)
    else:  # English: unweighted recall of the reference's non-question words
        ref_words = set().union(*point_tokens) - q_tokens if point_tokens else set()
        bigram_cov = len(ref_words & a_tokens) / len(ref_words) if ref_words else 0.0

    # ---- on-topic share: a sentence is on topic if it is close to some point or to the reference
    sent_best = np.maximum(ps_sims.max(axis=0), s_vecs @ ref_vec)
    sent_units = np.array([max(1, text_units(s)) for s in sentences], dtype=np.float64)
    # Embeddings place any text of the same field close together (a MySQL paragraph is "near" a Redis
    # question), so a sentence of middling similarity must also share an informative reference word.
    ref_words = {t for pt in point_tokens for t in pt if t not in q_tokens and _background_weight(t) >= 0.5}
    shares = np.array([bool(ref_words & tok(s)) for s in sentences])
    on_topic = (sent_best >= ON_TOPIC_SIM) & (shares | (sent_best >= CLEARLY_ON_TOPIC_SIM))
    offtopic = float((sent_units[~on_topic].sum() + unembedded_units) / (sent_units.sum() + unembedded_units))
    on_units = int(sent_units[on_topic].sum())
    ref_units = max(1, text_units(reference))
    len_ratio = float(np.clip(math.log((1 + on_units) / (1 + ref_units)), -3.0, 1.0))
    # The on-topic answer as one vector: the length-weighted mean of its sentence vectors. Close to
    # embedding the joined text, without a second model call (latency).
    if on_topic.any():
        mean_vec = (sent_units[on_topic, None] * s_vecs[on_topic]).sum(axis=0)
        whole_sim = float(mean_vec @ ref_vec / max(1e-9, float(np.linalg.norm(mean_vec))))
    else:
        whole_sim = 0.0

    novelty = len(a_tokens - q_tokens) / len(a_tokens) if a_tokens else 0.0
    words = raw_words(kept_text)
    structure = sum(1 for w in words if w in FUNCTION_WORDS) / len(words) if words else 0.0
    keyword_list = _is_keyword_list(kept_text, structure)

    features = {
        "emb_cov": float(embs.mean()),
        "emb_cov_min": float(low_half.mean()),
        "lex_cov": lex_num / lex_den if lex_den > 0 else 0.0,
        "bigram_cov": float(bigram_cov),
        "whole_sim": whole_sim,
        "len_ratio": len_ratio,
        "offtopic": offtopic,
        "novelty": float(novelty),
        "structure": float(min(structure, 0.5)),
    }
    complexity = bool(re.search(r"[oO]\s*[(（]|复杂度|complexity|log\s*n|n\^?2", kept_text))
    return Analysis(features=features, points=matches, sentences=sentences, truncated=truncated,
                    set_aside=set_aside, keyword_list=keyword_list, answer_units=on_units,
                    total_units=int(sent_units.sum()) + unembedded_units,
                    mentions_complexity=complexity)
