"""Posts people add, on a real Chroma store on disk or a real Chroma server, with the real embedder
and the real service:
owners see only their own cards (bank, search, interviews), the same post twice adds nothing,
near-duplicates link, limits store nothing, removal keeps transcripts, a corpus rebuild keeps
added cards."""

from __future__ import annotations

from pathlib import Path

import pytest

from interviewer.bank.bank import QuestionBank
from interviewer.bank.library import Library, same_question
from interviewer.bank.posts import MAX_POSTS_PER_OWNER
from interviewer.bank.readers import PostError
from interviewer.config import REPO_ROOT, Settings
from interviewer.models import SessionConfig

POSTS = Path(__file__).parent / "data" / "posts"


def post(name: str) -> bytes:
    return (POSTS / name).read_bytes()


@pytest.fixture(scope="module", params=["embedded", "chroma-server"])
def services(request, tmp_path_factory, embedder):
    """The service on a Chroma store on disk, or on a real Chroma server (posts stored there too)."""
    from interviewer.service import build_services

    data = tmp_path_factory.mktemp("library-data")
    env = {"MIANSHI_DATA_DIR": str(data), "MIANSHI_CORPUS_DIR": str(REPO_ROOT / "corpus"),
           "MIANSHI_INTERVIEWER": "offline"}
    if request.param == "chroma-server":
        env["MIANSHI_CHROMA_URL"] = request.getfixturevalue("chroma_server").database_url()
    return build_services(Settings.from_env(env), embedder=embedder)


@pytest.fixture(scope="module")
def lib(services) -> Library:
    return services.bank


@pytest.fixture(scope="module")
def alice_numbered(lib):
    return lib.add(lib.preview("alice", post("numbered.txt"), "numbered.txt"))


def added_vectors(lib, doc_id):
    return lib._store.count({"post": doc_id})


def test_added_cards_are_the_owners_only(lib, alice_numbered):
    ids = set(alice_numbered.added)
    assert len(ids) == 9  # 10 questions, one linked to the corpus
    alice = {c.id for c in lib.visible_cards("alice")}
    bob = {c.id for c in lib.visible_cards("bob")}
    assert ids <= alice and not ids & bob
    assert ids <= {c.id for c in lib.visible_cards(None)}  # admin
    assert {c.id for c in lib.cards()}.isdisjoint(ids)  # the engine's default pool is the corpus
    assert all(lib.visible(i, "bob") is None and lib.visible(i, "alice") for i in ids)
    assert alice_numbered.doc_id in {d.id for d in lib.docs("alice")}
    assert alice_numbered.doc_id not in {d.id for d in lib.docs("bob")}
    assert lib.doc_card_ids(alice_numbered.doc_id, "bob") == []

    query = "向量数据库选型为什么用 milvus"
    top = lib.search_for(query, "alice", k=3)
    assert top[0].card.question == query and top[0].card.owner == "alice"
    for mode in ("fused", "dense", "keyword"):
        assert not any(h.card.owner for h in lib.search_for(query, "bob", k=20, mode=mode)), mode
    # The vectors are in the shared collection with their owner; the corpus's carry "".
    assert added_vectors(lib, alice_numbered.doc_id) == len(ids)  # no key points: one vector per card
    assert lib._store.count({"owner": "alice"}) >= len(ids)


def test_the_same_post_twice_adds_nothing(lib, alice_numbered):
    before = lib._store.count()
    again = lib.preview("alice", post("numbered.txt"), "numbered.txt")
    assert again.already_added
    result = lib.add(again)
    assert result.added == [] and result.links == [] and "already added" in result.message
    assert lib._store.count() == before
    # Pasted with other spacing it is still the same post.
    text = "\n\n".join(line.strip() for line in post("numbered.txt").decode().splitlines()).encode()
    assert lib.preview("alice", text).already_added


def test_a_near_duplicate_links_to_the_existing_card(lib, alice_numbered):
    link = next(ln for ln in alice_numbered.links)
    assert link.question == "LoRA 的 B 矩阵为什么初始化为 0"
    assert link.card_id == "001_d9b2635feb76d0f0:001" and "lora初始化参数" in link.existing
    assert lib.doc_card_ids(alice_numbered.doc_id, "alice")[-1] == link.card_id
    # Another post of alice that asks one of her own questions in other words links to her card.
    text = "某厂一面\n1. 为什么向量数据库选型用 milvus\n2. 什么是 speculative decoding?\n"
    mine = lib.preview("alice", text.encode())
    assert mine.found[0].duplicate_of in alice_numbered.added
    assert mine.found[1].duplicate_of is None
    # ... but bob's identical question does not link to alice's card he cannot see.
    theirs = lib.preview("bob", "某厂一面\n1. 为什么向量数据库选型用 milvus\n".encode())
    assert theirs.found[0].duplicate_of is None


