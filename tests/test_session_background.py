"""The engine's background grading on its own (issue 15, part 1): pending grades are marked in the
state, finished in the engine's threads, waited for, and applied to any copy of the session."""

from __future__ import annotations

import threading

from interviewer.engine.session import InterviewEngine
from interviewer.interviewers.offline import OfflineInterviewer
from interviewer.models import Grade, Provenance, SessionConfig
from tests.test_llm_path import TwoCards


class GateGrader:
    """Grades only when the test opens the gate."""

    kind = "llm"

    def __init__(self):
        self.gate = threading.Event()
        self.calls: list[str] = []

    def grade(self, question, key_points, answer, kind=None, language="zh", content=None):
        self.calls.append(answer)
        assert self.gate.wait(10)
        return Grade(status="graded", total=7.0, provenance=Provenance(grader="llm", grader_version="t",
                                                                        rubric_version="t"))


class Recorder:
    def __init__(self):
        self.grades = []

    def record_session(self, row):
        pass

    def record_turn(self, turn):
        pass

    def record_grade(self, sid, qid, grade, answer):
        self.grades.append((qid, answer))


def test_answer_asks_the_next_question_while_the_grade_is_pending():
    grader, recorder = GateGrader(), Recorder()
    engine = InterviewEngine(TwoCards(), OfflineInterviewer(), grader, recorder=recorder, background_grading=True)
    state = engine.start(SessionConfig(n_questions=2, seed=1, followups=False))
    list(engine.open(state))
    q1, q2 = state.plan
    events = list(engine.answer(state, "first answer"))
    assert [e.type for e in events if e.type in ("grading", "grade")] == ["grading"]
    assert events[-1].turn.kind == "question" and events[-1].question_id == q2   # asked before any grade
    assert state.records[q1].grade_pending and state.records[q1].grade is None
    assert engine.pending_grades(state) == [q1] and recorder.grades == []
    assert engine.wait_grades(state, timeout=0.05) == 1                       # still pending

    events = list(engine.answer(state, "second answer"))                       # the last one: finished
    report = engine.report(state)
    assert state.phase.value == "finished" and report.pending == 2 and report.graded == 0
    copy = state.model_copy(deep=True)          # e.g. the session as resumed from the store meanwhile
    grader.gate.set()
    assert engine.wait_grades(copy, timeout=10) == 0
    assert copy.records[q1].grade.total == 7.0 and copy.records[q2].grade.total == 7.0
    assert engine.wait_grades(state, timeout=10) == 0 and engine.report(state).pending == 0
    assert engine.report(state).overall == 7.0
    assert sorted(recorder.grades) == sorted([(q1, "first answer"), (q2, "second answer")])
    assert sorted(grader.calls) == [
        "first answer", "second answer"]


def test_a_pending_grade_without_a_thread_is_started_again():
    grader = GateGrader()
    grader.gate.set()
    engine = InterviewEngine(TwoCards(), OfflineInterviewer(), grader, background_grading=True)
    state = engine.start(SessionConfig(n_questions=2, seed=1, followups=False))
    q1 = state.plan[0]
    state.records[q1].answers = ["an answer from before a restart"]
    state.records[q1].grade_pending = True            # as a snapshot taken before a crash has it
    assert engine.wait_grades(state, timeout=10) == 0
    assert state.records[q1].grade.status == "graded"
    assert grader.calls == ["an answer from before a restart"]
