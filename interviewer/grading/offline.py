"""The offline grader: key-point coverage by sentence embeddings and words, mapped to 0-10 by a
small calibration fitted on human-scored answers (scripts/fit_grader.py -> calibration.json).

How a score is made:
1. `features.analyse()` measures the answer against the key points (see that module).
2. The calibration (a logistic model over a few standardised features) maps them to 0-10:
   the predicted share of the maximum score a human grader would give.
3. Guards that the data cannot teach: a bare keyword list is halved (it names points but
   explains none); sentences addressed to the grader, "I don't know" and the question copied
   back were already set aside by the analysis.
4. The criteria of the rubric are derived from coverage, depth and structure, then shifted
   together so that rubric.weighted_total(criteria) equals the calibrated score: the total is
   still computed by the rubric, and it agrees with what was measured in evaluation.

Never raises: bad input gives a "not_graded" grade or an honest 0.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import numpy as np

from interviewer.grading import features as F
from interviewer.grading.rubric import RUBRIC_VERSION, criteria_for, weighted_total
from interviewer.models import CriterionScore, Grade, KeyPointStatus, KeyPointVerdict, Provenance, QuestionKind

GRADER_VERSION = "offline-2"
DEFAULT_CALIBRATION = Path(__file__).with_name("calibration.json")
KEYWORD_LIST_FACTOR = 0.5
WRONG_PENALTY = 1.5
NO_EVIDENCE_OFFTOPIC = 0.5
NO_EVIDENCE_WORDS = 0.08
NO_EVIDENCE_CAP = 1.5
# Per-point verdict thresholds on the combined 0-1 coverage (features._point_coverage).
COVERED_AT = 0.55
PARTLY_AT = 0.3

# Used when no calibration file exists (e.g. before scripts/fit_grader.py has been run):
# a plain mix of point coverage and whole-answer similarity.
_FALLBACK = {
    "version": "fallback",
    "features": ["emb_cov", "lex_cov", "whole_sim", "len_ratio"],
    "mean": [0.55, 0.4, 0.55, -0.7],
    "scale": [0.12, 0.25, 0.15, 0.8],
    "coef": [0.8, 0.8, 0.6, 0.3],
    "intercept": 0.3,
    "link": "logistic",
}


class Calibration:
    """A read-only fitted map from features to a 0-10 score, loaded once per grader."""

    def __init__(self, spec: dict, sha256: str | None):
        self.spec = spec
        self.sha256 = sha256
        self.names: list[str] = list(spec["features"])
        unknown = set(self.names) - set(F.FEATURE_NAMES)
        if unknown:
            raise ValueError(f"calibration uses unknown features: {sorted(unknown)}")
        self.mean = np.asarray(spec["mean"], dtype=np.float64)
        self.scale = np.asarray(spec["scale"], dtype=np.float64)
        self.coef = np.asarray(spec["coef"], dtype=np.float64)
        self.intercept = float(spec["intercept"])
        self.link = spec.get("link", "logistic")

    @classmethod
    def load(cls, path: Path | str | None) -> Calibration:
        path = Path(path) if path is not None else DEFAULT_CALIBRATION
        if not path.exists():
            return cls(_FALLBACK, None)
        raw = path.read_bytes()
        return cls(json.loads(raw), hashlib.sha256(raw).hexdigest())

    def predict(self, feats: dict[str, float]) -> float:
        x = np.array([feats[n] for n in self.names], dtype=np.float64)
        z = self.intercept + float(((x - self.mean) / self.scale) @ self.coef)
        share = 1.0 / (1.0 + math.exp(-z)) if self.link == "logistic" else z
        return float(min(10.0, max(0.0, 10.0 * share)))


def is_contradicted(m: F.PointMatch) -> bool:
    return m.negation_conflict and m.coverage >= PARTLY_AT


def apply_guards(score: float, analysis: F.Analysis) -> float:
    """Rules the human-scored data cannot teach (its students did not try to game the grader).

    Shared with scripts/fit_grader.py so the held-out figures include them.
    """
    if analysis.empty:
        return 0.0
    if analysis.keyword_list:
        score *= KEYWORD_LIST_FACTOR
    # Contradicted points: the rubric says wrong statements cost more than omissions, and the
    # coverage features alone would reward a negated copy of the point. Each contradicted point
    # takes away one and a half times its share of the score.
    if analysis.points:
        wrong = sum(is_contradicted(m) for m in analysis.points) / len(analysis.points)
        score *= max(0.0, 1.0 - WRONG_PENALTY * wrong)
    f = analysis.features
    # Mostly off topic and sharing almost no words with the reference: in the human-scored dev
    # sets such answers average 1.6-1.8/10, but the smooth calibration leaves them a floor of ~2-5
    # when they are long or of the same field (embeddings put any database text near a Redis card).
    if (f["offtopic"] >= NO_EVIDENCE_OFFTOPIC and f["lex_cov"] < NO_EVIDENCE_WORDS
            and f["bigram_cov"] < NO_EVIDENCE_WORDS):
        score = min(score, NO_EVIDENCE_CAP)
    return score


def _t(language: str, zh: str, en: str) -> str:
    return zh if language == "zh" else en


class OfflineGrader:
    kind = "offline"

    def __init__(self, embedder=None, calibration_path: Path | str | None = None):
        if embedder is None:
            from interviewer.bank.embedding import Embedder

            embedder = Embedder()
        self.embedder = embedder
        try:
            self.calibration = Calibration.load(calibration_path)
            cal = self.calibration.sha256[:12] if self.calibration.sha256 else "none"
        except (OSError, ValueError, KeyError, TypeError) as exc:
            # A broken calibration file must not stop interviews: grade with the fallback mix and
            # say so in every grade's provenance.
            self.calibration = Calibration(_FALLBACK, None)
            cal = f"invalid({type(exc).__name__})"
        self.version = f"{GRADER_VERSION}+cal:{cal}"

    # ------------------------------------------------------------------ helpers

    def _provenance(self) -> Provenance:
        return Provenance(grader="offline", grader_version=self.version, model=self.embedder.name,
                          rubric_version=RUBRIC_VERSION)

    def _not_graded(self, reason: str) -> Grade:
        return Grade(status="not_graded", not_graded_reason=reason, summary=reason,
                     provenance=self._provenance())

    def _zero(self, kind, points: list[str], summary: str, language: str) -> Grade:
        reason = _t(language, "没有可评分的内容", "nothing gradable in the answer")
        criteria = [CriterionScore(criterion=c.id, score=0.0, weight=c.weight, reason=reason)
                    for c in criteria_for(kind)]
        verdicts = [KeyPointVerdict(point=p, status=KeyPointStatus.missing) for p in points]
        return Grade(status="graded", total=weighted_total(criteria), criteria=criteria,
                     key_points=verdicts, summary=summary, provenance=self._provenance())

    @staticmethod
    def _verdict(m: F.PointMatch) -> KeyPointStatus:
        if is_contradicted(m):
            return KeyPointStatus.wrong
        if m.coverage >= COVERED_AT:
            return KeyPointStatus.covered
        if m.coverage >= PARTLY_AT:
            return KeyPointStatus.partly
        return KeyPointStatus.missing

    # ------------------------------------------------------------------ grading

    def score(self, analysis: F.Analysis) -> float:
        """The calibrated 0-10 score of an analysed answer (the grade's total, before rounding)."""
        if analysis.empty:
            return 0.0
        return apply_guards(self.calibration.predict(analysis.features), analysis)

    def grade(self, question: str, key_points: list[str], answer: str,
              kind: QuestionKind = QuestionKind.concept, language: str = "zh") -> Grade:
        try:
            return self._grade(question or "", key_points or [], answer, kind, language)
        except Exception as exc:  # never break a session over a grading bug
            return self._not_graded(_t(language, f"离线评分出错：{type(exc).__name__}",
                                       f"offline grading failed: {type(exc).__name__}"))

    def _grade(self, question: str, key_points: list[str], answer, kind, language: str) -> Grade:
        language = "zh" if language == "zh" else "en"
        kind = QuestionKind(kind)
        points = [p.strip() for p in key_points if isinstance(p, str) and p.strip()]
        if not points:
            return self._not_graded(_t(language, "这道题没有参考要点，无法离线评分",
                                       "this question has no key points to grade against"))
        if not isinstance(answer, str) or not answer.strip():
            return self._zero(kind, points, _t(language, "未作答，得 0 分。", "No answer given: 0."), language)

        analysis = F.analyse(question, points, answer, self.embedder)
        notes = self._notes(analysis, language)
        if analysis.empty:
            if analysis.set_aside.get("dont_know"):
                head = _t(language, "回答表示不知道，得 0 分。", "The answer says it does not know: 0.")
            else:
                head = _t(language, "回答中没有可评分的内容，得 0 分。", "Nothing in the answer could be graded: 0.")
            return self._zero(kind, points, " ".join([head] + notes), language)

        target = self.score(analysis)
        criteria = self._criteria(analysis, kind, target, language)
        verdicts = [KeyPointVerdict(point=m.point, status=self._verdict(m), evidence=m.evidence)
                    for m in analysis.points]
        total = weighted_total(criteria)
        return Grade(status="graded", total=total, criteria=criteria, key_points=verdicts,
                     summary=self._summary(total, verdicts, notes, language), provenance=self._provenance())

    # ------------------------------------------------------------------ criteria

    def _criteria(self, a: F.Analysis, kind, target: float, language: str) -> list[CriterionScore]:
        cov = np.array([0.0 if m.negation_conflict else m.coverage for m in a.points])
        n = len(cov)
        covered = int((cov >= COVERED_AT).sum())
        partly = int(((cov >= PARTLY_AT) & (cov < COVERED_AT)).sum())
        depth_share = (covered + 0.5 * partly) / n
        length = min(1.0, max(0.0, (a.features["len_ratio"] + 2.0) / 2.0))
        structure = min(1.0, a.features["structure"] / 0.2) * (1.0 - a.features["offtopic"])
        raw = {
            "correctness": 10 * float(cov.mean()),
            "approach": 10 * float(cov.mean()),
            "depth": 10 * (0.7 * depth_share + 0.3 * length),
            "clarity": 10 * (0.3 if a.keyword_list else structure),
            "complexity": 10 * (0.8 if a.mentions_complexity else 0.2) * float(cov.mean() > 0.2),
        }
        reasons = {
            "correctness": _t(language, f"要点平均覆盖 {cov.mean():.0%}，{covered}/{n} 个要点答到",
                              f"key points covered on average {cov.mean():.0%}; {covered}/{n} covered"),
            "approach": _t(language, f"思路与要点的平均吻合 {cov.mean():.0%}",
                           f"approach matches the key points {cov.mean():.0%} on average"),
            "depth": _t(language, f"覆盖 {covered} 个、部分覆盖 {partly} 个要点（共 {n} 个）",
                        f"{covered} key points covered, {partly} partly, of {n}"),
            "clarity": (_t(language, "只罗列了关键词，缺少解释", "a bare list of keywords, nothing explained")
                        if a.keyword_list else
                        _t(language, f"离题内容占 {a.features['offtopic']:.0%}",
                           f"{a.features['offtopic']:.0%} of the answer is off topic")),
            "complexity": _t(language, "提到了复杂度" if a.mentions_complexity else "没有分析复杂度",
                             "complexity discussed" if a.mentions_complexity else "no complexity analysis"),
        }
        crits = criteria_for(kind)
        w = np.array([c.weight for c in crits])
        r = np.array([raw[c.id] for c in crits])
        # Shift the raw criterion scores so their weighted mean is the calibrated score, shrinking
        # their spread only as much as needed to stay within 0-10.
        dev = r - (w @ r) / w.sum()
        k = 1.0
        for d in dev:
            if d > 1e-9:
                k = min(k, (10.0 - target) / d)
            elif d < -1e-9:
                k = min(k, target / -d)
        scores = np.clip(target + max(0.0, k) * dev, 0.0, 10.0)
        scores = np.round(scores, 3)
        # Put the rounding residue on the heaviest criterion so the weighted mean stays on target.
        heavy = int(np.argmax(w))
        scores[heavy] = np.clip(scores[heavy] + (target * w.sum() - w @ scores) / w[heavy], 0.0, 10.0)
        return [CriterionScore(criterion=c.id, score=round(float(s), 3), weight=c.weight, reason=reasons[c.id])
                for c, s in zip(crits, scores)]

    # ------------------------------------------------------------------ words

    @staticmethod
    def _notes(a: F.Analysis, language: str) -> list[str]:
        notes = []
        if a.truncated:
            notes.append(_t(language, f"回答过长，只分析了前 {F.MAX_ANALYSED_CHARS} 个字符。",
                            f"The answer is very long; only the first {F.MAX_ANALYSED_CHARS} characters "
                            "were analysed."))
        if a.set_aside.get("injection"):
            notes.append(_t(language, "回答中对评分者的指令已被忽略，不计分。",
                            "Instructions addressed to the grader were ignored and earn nothing."))
        if a.set_aside.get("question_copy"):
            notes.append(_t(language, "复述题目的部分不计分。", "Restating the question earns nothing."))
        if a.keyword_list:
            notes.append(_t(language, "只罗列关键词而没有解释，分数减半。",
                            "Keywords listed without explanation: score halved."))
        if not a.empty and a.features.get("offtopic", 0) > 0.5:
            notes.append(_t(language, "大部分内容与题目无关。", "Most of the answer is off topic."))
        return notes

    @staticmethod
    def _summary(total: float, verdicts: list[KeyPointVerdict], notes: list[str], language: str) -> str:
        n = len(verdicts)
        c = sum(v.status == KeyPointStatus.covered for v in verdicts)
        p = sum(v.status == KeyPointStatus.partly for v in verdicts)
        wr = sum(v.status == KeyPointStatus.wrong for v in verdicts)
        head = _t(language, f"离线评分 {total:.1f}/10：{n} 个要点中答到 {c} 个，部分答到 {p} 个",
                  f"Offline grade {total:.1f}/10: {c} of {n} key points covered, {p} partly")
        if wr:
            head += _t(language, f"，{wr} 个可能与要点相反（仅凭否定词判断，请人工核对）",
                       f", {wr} possibly contradicted (judged from negation words only; check by hand)")
        head += _t(language, "。", ".")
        return " ".join([head] + notes)
