"""The SQLite transcript store, exercised on real database files on disk."""

from __future__ import annotations

import inspect
import json
import multiprocessing
import sqlite3
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from interviewer.config import Settings
from interviewer.engine.recorder import Recorder
from interviewer.models import CriterionScore, Grade, KeyPointStatus, KeyPointVerdict, Provenance, Turn
from interviewer.store import Scrubber, SessionNotFound, StoreError, StoreUnavailable, TranscriptStore
from interviewer.store.schema import MIGRATIONS, SCHEMA_VERSION, migrate

KEY = "sk-proj-Abc123DEF456ghi789JKL012mno345"


def make_grade(total: float = 7.0, grader: str = "offline", summary: str = "ok") -> Grade:
    return Grade(
        status="graded", total=total,
        criteria=[CriterionScore(criterion="correctness", score=total, weight=0.5, reason="fine"),
                  CriterionScore(criterion="depth", score=total, weight=0.3),
                  CriterionScore(criterion="clarity", score=total, weight=0.2)],
        key_points=[KeyPointVerdict(point="LoRA B is zero", status=KeyPointStatus.covered, evidence="B=0")],
        summary=summary,
        provenance=Provenance(grader=grader, grader_version="offline-v1", rubric_version="rubric-v1",
                              model=None if grader == "offline" else "gpt-4o-mini"),
    )


def session_dict(sid: str, owner: str = "browser-a", plan=("d:001", "d:002"), topics=("微调",),
                 phase: str = "awaiting_answer", created_at: datetime | None = None) -> dict:
    return {
        "id": sid, "owner": owner,
        "config": {"topics": list(topics), "sections": [], "n_questions": len(plan), "followups": True,
                   "max_followups": 1, "language": "zh", "weak_spots": False, "seed": 1},
        "plan": list(plan), "current": 0, "phase": phase, "followups_asked": 0, "turns": [], "records": {},
        "interviewer_label": "Offline interviewer", "grader_label": "offline grader",
        "created_at": (created_at or datetime.now(UTC)).isoformat(), "finished_at": None,
    }


def turn(sid: str, idx: int, qid: str | None = "d:001", role="candidate", kind="answer", text="answer") -> Turn:
    return Turn(session_id=sid, index=idx, question_id=qid, role=role, kind=kind, text=text)


@pytest.fixture()
def store(tmp_path) -> TranscriptStore:
    return TranscriptStore(tmp_path / "data" / "mianshi.sqlite3")


def raw(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path)
    conn.row_factory = sqlite3.Row
    return conn


# --------------------------------------------------------------------------- basics

def test_store_is_a_recorder_and_writes_each_event_immediately(store):
    # Recorder is a structural protocol: the method signatures must match it exactly.
    for name in ("record_session", "record_turn", "record_grade"):
        assert inspect.signature(getattr(TranscriptStore, name)) == inspect.signature(getattr(Recorder, name))
    store.record_session(session_dict("s1"))
    store.record_turn(turn("s1", 0, role="interviewer", kind="question", text="LoRA 初始化?"))
    # A second, independent connection sees the write at once: it was committed, not buffered.
    with raw(store.path) as conn:
        assert conn.execute("SELECT text FROM turns WHERE session_id='s1'").fetchone()[0] == "LoRA 初始化?"
    store.record_turn(turn("s1", 1, text="B 初始化为 0"))
    store.record_grade("s1", "d:001", make_grade(6.5), "B 初始化为 0")
    with raw(store.path) as conn:
        assert conn.execute("SELECT COUNT(*) FROM turns").fetchone()[0] == 2
        assert conn.execute("SELECT total, is_current FROM grades").fetchone()[:] == (6.5, 1)
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_record_turn_appends_never_overwrites_and_keeps_turns_before_the_session_row(store):
    from interviewer.store import SessionMovedOn

    store.record_turn(turn("early", 0, text="first"))
    store.record_turn(turn("early", 0, text="first"))           # the same turn again: a no-op
    # Issue 14: a stale tab's answer at a stored index used to replace the other tab's answer.
    with pytest.raises(SessionMovedOn):
        store.record_turn(turn("early", 0, text="TAB2 answer"))
    rec = store.get_session("early")
    assert [t.text for t in rec.turns] == ["first"]
    assert store.turn_count("early") == 1
    # The session row arrives later: it fills in the owner and config without losing the turn.
    store.record_session(session_dict("early", owner="browser-z"))
    rec = store.get_session("early")
    assert rec.owner == "browser-z" and len(rec.turns) == 1 and rec.config["topics"] == ["微调"]


