"""The interview engine as a state machine: planning, limits, commands, recording, the report."""

from __future__ import annotations

import json
import random

import pytest

from interviewer.config import Settings
from interviewer.engine.session import (
    Event,
    InterviewEngine,
    Phase,
    PlannerHistory,
    SessionState,
    card_key_points,
    plan_questions,
)
from interviewer.grading.rubric import RUBRIC_VERSION, criteria_for, weighted_total
from interviewer.interviewers import OfflineInterviewer
from interviewer.models import (
    CriterionScore,
    Grade,
    KeyPointStatus,
    KeyPointVerdict,
    Provenance,
    QuestionCard,
    SessionConfig,
)
from interviewer.text import coverage

# --------------------------------------------------------------------------- small parts

class MemoryBank:
    """Same methods as QuestionBank, over a list of cards."""

    def __init__(self, cards):
        self._cards = list(cards)

    def cards(self, topic=None, section=None):
        return [c for c in self._cards if (topic is None or topic in c.topics)
                and (section is None or c.section == section)]

    def get(self, card_id):
        for c in self._cards:
            if c.id == card_id:
                return c
        raise KeyError(card_id)


class CoverageGrader:
    """A lexical grader implementing the Grader protocol, so engine tests do not need embeddings."""

    kind = "offline"

    def __init__(self):
        self.calls = []

    def grade(self, question, key_points, answer, kind="concept", language="zh", content=None):
        self.calls.append((question, list(key_points), answer))
        prov = Provenance(grader="offline", grader_version="test-coverage", rubric_version=RUBRIC_VERSION)
        if not key_points:
            return Grade(status="not_graded", not_graded_reason="no key points", provenance=prov)
        verdicts = [KeyPointVerdict(point=p, status=KeyPointStatus.covered if coverage(p, answer) >= 0.5
                                    else KeyPointStatus.missing) for p in key_points]
        share = sum(v.status == KeyPointStatus.covered for v in verdicts) / len(verdicts)
        scores = [CriterionScore(criterion=c.id, weight=c.weight, score=round(10 * share, 1))
                  for c in criteria_for(kind)]
        return Grade(status="graded", total=weighted_total(scores), criteria=scores, key_points=verdicts,
                     provenance=prov)


class ListRecorder:
    def __init__(self):
        self.sessions, self.turns, self.grades = [], [], []

    def record_session(self, session):
        self.sessions.append(json.loads(json.dumps(session)))

    def record_turn(self, turn):
        self.turns.append(turn)

    def record_grade(self, session_id, question_id, grade, answer):
        self.grades.append((session_id, question_id, grade, answer))


def card(i, topic="RAG", section="八股", difficulty=2, points=None, notes=""):
    return QuestionCard(id=f"doc:{i:03d}", question=f"问题{i}：请解释 topic{i}", doc="doc.txt", position=i, line=i,
                        section=section, topics=[topic], difficulty=difficulty,
                        key_points=points if points is not None else [f"召回阶段用向量检索{i}", f"重排序模型打分{i}"],
                        source_notes=notes)


def texts(events, kind=None):
    return [e.turn.text for e in events if e.turn is not None and (kind is None or e.turn.kind == kind)]


@pytest.fixture()
def small_engine():
    cards = [card(i, topic=["RAG", "Agent", "Redis"][i % 3], difficulty=1 + i % 3) for i in range(1, 10)]
    recorder = ListRecorder()
    grader = CoverageGrader()
    settings = Settings.from_env({"MIANSHI_MAX_ANSWER_CHARS": "50"})
    engine = InterviewEngine(MemoryBank(cards), OfflineInterviewer(), grader, recorder, settings)
    return engine, recorder, grader


# --------------------------------------------------------------------------- planner

