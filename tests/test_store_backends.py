"""The transcript store's behaviour, the same on both back ends: SQLite files on disk and a real
PostgreSQL server (started by the `postgres_server` fixture; skipped with the reason where
PostgreSQL is not installed). Every test here runs once per back end.

test_transcripts.py keeps the SQLite-only checks (file damage, WAL, PRAGMA migrations).
"""

from __future__ import annotations

import io
import json
import multiprocessing
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from interviewer.config import REPO_ROOT, Settings
from interviewer.models import Grade, Provenance, Turn
from interviewer.session_locks import SessionLocks
from interviewer.store import (
    SessionExists,
    SessionMovedOn,
    SessionNotFound,
    StoreUnavailable,
    TranscriptStore,
    open_store,
)
from interviewer.store.schema import SCHEMA_VERSION

KEY = "sk-proj-Abc123DEF456ghi789JKL012mno345"


def make_grade(total: float = 7.0) -> Grade:
    return Grade(status="graded", total=total, summary="ok",
                 provenance=Provenance(grader="offline", grader_version="t", rubric_version="r"))


def session_dict(sid: str, owner: str = "browser-a", topics=("微调",), created_at: datetime | None = None,
                 **extra) -> dict:
    return {"id": sid, "owner": owner, "config": {"topics": list(topics), "n_questions": 2, "language": "zh"},
            "plan": ["d:001", "d:002"], "current": 0, "phase": "awaiting_answer", "records": {},
            "interviewer_label": "Offline interviewer", "grader_label": "offline grader",
            "created_at": (created_at or datetime.now(UTC)).isoformat(), **extra}


def turn(sid: str, idx: int, text: str = "answer", qid: str | None = "d:001", role="candidate",
         kind="answer") -> Turn:
    return Turn(session_id=sid, index=idx, question_id=qid, role=role, kind=kind, text=text)


@dataclass
class Backend:
    """One database, and how to open (another) store on it: what a second replica would do."""

    name: str
    data_dir: Path
    url: str | None  # None: SQLite in data_dir

    def env(self, data_dir: Path | None = None) -> dict[str, str]:
        env = {"MIANSHI_DATA_DIR": str(data_dir or self.data_dir), "MIANSHI_INTERVIEWER": "offline"}
        if self.url:
            env["MIANSHI_DATABASE_URL"] = self.url
        return env

    def settings(self, data_dir: Path | None = None) -> Settings:
        return Settings.from_env(self.env(data_dir))

    def open(self, **kw) -> TranscriptStore:
        return open_store(self.settings(), **kw)


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request, tmp_path) -> Backend:
    url = request.getfixturevalue("postgres_url") if request.param == "postgresql" else None
    return Backend(request.param, tmp_path / "data", url)


@pytest.fixture()
def store(backend):
    s = backend.open()
    yield s
    s.close()


# --------------------------------------------------------------------------- the interface

def test_the_settings_pick_the_back_end(backend, store):
    from interviewer.store.pg_store import PostgresTranscriptStore

    assert isinstance(store, PostgresTranscriptStore) == (backend.name == "postgresql")
    assert store.schema_version() == SCHEMA_VERSION
    if backend.name == "sqlite":
        assert store.path == backend.settings().db_path
    else:
        assert not backend.settings().db_path.exists()  # nothing of the transcripts on local disk


def test_a_write_is_committed_before_the_call_returns(backend, store):
    store.record_session(session_dict("s1"))
    store.record_turn(turn("s1", 0, "LoRA 初始化?", role="interviewer", kind="question"))
    store.record_grade("s1", "d:001", make_grade(6.5), "B 初始化为 0")
    other = backend.open()  # another process's store: its own connections
    try:
        rec = other.get_session("s1")
        assert [t.text for t in rec.turns] == ["LoRA 初始化?"]
        assert rec.overall == 6.5 and rec.grades[0].grade.total == 6.5  # a double, not a 4-byte float
    finally:
        other.close()


def test_turns_append_are_never_overwritten_and_arrive_before_their_session(store):
    store.record_turn(turn("early", 0, "first"))  # before any session row
    store.record_turn(turn("early", 0, "first"))  # the same turn again: a no-op
    with pytest.raises(SessionMovedOn):
        store.record_turn(turn("early", 0, "something else"))
    store.record_turn(turn("early", 1, "second"))
    assert [t.text for t in store.get_session("early").turns] == ["first", "second"]
    assert store.turn_count("early") == 2