def test_owner_is_not_changed_by_a_later_snapshot(store):
    store.record_session(session_dict("s1", owner="a"))
    store.record_session(session_dict("s1", owner="b"))
    assert store.get_session("s1").owner == "a"


def test_get_session_and_load_state(store):
    d = session_dict("s1", plan=("d:001", "d:002", "d:003"))
    store.record_session(d)
    store.record_turn(turn("s1", 0, "d:001", "interviewer", "question", "Q1"))
    store.record_turn(turn("s1", 1, "d:001", "candidate", "answer", "A1"))
    store.record_turn(turn("s1", 2, "d:001", "interviewer", "followup", "F1"))
    store.record_turn(turn("s1", 3, "d:001", "candidate", "answer", "A1b"))
    store.record_grade("s1", "d:001", make_grade(8.0), "A1\nA1b")
    store.record_turn(turn("s1", 4, "d:002", "interviewer", "question", "Q2"))
    d2 = dict(d, current=1, phase="finished", finished_at=datetime.now(UTC).isoformat())
    store.record_session(d2)

    rec = store.get_session("s1")
    assert rec.status == "finished"
    assert rec.n_questions == 3 and rec.n_answered == 1 and rec.n_graded == 1 and rec.overall == 8.0
    assert [t.index for t in rec.turns] == [0, 1, 2, 3, 4]
    views = rec.questions()
    assert [v.question_id for v in views] == ["d:001", "d:002"]  # d:003 was never reached
    assert views[0].grade.grade.total == 8.0 and views[1].grade is None
    assert store.load_state("s1")["current"] == 1
    with pytest.raises(SessionNotFound):
        store.get_session("nope")
    with pytest.raises(SessionNotFound):
        store.get_session("s1", owner="someone-else")
    with pytest.raises(SessionNotFound):
        store.load_state("s1", owner="someone-else")
    assert store.load_state("s1", owner="browser-a")["id"] == "s1"


def test_regrade_keeps_old_grades_and_flags_one_current(store):
    store.record_session(session_dict("s1"))
    store.record_grade("s1", "d:001", make_grade(4.0), "a")
    new_id = store.add_regrade("s1", "d:001", make_grade(9.0, grader="llm"), "a")
    rec = store.get_session("s1")
    grades = rec.grades_for("d:001")
    assert [(g.grade.total, g.is_current) for g in grades] == [(4.0, False), (9.0, True)]
    assert grades[1].id == new_id and grades[1].model == "gpt-4o-mini"
    assert rec.overall == 9.0
    assert rec.questions()[0].superseded[0].grade.total == 4.0
    # Undo the regrade: the old one is current again, still exactly one current.
    store.set_current_grade("s1", grades[0].id)
    assert [(g.grade.total, g.is_current) for g in store.get_session("s1").grades] == [(4.0, True), (9.0, False)]
    with pytest.raises(SessionNotFound):
        store.add_regrade("missing", "d:001", make_grade(), "a")
    # The database itself refuses two current grades for one question.
    with raw(store.path) as conn, pytest.raises(sqlite3.IntegrityError):
        conn.execute("UPDATE grades SET is_current = 1")


def test_not_graded_grades_do_not_count_in_the_overall(store):
    store.record_session(session_dict("s1"))
    store.record_grade("s1", "d:001", make_grade(6.0), "a")
    ng = Grade(status="not_graded", not_graded_reason="empty answer",
               provenance=Provenance(grader="offline", grader_version="v", rubric_version="rubric-v1"))
    store.record_grade("s1", "d:002", ng, "")
    s = store.list_sessions()[0]
    assert s.overall == 6.0 and s.n_graded == 1