@pytest.mark.parametrize("a,b,same", [
    ("LoRA 的 B 矩阵为什么初始化为 0", "lora初始化参数?为什么一半是0", True),
    ("LangChain 是什么", "什么是 LangChain?", True),
    ("Layer Norm 和 Batch Norm 的区别", "prenorm / postnorm区别", False),
    ("讲一下你做过的 RAG 项目", "挑一个你做过的最有代表性的项目，详细讲讲", False),
    ("大模型幻觉怎么缓解", "如何让大模型输出合规化?", False),
    ("DPO 的损失函数是怎么推导的", "对 PPO、DPO、GRPO 计算逻辑的理解", False),
])
def test_same_question_rule_on_measured_pairs(embedder, a, b, same):
    va, vb = embedder.encode([a, b])
    assert same_question(a, b, float(va @ vb)) is same


def test_untick_and_edit_before_adding_and_key_point_origins(lib):
    preview = lib.preview("carol", post("with_answers.md"), "with_answers.md")
    assert [f.question for f in preview.found][:2] == ["什么是 Flash Attention?", "RoPE 位置编码的原理是什么?"]
    assert preview.found[0].duplicate_of == "003_d5fcd24e30ada98c:025"  # same question, other words
    result = lib.add(preview, keep=[0, 1, 3], edits={1: "RoPE 旋转位置编码的原理是什么?"})
    cards = [lib.get(i) for i in result.added]
    assert [c.question for c in cards] == ["RoPE 旋转位置编码的原理是什么?", "混合精度训练为什么需要 loss scaling?"]
    assert [ln.card_id for ln in result.links] == ["003_d5fcd24e30ada98c:025"]
    assert all(c.key_points_origin == "post" and c.key_points for c in cards)
    assert any("相对位置" in p for p in cards[0].key_points)

    bare = lib.add(lib.preview("carol", post("bare_list.txt"), "bare_list.txt"))
    assert all(not lib.get(i).key_points and lib.get(i).key_points_origin == "" for i in bare.added)

    drafted = lib.add(lib.preview("dave", post("bare_list.txt"), "bare_list.txt"),
                      draft=lambda q, notes: [f"{q} 的要点一", f"{q} 的要点二"])
    card = lib.get(drafted.added[0])
    assert card.key_points_origin == "model" and card.key_points[0].endswith("的要点一")
    edited = lib.set_key_points(card.id, "dave", ["自注意力 + FFN", "残差与 LayerNorm"])
    assert edited.key_points_origin == "edited"
    assert lib.get(card.id).key_points == ["自注意力 + FFN", "残差与 LayerNorm"]
    with pytest.raises(KeyError):
        lib.set_key_points(card.id, "carol", ["not mine"])


def test_limits_store_nothing(lib, tmp_path):
    before = lib._store.count()
    many = "某厂面经\n一面\n" + "".join(f"{i}. 第 {i} 个问题是什么?\n" for i in range(1, 502))
    with pytest.raises(PostError, match="501 questions found; a post may hold at most 500"):
        lib.preview("erin", many.encode())
    with pytest.raises(PostError, match="too large"):
        lib.preview("erin", ("1. 什么是 RAG?\n" + "注" * (1 << 20)).encode())
    assert lib._store.count() == before and lib.posts.of("erin") == []

    for i in range(MAX_POSTS_PER_OWNER):
        lib.add(lib.preview("frank", f"面经 {i}\n1. 问题编号 {i} 的 Agent 记忆怎么设计?\n".encode()))
    assert len(lib.posts.of("frank")) == MAX_POSTS_PER_OWNER
    count = lib._store.count()
    over = lib.preview("frank", "面经 last\n1. 最后一个关于 MCP 协议的问题是什么?\n".encode())
    with pytest.raises(PostError, match=f"already have {MAX_POSTS_PER_OWNER} posts"):
        lib.add(over)
    assert len(lib.posts.of("frank")) == MAX_POSTS_PER_OWNER and lib._store.count() == count