def test_plan_is_deterministic_spread_and_without_repeats():
    cards = [card(i, topic=["RAG", "Agent", "Redis"][i % 3], difficulty=1 + (i // 3) % 3) for i in range(1, 31)]
    config = SessionConfig(topics=["RAG", "Agent"], n_questions=6, seed=7)
    plan = plan_questions(cards, config)
    assert plan == plan_questions(list(reversed(cards)), config)  # input order and reruns don't matter
    assert len(plan) == len(set(plan)) == 6
    by_id = {c.id: c for c in cards}
    topics = [by_id[i].topics[0] for i in plan]
    assert set(topics) == {"RAG", "Agent"} and topics.count("RAG") == 3
    assert len({by_id[i].difficulty for i in plan}) >= 2
    assert plan_questions(cards, config.model_copy(update={"seed": 8})) != plan


def test_plan_filters_sections_and_stops_when_cards_run_out():
    cards = [card(1, section="一面"), card(2, section="二面"), card(3, section="一面")]
    plan = plan_questions(cards, SessionConfig(sections=["一面"], n_questions=5, seed=1))
    assert sorted(plan) == ["doc:001", "doc:003"]


def test_weak_spots_planner_prefers_weak_topics_unseen_cards_and_spaces_repeats():
    cards = [card(i, topic="RAG" if i <= 10 else "Redis") for i in range(1, 21)]
    history = {
        "topics": {"RAG": 0.2, "Redis": 0.9},
        "cards": {
            **{f"doc:{i:03d}": {"last_score": 9.0, "seen": 1, "sessions_ago": 0} for i in range(1, 8)},
            "doc:008": {"last_score": 2.0, "seen": 1, "sessions_ago": 0},   # missed once: due again
            "doc:009": {"last_score": 2.0, "seen": 3, "sessions_ago": 0},   # missed 3 times: wait 4 sessions
        },
    }
    config = SessionConfig(n_questions=6, weak_spots=True, seed=3)
    plan = plan_questions(cards, config, history, random.Random(3))
    topics = [("RAG" if int(i[-3:]) <= 10 else "Redis") for i in plan]
    assert topics.count("RAG") == 4                       # weak topic gets two turns per round
    rag = [i for i in plan if int(i[-3:]) <= 10]
    assert rag[:2] == ["doc:010", "doc:008"]              # the one unseen card, then the due repeat
    assert plan[0] == "doc:010"                           # the weakest topic leads
    assert "doc:009" not in plan                          # missed often: not due yet, ranked last
    # Without weak_spots the history is ignored.
    plain = plan_questions(cards, config.model_copy(update={"weak_spots": False}), history, random.Random(3))
    assert plain == plan_questions(cards, config.model_copy(update={"weak_spots": False}), None, random.Random(3))
    assert PlannerHistory.model_validate(history).cards["doc:009"].seen == 3


# --------------------------------------------------------------------------- engine

def test_followup_then_grade_covers_both_answers(small_engine):
    engine, recorder, grader = small_engine
    state = engine.start(SessionConfig(n_questions=2, seed=1, max_followups=1))
    opened = list(engine.open(state))
    qid = state.plan[0]
    points = engine.bank.get(qid).key_points
    assert texts(opened, "notice")[0].startswith("评分说明：本场为离线评分")
    assert texts(opened, "question") == [state.records[qid].asked]
    assert qid.split(":")[1].lstrip("0") in state.records[qid].asked
    # Nothing shown before the grade contains a key point.
    before = list(engine.answer(state, points[0]))
    assert state.phase == Phase.awaiting_followup and state.followups_asked == 1
    followup = texts(before, "followup")[0]
    assert all(p not in e.model_dump_json() for e in opened + before for p in points[1:])
    assert followup.startswith("你提到了") or "讲讲" in followup
    after = list(engine.answer(state, points[1]))
    grade_events = [e for e in after if e.type == "grade"]
    assert len(grade_events) == 1 and grade_events[0].question_id == qid
    assert grade_events[0].grade.total == 10.0                    # main + follow-up answer graded together
    assert grader.calls[-1][2] == f"{points[0]}\n\n{points[1]}"
    assert recorder.grades[-1][1] == qid and recorder.grades[-1][3] == grader.calls[-1][2]
    assert state.current == 1 and state.phase == Phase.awaiting_answer
    assert texts(after, "question") == [state.records[state.plan[1]].asked]
    # Every turn is recorded once, in order, with its question id.
    assert [t.index for t in recorder.turns] == list(range(len(state.turns)))
    assert all(t.question_id for t in state.turns if t.role != "system")


def test_no_followups_when_disabled_and_limit_respected(small_engine):
    engine, _, _ = small_engine
    state = engine.start(SessionConfig(n_questions=1, seed=2, followups=False, max_followups=3))
    list(engine.open(state))
    events = list(engine.answer(state, "随便说说"))
    assert not texts(events, "followup") and state.phase == Phase.finished
    state = engine.start(SessionConfig(n_questions=1, seed=2, max_followups=2))
    list(engine.open(state))
    asked = [len(texts(list(engine.answer(state, "不太确定怎么回答")), "followup")) for _ in range(3)]
    assert asked == [1, 1, 0] and state.phase == Phase.finished
    assert len(state.records[state.plan[0]].followups) == 2
    assert len(state.records[state.plan[0]].answers) == 3


def test_skip_repeat_empty_dont_know_truncation_and_end(small_engine):
    engine, recorder, grader = small_engine
    state = engine.start(SessionConfig(n_questions=4, seed=5))
    list(engine.open(state))
    q0, q1, q2, q3 = state.plan
    # Empty answer: a notice, nothing advances, nothing stored as an answer.
    events = list(engine.answer(state, "  \n "))
    assert [e.type for e in events] == ["notice"] and "回答是空的" in events[0].turn.text
    assert state.current == 0 and state.records[q0].answers == []
    # Repeat says the same question again.
    events = list(engine.repeat(state))
    assert texts(events, "question") == [state.records[q0].asked]
    # Skip: no grade, next question.
    events = list(engine.skip(state))
    assert state.records[q0].skipped and state.records[q0].grade is None and state.current == 1
    assert texts(events, "question") == [state.records[q1].asked]
    # 不知道 is an answer: graded, no follow-up.
    events = list(engine.answer(state, "不知道"))
    assert not texts(events, "followup")
    assert state.records[q1].grade.status == "graded" and state.records[q1].grade.total == 0.0
    # Too long: cut to the limit, marked, with a visible notice.
    events = list(engine.answer(state, "很长的回答" * 30))
    answer_turn = next(e.turn for e in events if e.turn is not None and e.turn.kind == "answer")
    assert answer_turn.truncated and len(answer_turn.text) == 50
    assert any("50" in t for t in texts(events, "notice"))
    assert state.records[q2].answers[0] == answer_turn.text
    # End early during a follow-up: what was answered is graded, the rest is not asked.
    if state.phase == Phase.awaiting_followup:
        list(engine.answer(state, "补充一下"))
    if state.current == 3:
        list(engine.answer(state, engine.bank.get(q3).key_points[0]))
    events = list(engine.end(state))
    assert events[-1].type == "finished" and state.phase == Phase.finished and state.finished_at
    assert list(engine.answer(state, "还有吗"))[0].type == "notice" and state.phase == Phase.finished
    report = engine.report(state)
    graded = [r for r in report.questions if r.grade and r.grade.status == "graded"]
    assert report.skipped == 1 and report.graded == len(graded) >= 2
    assert report.overall == round(sum(r.grade.total for r in graded) / len(graded), 1)
    assert recorder.sessions[-1]["status"] == "finished" and recorder.sessions[0]["plan"] == state.plan
    # Phase changes are recorded as they happen.
    assert [s["phase"] for s in recorder.sessions].count("awaiting_answer") >= 3


def test_state_round_trips_through_json_mid_session(small_engine):
    engine, _, _ = small_engine
    state = engine.start(SessionConfig(n_questions=2, seed=9))
    list(engine.open(state))
    list(engine.answer(state, "召回"))
    restored = SessionState.model_validate_json(state.model_dump_json())
    assert restored == state
    events = list(engine.open(restored))  # a reload re-sends the last message without recording
    assert len(events) == 1 and events[0].turn == state.turns[-1] and len(restored.turns) == len(state.turns)
    list(engine.answer(restored, "重排序"))
    assert restored.current >= 1


def test_key_points_fall_back_to_source_notes():
    c = card(1, points=[], notes="1. KV cache 缓存历史的 key 和 value，避免重复计算。\n"
                                 "2. PagedAttention 按页管理显存，减少碎片。")
    points = card_key_points(c)
    assert len(points) == 2 and "PagedAttention" in points[1]
    assert card_key_points(card(2, points=[], notes="")) == []


def test_event_and_report_models_serialise():
    e = Event(type="delta", delta="你好", question_id="doc:001")
    assert Event.model_validate_json(e.model_dump_json()) == e


# --------------------------------------------------------------------------- end to end, real parts

def test_offline_session_end_to_end_on_the_real_bank(bank, embedder, tmp_path):
    from interviewer.grading.offline import OfflineGrader
    from interviewer.store import TranscriptStore

    settings = Settings.from_env({"MIANSHI_DATA_DIR": str(tmp_path), "MIANSHI_MAX_ANSWER_CHARS": "300"})
    store = TranscriptStore.from_settings(settings)
    engine = InterviewEngine(bank, OfflineInterviewer(), OfflineGrader(embedder), store, settings)
    config = SessionConfig(sections=["分布式训练", "推理"], n_questions=4, seed=11, max_followups=1)
    state = engine.start(config, owner="tester")
    assert len(state.plan) == 4 and all(bank.get(c).section in ("分布式训练", "推理") for c in state.plan)
    list(engine.open(state))
    first = bank.get(state.plan[0])
    points = card_key_points(first)
    assert points
    # A partial answer (the first key point) draws a follow-up that does not quote the hidden points.
    events = list(engine.answer(state, points[0]))
    followups = texts(events, "followup")
    assert followups and all(p not in followups[0] for p in points[1:])
    events = list(engine.answer(state, "。".join(points[1:])))
    grade = next(e.grade for e in events if e.type == "grade")
    assert grade.status == "graded" and grade.total >= 5 and grade.provenance.grader == "offline"
    # 不知道 on the second question scores below the real answer.
    list(engine.answer(state, "不知道"))
    second = state.records[state.plan[1]].grade
    assert second.status == "graded" and second.total < grade.total
    list(engine.skip(state))
    list(engine.answer(state, "很长" * 400))
    assert any(t.truncated and len(t.text) == 300 for t in state.turns)
    list(engine.end(state))
    report = engine.report(state)
    totals = [r.grade.total for r in report.questions if r.grade and r.grade.status == "graded"]
    assert report.overall == round(sum(totals) / len(totals), 1) and report.skipped == 1
    assert report.by_topic and report.weakest
    # Everything was stored as it happened.
    saved = store.get_session(state.id)
    assert [t.text for t in saved.turns] == [t.text for t in state.turns]
    assert len(saved.grades) == 3 and SessionState.model_validate(store.load_state(state.id)) == state


@pytest.mark.parametrize("language", ["zh", "en"])
def test_reviewed_follow_ups_and_the_model_answer_only_after_grading(bank, embedder, tmp_path, language):
    """The offline interviewer asks the card's reviewed follow-up for the missed point, never the
    same one twice; the model answer appears with the grade, in the store and the export, and
    nowhere before."""
    from interviewer import export
    from interviewer.grading.offline import OfflineGrader
    from interviewer.store import TranscriptStore

    settings = Settings.from_env({"MIANSHI_DATA_DIR": str(tmp_path)})
    store = TranscriptStore.from_settings(settings)
    engine = InterviewEngine(bank, OfflineInterviewer(), OfflineGrader(embedder), store, settings)
    config = SessionConfig(topics=["微调"], n_questions=1, seed=3, max_followups=2, language=language)
    state = engine.start(config, owner="tester")
    card = bank.get(state.plan[0])
    assert card.followups and card.model_answer and card.model_answer_en
    model_answer = card.answer_in(language)
    before = list(engine.open(state)) + list(engine.answer(state, card.key_points[0]))
    before += list(engine.answer(state, "这个我再想想。" if language == "zh" else "Let me think about it."))
    asked = texts(before, "followup")
    reviewed = {card.followup_for(i, language) for i in range(len(card.key_points))}
    assert len(asked) == 2 and len(set(asked)) == 2 and set(asked) <= reviewed
    assert not any("说明为什么" in a or "吗？它是怎么做的" in a for a in asked)
    assert state.phase == Phase.awaiting_followup
    assert all(model_answer not in e.model_dump_json() for e in before)
    assert model_answer not in state.model_dump_json()          # the state lives in the browser
    after = list(engine.answer(state, "不太清楚。" if language == "zh" else "Not sure about the rest."))
    grade = next(e.grade for e in after if e.type == "grade")
    assert grade.model_answer == model_answer
    record = store.get_session(state.id)
    assert record.questions()[0].grade.grade.model_answer == model_answer
    assert " ".join(model_answer.split())[:40] in export.to_markdown(record)
