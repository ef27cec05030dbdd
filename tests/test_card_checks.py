"""Confident wrong answers: swapped facts and known misconceptions mark the point `wrong` and cost more
than leaving it out; an inversion the grader cannot judge lowers confidence instead of rewarding fluency.

Fixtures are written here from domain knowledge (not from the dev answers), in the card-content schema
of /work/content/SCHEMA.md.
"""

from __future__ import annotations

import json

import pytest

from interviewer.grading.card_checks import check_facts
from interviewer.grading.content import CardContent
from interviewer.grading.offline import OfflineGrader
from interviewer.models import Fact, KeyPointStatus, Misconception, QuestionCard

ZERO_Q = "ZeRO 零冗余优化器的三个阶段分别是什么？"
ZERO_POINTS = [
    "数据并行中每张卡都保存完整的参数、梯度和优化器状态，ZeRO 去掉这份冗余。",
    "Stage 1：切分优化器状态（Adam 的 m、v 和 fp32 主权重）。",
    "Stage 2：再切分梯度，反向时用 reduce-scatter 代替 all-reduce。",
    "Stage 3：再切分模型参数，前向和反向时按层 all-gather，用完释放。",
    "Stage 1、2 的通信量与数据并行相同，Stage 3 约为 1.5 倍。",
]
ZERO_CONTENT = CardContent(
    misconceptions=[Misconception(
        claim="ZeRO 三个阶段的通信量都和普通数据并行一样，没有额外开销。",
        claim_en="All three ZeRO stages communicate exactly as much as plain data parallelism.",
        point=4, why="Stage 3 要额外 all-gather 参数，通信量约为数据并行的 1.5 倍。")],
    facts=[
        Fact(point=1, subject=["Stage 1", "ZeRO-1", "阶段1", "第一阶段"], holds=["优化器状态", "optimizer state"],
             **{"not": ["梯度", "gradient"]}),
        Fact(point=2, subject=["Stage 2", "ZeRO-2", "阶段2", "第二阶段"], holds=["梯度", "gradient"],
             **{"not": ["参数", "parameter"]}),
        Fact(point=3, subject=["Stage 3", "ZeRO-3", "阶段3", "第三阶段"], holds=["参数", "parameter"],
             **{"not": ["梯度", "gradient"]}),
    ])
ZERO_GOOD = ("数据并行里每张卡都存一份完整的参数、梯度和优化器状态，ZeRO 就是去掉这种冗余。"
             "Stage 1 把优化器状态（Adam 的 m、v 和 fp32 主权重）切分到各卡；Stage 2 再切分梯度，反向时用 "
             "reduce-scatter 代替 all-reduce；Stage 3 连模型参数也切分，前向、反向时按层 all-gather，用完释放。"
             "Stage 1 和 2 的通信量和数据并行一样，Stage 3 多了参数的 all-gather，大约是 1.5 倍。")
ZERO_SWAPPED = ("数据并行里每张卡都存一份完整的参数、梯度和优化器状态，ZeRO 就是去掉这种冗余。"
                "Stage 1 把优化器状态（Adam 的 m、v 和 fp32 主权重）切分到各卡；Stage 2 再切分模型参数，前向时按层 "
                "all-gather；Stage 3 再切分梯度，反向时用 reduce-scatter 代替 all-reduce。"
                "三个阶段的通信量都和普通数据并行一样，没有额外开销。")
ZERO_OMITTED = ("数据并行里每张卡都存一份完整的参数、梯度和优化器状态，ZeRO 就是去掉这种冗余。"
                "Stage 1 把优化器状态（Adam 的 m、v 和 fp32 主权重）切分到各卡。")

