"""The one copy of the text rules (interviewer/text.py): segmentation views and "I don't know"."""

from __future__ import annotations

import pytest

from interviewer import text


@pytest.mark.parametrize("answer", ["不知道", "我不懂。", "这个我不太清楚", "不会~", "没了解过", "答不上来",
                                    "I don't know.", "no idea", "Not sure", "  pass ", "跳过"])
def test_dont_know_variants_are_recognised(answer):
    assert text.is_dont_know(answer)


@pytest.mark.parametrize("answer", ["我不知道具体数字，但 KV cache 缓存的是历史 token 的 key 和 value。",
                                    "不懂的地方是 B 为什么为 0：因为要让 ΔW 从 0 开始", "I don't know exactly, "
                                    "but the cache stores keys and values", "", "passive"])
def test_an_answer_with_content_is_not_dont_know(answer):
    assert not text.is_dont_know(answer)


def test_engine_and_grader_share_the_rule():
    """"不懂" used to get a follow-up from the engine and then a 0 as "does not know" from the grader."""
    from interviewer.engine import session
    from interviewer.grading import features

    assert session.is_dont_know is text.is_dont_know and features.is_dont_know is text.is_dont_know


def test_words_keep_technical_terms_and_drop_function_words():
    words = text.words("LoRA 的 B 矩阵初始化为 0，queues are queued")
    assert "lora" in words and "矩阵" in words and "的" not in words
    assert words.count("queu") == 2                      # crude stems meet across inflections


def test_search_tokens_meet_across_hyphens_and_drop_question_filler():
    tokens = text.search_tokens("什么是 P-Tuning v2？")
    assert tokens == text.search_tokens("p tuning v2 是什么") and "tuning" in tokens and "什么" not in tokens


def test_bigram_coverage_and_missing_points():
    points = ["缓存历史 token 的 key 和 value", "PagedAttention 按页管理显存"]
    answer = "KV cache 缓存历史 token 的 key 和 value。"
    assert text.coverage(points[0], answer) == 1.0
    assert text.coverage(points[1], answer) == 0.0
    assert text.missing_points(points, [answer]) == [points[1]]


def test_text_units_count_cjk_characters_and_latin_words():
    assert text.text_units("KV cache 缓存") == 4
    assert text.text_units("KV cache 缓存", latin_weight=2) == 6
