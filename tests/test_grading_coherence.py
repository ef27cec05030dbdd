"""One story per grade card, on every row of the human-scored dev sets (issue 12).

Every row of /work/shared/bench/grading/*.jsonl is graded through OfflineGrader.grade (card rows with
their card's key points, misconceptions and facts), and each grade card must agree with itself:
- the total is the rubric's weighted total of the criteria;
- no total of 7 or more with half or more of the key points missing or wrong;
- every criterion's reason ends with the figure it produced ("→ 6.3"), and that figure is the score
  (or, when a cap applied, the reason states the factor and the capped score);
- the verdict counts a reason or the summary states are the key points' verdicts;
- a stated off-topic share bounds clarity (no "clarity 10.0" beside "离题内容占 23%");
- a wrong key point is never reported as covered anywhere, and a wrong point caps the total.
"""

from __future__ import annotations

import re

import pytest

from interviewer.config import REPO_ROOT
from interviewer.grading.datasets import row_task
from interviewer.grading.evaluation import load_rows
from interviewer.grading.offline import OfflineGrader
from interviewer.grading.rubric import weighted_total
from interviewer.grading.scoring import ONE_WRONG_CAP, TWO_WRONG_CAP
from interviewer.models import KeyPointStatus

DATA_DIR = REPO_ROOT.parent / "shared" / "bench" / "grading"
SETS = ("ads_zh_dev.jsonl", "saf_en_dev.jsonl", "bank_answers_dev.jsonl")

_FIGURE = re.compile(r"(?:→|->)\s*(-?\d+(?:\.\d+)?)\s*$")
_COUNTS_ZH = re.compile(r"(\d+) 个要点：答到 (\d+)、部分 (\d+)、未答 (\d+)、答错 (\d+)")
_COUNTS_EN = re.compile(r"(\d+) key points: (\d+) covered, (\d+) partly, (\d+) missing, (\d+) wrong")
_OFFTOPIC = re.compile(r"(?:离题内容|与要点无关的内容)占 (\d+)%|(\d+)% (?:off topic|unrelated to the key points)")


def check_card(grade) -> list[str]:
    """The ways a grade card contradicts itself (empty when it tells one story)."""
    problems = []
    if grade.status != "graded":
        return problems
    if grade.total != weighted_total(grade.criteria):
        problems.append(f"total {grade.total} is not the weighted total {weighted_total(grade.criteria)}")
    st = [v.status for v in grade.key_points]
    n = len(st)
    bad = sum(s in (KeyPointStatus.missing, KeyPointStatus.wrong) for s in st)
    wrong = st.count(KeyPointStatus.wrong)
    if n and grade.total >= 7 and bad * 2 >= n:
        problems.append(f"total {grade.total} with {bad}/{n} key points missing or wrong")
    if wrong >= 2 and grade.total > TWO_WRONG_CAP or wrong == 1 and grade.total > ONE_WRONG_CAP:
        problems.append(f"total {grade.total} with {wrong} wrong key points")
    for c in grade.criteria:
        m = _FIGURE.search(c.reason)
        if not m:
            problems.append(f"{c.criterion}: reason states no figure: {c.reason!r}")
        elif abs(float(m.group(1)) - c.score) > 0.051:
            problems.append(f"{c.criterion}: score {c.score} but reason says {m.group(1)}: {c.reason!r}")
        counts = _COUNTS_ZH.search(c.reason) or _COUNTS_EN.search(c.reason)
        if counts:
            stated = tuple(int(x) for x in counts.groups())
            actual = (n, st.count(KeyPointStatus.covered), st.count(KeyPointStatus.partly),
                      st.count(KeyPointStatus.missing), wrong)
            if stated != actual:
                problems.append(f"{c.criterion}: reason counts {stated}, verdicts {actual}")
        off = _OFFTOPIC.search(c.reason)
        if c.criterion == "clarity" and off:
            share = int(off.group(1) or off.group(2)) / 100
            if c.score > 10 * (1 - share) + 0.06:
                problems.append(f"clarity {c.score} beside {share:.0%} off topic")
    if grade.summary:
        m = re.search(r"(\d+) 个要点中答到 (\d+) 个，部分答到 (\d+) 个", grade.summary) or \
            re.search(r"(\d+) of (\d+) key points covered, (\d+) partly", grade.summary)
        if m:
            if "key points covered" in m.group(0):
                stated = (int(m.group(2)), int(m.group(1)), int(m.group(3)))
            else:
                stated = (int(m.group(1)), int(m.group(2)), int(m.group(3)))
            if stated != (n, st.count(KeyPointStatus.covered), st.count(KeyPointStatus.partly)):
                problems.append(f"summary counts {stated} disagree with the verdicts")
        head = re.search(r"(\d+(?:\.\d+)?)/10", grade.summary)
        if head and abs(float(head.group(1)) - grade.total) > 0.051:
            problems.append(f"summary says {head.group(1)}/10, total {grade.total}")
    return problems


@pytest.fixture(scope="module")
def grader(embedder):
    return OfflineGrader(embedder)


def test_the_checker_catches_the_contradictions_of_issue_12():
    from interviewer.models import CriterionScore, Grade, KeyPointVerdict, Provenance

    prov = Provenance(grader="offline", grader_version="t", rubric_version="r")
    pts = [KeyPointVerdict(point=f"p{i}", status=s) for i, s in enumerate(
        [KeyPointStatus.covered, KeyPointStatus.covered] + [KeyPointStatus.missing] * 4)]
    crits = [CriterionScore(criterion="correctness", score=9.2, weight=0.5, reason="要点平均覆盖 50%，3/5 个要点答到"),
             CriterionScore(criterion="depth", score=9.2, weight=0.3, reason="x → 9.2"),
             CriterionScore(criterion="clarity", score=10.0, weight=0.2, reason="离题内容占 23%，连贯度 100% → 10.0")]
    g = Grade(status="graded", total=weighted_total(crits), criteria=crits, key_points=pts, provenance=prov)
    problems = " | ".join(check_card(g))
    assert "missing or wrong" in problems and "states no figure" in problems and "off topic" in problems


@pytest.mark.slow
@pytest.mark.parametrize("name", SETS)
def test_every_dev_row_gets_a_coherent_grade_card(grader, name):
    path = DATA_DIR / name
    if not path.is_file():
        pytest.skip(f"dev set not found: {path} (the shared/ folder beside the repo checkout)")
    rows = load_rows(path)
    failures = []
    for row in rows:
        points, content, kind = row_task(row)
        g = grader.grade(row["question"], points, row["answer"], kind, row.get("lang", "zh"), content=content)
        assert g.status == "graded", (row["id"], g.not_graded_reason)
        failures += [f"{row['id']}: {p}" for p in check_card(g)]
    assert not failures, f"{len(failures)} incoherent grade cards, e.g.:\n" + "\n".join(failures[:15])