LORA_Q = "LoRA 的原理是什么？A、B 两个矩阵怎么初始化？"
LORA_POINTS = [
    "冻结预训练权重 W，只训练旁路的低秩矩阵 A 和 B，权重更新 ΔW = BA。",
    "A 用随机高斯（或 Kaiming）初始化，B 初始化为 0，训练开始时 ΔW = 0。",
    "秩 r 远小于维度，可训练参数很少，推理时可以把 BA 合并回 W，没有额外延迟。",
]
LORA_CONTENT = CardContent(
    misconceptions=[Misconception(
        claim="LoRA 会把模型的所有参数都重新随机初始化，然后全部重新训练。",
        claim_en="LoRA re-initialises all of the model's parameters randomly and retrains them all.",
        point=0, why="LoRA 冻结原权重，只训练新加的低秩矩阵 A 和 B。")],
    facts=[
        Fact(point=1, subject=["矩阵A", "A 矩阵", "A矩阵", "matrix A"],
             holds=["高斯", "随机", "gaussian", "random", "kaiming"],
             **{"not": ["初始化为 0", "初始化为0", "全 0", "全0", "zero"]}),
        Fact(point=1, subject=["矩阵B", "B 矩阵", "B矩阵", "matrix B"], holds=["0", "零", "zero"],
             **{"not": ["高斯", "gaussian", "随机", "random"]}),
    ])
LORA_GOOD = ("LoRA 冻结预训练权重 W，只训练旁路的两个低秩矩阵，权重更新量 ΔW = BA。A 矩阵用随机高斯初始化，"
             "B 矩阵初始化为 0，所以训练开始时 ΔW = 0，模型输出和原模型一样。秩 r 远小于隐藏维度，可训练参数很少，"
             "推理时还能把 BA 合并回 W，没有额外延迟。")
LORA_WRONG = ("LoRA 会把模型的所有参数都重新随机初始化，然后全部重新训练，只是学习率小一点。A 矩阵初始化为 0，"
              "B 矩阵用随机高斯初始化，训练开始时 ΔW = 0。秩 r 远小于隐藏维度，推理时可以把 BA 合并回 W。")


@pytest.fixture(scope="module")
def grader(embedder):
    return OfflineGrader(embedder)


def statuses(g):
    return [v.status for v in g.key_points]


def test_correct_answers_are_not_flagged(grader):
    for q, points, content, answer in ((ZERO_Q, ZERO_POINTS, ZERO_CONTENT, ZERO_GOOD),
                                       (LORA_Q, LORA_POINTS, LORA_CONTENT, LORA_GOOD)):
        with_content = grader.grade(q, points, answer, content=content)
        assert KeyPointStatus.wrong not in statuses(with_content), with_content.summary
        assert with_content.total >= 6.5
        # Content only ever takes away: a correct answer scores the same with or without it.
        assert with_content.total == grader.grade(q, points, answer).total


def test_swapped_stages_and_a_known_misconception_mark_points_wrong(grader):
    g = grader.grade(ZERO_Q, ZERO_POINTS, ZERO_SWAPPED, content=ZERO_CONTENT)
    st = statuses(g)
    assert st[2] == st[3] == st[4] == KeyPointStatus.wrong, g.summary
    assert st[0] != KeyPointStatus.wrong and st[1] != KeyPointStatus.wrong
    assert g.total <= 3.0
    good = grader.grade(ZERO_Q, ZERO_POINTS, ZERO_GOOD, content=ZERO_CONTENT)
    assert good.total - g.total >= 4
    assert "答错" in g.summary


def test_swapped_initialisation_and_misconception_on_lora(grader):
    g = grader.grade(LORA_Q, LORA_POINTS, LORA_WRONG, content=LORA_CONTENT)
    st = statuses(g)
    assert st[0] == KeyPointStatus.wrong and st[1] == KeyPointStatus.wrong, [g.summary, st]
    assert g.total <= 3.5


def test_a_wrong_statement_costs_more_than_leaving_the_point_out(grader):
    wrong = grader.grade(ZERO_Q, ZERO_POINTS, ZERO_SWAPPED, content=ZERO_CONTENT)
    omitted = grader.grade(ZERO_Q, ZERO_POINTS, ZERO_OMITTED, content=ZERO_CONTENT)
    assert wrong.total < omitted.total
    correctness = {c.criterion: c for c in wrong.criteria}["correctness"]
    assert "答错 3" in correctness.reason and "-100%" in correctness.reason