def test_delete_session_removes_every_row(store):
    for sid in ("keep", "gone"):
        store.record_session(session_dict(sid))
        store.record_turn(turn(sid, 0))
        store.record_grade(sid, "d:001", make_grade(), "a")
        store.add_regrade(sid, "d:001", make_grade(3.0), "a")
    assert store.delete_session("gone", owner="intruder") is False
    assert store.delete_session("gone") is True
    assert store.delete_session("gone") is False
    with raw(store.path) as conn:
        for table, col in (("sessions", "id"), ("turns", "session_id"), ("grades", "session_id")):
            assert conn.execute(f"SELECT COUNT(*) FROM {table} WHERE {col}='gone'").fetchone()[0] == 0
            assert conn.execute(f"SELECT COUNT(*) FROM {table} WHERE {col}='keep'").fetchone()[0] >= 1
    with pytest.raises(SessionNotFound):
        store.get_session("gone")


def test_list_sessions_filters(store):
    old = datetime.now(UTC) - timedelta(days=3)
    store.record_session(session_dict("a1", owner="a", topics=("RAG",), created_at=old))
    store.record_grade("a1", "d:001", make_grade(3.0), "x")
    store.record_session(session_dict("a2", owner="a", topics=("微调",)))
    store.record_grade("a2", "d:001", make_grade(8.0), "x")
    store.record_session(session_dict("b1", owner="b", topics=("RAG",)))  # nothing graded

    assert [s.id for s in store.list_sessions(owner="a")] == ["a2", "a1"]  # newest first
    assert {s.id for s in store.list_sessions()} == {"a1", "a2", "b1"}
    assert [s.id for s in store.list_sessions(topic="RAG", owner="a")] == ["a1"]
    assert {s.id for s in store.list_sessions(topic="RAG")} == {"a1", "b1"}
    assert [s.id for s in store.list_sessions(min_score=5)] == ["a2"]
    assert [s.id for s in store.list_sessions(max_score=5)] == ["a1"]
    assert store.list_sessions(owner="nobody") == []


def test_topics_from_card_lookup_are_stored_with_the_grade(tmp_path):
    topics = {"d:001": ["RLHF", "LLM基础"]}
    store = TranscriptStore(tmp_path / "t.sqlite3", card_topics=lambda cid: topics[cid])
    store.record_session(session_dict("s1", topics=()))
    store.record_grade("s1", "d:001", make_grade(), "a")
    store.record_grade("s1", "gone:001", make_grade(), "a")  # unknown card: kept, no topics
    rec = store.get_session("s1")
    assert rec.current_grades()["d:001"].topics == ["RLHF", "LLM基础"]
    assert rec.current_grades()["gone:001"].topics == []
    assert rec.topics == ["RLHF", "LLM基础"]


# --------------------------------------------------------------------------- migrations

def test_opening_a_version_1_database_migrates_it(tmp_path):
    path = tmp_path / "old.sqlite3"
    conn = sqlite3.connect(path, isolation_level=None)
    assert migrate(conn, target=1) == 1
    conn.execute("INSERT INTO sessions (id, owner, created_at, updated_at, config, plan) VALUES "
                 "('old', 'o', '2024-01-01T00:00:00+00:00', '2024-01-01T00:00:00+00:00', "
                 "'{\"topics\": [\"RAG\"]}', '[\"d:001\"]')")
    g = make_grade(5.0).model_dump_json()
    # Version 1 allowed two current grades; the migration must repair that to the newest one.
    for _ in range(2):
        conn.execute("INSERT INTO grades (session_id, question_id, answer, grade, created_at, is_current) "
                     "VALUES ('old', 'd:001', 'a', ?, '2024-01-01T00:00:00+00:00', 1)", (g,))
    conn.close()
    with pytest.raises(sqlite3.OperationalError):  # the v2 column really is missing before
        sqlite3.connect(path).execute("SELECT topics FROM grades")

    store = TranscriptStore(path)
    with raw(path) as c:
        assert c.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == len(MIGRATIONS)
        assert [r[0] for r in c.execute("SELECT is_current FROM grades ORDER BY id")] == [0, 1]
    rec = store.get_session("old")
    assert rec.overall == 5.0 and rec.topics == ["RAG"] and rec.grader_label == ""
    store.add_regrade("old", "d:001", make_grade(7.0), "a")
    assert store.get_session("old").overall == 7.0


