"""The offline grader's contract: rubric criteria, per-point verdicts, totals from the rubric, bad input."""

from __future__ import annotations

import pytest

from interviewer.bank.keypoints import split_points
from interviewer.grading.offline import OfflineGrader
from interviewer.grading.rubric import RUBRIC_VERSION, criteria_for, weighted_total
from interviewer.models import KeyPointStatus, QuestionKind

QUESTION = "LoRA 的参数是怎么初始化的？为什么一半是 0？"
POINTS = [
    "LoRA 冻结原权重，把权重更新分解为两个低秩矩阵的乘积 BA，只训练 A 和 B。",
    "A 用随机高斯（或 Kaiming）初始化，B 初始化为 0。",
    "这样训练开始时 BA=0，模型输出与预训练模型完全一致，不破坏原有能力。",
    "如果 A、B 都为 0，梯度也为 0，无法训练，所以只能一个为 0。",
]
GOOD = ("LoRA 冻结原始权重，只训练两个低秩矩阵 A 和 B，更新量是 BA。初始化时 A 用高斯分布随机初始化，"
        "B 初始化为全 0，这样一开始 BA 等于 0，模型的输出和预训练模型一样，不会破坏原来的能力。"
        "不能两个都为 0，因为那样梯度都是 0，训练不动。")


@pytest.fixture(scope="module")
def grader(embedder):
    return OfflineGrader(embedder)


def test_graded_answer_has_rubric_criteria_points_and_provenance(grader):
    g = grader.grade(QUESTION, POINTS, GOOD)
    assert g.status == "graded"
    assert [c.criterion for c in g.criteria] == [c.id for c in criteria_for(QuestionKind.concept)]
    assert all(0 <= c.score <= 10 and c.reason for c in g.criteria)
    assert g.total == weighted_total(g.criteria)
    assert [v.point for v in g.key_points] == POINTS
    covered = [v for v in g.key_points if v.status == KeyPointStatus.covered]
    assert len(covered) >= 3 and all(v.evidence and v.evidence in GOOD for v in covered)
    assert g.provenance.grader == "offline" and g.provenance.rubric_version == RUBRIC_VERSION
    assert g.provenance.model == grader.embedder.name
    assert g.summary


def test_project_questions_are_graded_on_structure(grader, bank):
    """A project card's key points are the parts of the story; its rubric says structure, not facts."""
    card = bank.get("001_d9b2635feb76d0f0:012")
    assert card.kind == QuestionKind.project
    story = ("我做的是客服知识库问答，背景是人工客服每天要答上千个重复问题，目标是自动回答八成。我负责检索和评测两块。"
             "方案上对比过纯向量检索和 BM25，最后选了混合检索加重排，因为产品名这种专有词向量召回不稳。"
             "上线后 recall@5 从 0.62 提到 0.81，人工转接率降了三成。不足是文档更新要手动重建索引，下一步做增量更新。")
    g = grader.grade(card.question, card.key_points, story, kind=card.kind)
    assert [c.criterion for c in g.criteria] == ["structure", "depth", "clarity"]
    assert g.total == weighted_total(g.criteria) and g.total >= 5
    thin = grader.grade(card.question, card.key_points, "做了一个知识库问答项目，效果还不错。", kind=card.kind)
    assert thin.total < g.total


def test_coding_questions_use_the_coding_criteria(grader):
    g = grader.grade("手写快速选择求第 k 大元素", ["用 partition 把数组分成两部分", "平均时间复杂度 O(n)"],
                     "用快排的 partition 思路，每次只递归一边，平均复杂度 O(n)，最坏 O(n^2)。",
                     kind=QuestionKind.coding)
    assert [c.criterion for c in g.criteria] == [c.id for c in criteria_for(QuestionKind.coding)]
    assert g.total == weighted_total(g.criteria)


def test_total_is_the_calibrated_score(grader):
    # The criteria are derived so that the rubric's weighted total is the calibrated prediction.
    from interviewer.grading.features import analyse

    for answer in [GOOD, "LoRA 只训练低秩矩阵。"] + [GOOD[:k] for k in range(12, len(GOOD), 11)]:
        expected = grader.score(analyse(QUESTION, POINTS, answer, grader.embedder))
        assert grader.grade(QUESTION, POINTS, answer).total == pytest.approx(expected, abs=0.051)


def test_empty_answer_is_graded_zero(grader):
    for answer in ("", "   \n"):
        g = grader.grade(QUESTION, POINTS, answer)
        assert g.status == "graded" and g.total == 0
        assert "未作答" in g.summary
        assert all(v.status == KeyPointStatus.missing for v in g.key_points)


def test_no_key_points_is_not_graded(grader):
    g = grader.grade(QUESTION, [], GOOD)
    assert g.status == "not_graded" and g.total is None and g.not_graded_reason
    g = grader.grade(QUESTION, ["  ", ""], GOOD, language="en")
    assert g.status == "not_graded" and "key points" in g.not_graded_reason


def test_huge_answer_is_capped_and_says_so(grader):
    import time

    start = time.perf_counter()
    g = grader.grade(QUESTION, POINTS, GOOD + "补充说明一些无关的内容。" * 90_000)  # > 1 MB
    assert time.perf_counter() - start < 10
    assert g.status == "graded" and "只分析了前" in g.summary