def test_sessions_read_back_with_state_owner_and_filters(store):
    t0 = datetime(2025, 1, 1, tzinfo=UTC)
    store.record_session(session_dict("a", owner="o1", topics=("RAG",), created_at=t0))
    store.record_session(session_dict("b", owner="o2", topics=("微调",), created_at=t0 + timedelta(days=1)))
    store.record_session(session_dict("a", owner="someone-else", topics=("RAG",), created_at=t0))  # owner never changes
    store.record_turn(turn("a", 0, "q", role="interviewer", kind="question"))
    store.record_turn(turn("a", 1, "ans"))
    store.record_grade("a", "d:001", make_grade(8.0), "ans")
    assert [s.id for s in store.list_sessions()] == ["b", "a"]  # newest first
    assert [s.id for s in store.list_sessions("o1")] == ["a"]
    assert [s.id for s in store.list_sessions(topic="微调")] == ["b"]
    assert [s.id for s in store.list_sessions(min_score=7.5)] == ["a"]
    summary = store.list_sessions("o1")[0]
    assert (summary.n_answered, summary.n_graded, summary.overall) == (1, 1, 8.0)
    state = store.load_state("a", owner="o1")
    assert [t["text"] for t in state["turns"]] == ["q", "ans"] and state["plan"] == ["d:001", "d:002"]
    with pytest.raises(SessionNotFound):
        store.get_session("a", owner="o2")
    assert store.exists("a") and not store.exists("nope")


def test_regrades_keep_the_old_grades_and_one_is_current(store):
    store.record_session(session_dict("s"))
    store.record_grade("s", "d:001", make_grade(4.0), "a")
    new_id = store.add_regrade("s", "d:001", make_grade(9.0), "a")
    rec = store.get_session("s")
    assert [(g.grade.total, g.is_current) for g in rec.grades] == [(4.0, False), (9.0, True)]
    store.set_current_grade("s", rec.grades[0].id)
    assert store.get_session("s").overall == 4.0 and new_id == rec.grades[1].id
    with pytest.raises(SessionNotFound):
        store.add_regrade("missing", "d:001", make_grade(), "a")


def test_delete_restore_and_progress_rows(store):
    store.record_session(session_dict("s", owner="o"))
    store.record_turn(turn("s", 0, "q", role="interviewer", kind="question"))
    store.record_turn(turn("s", 1, "a"))
    store.record_grade("s", "d:001", make_grade(6.0), "a")
    assert [r["total"] for r in store.graded_rows("o")] == [6.0]
    assert [r["question_id"] for r in store.asked_rows("o")] == ["d:001"]
    record = store.get_session("s")
    assert store.delete_session("s", owner="another") is False
    assert store.delete_session("s", owner="o") is True and not store.exists("s")
    assert store.restore_session(record) == "s"
    with pytest.raises(SessionExists):
        store.restore_session(record)
    again = store.get_session("s")
    assert [t.text for t in again.turns] == ["q", "a"] and again.overall == 6.0


def test_secrets_are_scrubbed_and_odd_text_round_trips(backend, store):
    store.record_session(session_dict("s"))
    store.record_turn(turn("s", 0, f"my key is {KEY} 中文 🙂"))
    store.record_turn(turn("s", 1, "a NUL\x00 in an answer"))
    store.record_turn(turn("s", 1, "a NUL\x00 in an answer"))  # the same turn again is still a no-op
    texts = [t.text for t in store.get_session("s").turns]
    assert KEY not in texts[0] and "[REDACTED]" in texts[0] and "中文 🙂" in texts[0]
    # PostgreSQL text cannot hold NUL: it becomes U+FFFD there (SQLite keeps it).
    assert texts[1] == ("a NUL\x00 in an answer" if backend.name == "sqlite" else "a NUL\ufffd in an answer")
    assert store.list_sessions(owner="\x00no-owner") == []  # the review's "nobody" owner is a valid query


def test_a_read_only_store_reads_and_refuses_writes(backend, store):
    store.record_session(session_dict("s"))
    ro = backend.open(readonly=True)
    try:
        assert ro.exists("s")
        with pytest.raises(StoreUnavailable, match="read-only"):
            ro.record_turn(turn("s", 0))
    finally:
        ro.close()
    assert store.turn_count("s") == 0


# --------------------------------------------------------------------------- the snapshot version check

