""""Practise my weak spots" against a plain start, on the real bank with a real transcript history.

One person answers distributed-training questions badly and LangChain questions well in two real
offline sessions (recorded in a real SQLite store). Over many seeds, the weak-spots planner must
pick low-scored topics and unseen questions more often than a plain start does.
"""

from __future__ import annotations

import random

from interviewer.config import Settings
from interviewer.engine.factory import build_engine
from interviewer.engine.session import Phase, plan_questions
from interviewer.models import SessionConfig
from interviewer.progress import history_for_planner
from interviewer.store import TranscriptStore

WEAK, STRONG = "分布式训练", "LangChain"


def _run_session(engine, bank, owner: str, topic: str, good: bool) -> list[str]:
    state = engine.start(SessionConfig(topics=[topic], n_questions=4, followups=False, seed=7), owner=owner)
    list(engine.open(state))
    while state.phase != Phase.finished:
        card = bank.get(state.current_id)
        # A strong answer explains the reviewed points in sentences; a weak one says it does not know.
        text = "。".join(card.key_points) + "。" if good else "不知道"
        list(engine.answer(state, text))
    return state.plan


def test_weak_spots_favours_low_scored_topics_and_unseen_questions(bank, embedder, tmp_path):
    settings = Settings.from_env({"MIANSHI_DATA_DIR": str(tmp_path), "MIANSHI_INTERVIEWER": "offline"})
    store = TranscriptStore(tmp_path / "transcripts.sqlite3")
    engine = build_engine(settings, bank, embedder=embedder, recorder=store, offline=True)
    owner = "browser-weak-spots"
    seen = set(_run_session(engine, bank, owner, WEAK, good=False))
    seen |= set(_run_session(engine, bank, owner, STRONG, good=True))

    history = history_for_planner(store, owner)
    assert history.topics[WEAK] < history.topics[STRONG], history.topics
    assert seen <= set(history.cards)

    cards = bank.cards()
    weak_topic = {"plain": 0, "weak": 0}
    unseen = {"plain": 0, "weak": 0}
    total = 0
    for seed in range(40):
        for mode, flag in (("plain", False), ("weak", True)):
            config = SessionConfig(n_questions=5, seed=seed, weak_spots=flag)
            plan = plan_questions(cards, config, history, random.Random(seed))
            weak_topic[mode] += sum(WEAK in bank.get(cid).topics for cid in plan)
            unseen[mode] += sum(cid not in seen for cid in plan)
        total += 5

    # Measured shares, printed so a failure shows how far apart the two starts were.
    print({k: v / total for k, v in weak_topic.items()}, {k: v / total for k, v in unseen.items()})
    assert weak_topic["weak"] > 1.5 * weak_topic["plain"]
    assert unseen["weak"] > unseen["plain"]