def test_english_reasons_for_english_sessions(grader):
    g = grader.grade("What is the difference between TCP and UDP?",
                     ["TCP is connection-oriented and reliable, with retransmission and ordering.",
                      "UDP is connectionless, best effort, with a small fixed 8-byte header."],
                     "TCP sets up a connection and retransmits lost segments; UDP just sends datagrams.",
                     language="en")
    assert g.status == "graded"
    assert g.summary.startswith("Offline grade")
    assert all(c.reason.isascii() for c in g.criteria)


def test_bad_types_never_raise(grader):
    g = grader.grade(QUESTION, POINTS, None)  # type: ignore[arg-type]
    assert g.status == "graded" and g.total == 0


def test_split_points_handles_numbered_circled_and_sentences():
    text = ("顺序表：①将表中元素逐个放在连续的空间中；②无需额外空间表示逻辑关系；③数组大小确定之后就难以更改。\n\n"
            "1. 链表的存储空间不连续，不支持随机访问。\n2) 插入删除只需修改指针。\n- 需要额外的指针空间")
    points = split_points(text)
    assert points[0].startswith("顺序表") and "连续的空间" in points[0]  # the heading joins its first item
    assert "无需额外空间表示逻辑关系" in points
    assert "链表的存储空间不连续，不支持随机访问。" in points
    assert "插入删除只需修改指针。" in points
    assert "需要额外的指针空间" in points
    assert not any(p.startswith(("1.", "2)", "-", "①", "②")) for p in points)


def test_split_points_caps_and_handles_empty():
    assert split_points("") == [] and split_points("  \n\n ") == []
    many = "\n".join(f"{i}. 第{i}个要点的内容比较具体" for i in range(1, 40))
    points = split_points(many)
    assert 1 <= len(points) <= 12
    assert all(f"第{i}个要点" in " ".join(points) for i in range(1, 40))  # merged, not dropped


def test_split_points_keeps_continuations_and_lead_ins_with_their_point():
    notes = ("Flash Attention 是一种加速注意力计算的技术。它通过分块计算减少显存读写。\n"
             "常见的参数包括：\n温度：控制随机性。\nTop-p 采样：从累积概率超过 p 的词中采样。")
    points = split_points(notes)
    assert points[0] == "Flash Attention 是一种加速注意力计算的技术。它通过分块计算减少显存读写。"
    assert points[1].startswith("常见的参数包括：") and "温度" in points[1]
    assert points[2].startswith("Top-p")


def test_opposite_true_false_verdict_is_wrong_and_costs_the_score(grader):
    q = "请判断以下叙述是否正确，并做出解释：栈底元素是不能删除的元素"
    points = ["错误。栈中元素可以从栈顶一个一个出栈删除，直到最后删除栈底元素。"]
    right = grader.grade(q, points, "错误。可以先把上面的元素一个个出栈，最后删除栈底元素。")
    wrong = grader.grade(q, points, "正确。栈只能删除栈顶元素，所以栈底元素不能删除。")
    assert right.key_points[0].status == KeyPointStatus.covered and right.total >= 6
    assert wrong.key_points[0].status == KeyPointStatus.wrong and wrong.total <= 2
    assert "请人工核对" in wrong.summary  # the grade says how limited this detection is


def test_negated_near_copy_of_a_point_is_flagged(grader):
    q = "UDP 有哪些特点？"
    # Limited on purpose: the matching clause must carry most of the point's words.
    points = ["UDP 不保证数据的可靠交付。"]
    negated = grader.grade(q, points, "UDP 保证数据的可靠交付。")
    same = grader.grade(q, points, "UDP 不保证数据的可靠交付。")
    assert negated.key_points[0].status == KeyPointStatus.wrong
    assert same.key_points[0].status == KeyPointStatus.covered
    assert negated.total <= same.total - 3


def test_a_failing_embedder_gives_not_graded_instead_of_raising(embedder):
    class Broken:
        name = "broken-model"

        def encode(self, texts):
            raise RuntimeError("model file missing")

    g = OfflineGrader(Broken()).grade(QUESTION, POINTS, GOOD)
    assert g.status == "not_graded" and "RuntimeError" in g.not_graded_reason


def test_calibration_file_is_recorded_and_a_broken_one_is_labelled(tmp_path, embedder):
    shipped = OfflineGrader(embedder)
    assert shipped.version.startswith("offline-6+cal:") and "none" not in shipped.version
    assert shipped.grade(QUESTION, POINTS, GOOD).provenance.grader_version == shipped.version
    bad = tmp_path / "cal.json"
    bad.write_text("{not json", encoding="utf-8")
    broken = OfflineGrader(embedder, calibration_path=bad)
    assert "invalid" in broken.version
    g = broken.grade(QUESTION, POINTS, GOOD)
    assert g.status == "graded" and "invalid" in g.provenance.grader_version
    missing = OfflineGrader(embedder, calibration_path=tmp_path / "nope.json")
    assert missing.version.endswith("cal:none")
