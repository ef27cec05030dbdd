"""Extraction quality on posts people add (tests/data/posts/, one in the style of each corpus
document plus a saved page with its chrome), asserted question by question: every question found,
in order, with its section; nothing from the page chrome becomes a question, and what was dropped
is reported."""

from __future__ import annotations

from pathlib import Path

import pytest

from interviewer.bank.extract import detect_company, dropped_chrome, extract_cards
from interviewer.bank.readers import MAX_POST_BYTES, PostError, html_to_text, read_post

POSTS = Path(__file__).parent / "data" / "posts"

# file -> [(section, question, has source notes)]
EXPECTED = {
    "bare_list.txt": [  # a bare bullet list, no answers (the style of 001 without its notes)
        ("一面", "介绍一下 transformer 的整体结构", False),
        ("一面", "多头注意力为什么要除以根号 d", False),
        ("一面", "kv cache 是什么,能省多少显存", False),
        ("一面", "deepspeed zero 三个阶段分别切分了什么", False),
        ("一面", "grpo 和 ppo 有什么区别", False),
        ("一面", "讲一下你做过的 RAG 项目", False),
    ],
    "with_answers.md": [  # numbered questions, each followed by its answer (the style of 003)
        ("一面", "什么是 Flash Attention?", True),
        ("一面", "RoPE 位置编码的原理是什么?", True),
        ("一面", "SFT 和 RLHF 的区别是什么?", True),
        ("二面", "混合精度训练为什么需要 loss scaling?", True),
    ],
    "narrative.txt": [  # a story of the interview (the style of 002)
        ("面试过程", "介绍自己的实习经历", True),
        ("面试过程", "手撕 LRU 缓存", True),
        ("面试过程", "MoE 模型的负载均衡是怎么做的", True),
        ("面试过程", "讲讲 vLLM 的 PagedAttention 为什么能提高吞吐", True),
    ],
    "numbered.txt": [  # numbered rounds with an inline 算法: label (the style of 000)
        ("一面", "项目里的 Agent 是怎么设计的", False),
        ("一面", "function call 的原理是什么", False),
        ("一面", "向量数据库选型为什么用 milvus", False),
        ("一面", "文档切块大小怎么定的", False),
        ("一面", "重排序模型用的什么", False),
        ("一面", "如何评估 RAG 的效果", False),
        ("手撕", "合并两个有序链表", False),
        ("二面", "LoRA 的 B 矩阵为什么初始化为 0", False),
        ("二面", "大模型幻觉怎么缓解", False),
        ("二面", "长上下文怎么处理", False),
    ],
    "saved_page.html": [  # a saved 牛客 page: header, nav, author line, share bar, comments, feed, footer
        ("一面", "Layer Norm 和 Batch Norm 的区别", False),
        ("一面", "为什么大模型用 decoder-only 结构", False),
        ("一面", "DPO 的损失函数是怎么推导的", False),
        ("一面", "推理时 temperature 和 top-p 怎么影响输出", False),
        ("手撕", "实现一个多头注意力", False),
    ],
}
COMPANIES = {"bare_list.txt": "美团", "with_answers.md": "快手", "narrative.txt": "百川智能",
             "numbered.txt": "小红书", "saved_page.html": "京东"}
# Words of the chrome in each post: none of them may appear in a question.
CHROME = {
    "narrative.txt": ["来源", "希望能过", "一个小时"],
    "numbered.txt": ["面完后约二面"],
    "bare_list.txt": ["面完后约二面"],
    "saved_page.html": ["首页", "登录", "讨论区", "小王同学", "点赞", "全部评论", "楼主", "相关推荐", "RLHF?",
                        "PPO 怎么实现", "牛客网", "隐私政策", "tracker"],
}


def _extract(name: str):
    post = read_post(name, (POSTS / name).read_bytes())
    return post, extract_cards(post.text, name)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_question_found_in_order_with_its_section(name):
    post, cards = _extract(name)
    got = [(c.section, c.question, bool(c.source_notes.strip())) for c in cards]
    for i, want in enumerate(EXPECTED[name]):
        assert i < len(got), f"{name}: question {i + 1} not found: {want[1]}"
        assert got[i] == want, f"{name}: question {i + 1}"
    assert len(got) == len(EXPECTED[name]), f"{name}: extra questions {got[len(EXPECTED[name]):]}"
    assert detect_company(post.text) == COMPANIES[name]


@pytest.mark.parametrize("name", sorted(CHROME))
def test_page_chrome_is_never_a_question(name):
    _, cards = _extract(name)
    for card in cards:
        for word in CHROME[name]:
            assert word not in card.question, f"{name}: chrome {word!r} in {card.question!r}"


def test_answers_stay_with_their_questions():
    _, cards = _extract("with_answers.md")
    assert "SRAM" in cards[0].source_notes and "O(N)" in cards[0].source_notes
    assert "相对位置" in cards[1].source_notes and "SRAM" not in cards[1].source_notes
    assert "KL" in cards[2].source_notes and "loss scaling" not in cards[2].source_notes
    assert "bf16" in cards[3].source_notes
    _, cards = _extract("narrative.txt")
    assert "哈希表加双向链表" in cards[1].source_notes


def test_saved_page_reports_the_chrome_it_dropped():
    post, _ = _extract("saved_page.html")
    dropped = "\n".join(post.dropped)
    for word in ("登录 / 注册", "讨论区", "小王同学", "点赞 12", "全部评论", "相关推荐", "隐私政策"):
        assert word in dropped, word
    assert "tracker" not in post.text and "margin" not in post.text  # scripts and styles are not text
    assert "刚面完京东" in post.text


def test_text_posts_report_chrome_lines_and_feeds():
    text = ("某厂面经\n一面\n1. 什么是 RAG?\n点赞 回复 分享\n2. 什么是 LoRA?\n全部评论\n"
            "楼主太强了\n3. 这不是题吗?\n")
    cards = extract_cards(text, "x.txt")
    assert [c.question for c in cards] == ["什么是 RAG?", "什么是 LoRA?"]
    dropped = dropped_chrome(text)
    assert dropped[0] == "点赞 回复 分享"
    assert dropped[1].startswith("全部评论") and "3 lines" in dropped[1]


def test_html_lists_become_bullets_and_comment_blocks_are_dropped():
    post = html_to_text('<div class="post"><ul><li>什么是 KV cache?</li></ul></div>'
                        '<div class="comment-list"><p>什么是投机采样?</p></div>')
    assert "- 什么是 KV cache?" in post.text and "投机采样" not in post.text
    assert post.dropped == ["什么是投机采样?"]


@pytest.mark.parametrize("name,data,reason", [
    ("broken.pdf", b"%PDF-1.4\nnot really a pdf", "not a readable PDF"),
    ("photo.pdf", b"\x89PNG\r\n\x1a\n", "not a PDF"),
    ("notes.txt", b"\x00\x01\x02\x03binary", "binary file"),
    ("post.docx", b"PK\x03\x04", "unsupported file type '.docx'"),
    ("empty.md", b"   \n", "empty"),
    ("big.txt", "题".encode() * (MAX_POST_BYTES // 3 + 1), "too large"),
])
def test_a_broken_file_is_refused_with_its_reason(name, data, reason):
    with pytest.raises(PostError) as err:
        read_post(name, data)
    assert reason in str(err.value)