def test_a_snapshot_from_a_copy_behind_the_stored_turns_is_refused(store):
    store.record_session(session_dict("s", turns_seen=0, current=0))
    store.record_turn(turn("s", 0, "q", role="interviewer", kind="question"))
    store.record_turn(turn("s", 1, "answer from tab B"))
    store.record_session(session_dict("s", turns_seen=2, current=1))  # tab B, up to date: saved
    with pytest.raises(SessionMovedOn):  # tab A read the session at one turn: refused, nothing written
        store.record_session(session_dict("s", turns_seen=1, current=0))
    assert store.load_state("s")["current"] == 1
    # A copy ahead of the store (a turn the store could not take) is not stale: saved.
    store.record_session(session_dict("s", turns_seen=3, current=2))
    state = store.load_state("s")
    assert state["current"] == 2 and "turns_seen" not in state


# --------------------------------------------------------------------------- the cross-process lock

def test_the_session_lock_holds_against_another_store_and_not_other_sessions(backend, store):
    other = backend.open()  # another replica: its own pools / lock file descriptors
    order: list[str] = []
    held, release = threading.Event(), threading.Event()

    def first():
        with store.session_lock("s"):
            order.append("A in")
            held.set()
            release.wait(10)
            order.append("A out")

    t = threading.Thread(target=first)
    t.start()
    try:
        assert held.wait(10)
        with other.session_lock("another session"):  # not blocked by s
            order.append("other session")
        got = threading.Event()

        def second():
            with other.session_lock("s"):
                order.append("B in")
                got.set()

        waiter = threading.Thread(target=second)
        waiter.start()
        assert not got.wait(0.5)  # B waits while A holds the session
        release.set()
        assert got.wait(10)
        waiter.join(10)
        assert order == ["A in", "other session", "A out", "B in"]
    finally:
        release.set()
        t.join(10)
        other.close()


def test_session_locks_take_the_store_lock_once_and_are_re_entrant(backend, store):
    other = backend.open()
    locks = SessionLocks(across=store.session_lock)
    try:
        with locks.hold("s"), locks.hold("s"):  # re-entered (resume inside an action): no self-deadlock
            blocked = threading.Event()

            def try_other():
                with other.session_lock("s"):
                    blocked.set()

            t = threading.Thread(target=try_other)
            t.start()
            assert not blocked.wait(0.5)  # another replica waits for this one
        assert blocked.wait(10)
        t.join(10)
    finally:
        other.close()


def _replica_writer(env: dict, k: int, n_turns: int, out) -> None:
    """A replica's actions on one shared session: under the session lock, read how far the
    session is, add a turn at the next index and save the snapshot."""
    store = open_store(Settings.from_env(env))
    locks = SessionLocks(across=store.session_lock)
    moved = 0
    for i in range(n_turns):
        with locks.hold("shared"):
            n = store.turn_count("shared")
            store.record_turn(turn("shared", n, f"replica-{k}-{i}"))
            try:
                store.record_session(session_dict("shared", turns_seen=n + 1, current=n + 1))
            except SessionMovedOn:
                moved += 1
    store.close()
    out.put((k, moved))


def test_two_processes_writing_one_session_lose_and_duplicate_nothing(backend, store):
    store.record_session(session_dict("shared", turns_seen=0))
    n_proc, n_turns = 2, 25
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    procs = [ctx.Process(target=_replica_writer, args=(backend.env(), k, n_turns, out)) for k in range(n_proc)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=180)
    assert [p.exitcode for p in procs] == [0] * n_proc
    results = dict(out.get(timeout=5) for _ in range(n_proc))
    assert results == {0: 0, 1: 0}  # under the lock, no snapshot was ever stale
    rec = store.get_session("shared")
    assert [t.index for t in rec.turns] == list(range(n_proc * n_turns))  # no gap, no overwrite
    texts = [t.text for t in rec.turns]
    assert sorted(texts) == sorted(f"replica-{k}-{i}" for k in range(n_proc) for i in range(n_turns))
    assert rec.state["current"] == n_proc * n_turns


def _open_at_once(env: dict, start_at: float, out) -> None:
    time.sleep(max(0.0, start_at - time.time()))
    try:
        store = open_store(Settings.from_env(env))
        out.put(store.schema_version())
        store.close()
    except Exception as exc:  # reported to the test, which fails on it
        out.put(repr(exc))


