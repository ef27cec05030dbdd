"""Wrong statements caught against a card's own truth, with no misconception recorded (issue 12,
interviewer/grading/contradictions.py), and the correct texts they must leave alone."""

from __future__ import annotations

import pytest

from interviewer.grading.content import CardContent
from interviewer.grading.contradictions import TruthChecker
from interviewer.grading.offline import OfflineGrader
from interviewer.models import KeyPointStatus

SAMPLING_POINTS = ["temperature 在 softmax 前缩放 logits，越低越确定，0 近似 greedy",
                   "top-k 只在概率最高的 k 个 token 中采样",
                   "top-p 在累积概率达到 p 的最小 token 集合中采样"]
SAMPLING_TRUTH = ["temperature 在 softmax 之前把 logits 除以 T：T 越低分布越尖、输出越确定，接近 0 时近似 greedy。"
                  "top-k 只在概率最高的 k 个 token 里采样。top-p 取累积概率达到 p 的最小 token 集合再采样。",
                  "Temperature divides the logits by T: lower T makes output more deterministic. Top-k samples only "
                  "from the k most probable tokens."]
NORM_POINTS = ["Post-Norm: x_{l+1} = LN(x + F(x)), 原始 Transformer/BERT 使用",
               "Pre-Norm: x_{l+1} = x + F(LN(x)), GPT-2 起大多数 LLM 使用",
               "Pre-Norm 保留干净的恒等残差路径, 梯度稳定, 易训练"]


def found(points, truth, answer: str, question: str = "") -> list[tuple[int, str]]:
    checker = TruthChecker(points, truth, question)
    return [(c.point, c.source) for c in checker.check([answer])]


def test_a_term_flipped_to_its_antonym_about_the_same_thing_is_caught():
    assert found(SAMPLING_POINTS, SAMPLING_TRUTH, "temperature 越高分布越尖、输出越确定。") == [(0, "antonym")]
    assert found(SAMPLING_POINTS, SAMPLING_TRUTH, "top-k 是从概率最低的 k 个 token 里采样。") == [(1, "antonym")]


def test_correct_texts_and_comparisons_are_not_caught():
    for text in ["temperature 越低，分布越尖，输出越确定。",
                 "top-k 只从概率最高的 k 个 token 里采样，top-p 取累积概率达到 p 的最小集合。",
                 "温度越高越随机，越低越确定。",            # both poles: a comparison, not a flip
                 *SAMPLING_TRUTH]:
        assert found(SAMPLING_POINTS, SAMPLING_TRUTH, text) == [], text


def test_a_negated_antonym_agrees_with_the_truth():
    assert found(SAMPLING_POINTS, SAMPLING_TRUTH, "top-k 不是从概率最低的 k 个 token 里采样。") == []


def test_a_name_tied_to_its_siblings_partner_is_a_swap():
    assert found(NORM_POINTS, [], "原始 Transformer 就是 Pre-Norm。") == [(0, "swap")]
    truth = ["GPT-2 之后的 LLM 大多用 Pre-Norm。"]
    assert found(NORM_POINTS, truth, "GPT-2 之后的大模型基本都用 Post-Norm。") == [(1, "swap")]
    assert found(NORM_POINTS, [], "原始 Transformer 用的是 Post-Norm，GPT-2 起改用 Pre-Norm。") == []
    # Naming both siblings in one clause compares them; it ties nothing to the wrong one.
    assert found(NORM_POINTS, [], "原始 Transformer 用 Post-Norm 而 GPT-2 用 Pre-Norm。") == []


def test_an_acronym_spelled_out_otherwise_than_the_truth_is_wrong():
    points = ["DPO = Direct Preference Optimization, 直接用成对偏好数据优化"]
    assert found(points, [], "DPO 是 Deep Policy Optimization，是 PPO 的改进版。") == [(0, "expansion")]
    assert found(points, [], "DPO (Direct Preference Optimization) 直接用偏好对优化。") == []


def test_a_stated_limit_with_another_number_of_the_same_unit_is_caught():
    points = ["跳表节点层数随机(p=0.25, 最高 32 层), span 用于计算排名"]
    assert found(points, [], "跳表层数默认 16 层，每层节点数减半。") == [(0, "number")]
    assert found(points, [], "跳表层数随机，最高 32 层。") == []


@pytest.fixture(scope="module")
def grader(embedder):
    return OfflineGrader(embedder)


def test_one_contradiction_only_lowers_confidence_and_two_make_the_answer_wrong(grader):
    content = CardContent(truth=SAMPLING_TRUTH)
    q = "大模型生成时的参数怎么设置?"
    one = grader.grade(q, SAMPLING_POINTS, "temperature 越高分布越尖、输出越确定。top-p 取累积概率达到 p 的最小 token "
                                           "集合再采样。", content=content)
    assert one.key_points[0].status == KeyPointStatus.partly
    assert "可信度低" in one.summary and "最多算部分答到" in one.summary
    two = grader.grade(q, SAMPLING_POINTS, "temperature 越高分布越尖、输出越确定。top-k 是从概率最低的 k 个 token "
                                           "里采样。", content=content)
    assert [v.status for v in two.key_points[:2]] == [KeyPointStatus.wrong, KeyPointStatus.wrong]
    assert two.total <= 3.0
    right = grader.grade(q, SAMPLING_POINTS, SAMPLING_TRUTH[0], content=content)
    assert KeyPointStatus.wrong not in [v.status for v in right.key_points] and right.total >= 7