def test_english_answers_are_checked_against_english_terms(grader):
    answer = ("ZeRO removes the redundancy of data parallelism. Stage 1 partitions the optimizer states. "
              "Stage 2 partitions the parameters, and Stage 3 partitions the gradients. "
              "All three ZeRO stages communicate exactly as much as plain data parallelism.")
    g = grader.grade(ZERO_Q, ZERO_POINTS, answer, language="en", content=ZERO_CONTENT)
    st = statuses(g)
    assert st[2] == st[3] == KeyPointStatus.wrong, g.summary
    assert st[4] == KeyPointStatus.wrong


def test_fact_check_reads_clauses_and_negations():
    facts = ZERO_CONTENT.facts
    flagged = lambda text: {f.point: f.status for f in check_facts([text], facts)}  # noqa: E731
    assert flagged("Stage 2 切分参数，前向时 all-gather。") == {2: "wrong"}
    assert flagged("Stage 2 不切分参数，只切分梯度。") == {}            # negated 'not' term, and a 'holds'
    assert flagged("ZeRO-3 把梯度也切了。") == {3: "wrong"}            # alias
    assert flagged("stage2 再切梯度，每张卡只保留自己那份参数对应的梯度。") == {}  # holds in the stretch
    assert flagged("Stage 2 和 Stage 3 分别切分梯度和参数。") == {}     # two subjects in one clause: no verdict
    assert flagged("第二阶段切分参数。第二阶段切分梯度。") == {2: "doubt"}  # said both ways


def test_negated_point_is_wrong_and_an_undecidable_contrast_lowers_confidence(grader):
    q = "为什么大模型普遍用 Pre-Norm？"
    points = ["Pre-Norm 保留干净的恒等残差路径，梯度稳定，训练更容易。"]
    plain = grader.grade(q, points, "Pre-Norm 保留了干净的恒等残差路径，梯度稳定，所以训练更容易。")
    inverted = grader.grade(q, points, "Pre-Norm 并不是保留干净的恒等残差路径，梯度也不稳定，训练反而更难。")
    assert inverted.key_points[0].status == KeyPointStatus.wrong
    assert inverted.total <= plain.total - 4
    # A contrast the grader cannot judge: the grade says so instead of claiming certainty.
    contrast = grader.grade(q, points, "是 Pre-Norm 而不是 Post-Norm 保留了干净的恒等残差路径，"
                                       "所以梯度稳定，训练更容易。")
    assert contrast.key_points[0].status != KeyPointStatus.wrong
    assert "可信度低" in contrast.summary


def test_content_without_matching_points_is_ignored(grader):
    # A misconception pointing past the card's key points must not break grading.
    content = CardContent(misconceptions=[Misconception(claim="x", point=9)], facts=[])
    g = grader.grade(LORA_Q, LORA_POINTS, LORA_GOOD, content=content)
    assert g.status == "graded"


def test_cards_and_notes_carry_misconceptions_and_facts(tmp_path):
    from interviewer.bank.notes import apply_notes, load_notes

    card = QuestionCard(id="003_x:028", question="ZeRO 的三个阶段？", doc="003_x.txt", position=28, line=1)
    notes = tmp_path / "key_points.json"
    notes.write_text(json.dumps({"cards": [{
        "doc": "003_x.txt", "position": 28, "question": "ZeRO 的三个阶段？", "key_points": ZERO_POINTS,
        "misconceptions": [{"claim": "c", "claim_en": "c", "point": 4, "why": "w"}],
        "facts": [{"point": 2, "subject": ["Stage 2"], "holds": ["梯度"], "not": ["参数"]}]}]}, ensure_ascii=False),
        encoding="utf-8")
    [out], report = apply_notes([card], load_notes(notes), notes)
    assert report.applied == 1 and not report.problems
    assert out.misconceptions[0].point == 4 and out.facts[0].not_ == ["参数"]
    # Round trip through the bank's JSON snapshot.
    again = QuestionCard.model_validate(json.loads(json.dumps(out.model_dump(mode="json"))))
    assert again.facts[0].not_ == ["参数"]

    content = CardContent.of(out)
    assert content.facts == out.facts and content.misconceptions == out.misconceptions
    assert not CardContent.of(card)                        # a card without content gives an empty one