def test_a_database_from_a_newer_program_is_refused(tmp_path):
    path = tmp_path / "new.sqlite3"
    TranscriptStore(path)
    with raw(path) as c:
        c.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    # A newer file must be left alone, not "migrated" by an older program.
    conn = sqlite3.connect(path, isolation_level=None)
    with pytest.raises(StoreUnavailable, match="newer"):
        migrate(conn, target=SCHEMA_VERSION + 2)
    conn.close()


# --------------------------------------------------------------------------- privacy

def test_secrets_are_scrubbed_before_writing(tmp_path):
    settings = Settings.from_env({"MIANSHI_DATA_DIR": str(tmp_path), "OPENAI_API_KEY": "my-own-secret-value-42"})
    store = TranscriptStore.from_settings(settings)
    assert store.path == settings.db_path
    d = session_dict("s1")
    d["interviewer_label"] = "LLM my-own-secret-value-42"
    store.record_session(d)
    store.record_turn(turn("s1", 0, text=f"my key is my-own-secret-value-42 and also {KEY}"))
    g = make_grade(summary="the answer quoted my-own-secret-value-42")
    g.key_points[0].evidence = KEY
    store.record_grade("s1", "d:001", g, f"answer with {KEY}")
    store.add_regrade("s1", "d:001", g, "my-own-secret-value-42")

    # The main file and any WAL left beside it: the raw bytes on disk, not just what we read back.
    blob = b"".join(p.read_bytes() for p in store.path.parent.glob(store.path.name + "*"))
    assert b"[REDACTED]" in blob
    assert b"my-own-secret-value-42" not in blob and KEY.encode() not in blob
    rec = store.get_session("s1")
    assert rec.turns[0].text == "my key is [REDACTED] and also [REDACTED]"
    assert rec.grades[0].answer == "answer with [REDACTED]"
    assert rec.grades[0].grade.summary == "the answer quoted [REDACTED]"
    assert rec.grades[0].grade.key_points[0].evidence == "[REDACTED]"
    assert rec.interviewer_label == "LLM [REDACTED]"
    assert "my-own-secret-value-42" not in json.dumps(store.load_state("s1"))


def test_scrubber_patterns_and_environment():
    s = Scrubber.from_settings(None, env={"HF_TOKEN": "tok-1234567890", "HOME": "/root", "SHORT_KEY": "abc"})
    assert s.text("tok-1234567890 at /root") == "[REDACTED] at /root"  # only secret-named vars
    assert s.text("abc") == "abc"  # too short to scrub by value
    assert s.text("use sklearn and sk-learn") == "use sklearn and sk-learn"
    assert s.text("Authorization: Bearer abcdefghijklmnopqrstuvwxyz123") == "Authorization: Bearer [REDACTED]"
    assert s.text("hf_" + "a" * 34) == "[REDACTED]"
    assert s({"a": [KEY, 1, None]}) == {"a": ["[REDACTED]", 1, None]}


def test_a_secret_that_json_escapes_is_still_found_in_a_structure():
    # Structures are checked in one pass over their JSON text, where a quote or a backslash in
    # a secret appears escaped: the check must still see it.
    secret = 'pa"ss\\word-12345'
    s = Scrubber([secret])
    assert s({"turns": [{"text": f"my password is {secret}"}]}) == {"turns": [{"text": "my password is [REDACTED]"}]}
    clean = {"turns": [{"text": "no secret here"}]}
    assert s(clean) == clean


# --------------------------------------------------------------------------- failures