def test_interviews_on_picked_cards_and_removal_keeps_transcripts(services, lib):
    result = lib.add(lib.preview("gina", post("saved_page.html"), "saved_page.html"))
    answers_post = lib.add(lib.preview("gina", post("with_answers.md"), "with_answers.md"))
    picked = [answers_post.added[0], result.added[2]]  # with key points from the post; without any
    state = services.start(SessionConfig(card_ids=picked, n_questions=2), owner="gina")
    assert state.plan == picked
    # Someone else cannot interview on gina's cards, even by naming them.
    with pytest.raises(ValueError):
        services.start(SessionConfig(card_ids=picked, n_questions=2), owner="hank")

    engine = services.engine
    list(engine.open(state))
    graded = [e.grade for e in engine.answer(state, "RoPE 让 query 和 key 按位置旋转，内积只依赖相对位置；"
                                             "用绝对位置实现相对位置编码，可以配合位置插值外推。") if e.type == "grade"]
    while not graded:  # a follow-up: answer it too
        graded = [e.grade for e in engine.answer(state, "补充：旋转角度随维度变化。") if e.type == "grade"]
    assert graded[0].status == "graded" and graded[0].total is not None
    no_ref = []
    for _ in range(3):
        if no_ref:
            break
        no_ref = [e.grade for e in engine.answer(state, "DPO 从 RLHF 的 KL 约束目标推出最优策略的闭式解，"
                                                 "把奖励写成策略比值，代入 Bradley-Terry 偏好模型得到损失。")
                  if e.type == "grade"]
    assert no_ref[0].status == "not_graded" and no_ref[0].total is None
    assert "没有参考要点" in no_ref[0].not_graded_reason

    removed = lib.remove(result.doc_id, "gina")
    assert removed == 5 and added_vectors(lib, result.doc_id) == 0
    assert lib.visible(result.added[2], "gina") is None
    assert lib.get(result.added[2]).question == "DPO 的损失函数是怎么推导的"  # an interview under way can finish
    with pytest.raises(ValueError):  # but nobody can start one on it any more
        services.start(SessionConfig(card_ids=[result.added[2]], n_questions=1), owner="gina")
    with pytest.raises(KeyError):
        lib.remove(answers_post.doc_id, "hank")
    record = services.store.get_session(state.id, owner="gina")
    questions = {q.question_id: q for q in record.questions()}
    kept = questions[result.added[2]]
    assert any("DPO 的损失函数" in t.text for t in kept.turns)  # the transcript keeps its copy
    # ... and of the key points it was graded against, after that post is gone too.
    points = [v.point for v in questions[picked[0]].grade.grade.key_points]
    lib.remove(answers_post.doc_id, "gina")
    record = services.store.get_session(state.id, owner="gina")
    graded = {q.question_id: q for q in record.questions()}[picked[0]]
    assert points and [v.point for v in graded.grade.grade.key_points] == points
    assert any("RoPE" in t.text for t in graded.turns)
    from interviewer import export

    assert "RoPE" in export.to_markdown(record) and points[0][:10] in export.to_markdown(record)


def test_added_cards_survive_a_corpus_rebuild(services, lib, alice_numbered, embedder):
    QuestionBank.open(services.settings, embedder=embedder, rebuild=True)  # drops and refills the collection
    fresh = Library.open(services.settings, embedder=embedder)
    hits = fresh.search_for("向量数据库选型为什么用 milvus", "alice", k=1, mode="dense")
    assert hits[0].card.id in alice_numbered.added
    assert fresh._store.count({"post": alice_numbered.doc_id}) == len(alice_numbered.added)
    # The library opened before the rebuild still searches (its collection handle is renewed).
    assert lib.search_for("向量数据库选型为什么用 milvus", "alice", k=1)[0].card.id in alice_numbered.added


def test_bank_tab_filters_and_admin_sees_everyones_cards(services, alice_numbered):
    import dataclasses

    from interviewer.service import CardFilter

    query = CardFilter(query="向量数据库选型为什么用 milvus")
    assert not any(c.owner for c in services.bank_actions.cards("someone-else", query))
    assert services.bank_actions.cards("someone-else", CardFilter(doc=alice_numbered.doc_id)) == []
    mine = services.bank_actions.cards("alice", CardFilter(doc=alice_numbered.doc_id, section="手撕", kind="coding"))
    assert [c.question for c in mine] == ["合并两个有序链表"]
    assert {c.company for c in services.bank_actions.cards("alice", CardFilter(company="小红书"))} == {"小红书"}
    assert "小红书" in services.bank_actions.facets("alice")["company"]
    assert "小红书" not in services.bank_actions.facets("someone-else")["company"]

    admin = dataclasses.replace(services, settings=services.settings.model_copy(update={"admin": True}))
    assert admin.bank_actions.cards("someone-else", query)[0].id in alice_numbered.added
    assert alice_numbered.doc_id in {d.id for d in admin.bank_actions.docs("someone-else")}
