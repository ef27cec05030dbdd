"""The reviewed content in corpus/key_points.json is code: every card has what the interviewer and
the grader need, and every fact that was ever wrong is pinned here so it cannot come back."""

from __future__ import annotations

import re

import pytest

from interviewer.bank.notes import NotesFile, load_notes
from interviewer.config import REPO_ROOT

NOTES = load_notes(REPO_ROOT / "corpus" / "key_points.json")
assert isinstance(NOTES, NotesFile)
ENTRIES = {f"{e.doc.removesuffix('.txt')}:{e.position:03d}": e for e in NOTES.cards}
D0, D1, D2, D3 = "000_f1b1afb021c88bc1", "001_d9b2635feb76d0f0", "002_ff9c8f03c75111e3", "003_d5fcd24e30ada98c"


def entry(doc: str, pos: int):
    return ENTRIES[f"{doc}:{pos:03d}"]


def points(doc: str, pos: int) -> str:
    return "\n".join(entry(doc, pos).key_points)


def everything(doc: str, pos: int) -> str:
    e = entry(doc, pos)
    return "\n".join([*e.key_points, e.correction or "", e.model_answer, *(m.why for m in e.misconceptions)])


# --------------------------------------------------------------------------- every card

@pytest.mark.parametrize("card_id", sorted(ENTRIES))
def test_every_card_has_follow_ups_misconceptions_and_a_model_answer(card_id):
    e = ENTRIES[card_id]
    assert e.key_points and not e.problems(), e.problems()
    assert len(e.followups) == len(e.key_points)
    assert all(f.zh.strip() and f.en.strip() for f in e.followups)
    assert 150 <= len(e.model_answer) <= 400, len(e.model_answer)
    assert e.model_answer_en.strip()
    if e.kind in (None, "concept", "system_design"):
        # Issue #12: at least one wrong claim per card; concept cards carry one per key point (typically 6-10).
        assert len(e.misconceptions) >= 1
    if e.correction:
        assert e.misconceptions, "a recorded source error is a misconception candidates repeat"
    for m in e.misconceptions:
        assert 0 <= m.point < len(e.key_points) and m.claim.strip() and m.why.strip()


def _cjk_runs(text: str, n: int = 4) -> set[str]:
    out = set()
    for run in re.findall(r"[\u4e00-\u9fff]+", text):
        out.update(run[i:i + n] for i in range(len(run) - n + 1))
    return out


@pytest.mark.parametrize("card_id", sorted(ENTRIES))
def test_follow_ups_never_state_their_key_point(card_id):
    e = ENTRIES[card_id]
    for point, f in zip(e.key_points, e.followups, strict=True):
        shared = _cjk_runs(point) & _cjk_runs(f.zh)
        assert not shared, f"{f.zh!r} repeats {shared} of {point!r}"
        words = {w.lower() for w in re.findall(r"[A-Za-z]{5,}", point)}
        assert not words & {w.lower() for w in re.findall(r"[A-Za-z]{5,}", f.zh + " " + f.en)}, f


@pytest.mark.parametrize("card_id", sorted(ENTRIES))
def test_follow_ups_read_like_a_person_not_a_template(card_id):
    for f in ENTRIES[card_id].followups:
        assert not re.search(r"(说明|解释|给出)为什么\s*吗|能再具体讲讲\s*\S+\s*吗？它是怎么做的", f.zh), f.zh
        # A question, or a request such as "写一下损失。": spoken to the candidate, complete.
        assert re.search(r"[？?]", f.zh) or f.zh.rstrip().endswith("。"), f
        assert f.en.rstrip().endswith(("?", ".")), f


# --------------------------------------------------------------------------- facts that were wrong

def test_1f1b_does_not_shrink_the_pipeline_bubble():
    text = points(D3, 24)
    assert "(p−1)/(m+p−1)" in text and "与 GPipe 相同" in text
    assert not re.search(r"1F1B[^；;。]{0,6}(降低|减少|缩小)", text)
    assert "interleaved" in text.lower() and "m≫p" in text


def test_rope_needs_scaling_to_extrapolate_and_bloom_is_a_model():
    text = points(D1, 5)
    assert "RoPE 本身外推差" in text and all(k in text for k in ("PI", "NTK", "YaRN"))
    assert "ALiBi" in entry(D1, 5).correction and "BLOOM 是使用 ALiBi 的模型" in entry(D1, 5).correction