MP_Q = "混合精度训练的优点是什么？可能带来什么问题？"
MP_POINTS = ["fp16 动态范围小，梯度容易下溢为 0。", "用 loss scaling 放大 loss，防止梯度下溢。"]
MP_CONTENT = CardContent(misconceptions=[Misconception(
    claim="混合精度训练需要额外的校准步骤来保证 FP16 计算的准确性。",
    claim_en="Mixed-precision training needs an extra calibration step to keep FP16 accurate.",
    point=1, why="校准是 INT8 训练后量化的步骤，统计激活范围定量化参数；这里用不到。")])


def test_a_misconception_is_caught_when_the_answer_leaves_the_questions_words_out(grader):
    # "混合精度训练" is the question's topic: an answer need not repeat it to state the claim.
    answer = "它的问题是 FP16 容易出错，所以要先做一个额外的校准步骤。"
    g = grader.grade(MP_Q, MP_POINTS, answer, content=MP_CONTENT)
    assert statuses(g)[1] == KeyPointStatus.wrong, g.summary
    assert g.total <= 3.0, g.summary
    good = ("fp16 的动态范围小，小梯度容易下溢成 0，所以要用 loss scaling 先把 loss 放大再反向，"
            "更新前再缩回去。混合精度训练不需要校准步骤。")
    assert KeyPointStatus.wrong not in statuses(grader.grade(MP_Q, MP_POINTS, good, content=MP_CONTENT))


@pytest.mark.parametrize("text, negations", [
    # An A-not-A question asks, it does not negate.
    ("生成的 SQL 直接执行，验证对不对", 0), ("是不是要微调", 0), ("能不能用", 0), ("有没有外键", 0), ("会不会溢出", 0),
    ("不能在生产库执行", 1), ("没有外键", 1), ("不会溢出", 1),
    # An English contraction is split by the tokenizer ("doesn" + "t") and still negates.
    ("Continuous batching doesn't wait for a full batch.", 1), ("it can't fit", 1), ("they aren't shared", 1),
    ("a t-test on the results", 0),
])
def test_negations_are_counted_and_questions_are_not(text, negations):
    from interviewer.grading.features import _negations
    from interviewer.text import raw_words

    assert _negations(raw_words(text)) == negations, raw_words(text)


@pytest.mark.parametrize("point, sentence, opposite", [
    # Stated opposites are still caught.
    ("单链表不可以。", "单链表：可以删除。", True),
    ("B 初始化为 0", "B 不是初始化为 0", True),
    ("PPO 需要 critic", "PPO 不需要 critic", True),
    # The negation sits in the next clause of the same sentence: the clause only names the subject.
    ("单链表不可以。", "单链表，不可以，无法找到前驱和后继", False),
    ("单链表不可以。", "1.单链表，因为没有前驱节点，所以不行。", False),
    # A lead-in names what the next sentence says.
    ("单链表不可以。", "一、单链表：", False),
    # 无需 negates as 不用 does.
    ("无需为表示元素之间的逻辑关系而增加额外的存储空间", "不用为了表示元素间的逻辑关系而增加额外的存储空间", False),
    # A negation that denies nothing the point says ("not present"), or that both sides deny.
    ("The UDP header has a fixed length while the TCP header has a variable length",
     "The UDP header includes a packet length field not present in the TCP header", False),
    ("no connect or disconnect.", "No flow-control and no connect/disconnect", False),
    ("unconfirmed connectionless - no ACK, loss of data possible, no flow control, no connect or disconnect",
     "-Loss of data possible -No flow-control -No connect / disconnect", False),
    ("显存不够时可 CPU offload，但受 PCIe 带宽拖慢", "显存不够 offload 会被 PCIe 拖慢", False),
])
def test_a_negation_conflict_needs_the_negation_to_deny_what_the_point_says(point, sentence, opposite):
    from interviewer.grading.features import _negation_conflict, tokens

    assert _negation_conflict(point, sentence, set(tokens(point)), emb=0.9) is opposite