def test_read_only_store_reads_but_refuses_writes_without_damage(tmp_path):
    path = tmp_path / "ro.sqlite3"
    rw = TranscriptStore(path)
    rw.record_session(session_dict("s1"))
    rw.record_turn(turn("s1", 0))
    ro = TranscriptStore(path, readonly=True)
    assert ro.get_session("s1").turns[0].text == "answer"
    with pytest.raises(StoreUnavailable, match="read-only"):
        ro.record_turn(turn("s1", 1))
    # A store whose connection is opened read-only by SQLite itself (mode=ro) refuses too:
    # this is SQLite's own "attempt to write a readonly database", mapped to a clear error.

    class RoConnection(TranscriptStore):
        def _open_connection(self):
            conn = sqlite3.connect(self.path.resolve().as_uri() + "?mode=ro", uri=True, isolation_level=None,
                                   check_same_thread=False)
            conn.row_factory = sqlite3.Row
            return conn

    with pytest.raises(StoreUnavailable, match="read-only") as err:
        RoConnection(path).record_grade("s1", "d:001", make_grade(), "a")
    assert isinstance(err.value, StoreError) and "readonly" not in str(err.value)
    with raw(path) as c:
        assert c.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert c.execute("SELECT COUNT(*) FROM turns").fetchone()[0] == 1
        assert c.execute("SELECT COUNT(*) FROM grades").fetchone()[0] == 0


def test_unwritable_data_directory_raises_store_unavailable(tmp_path):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the data directory should be")
    with pytest.raises(StoreUnavailable, match="cannot be opened"):
        TranscriptStore(blocker / "sub" / "mianshi.sqlite3")


def test_not_a_database_file_is_reported(tmp_path):
    path = tmp_path / "junk.sqlite3"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreUnavailable, match="not a valid database"):
        TranscriptStore(path)
    assert path.read_bytes() == b"this is not sqlite" * 100


def test_disk_full_raises_and_keeps_earlier_writes(tmp_path):
    path = tmp_path / "full.sqlite3"
    store = TranscriptStore(path)
    store.record_session(session_dict("s1"))
    store.record_turn(turn("s1", 0, text="kept"))

    class FullDisk(TranscriptStore):
        # SQLite's max_page_count makes the file unable to grow: a real SQLITE_FULL.
        def _open_connection(self):
            conn = super()._open_connection()
            pages = conn.execute("PRAGMA page_count").fetchone()[0]
            conn.execute(f"PRAGMA max_page_count = {pages}")
            return conn

    full = FullDisk(path)
    with pytest.raises(StoreUnavailable, match="full"):
        for i in range(1, 200):  # fill the free pages until the file must grow
            full.record_turn(turn("s1", i, text="x" * 4000))
    with raw(path) as c:
        assert c.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    rec = store.get_session("s1")
    assert rec.turns[0].text == "kept"
    assert [t.index for t in rec.turns] == list(range(len(rec.turns)))  # no half-written turn
    store.record_turn(turn("s1", len(rec.turns), text="room again"))  # normal store still works


# --------------------------------------------------------------------------- concurrency

def test_twenty_threads_answering_at_once_lose_no_turn(store):
    n_threads, n_turns = 20, 30
    barrier = threading.Barrier(n_threads)
    errors: list[BaseException] = []

    def worker(k: int) -> None:
        try:
            sid = f"t{k}"
            barrier.wait()
            store.record_session(session_dict(sid, owner=f"o{k}"))
            for i in range(n_turns):
                store.record_turn(turn(sid, i, qid=f"d:{i // 3:03d}", text=f"{sid}-{i}"))
                if i % 3 == 2:
                    store.record_grade(sid, f"d:{i // 3:03d}", make_grade(float(i % 10)), "a")
        except BaseException as exc:  # surfaced below: a thread's failure must fail the test
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with raw(store.path) as c:
        assert c.execute("SELECT COUNT(*) FROM turns").fetchone()[0] == n_threads * n_turns
        assert c.execute("SELECT COUNT(*) FROM grades").fetchone()[0] == n_threads * n_turns // 3
        assert c.execute("SELECT COUNT(DISTINCT text) FROM turns").fetchone()[0] == n_threads * n_turns
    assert len(store.list_sessions()) == n_threads


def _process_writer(path: str, k: int, n_turns: int) -> None:
    store = TranscriptStore(path)  # every process also races to create and migrate the file
    store.record_session(session_dict(f"p{k}", owner=f"o{k}"))
    for i in range(n_turns):
        store.record_turn(turn(f"p{k}", i, text=f"p{k}-{i}"))
        # And all processes append to one shared session, each with its own indexes.
        store.record_turn(turn("shared", k * 1000 + i, text=f"shared-{k}-{i}"))
    store.record_grade(f"p{k}", "d:001", make_grade(), "a")


