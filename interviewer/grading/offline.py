"""The offline grader (no model): key-point verdicts from sentence embeddings and words, checked
against what the card knows about wrong answers, and a total built from those verdicts.

How a grade is made:
1. `features.analyse()` measures the answer against each key point (see that module).
2. `card_checks.check_answer()` marks points the answer states wrongly (known misconceptions,
   swapped facts, negated copies) and points it cannot judge (inversion cues).
3. `scoring.score()` turns the point credits (fitted on human-scored answers: calibration.json,
   scripts/fit_grader.py) and those flags into the criteria and the total, each reason stating the
   figures behind its score, so the total, the criteria and the verdicts tell one story.

Never raises: bad input gives a "not_graded" grade or an honest 0.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from interviewer.grading import features as F
from interviewer.grading.card_checks import check_answer
from interviewer.grading.content import CardContent
from interviewer.grading.rubric import RUBRIC_VERSION, criteria_for, weighted_total
from interviewer.grading.scoring import DOUBT_SOURCES, FALLBACK, Calibration, Scored, score
from interviewer.models import CriterionScore, Grade, KeyPointStatus, KeyPointVerdict, Provenance, QuestionKind

GRADER_VERSION = "offline-6"
DEFAULT_CALIBRATION = Path(__file__).with_name("calibration.json")


def load_calibration(path: Path | str | None) -> Calibration:
    path = Path(path) if path is not None else DEFAULT_CALIBRATION
    if not path.exists():
        return Calibration(FALLBACK, None)
    raw = path.read_bytes()
    return Calibration(json.loads(raw), hashlib.sha256(raw).hexdigest())


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
            self.calibration = load_calibration(calibration_path)
            cal = self.calibration.sha256[:12] if self.calibration.sha256 else "none"
        except (OSError, ValueError, KeyError, TypeError) as exc:
            # A broken calibration file must not stop interviews: grade with the fallback map and
            # say so in every grade's provenance.
            self.calibration = Calibration(FALLBACK, None)
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
        reason = _t(language, "没有可评分的内容 → 0", "nothing gradable in the answer → 0")
        criteria = [CriterionScore(criterion=c.id, score=0.0, weight=c.weight, reason=reason)
                    for c in criteria_for(kind)]
        verdicts = [KeyPointVerdict(point=p, status=KeyPointStatus.missing) for p in points]
        return Grade(status="graded", total=weighted_total(criteria), criteria=criteria,
                     key_points=verdicts, summary=summary, provenance=self._provenance())

    # ------------------------------------------------------------------ grading

    def analyse(self, question: str, points: list[str], answer: str, content: CardContent | None = None,
                language: str = "zh"):
        """(analysis, flags): the measurements and the wrong/doubt flags of an answer."""
        analysis = F.analyse(question, points, answer, self.embedder)
        content = content or CardContent()
        flags = check_answer(analysis, points, content.misconceptions, content.facts, self.embedder, language,
                             question, truth=content.truth)
        return analysis, flags

    def scored(self, analysis: F.Analysis, flags=(), kind: QuestionKind = QuestionKind.concept,
               language: str = "zh") -> Scored:
        return score(analysis, self.calibration, list(flags), kind, language)

    def score(self, analysis: F.Analysis, flags=(), kind: QuestionKind = QuestionKind.concept) -> float:
        """The 0-10 total of an analysed answer (the grade's total, before rounding)."""
        if analysis.empty:
            return 0.0
        return self.scored(analysis, flags, kind).total

    def grade(self, question: str, key_points: list[str], answer: str,
              kind: QuestionKind = QuestionKind.concept, language: str = "zh",
              content: CardContent | None = None) -> Grade:
        try:
            return self._grade(question or "", key_points or [], answer, kind, language, content)
        except Exception as exc:  # never break a session over a grading bug
            return self._not_graded(_t(language, f"离线评分出错：{type(exc).__name__}",
                                       f"offline grading failed: {type(exc).__name__}"))

    def _grade(self, question: str, key_points: list[str], answer, kind, language: str,
               content: CardContent | None) -> Grade:
        language = "zh" if language == "zh" else "en"
        kind = QuestionKind(kind)
        points = [p.strip() for p in key_points if isinstance(p, str) and p.strip()]
        if not points:
            return self._not_graded(_t(language, "这道题没有参考要点，无法离线评分",
                                       "this question has no key points to grade against"))
        if not isinstance(answer, str) or not answer.strip():
            return self._zero(kind, points, _t(language, "未作答，得 0 分。", "No answer given: 0."), language)
        if content is not None and not isinstance(content, CardContent):
            content = CardContent.of(content)  # a QuestionCard, or anything with misconceptions/facts
        if content:
            # Card content indexes the card's own key points; other points cannot be checked with it.
            n = len(points)
            content = CardContent([m for m in content.misconceptions if m.point < n],
                                  [f for f in content.facts if f.point < n], list(content.truth))
        analysis, flags = self.analyse(question, points, answer, content, language)
        notes = self._notes(analysis, language)
        if analysis.empty:
            if analysis.set_aside.get("dont_know"):
                head = _t(language, "回答表示不知道，得 0 分。", "The answer says it does not know: 0.")
            else:
                head = _t(language, "回答中没有可评分的内容，得 0 分。", "Nothing in the answer could be graded: 0.")
            return self._zero(kind, points, " ".join([head] + notes), language)

        result = self.scored(analysis, flags, kind, language)
        verdicts = [KeyPointVerdict(point=m.point, status=p.status, evidence=p.evidence)
                    for m, p in zip(analysis.points, result.points)]
        total = weighted_total(result.criteria)
        checked = bool(content)
        return Grade(status="graded", total=total, criteria=result.criteria, key_points=verdicts,
                     summary=self._summary(total, result, notes, checked, language),
                     provenance=self._provenance())

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
            notes.append(_t(language, "只罗列关键词而没有解释：每个要点最多算部分答到。",
                            "Keywords listed without explanation: each key point counts as partly answered at most."))
        if not a.empty and a.features.get("offtopic", 0) > 0.5:
            notes.append(_t(language, "大部分内容与参考要点无关。",
                            "Most of the answer is unrelated to the key points."))
        return notes

    @staticmethod
    def _summary(total: float, result: Scored, notes: list[str], checked: bool, language: str) -> str:
        pts = result.points
        n = len(pts)
        c = sum(p.status == KeyPointStatus.covered for p in pts)
        p_ = sum(p.status == KeyPointStatus.partly for p in pts)
        wrong = [p for p in pts if p.status == KeyPointStatus.wrong]
        head = _t(language, f"离线评分 {total:.1f}/10：{n} 个要点中答到 {c} 个，部分答到 {p_} 个",
                  f"Offline grade {total:.1f}/10: {c} of {n} key points covered, {p_} partly")
        if wrong:
            head += _t(language, f"，{len(wrong)} 个答错（每个答错的要点记 -1，比不答更扣分）",
                       f", {len(wrong)} wrong (a wrong point counts -1, more than leaving it out)")
            said = []
            for i, p in enumerate(pts):
                if p.status != KeyPointStatus.wrong or p.note == "negation" or ": " not in p.note:
                    continue
                source, what = p.note.split(": ", 1)
                label = _t(language, {"misconception": "与已知错误说法一致，实际", "fact": "说反了事实"}.get(
                               source, "与参考答案相反"),
                           {"misconception": "matches a known misconception; in fact", "fact": "swapped fact"}.get(
                               source, "contradicts the reference"))
                said.append(_t(language, f"要点 {i + 1} {label}：{what[:60]}",
                               f"key point {i + 1} {label}: {what[:60]}"))
            if said:
                head += _t(language, "（" + "；".join(said[:3]) + "）", " (" + "; ".join(said[:3]) + ")")
            if any(w.note == "negation" for w in wrong):
                head += _t(language, "；其中有的仅凭否定词判断，请人工核对",
                           "; some judged from negation words only, check by hand")
        head += _t(language, "。", ".")
        parts = [head]
        parts += [cap + _t(language, "。", ".") for cap in result.caps]
        if result.unsure:
            said = [p.note.split(": ", 1)[1][:60] for p in pts
                    if p.status != KeyPointStatus.wrong and p.note.split(":")[0] in DOUBT_SOURCES]
            parts.append(_t(language, f"可信度低：{result.unsure} 个要点的说法可能与参考答案相反"
                                      f"（{'；'.join(said[:2])}），离线评分无法确认，这些要点最多算部分答到。",
                            f"Low confidence: {result.unsure} key point(s) may say the opposite of the reference "
                            f"({'; '.join(said[:2])}); the offline grader cannot confirm it, so they count as "
                            "partly answered at most."))
        if result.doubt:
            parts.append(_t(language, f"可信度低：{result.doubt} 个要点的表述带有否定/相反的说法，"
                                      "离线评分无法判断对错，请人工核对。",
                            f"Low confidence: {result.doubt} key point(s) are stated with a negation or contrast the "
                            "offline grader cannot judge; check them by hand."))
        if not (result.unsure or result.doubt) and not checked:
            parts.append(_t(language, "这道题没有已知错误说法可比对：离线评分只衡量覆盖和与参考答案明显相反的说法，"
                                      "不能确认说法正确。",
                            "No known misconceptions for this question: the offline grade measures coverage and "
                            "plain contradictions of the reference; it cannot confirm the statements are true."))
        return " ".join(parts + notes)