def test_a_claim_asking_a_not_a_is_matched_by_the_plain_statement(grader):
    points = ["生成后在只读沙箱执行，根据报错自我修正。"]
    content = CardContent(misconceptions=[Misconception(
        claim="生成的 SQL 可以直接在生产库上执行来验证对不对。",
        claim_en="The generated SQL can be run directly on the production database to check it.",
        point=0, why="应在只读账号或沙箱里执行并限制返回行数，不能直接动生产库。")])
    g = grader.grade("NL2SQL 怎么保证生成的 SQL 可用？", points, "生成的 SQL 直接在生产库上执行，报错了就让模型改。",
                     content=content)
    assert statuses(g)[0] == KeyPointStatus.wrong, g.summary


def test_glued_function_words_do_not_tell_claims_apart():
    from interviewer.grading.card_checks import _informative

    assert _informative(frozenset({"是因为", "而是"})) == frozenset()
    assert _informative(frozenset({"跳表", "红黑树"})) == frozenset({"跳表", "红黑树"})


def test_a_fact_term_matches_with_a_de_between_chinese_characters(grader):
    points = ["prefix caching 复用相同前缀的 KV cache，省掉重复的 prefill。"]
    content = CardContent(facts=[Fact(point=0, subject=["prefix caching", "前缀缓存"], holds=["KV", "前缀", "prefill"],
                                      **{"not": ["完整回答", "最终回答"]})])
    q = "LLM 服务有哪些缓存？"
    wrong = grader.grade(q, points, "prefix caching 会缓存完整的回答，同样的问题直接返回。", content=content)
    assert [v.status for v in wrong.key_points] == [KeyPointStatus.wrong], wrong.summary
    right = grader.grade(q, points, "prefix caching 缓存的是相同前缀的 KV，不是完整的回答。", content=content)
    assert KeyPointStatus.wrong not in [v.status for v in right.key_points], right.summary


def test_a_unit_that_rejects_the_claims_phrase_with_a_contrast_does_not_state_it(grader):
    points = ["Stage 2：再切分梯度，用 reduce-scatter 代替 all-reduce，每张卡只留自己那份梯度。"]
    content = CardContent(misconceptions=[Misconception(
        claim="ZeRO-2 反向时还是用 all-reduce 同步完整梯度。",
        claim_en="ZeRO-2 still all-reduces the full gradients in the backward pass.",
        point=0, why="每张卡经 reduce-scatter 只拿到自己负责的那份梯度。")])
    q = "ZeRO 的各个阶段分别切分什么？"
    right = grader.grade(q, points, "ZeRO-2 再切梯度，反向用 reduce-scatter 代替 all-reduce，每卡只留自己那片。",
                         content=content)
    assert KeyPointStatus.wrong not in statuses(right), right.summary
    wrong = grader.grade(q, points, "ZeRO-2 在反向时还是用 all-reduce 同步完整的梯度。", content=content)
    assert statuses(wrong) == [KeyPointStatus.wrong], wrong.summary


def test_the_truth_a_swap_claim_swapped_is_not_the_claim():
    from interviewer.grading.card_checks import _swaps_back

    claim = "namespace 用来限制容器的 CPU 和内存，cgroups 负责隔离进程和网络。"
    assert _swaps_back("隔离底层靠 Linux namespace（进程、网络、挂载）和 cgroups（限 CPU、内存），", claim)
    assert not _swaps_back("namespace 负责限制 CPU 和内存，cgroups 隔离进程。", claim)


