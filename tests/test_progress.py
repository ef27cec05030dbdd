"""Progress figures and the planner's history, computed from a real store on disk."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from interviewer.engine.session import PlannerHistory, plan_questions
from interviewer.models import CriterionScore, Grade, Provenance, QuestionCard, SessionConfig, Turn
from interviewer.progress import history_for_planner, series_rows, topic_mastery, topic_series
from interviewer.store import TranscriptStore

NOW = datetime(2025, 6, 30, 12, 0, tzinfo=UTC)
TOPICS = {"a:001": ["RAG"], "a:002": ["RAG"], "b:001": ["RLHF"], "b:002": ["RLHF", "LLM基础"], "c:001": ["Redis"]}


def grade(total: float | None) -> Grade:
    prov = Provenance(grader="offline", grader_version="v", rubric_version="rubric-v1")
    if total is None:
        return Grade(status="not_graded", not_graded_reason="empty", provenance=prov)
    return Grade(status="graded", total=total, provenance=prov,
                 criteria=[CriterionScore(criterion="correctness", score=total, weight=1.0)])


def add_session(store: TranscriptStore, sid: str, owner: str, days_ago: float, scores: dict[str, float | None],
                config_topics=(), with_record_topics: bool = True) -> None:
    created = NOW - timedelta(days=days_ago)
    records = {q: {"card_id": q, "topics": TOPICS.get(q, []) if with_record_topics else []} for q in scores}
    store.record_session({"id": sid, "owner": owner, "config": {"topics": list(config_topics)},
                          "plan": list(scores), "phase": "finished", "records": records,
                          "created_at": created.isoformat()})
    for i, (qid, total) in enumerate(scores.items()):
        store.record_turn(Turn(session_id=sid, index=2 * i, question_id=qid, role="interviewer", kind="question",
                               text="q", created_at=created))
        store.record_turn(Turn(session_id=sid, index=2 * i + 1, question_id=qid, role="candidate", kind="answer",
                               text="a", created_at=created))
        store.record_grade(sid, qid, grade(total), "a")


@pytest.fixture()
def store(tmp_path) -> TranscriptStore:
    s = TranscriptStore(tmp_path / "p.sqlite3")
    add_session(s, "old", "me", days_ago=28, scores={"a:001": 2.0, "b:001": 8.0})
    add_session(s, "new", "me", days_ago=0, scores={"a:002": 8.0, "b:002": 6.0, "c:001": None})
    add_session(s, "theirs", "other", days_ago=1, scores={"a:001": 10.0})
    return s


def test_mastery_is_recency_weighted_per_topic_and_per_owner(store):
    m = topic_mastery(store, "me", now=NOW)
    assert set(m) == {"RAG", "RLHF", "LLM基础"}  # Redis was not graded: no figure for it
    # RAG: 2.0 four weeks ago (weight 0.25), 8.0 today (weight 1): (0.25*0.2 + 1*0.8) / 1.25
    assert m["RAG"].mastery == pytest.approx(0.68, abs=1e-3)
    assert m["RAG"].mean_score == 5.0 and m["RAG"].n_graded == 2 and m["RAG"].n_sessions == 2
    assert m["RLHF"].mastery == pytest.approx((0.25 * 0.8 + 0.6) / 1.25, abs=1e-3)
    assert m["LLM基础"].mastery == 0.6 and m["LLM基础"].last_seen.date() == NOW.date()
    assert topic_mastery(store, "other", now=NOW)["RAG"].mastery == 1.0
    assert topic_mastery(store, None, now=NOW)["RAG"].n_graded == 3  # everyone (admin)
    assert topic_mastery(store, "nobody", now=NOW) == {}


def test_regrades_replace_and_deleted_sessions_vanish(store):
    store.add_regrade("new", "a:002", grade(0.0), "a")
    assert topic_mastery(store, "me", now=NOW)["RAG"].mean_score == 1.0  # (2 + 0) / 2: old 8.0 no longer counts
    store.delete_session("old")
    m = topic_mastery(store, "me", now=NOW)
    assert m["RAG"].n_graded == 1 and m["RAG"].mastery == 0.0


def test_topics_come_from_the_card_lookup_first_then_the_stored_ones(tmp_path):
    s = TranscriptStore(tmp_path / "q.sqlite3")
    add_session(s, "x", "me", 0, {"a:001": 5.0}, with_record_topics=False)  # nothing stored
    assert topic_mastery(s, "me", now=NOW) == {}
    assert set(topic_mastery(s, "me", now=NOW, card_topics=lambda c: TOPICS[c])) == {"RAG"}
    add_session(s, "y", "me", 0, {"zz:001": 5.0}, config_topics=["MySQL"], with_record_topics=False)
    # A session restricted to one topic attributes its questions to it.
    assert set(topic_mastery(s, "me", now=NOW, card_topics=lambda c: TOPICS[c])) == {"RAG", "MySQL"}


def test_series_by_session_day(store):
    add_session(store, "new2", "me", days_ago=0.01, scores={"a:001": 4.0})
    series = topic_series(store, "me")
    assert [(p.day, p.mean_score, p.n) for p in series["RAG"]] == [
        (date(2025, 6, 2), 2.0, 1), (date(2025, 6, 30), 6.0, 2)]
    rows = series_rows(store, "me")
    assert {"date": "2025-06-30", "topic": "RAG", "score": 6.0, "n": 2} in rows
    assert len(rows) == sum(len(v) for v in series.values())


def test_history_for_planner(store):
    add_session(store, "mid", "me", days_ago=7, scores={"a:001": 3.0})
    h = history_for_planner(store, "me", now=NOW)
    assert isinstance(h, PlannerHistory)
    a1 = h.cards["a:001"]
    # Asked in "old" and "mid"; "other"'s 10.0 yesterday must not leak in.
    assert (a1.seen, a1.last_score, a1.sessions_ago) == (2, 3.0, 1)
    assert (h.cards["b:001"].seen, h.cards["b:001"].sessions_ago) == (1, 2)
    c1 = h.cards["c:001"]
    assert (c1.seen, c1.last_score, c1.sessions_ago) == (1, None, 0)  # asked today, not graded
    assert set(h.cards) == {"a:001", "a:002", "b:001", "b:002", "c:001"}
    assert h.topics["RAG"] < h.topics["LLM基础"]
    assert history_for_planner(store, "nobody") == PlannerHistory()


def test_the_engine_planner_consumes_the_history(store):
    cards = [QuestionCard(id=cid, question=cid, doc="d.txt", position=i + 1, line=i + 1, topics=t)
             for i, (cid, t) in enumerate(sorted(TOPICS.items()))]
    cards += [QuestionCard(id="a:003", question="new RAG", doc="d.txt", position=9, line=9, topics=["RAG"])]
    weak = history_for_planner(store, "other", now=NOW)  # "other" knows RAG well; RLHF unknown
    strong = PlannerHistory(topics={"RAG": 0.1, "RLHF": 0.9, "Redis": 0.9, "LLM基础": 0.9})
    config = SessionConfig(n_questions=1, weak_spots=True, seed=1, topics=["RAG", "RLHF"])
    assert weak.topics == {"RAG": 1.0}
    # With RAG mastered, the planner leads with RLHF; with RAG weak, with RAG's unseen card.
    assert plan_questions(cards, config, weak)[0].startswith("b:")
    mine = history_for_planner(store, "me", now=NOW)
    assert plan_questions(cards, config, strong.model_copy(update={"cards": mine.cards})) == ["a:003"]


def test_mastery_for_the_chart_is_on_the_score_scale(store):
    from interviewer.progress import mastery

    assert mastery(store, "me", now=NOW) == {"RAG": 6.8, "RLHF": 6.4, "LLM基础": 6.0}
