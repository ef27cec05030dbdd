"""Load test: N simulated candidates interviewing at once through the Gradio API, then a check
of the SQLite store that every session holds exactly its own questions and answers.

    python -m interviewer bench --load-only --candidates 50      # against a fresh local app
    run_load(url, db_path, candidates=8, questions=2)             # from a test, app already running

Each candidate is one gradio_client Client (its own connection and browser id) running a whole
interview: start, answer every question (and follow-up) until the session is finished. Every
answer carries the candidate's token, so a turn written into someone else's session is caught.
Only 127.0.0.1; request counts are bounded (questions x (1 + follow-ups)) and so is time.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from interviewer.bench.common import VIEW, answer_of_length, client, load_answers, new_browser, percentile, start_args
from interviewer.proxy import COOKIE as PROXY_COOKIE

MAX_STEPS_PER_QUESTION = 4
_last_candidates: list = []  # answer + follow-ups: a bound, so a broken session cannot loop


@dataclass
class Candidate:
    token: str
    browser: dict = field(default_factory=new_browser)
    session_id: str | None = None
    plan: list[str] = field(default_factory=list)
    sent: list[str] = field(default_factory=list)       # answers in the order they were sent
    latencies: list[float] = field(default_factory=list)  # seconds per /answer call
    start_latency: float | None = None
    finished: bool = False
    error: str | None = None
    replica: str | None = None  # the replica the proxy gave it first (its cookie), when behind the proxy
    failovers: int = 0          # times its replica went away and it went on elsewhere (a reload)
    resume_latencies: list[float] = field(default_factory=list)  # seconds from the failure to the resumed view


@dataclass
class LoadResult:
    candidates: int
    questions: int
    wall: float
    turns: int
    latencies: list[float]
    start_latencies: list[float]
    errors: list[str]
    problems: list[str]  # lost / crossed / extra turns found in the store
    failovers: int = 0   # candidates' calls that failed with their replica and went on elsewhere
    resume_latencies: list[float] = field(default_factory=list)

    @property
    def p50(self) -> float:
        return percentile(self.latencies, 50)

    @property
    def p95(self) -> float:
        return percentile(self.latencies, 95)

    def summary(self) -> str:
        return (f"{self.candidates} candidates x {self.questions} questions: {self.turns} answer turns in "
                f"{self.wall:.1f} s; turn p50 {self.p50 * 1000:.0f} ms, p95 {self.p95 * 1000:.0f} ms; "
                f"start p95 {percentile(self.start_latencies, 95) * 1000:.0f} ms; "
                f"errors {len(self.errors)}; lost/crossed turns {len(self.problems)}"
                + (f"; failovers {self.failovers} (resume p95 {percentile(self.resume_latencies, 95) * 1000:.0f} ms)"
                   if self.failovers else ""))


CALL_TIMEOUT = 180.0   # seconds one call may take before it counts as failed (a cut stream must not hang)
FAILOVER_TRIES = 20    # attempts to resume on another replica after one went away (0.5 s apart)


def _call(c, api: str, *args) -> dict:
    """One API call, bounded in time (gradio_client's predict() has no timeout)."""
    return dict(zip(VIEW, c.submit(*args, api_name=api).result(timeout=CALL_TIMEOUT)))


def _resume_elsewhere(url: str, cand: Candidate, bs: dict, text: str):
    """The replica serving this candidate went away during `text`'s /answer: do what a browser
    does, a reload (a new client, which the proxy sends to a live replica) that resumes the
    session from the store, then find out whether the answer was stored before the crash.
    Returns (client, view, stored): stored True when the answer is in the resumed session."""
    t0 = time.perf_counter()
    last: Exception | None = None
    for _ in range(FAILOVER_TRIES):
        try:
            c = client(url)
            v = _call(c, "/resume", {"browser_id": cand.browser["browser_id"], "session_id": cand.session_id,
                                     "state": bs["state"]})
            break
        except Exception as exc:  # the proxy may not know yet that the replica is gone
            last = exc
            time.sleep(0.5)
    else:
        raise RuntimeError(f"could not resume on another replica: {type(last).__name__}: {last}")
    cand.failovers += 1
    cand.resume_latencies.append(time.perf_counter() - t0)
    state = v["browser"]["state"] or {}
    if v["browser"].get("session_id") != cand.session_id:
        raise RuntimeError(f"resumed session {v['browser'].get('session_id')}, not {cand.session_id}")
    stored = [t["text"] for t in state.get("turns", []) if t["role"] == "candidate" and t["kind"] == "answer"]
    return c, v, text in stored


def _interview(url: str, cand: Candidate, questions: int, followups: bool, answers: list[str],
               think: float, barrier: threading.Barrier, deadline: float, rng: random.Random,
               failover: bool = False) -> None:
    try:
        c = client(url)
        barrier.wait(timeout=max(1.0, deadline - time.monotonic()))
        t0 = time.perf_counter()
        v = _call(c, "/start", *start_args(questions, followups, cand.browser))
        cand.start_latency = time.perf_counter() - t0
        cand.replica = c.cookies.get(PROXY_COOKIE)
        bs = v["browser"]
        cand.session_id, cand.plan = bs["session_id"], list(bs["state"]["plan"])
        for step in range(questions * MAX_STEPS_PER_QUESTION):
            if bs["state"]["phase"] == "finished":
                cand.finished = True
                return
            if time.monotonic() > deadline:
                cand.error = "time limit reached before the interview finished"
                return
            if think:
                time.sleep(rng.uniform(0, 2 * think))
            # 150-600 characters of realistic answer text, every sentence new (see answer_of_length).
            # (stripped: the engine keeps answers stripped, and the store check compares exactly)
            text = f"[{cand.token}#{step}] {answer_of_length(answers, rng.randint(150, 600), rng)}".strip()
            t0 = time.perf_counter()
            try:
                v = _call(c, "/answer", text, bs)
                cand.latencies.append(time.perf_counter() - t0)
            except Exception:
                if not failover:
                    raise
                c, v, stored = _resume_elsewhere(url, cand, bs, text)
                if not stored:  # lost in flight, never acknowledged: the candidate sends it again
                    t0 = time.perf_counter()
                    v = _call(c, "/answer", text, v["browser"])
                    cand.latencies.append(time.perf_counter() - t0)
            bs = v["browser"]
            cand.sent.append(text)
            if bs.get("session_id") != cand.session_id:
                cand.error = f"the app answered with session {bs.get('session_id')}, not {cand.session_id}"
                return
        cand.finished = bs["state"]["phase"] == "finished"
        if not cand.finished:
            cand.error = "the interview did not finish within its step bound"
    except Exception as exc:  # every failure is counted, none stops the other candidates
        cand.error = f"{type(exc).__name__}: {exc}"[:300]


def open_store_readonly(target):
    """The transcript store the app wrote to, read-only: a SQLite file, or a postgresql:// URL."""
    from interviewer.store import TranscriptStore

    if str(target).startswith(("postgresql://", "postgres://")):
        from interviewer.config import Settings
        from interviewer.store.factory import open_store

        return open_store(Settings.from_env({"MIANSHI_DATABASE_URL": str(target)}), readonly=True)
    return TranscriptStore(Path(target), readonly=True)


def verify_store(db_path, cands: list[Candidate]) -> list[str]:
    """Each session in the store holds exactly its candidate's answers (in order, none lost, none
    duplicated, none from anyone else), one question turn per planned question, and a grade per
    answered question. db_path: the SQLite file, or a postgresql:// URL."""
    problems: list[str] = []
    store = open_store_readonly(db_path)
    try:
        tokens = [c.token for c in cands]
        for cand in cands:
            if cand.session_id is None:
                problems.append(f"{cand.token}: no session was started")
                continue
            rec = store.get_session(cand.session_id)
            if rec.owner != cand.browser["browser_id"]:
                problems.append(f"{cand.token}: session owned by {rec.owner!r}")
            answers = [t.text for t in rec.turns if t.role == "candidate" and t.kind == "answer"]
            if answers != cand.sent:
                diff = next(((i, a, b) for i, (a, b) in enumerate(zip(answers, cand.sent)) if a != b), None)
                where = (f"; first difference at answer {diff[0]}: {diff[1][-40:]!r} vs {diff[2][-40:]!r}"
                         if diff else "")
                problems.append(f"{cand.token}: stored answers {len(answers)} != sent {len(cand.sent)} "
                                f"(or differ in order/text){where}")
            for t in rec.turns:
                strangers = [tok for tok in tokens if tok != cand.token and f"[{tok}#" in t.text]
                if strangers:
                    problems.append(f"{cand.token}: turn {t.index} holds {strangers[0]}'s text")
            if [t.index for t in rec.turns] != list(range(len(rec.turns))):
                problems.append(f"{cand.token}: turn indexes have gaps or repeats")
            asked = [t.question_id for t in rec.turns if t.role == "interviewer" and t.kind == "question"]
            if asked != cand.plan[:len(asked)] or (cand.finished and asked != cand.plan):
                problems.append(f"{cand.token}: asked {asked}, planned {cand.plan}")
            answered = {t.question_id for t in rec.turns if t.role == "candidate" and t.kind == "answer"}
            graded = set(rec.current_grades())
            if cand.finished and graded != answered:
                problems.append(f"{cand.token}: graded {sorted(graded)} != answered {sorted(answered)}")
            if cand.finished and rec.status != "finished":
                problems.append(f"{cand.token}: finished in the app but stored as {rec.status}")
        owners = [s.owner for s in store.list_sessions()]
        for cand in cands:
            n = owners.count(cand.browser["browser_id"])
            if cand.session_id is not None and n != 1:
                problems.append(f"{cand.token}: {n} sessions for one browser")
    finally:
        store.close()
    return problems


def run_load(url: str, db_path, *, candidates: int = 50, questions: int = 3, followups: bool = True,
             think: float = 0.0, time_limit: float = 300.0, answers: list[str] | None = None,
             seed: int = 7, failover: bool = False, midway=None) -> LoadResult:
    """Run `candidates` interviews at once against the app at `url`, then check its store
    (db_path: the SQLite file, or a postgresql:// URL).

    failover: a candidate whose call fails resumes on another replica (behind a proxy at `url`)
    and goes on, as a browser does after a reload. midway: called once, when half the expected
    answers are in (e.g. to kill a replica in the middle of the load)."""
    answers = answers or load_answers()
    cands = [Candidate(token=f"C{i:03d}-{uuid.uuid4().hex[:6]}") for i in range(candidates)]
    barrier = threading.Barrier(candidates)
    deadline = time.monotonic() + time_limit
    threads = [threading.Thread(target=_interview, name=f"cand-{i}", daemon=True,
                                args=(url, cand, questions, followups, answers, think, barrier, deadline,
                                      random.Random(seed + i), failover))
               for i, cand in enumerate(cands)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    if midway is not None:
        half = candidates * questions // 2
        while sum(len(c.latencies) for c in cands) < half and any(t.is_alive() for t in threads):
            time.sleep(0.05)
        midway()
    for t in threads:
        t.join(timeout=max(0.1, deadline - time.monotonic() + 30))
    wall = time.perf_counter() - t0
    global _last_candidates
    _last_candidates = cands  # for inspection by tests of the checker
    errors = [f"{c.token}: {c.error}" for c in cands if c.error]
    errors += [f"{c.token}: still running at the time limit" for c, t in zip(cands, threads) if t.is_alive()]
    problems = verify_store(db_path, [c for c, t in zip(cands, threads) if not t.is_alive()])
    return LoadResult(candidates=candidates, questions=questions, wall=wall,
                      turns=sum(len(c.latencies) for c in cands),
                      latencies=[x for c in cands for x in c.latencies],
                      start_latencies=[c.start_latency for c in cands if c.start_latency is not None],
                      errors=errors, problems=problems, failovers=sum(c.failovers for c in cands),
                      resume_latencies=[x for c in cands for x in c.resume_latencies])