def test_streaming_llm_does_not_grow_the_context():
    assert re.search(r"StreamingLLM.*可用上下文并不增长", points(D1, 6))


def test_only_chat_models_are_runnables_with_tools_embeddings_are_not():
    text = points(D3, 6)
    assert "Embeddings 不是 Runnable" in text and "bind_tools" in text
    assert "GPT-3" in entry(D3, 6).correction and "封装抽象" in entry(D3, 6).correction


def test_prompt_template_format_returns_a_string():
    assert "format() 直接返回字符串" in points(D3, 12) and "PromptValue" in points(D3, 12)


def test_mla_caches_the_latent_and_the_decoupled_rope_key():
    text = points(D2, 10)
    assert "k^R" in text and "(d_c + d_R)" in text
    assert all(k in text for k in ("MHA", "GQA", "MQA"))


def test_autocast_keeps_the_all_reduce_in_fp32():
    text = points(D3, 29)
    assert "all-reduce 仍是 fp32" in text and "通信 hook" in text
    assert "通信量减半" not in text.replace("通信量才减半", "")


def test_aho_corasick_complexity_has_build_and_match_terms():
    assert "O(n + 匹配数)" in points(D0, 4) and "O(Σ|词长|)" in points(D0, 4)


def test_lcel_fallback_and_retry_are_explicit():
    text = points(D3, 7)
    assert "with_fallbacks" in text and "with_retry" in text


def test_sse_is_buffered_by_nginx_and_eventsource_limits_are_known():
    text = points(D0, 12)
    assert "proxy_buffering off" in text and "X-Accel-Buffering: no" in text
    assert "GET" in text and "6 个并发连接" in text


def test_lora_initialisation_paper_vs_peft_and_the_first_gradient():
    text = points(D1, 1)
    assert "论文用高斯" in text and "kaiming_uniform" in text
    assert "第 0 步只有 B 有梯度" in text and "为何让 B 而非 A 为 0" in text


def test_out_of_date_langchain_facts_are_current():
    assert "create_agent" in points(D3, 3)
    assert "维护模式" in points(D3, 4) and "维护模式" in points(D3, 8)
    assert "300–600 GB/s" in points(D3, 34)


@pytest.mark.parametrize("doc,pos,needle", [
    (D3, 27, "offload"), (D3, 32, "加速训练"), (D1, 4, "early exit"), (D3, 39, "语法检查"),
    (D3, 9, "维护者"), (D3, 2, "Components"), (D3, 11, "Components"),
])
def test_source_errors_carry_a_correction(doc, pos, needle):
    correction = entry(doc, pos).correction or ""
    assert needle.lower() in correction.lower(), correction


@pytest.mark.parametrize("doc,pos,needles", [
    (D2, 7, ["clipped ratio", "β·log π_θ(y|x)/π_ref(y|x)"]),
    (D2, 1, ["rank", "Unigram", "SentencePiece"]),
    (D1, 10, ["6ND"]),
    (D2, 9, ["p-tuning v1", "占用上下文长度"]),
])
def test_what_an_interviewer_expects_is_in_the_key_points(doc, pos, needles):
    text = points(doc, pos)
    for needle in needles:
        assert needle in text, needle


def test_project_cards_are_graded_on_structure():
    for doc, pos in ((D1, 12), (D2, 3)):
        text = points(doc, pos)
        assert all(k in text for k in ("情境", "角色", "结果")), text
        assert entry(doc, pos).kind == "project"


# --------------------------------------------------------------------------- the bank built from them

def test_duplicate_langserve_cards_are_one_card_with_both_places(bank):
    kept = bank.get(f"{D3}:004")
    assert kept.also_at == [f"{D3}:008"]
    assert bank.get(f"{D3}:008") is kept                     # old transcripts still resolve
    assert f"{D3}:008" not in {c.id for c in bank.cards()}
    assert len(bank.cards()) == 92


def test_a_heading_is_asked_as_the_question_its_key_points_ask(bank):
    card = bank.get(f"{D3}:040")
    assert card.source_question == "应用模式变更" and card.question.endswith("？") and len(card.question) > 20


def test_flash_attention_notes_belong_to_the_flash_attention_card(bank):
    flash, paged = bank.get(f"{D3}:025"), bank.get(f"{D3}:026")
    assert flash.source_notes.count("Flash Attention") >= 3
    assert "Flash Attention" not in paged.source_notes
    assert paged.source_notes.count("Paged Attention") >= 3