def test_replicas_starting_together_migrate_once(backend):
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    start_at = time.time() + 3  # after the spawned interpreters have imported everything
    procs = [ctx.Process(target=_open_at_once, args=(backend.env(), start_at, out)) for _ in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
    assert sorted(out.get(timeout=5) for _ in procs) == [SCHEMA_VERSION] * 3
    if backend.name == "postgresql":
        import psycopg

        with psycopg.connect(backend.url) as conn:
            assert conn.execute("SELECT version FROM mianshi_schema").fetchall() == [(SCHEMA_VERSION,)]


# --------------------------------------------------------------------------- grade cache, browser secret, CLI

def test_the_grade_cache_is_shared_by_every_process_on_the_database(backend, tmp_path):
    from interviewer.grading.cache import GradeCache, PostgresGradeCache, open_grade_cache

    first, second = open_grade_cache(backend.settings()), open_grade_cache(backend.settings())
    try:
        assert isinstance(first, PostgresGradeCache if backend.name == "postgresql" else GradeCache)
        assert first.get("k") is None
        first.put("k", make_grade(8.5))
        first.put("k", make_grade(8.5))  # the same key again replaces, never duplicates
        assert second.get("k").total == 8.5 and len(second) == 1
    finally:
        for cache in (first, second):
            getattr(cache, "close", lambda: None)()
    if backend.name == "postgresql":
        assert not backend.settings().llm_cache_path.exists()


def test_the_browser_secret_is_one_per_database(backend, tmp_path):
    from interviewer import service

    a = service.browser_secret(backend.settings(tmp_path / "replica-a"))
    b = service.browser_secret(backend.settings(tmp_path / "replica-b"))
    assert a == service.browser_secret(backend.settings(tmp_path / "replica-a")) and len(a) >= 24
    if backend.name == "postgresql":
        assert a == b  # every replica decrypts every browser's copy
        assert not (tmp_path / "replica-a" / "browser_secret").exists()
    else:
        assert a != b and (tmp_path / "replica-a" / "browser_secret").read_text() == a  # as before: a file


def test_db_migrate_creates_and_reports_the_schema(backend):
    def run(*args):
        return subprocess.run([sys.executable, "-m", "interviewer", "db", *args], capture_output=True, text=True,
                              env={"PATH": "/usr/bin:/bin", **backend.env()}, cwd=REPO_ROOT, timeout=120)

    before = run("version")
    assert before.returncode == 1 and "schema version 0" in before.stdout, before.stderr
    done = run("migrate")
    assert done.returncode == 0 and f"schema version {SCHEMA_VERSION}" in done.stdout, done.stderr
    assert run("version").returncode == 0
    assert "mianshi@" not in done.stdout  # the URL's user (and any password) is not printed


# --------------------------------------------------------------------------- two replicas through the service

def _replica(backend: Backend):
    """A replica's wiring: its own store (pools, locks) and engine over the shared database."""
    from interviewer.engine.session import InterviewEngine
    from interviewer.interviewers import OfflineInterviewer
    from interviewer.service import Services
    from tests.test_transcripts import FixedGrader, ListBank, _cards

    store = backend.open()
    bank = ListBank(_cards())
    engine = InterviewEngine(bank, OfflineInterviewer(), FixedGrader(), store)
    return Services(settings=backend.settings(), bank=bank, engine=engine, grader=engine.grader, store=store,
                    locks=SessionLocks(across=store.session_lock))


def test_a_session_moves_between_replicas_and_a_stale_copy_is_not_applied(backend):
    from interviewer.models import SessionConfig

    a, b = _replica(backend), _replica(backend)
    try:
        state = a.start(SessionConfig(n_questions=2, followups=False, seed=3), owner="browser-a")
        list(a.engine.open(state))
        a.save(state)
        stale = state.model_copy(deep=True)  # what tab A still holds

        on_b = b.resume(state.id, "browser-a")  # a reload that lands on replica B
        assert len(on_b.turns) == len(state.turns)
        with b.exclusive(on_b) as current:
            assert current is on_b
            list(b.engine.answer(current, "B 初始化为 0"))
            b.save(current)

        with a.exclusive(stale) as current:  # tab A acts on its old copy on replica A
            assert current is not stale and len(current.turns) == len(on_b.turns) and current.current == 1
        with pytest.raises(SessionMovedOn):  # and its snapshot can never overwrite B's
            a.save(stale)
        rec = a.store.get_session(state.id)
        assert [t.index for t in rec.turns] == list(range(len(on_b.turns)))
        assert rec.state["current"] == 1 and rec.current_grades()[rec.plan[0]].grade.total == 7.5
    finally:
        a.store.close()
        b.store.close()


def test_a_store_that_cannot_be_reached_leaves_the_action_to_the_process_lock(backend, store, tmp_path):
    """No database (server gone, lock file unwritable): the action still runs, unsaved, as before."""
    if backend.name == "postgresql":
        store.db.lock_pool.close()  # every lock connection now fails, as with a server gone away
    else:
        store._locks.path = tmp_path / "no-such-dir" / "locks"  # the lock file cannot be created
    ran = []
    with SessionLocks(across=store.session_lock).hold("s"):
        ran.append(True)
    assert ran == [True]


def test_twenty_threads_answering_at_once_lose_no_turn(store):
    def candidate(k: int) -> None:
        store.record_session(session_dict(f"t{k}", owner=f"o{k}", turns_seen=0))
        for i in range(10):
            store.record_turn(turn(f"t{k}", i, f"t{k}-{i}"))
            store.record_turn(turn("shared", k * 100 + i, f"shared-{k}-{i}"))
        store.record_grade(f"t{k}", "d:001", make_grade(), "a")

    threads = [threading.Thread(target=candidate, args=(k,)) for k in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert all(store.turn_count(f"t{k}") == 10 for k in range(20))
    assert store.turn_count("shared") == 200 and len(store.list_sessions()) == 21


# --------------------------------------------------------------------------- settings

def test_the_database_url_is_checked_and_its_password_never_shown_or_stored(tmp_path):
    from interviewer.store import Scrubber

    with pytest.raises(ValueError, match="postgresql://"):
        Settings.from_env({"MIANSHI_DATABASE_URL": "mysql://u:p@h/db"})
    unset = Settings.from_env({"MIANSHI_DATA_DIR": str(tmp_path), "MIANSHI_DATABASE_URL": " "})
    assert unset.database_url is None and unset.database_label == str(tmp_path / "mianshi.sqlite3")
    s = Settings.from_env({"MIANSHI_DATABASE_URL": "postgresql://mianshi:pw-Very-Secret-9@db.internal:5433/mianshi",
                           "MIANSHI_DB_POOL_SIZE": "4"})
    assert s.database_label == "postgresql://db.internal:5433/mianshi" and s.db_pool_size == 4
    assert "pw-Very-Secret-9" not in repr(s)
    assert Scrubber.from_settings(s, env={}).text("it is pw-Very-Secret-9") == "it is [REDACTED]"


# --------------------------------------------------------------------------- the whole program on PostgreSQL

def test_an_interview_from_the_command_line_is_stored_in_postgresql(bank, bank_settings, postgres_url, monkeypatch,
                                                                     capsys):
    """build_services opens the PostgreSQL store from MIANSHI_DATABASE_URL; nothing goes to the data dir."""
    from interviewer.cli import main

    for key in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "MIANSHI_MODEL"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("MIANSHI_DATA_DIR", str(bank_settings.data_dir))
    monkeypatch.setenv("MIANSHI_CORPUS_DIR", str(bank_settings.corpus_dir))
    monkeypatch.setenv("MIANSHI_DATABASE_URL", postgres_url)
    sqlite_before = bank_settings.db_path.exists() and bank_settings.db_path.stat().st_mtime
    monkeypatch.setattr(sys, "stdin", io.StringIO("LCEL 用 | 把组件连成链\n/skip\n"))
    assert main(["interview", "--topic", "LangChain", "-n", "2", "--offline", "--seed", "4", "--no-followups"]) == 0
    capsys.readouterr()
    assert main(["sessions", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert len(listed) == 1 and listed[0]["status"] == "finished" and listed[0]["n_answered"] == 1
    store = open_store(Settings.from_env())
    try:
        rec = store.get_session(listed[0]["id"])
        assert [t.index for t in rec.turns] == list(range(len(rec.turns)))
        assert [t.text for t in rec.turns if t.role == "candidate"][0].startswith("LCEL")
    finally:
        store.close()
    assert (bank_settings.db_path.exists() and bank_settings.db_path.stat().st_mtime) == sqlite_before


def test_an_unreachable_database_is_refused_at_once_with_the_reason_and_no_password():
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings = Settings.from_env({"MIANSHI_DATABASE_URL": f"postgresql://u:pw-Very-Secret-9@127.0.0.1:{port}/x"})
    started = time.monotonic()
    with pytest.raises(StoreUnavailable) as err:
        open_store(settings)
    assert time.monotonic() - started < 10
    assert f"postgresql://127.0.0.1:{port}/x cannot be reached" in str(err.value) and "refused" in str(err.value)
    assert "pw-Very-Secret-9" not in str(err.value)