@pytest.mark.parametrize("card_id, right, wrong", [
    # A misconception that was the truth with two names swapped marked this textbook answer wrong.
    ("001_d9b2635feb76d0f0:001", "LoRA 的 A 矩阵用高斯分布随机初始化，B 矩阵初始化为 0，所以训练开始时 ΔW = BA = 0。",
     "LoRA 里 A 矩阵初始化为 0，B 矩阵用高斯分布随机初始化，所以一开始 ΔW 为 0。"),
    # The question asks about 穿透 and 击穿: a sentence about 击穿 does not state a claim about 穿透.
    ("000_f1b1afb021c88bc1:007", "缓存击穿指的是一个热门 key 失效的瞬间，大量并发请求直接打到数据库，用互斥锁解决。",
     "缓存穿透是指 key 在缓存里过期了，请求全打到数据库。"),
    # The claim's number is its point: "设为 0" is not the claim "设为 1 就等于 greedy".
    ("003_d5fcd24e30ada98c:037", "temperature 设为 0 近似 greedy 解码，输出最确定。",
     "temperature 设为 1 就等于 greedy 解码。"),
    # The truth of another subject than the claim's (the bi-encoder's, RLHF's) is not the claim.
    ("000_f1b1afb021c88bc1:018",
     "双塔把 query 和文档各自编码成向量再算余弦，cross-encoder 则把 query 和文档拼接在一起输入模型联合编码打分。",
     "精排模型也是把 query 和文档分别编码成向量，再算余弦相似度。"),
    ("003_d5fcd24e30ada98c:039",
     "DPO 和 RLHF 不同，RLHF 要先训练奖励模型再用 PPO 优化，DPO 直接用偏好数据优化策略。",
     "DPO 也要先训练奖励模型，再用 PPO 优化。"),
    # Content fixed in review (offline-6): a `why` that says the claim's words truly, a fact, a reworded claim.
    ("003_d5fcd24e30ada98c:024", "数据并行每张卡都保存全部模型参数，切分 batch，反向后 all-reduce 梯度。",
     "数据并行每步同步的是模型参数，把各卡参数取平均。"),
    ("003_d5fcd24e30ada98c:026", "block size 固定，块的数量随序列长度增长，按需分配。",
     "每个 block 的大小随序列长度动态变化。"),
    ("003_d5fcd24e30ada98c:030", "3D 并行就是数据并行加上张量并行和流水线并行，TP 放节点内，PP 跨节点，DP 在最外层。",
     "3D 并行里张量并行放在跨节点，流水线并行放在节点内。"),
    ("003_d5fcd24e30ada98c:035", "INT8 相比 fp32 是四分之一的显存，相比 fp16 是一半。",
     "INT8 的显存占用只有 fp16 的四分之一。"),
    ("003_d5fcd24e30ada98c:039", "输出审核不能只靠关键词过滤，还要用分类模型。",
     "只审核用户输入就行，模型的输出不用审核。"),
    # Two solid dev answers were flagged: "zset 底层就是一个跳表" (an omission, not a wrong statement:
    # removed) and a no_grad claim whose negation was elsewhere than the answer's (reworded).
    ("000_f1b1afb021c88bc1:010", "zset 底层是跳表加哈希表，跳表按 score 排序，查找平均 O(log n)。",
     "zset 按 score 查找是 O(1) 的，因为底层有一个哈希表。"),
    ("002_ff9c8f03c75111e3:013",
     "最常用的是 with torch.no_grad()，在这个上下文里做的运算不会构建计算图，输出的 requires_grad 是 False。",
     "torch.no_grad() 里照样会构建计算图，只是最后跳过反向传播。"),
])
def test_bank_cards_do_not_mark_these_correct_sentences_wrong(grader, card_id, right, wrong):
    from interviewer.grading.datasets import notes_cards, row_task

    points, content, kind = row_task({"card_id": card_id})
    q = notes_cards()[card_id].question
    ok = grader.grade(q, points, right, kind=kind, content=content)
    assert KeyPointStatus.wrong not in statuses(ok), ok.summary
    bad = grader.grade(q, points, wrong, kind=kind, content=content)
    assert KeyPointStatus.wrong in statuses(bad), bad.summary