def test_several_processes_writing_at_once_lose_nothing(tmp_path):
    path = tmp_path / "mp.sqlite3"  # not created yet: the processes create it together
    n_proc, n_turns = 4, 40
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_process_writer, args=(str(path), k, n_turns)) for k in range(n_proc)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
    assert [p.exitcode for p in procs] == [0] * n_proc
    with raw(path) as c:
        assert c.execute("SELECT COUNT(*) FROM turns").fetchone()[0] == 2 * n_proc * n_turns
        assert c.execute("SELECT COUNT(*) FROM turns WHERE session_id='shared'").fetchone()[0] == n_proc * n_turns
        assert c.execute("SELECT COUNT(*) FROM grades").fetchone()[0] == n_proc
        assert c.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert c.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


# --------------------------------------------------------------------------- with the real engine

class FixedGrader:
    """Implements the Grader protocol with a fixed total, so this test needs no embedder."""

    kind = "offline"
    label = "fixed test grader"

    def grade(self, question, key_points, answer, kind="concept", language="zh", content=None):
        return make_grade(7.5 if "B" in answer else 2.0)


class ListBank:
    def __init__(self, cards):
        self._cards = cards

    def cards(self, topic=None, section=None):
        return list(self._cards)

    def get(self, card_id):
        return next(c for c in self._cards if c.id == card_id)


def _cards():
    from interviewer.models import QuestionCard
    return [QuestionCard(id=f"d:00{i}", question=f"问题 {i}?", doc="d.txt", position=i, line=i,
                         topics=[t], key_points=["B 初始化为 0"]) for i, t in ((1, "微调"), (2, "RLHF"))]


def test_engine_session_is_recorded_and_resumes_from_the_store(store):
    from interviewer.engine.session import InterviewEngine, SessionState
    from interviewer.interviewers import OfflineInterviewer
    from interviewer.models import SessionConfig

    bank = ListBank(_cards())
    engine = InterviewEngine(bank, OfflineInterviewer(), FixedGrader(), store)
    state = engine.start(SessionConfig(n_questions=2, followups=False, seed=3), owner="browser-a")
    list(engine.open(state))
    list(engine.answer(state, "B 初始化为 0"))  # graded, next question asked
    n_turns = len(state.turns)
    del state  # the process "dies": only the store remains

    resumed = SessionState.model_validate(store.load_state(state_id := store.list_sessions()[0].id))
    assert len(resumed.turns) == n_turns and resumed.current == 1
    engine2 = InterviewEngine(bank, OfflineInterviewer(), FixedGrader(), store)
    list(engine2.open(resumed))   # a reload: re-sends the question, records nothing new
    list(engine2.answer(resumed, "不知道"))
    rec = store.get_session(state_id, owner="browser-a")
    assert rec.status == "finished"
    assert [t.index for t in rec.turns] == list(range(len(rec.turns))) and len(rec.turns) > n_turns
    assert [t.text for t in rec.turns[:n_turns]] == [t.text for t in resumed.turns[:n_turns]]
    assert {q: g.grade.total for q, g in rec.current_grades().items()} == {rec.plan[0]: 7.5, rec.plan[1]: 2.0}
    # Topics came from the snapshot's records (the engine copies them from the cards).
    assert sorted(rec.topics) == ["RLHF", "微调"]
    assert rec.grader_label == "fixed test grader"


def test_a_store_built_without_settings_still_scrubs_the_environment_key(tmp_path, monkeypatch):
    # The command line's interview builds TranscriptStore(path) without settings.
    monkeypatch.setenv("OPENAI_API_KEY", "plain-value-not-key-shaped-77")
    store = TranscriptStore(tmp_path / "env.sqlite3")
    store.record_turn(turn("s1", 0, text="pasted plain-value-not-key-shaped-77 here"))
    assert store.get_session("s1").turns[0].text == "pasted [REDACTED] here"
