"""The benchmark behind `python -m interviewer bench [--quick] [--json]`.

Figures (each printed next to its target, PASS/MISS):
  cold start       process start -> first question returned by /start, bank built / forced rebuild
  offline grading  OfflineGrader.grade p50/p95 for answers of 50, 500 and 5,000 characters
  offline turn     /answer (answer sent -> grade card back) p50/p95 over the Gradio HTTP API
  LLM overhead     LLM-mode /answer time minus the model server's own time on that turn's requests
  next question    LLM mode, realistic model (first token 0.8 s, 50 tokens/s, grading 3 s): answer sent ->
                   first token of the next question on the page, against the model's own first-token time
  memory           RSS of the app process tree after start and after 50 sessions (the load test)
  load             N candidates at once, p50/p95 turn, errors, lost/crossed turns in the store

Everything runs on 127.0.0.1: the app (interviewer/testing/app_server.py) and the fake model on free ports.
The machine's load average is printed with the figures: on a shared 2-core box it matters.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import shutil
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from interviewer.bench.common import (
    HttpApi,
    answer_of_length,
    call,
    client,
    fake_model_script,
    load_answers,
    new_browser,
    percentile,
    rss_tree,
    start_args,
)

MB = 1024 * 1024
WARM_UP_SECONDS = 10.0  # the background load of the encoder and jieba after the first start


@dataclass
class Figure:
    name: str
    value: float | None
    unit: str
    target: float | None = None   # value must be below this
    note: str = ""

    @property
    def verdict(self) -> str:
        if self.target is None:
            return "info"
        if self.value is None:
            return "MISS"
        return "PASS" if self.value < self.target else "MISS"

    def line(self) -> str:
        digits = 2 if self.unit == "x" else 1
        val = "n/a" if self.value is None else f"{self.value:,.{digits}f} {self.unit}"
        tgt = f"< {self.target:,.0f} {self.unit}" if self.target is not None else "-"
        return f"  {self.name:<44} {val:>14}   target {tgt:<12} {self.verdict:<5} {self.note}".rstrip()


def _server(data_dir: Path, **env):
    from interviewer.testing.app_server import AppServer

    return AppServer(data_dir, **env)


def _machine() -> dict:
    load = os.getloadavg()
    return {"date": dt.date.today().isoformat(), "cores": os.cpu_count(),
            "loadavg": [round(x, 2) for x in load]}


# ------------------------------------------------------------------------- cold start

def cold_start(data_dir: Path, **env) -> tuple[float, object]:
    """Seconds from launching `python app.py` to the first question returned by /start.
    Returns the still-running server too (the caller stops it)."""
    t0 = time.perf_counter()
    srv = _server(data_dir, **env).start()
    v = call(client(srv.url), "/start", *start_args(2, False, new_browser()))
    elapsed = time.perf_counter() - t0
    if not any("1/2" in str(m.get("content")) for m in v["chat"]):
        raise RuntimeError("the first question was not in the /start reply")
    return elapsed, srv


# ------------------------------------------------------------------------- offline grading

def offline_grading(data_dir: Path, samples: int, answers: list[str]) -> dict[int, list[float]]:
    """Seconds per OfflineGrader.grade on the real cards (key points and content; bank already built in data_dir)."""
    from interviewer.bank.bank import QuestionBank
    from interviewer.bank.embedding import Embedder
    from interviewer.config import Settings
    from interviewer.engine.session import card_key_points
    from interviewer.grading.offline import OfflineGrader

    settings = Settings.from_env({"MIANSHI_DATA_DIR": str(data_dir), "MIANSHI_INTERVIEWER": "offline"})
    embedder = Embedder()
    bank = QuestionBank.open(settings, embedder=embedder)
    cards = [c for c in bank.cards() if card_key_points(c)]
    grader = OfflineGrader(embedder)
    rng = random.Random(1)
    grader.grade(cards[0].question, card_key_points(cards[0]), answers[0])  # load the model, jieba
    out: dict[int, list[float]] = {}
    for n in (50, 500, 5000):
        times = []
        for i in range(samples):
            card = cards[i % len(cards)]
            text = answer_of_length(answers, n, rng)
            t0 = time.perf_counter()
            # With the card's content, as an interview grades (engine.grade_answer): its checks are part of the cost.
            grade = grader.grade(card.question, card_key_points(card), text, kind=card.kind, content=card)
            times.append(time.perf_counter() - t0)
            if grade.status != "graded":
                raise RuntimeError(f"{n}-char answer was not graded: {grade.not_graded_reason}")
        out[n] = times
    return out


# ------------------------------------------------------------------------- turns over the API

def api_turns(url: str, turns: int, answers: list[str], rng: random.Random, on_turn=None) -> list[float]:
    """Seconds per /answer call over the HTTP API, follow-ups off, so each answer is graded and
    the next question asked."""
    api = HttpApi(url)
    times: list = []
    bs = None
    try:
        while len(times) < turns:
            if bs is None or bs["state"]["phase"] == "finished":
                bs = api.call("/start", *start_args(5, False, new_browser()))["browser"]
            before = on_turn() if on_turn else None
            text = answer_of_length(answers, rng.choice((120, 300, 600)), rng)
            t0 = time.perf_counter()
            v = api.call("/answer", text, bs)
            elapsed = time.perf_counter() - t0
            bs = v["browser"]
            if 'class="ms-total"' not in v["cards"] and "ms-card" not in v["cards"]:
                raise RuntimeError("no grade card after an answer")
            times.append(elapsed if on_turn is None else (elapsed, (before, on_turn())))
    finally:
        api.close()
    return times


def model_seconds(fake) -> float:
    """Total time the fake model server spent on the chat requests it has answered so far."""
    return sum(r.served or 0.0 for r in list(fake.requests))


def client_turns(url: str, turns: int, answers: list[str], rng: random.Random) -> list[float]:
    """The same turn through gradio_client, for comparison (includes its 50 ms polling loop)."""
    c = client(url)
    times: list[float] = []
    bs = None
    while len(times) < turns:
        if bs is None or bs["state"]["phase"] == "finished":
            bs = call(c, "/start", *start_args(5, False, new_browser()))["browser"]
        text = answer_of_length(answers, rng.choice((120, 300, 600)), rng)
        t0 = time.perf_counter()
        bs = call(c, "/answer", text, bs)["browser"]
        times.append(time.perf_counter() - t0)
    return times


# ------------------------------------------------------------------------- LLM mode

def llm_overhead(data_dir: Path, turns: int, answers: list[str], rng: random.Random,
                 delay: float) -> tuple[list[float], float]:
    """Seconds of app time per LLM-mode turn (turn time minus the fake model server's own time
    on that turn's requests), and the mean number of model calls per turn."""
    from interviewer.testing.fake_openai import FakeOpenAI

    with FakeOpenAI(script=fake_model_script, delay=delay) as fake:
        # Grading in turn, as this figure has always measured: the turn is the grade and the question.
        srv = _server(data_dir, MIANSHI_INTERVIEWER="llm", OPENAI_BASE_URL=fake.base_url,
                      OPENAI_API_KEY="bench-dummy", MIANSHI_MODEL="fake-model", MIANSHI_LLM_TIMEOUT="10",
                      MIANSHI_GRADE_IN_BACKGROUND="0").start()
        try:
            started = time.perf_counter()
            api_turns(srv.url, 2, answers, rng)  # warm: first connection, model load
            # The first start also loads the sentence encoder and jieba in the background
            # (for follow-up decisions and the offline fallback): 3-5 s of CPU that would
            # land on the first measured turns. Steady state is measured after it.
            time.sleep(max(0.0, WARM_UP_SECONDS - (time.perf_counter() - started)))
            # The model's own time in a turn: what the model server spent on the turn's
            # requests (the fixed delay plus its own parsing and writing), request by request.
            pairs = api_turns(srv.url, turns, answers, rng,
                              on_turn=lambda: (len(fake.requests), model_seconds(fake)))
        finally:
            srv.stop()
    overhead = [t - (after[1] - before[1]) for t, (before, after) in pairs]
    calls = statistics.mean(after[0] - before[0] for _, (before, after) in pairs)
    return overhead, calls


def next_question_latency(data_dir: Path, turns: int, answers: list[str], rng: random.Random,
                          background: bool = True, grading: str = "realistic") -> list[tuple[float, float]]:
    """(send -> first token of the next question in the streamed view, the model server's own
    first-token time for that question) per /answer, over Gradio's HTTP API, with the fake model's
    realistic latency profile. Follow-ups off: every answer is graded and the next question asked.
    Answers are sent as soon as the previous question is complete (grades may still be running)."""
    from interviewer.bench.common import HttpApi
    from interviewer.testing.fake_openai import LATENCY, FakeOpenAI

    out: list[tuple[float, float]] = []
    with FakeOpenAI(script=fake_model_script, latency=LATENCY[grading]) as fake:
        srv = _server(data_dir, MIANSHI_INTERVIEWER="llm", OPENAI_BASE_URL=fake.base_url,
                      OPENAI_API_KEY="bench-dummy", MIANSHI_MODEL="fake-model", MIANSHI_LLM_TIMEOUT="30",
                      MIANSHI_GRADE_IN_BACKGROUND="1" if background else "0").start()
        api = HttpApi(srv.url)
        try:
            started = time.perf_counter()
            bs, chat_len, warm = None, 0, 2
            while len(out) < turns:
                if bs is None or bs["state"]["phase"] == "finished":
                    v = api.call("/start", *start_args(5, False, new_browser()))
                    bs, chat_len = v["browser"], len(v["chat"])
                state = bs["state"]
                last = state["current"] == len(state["plan"]) - 1

                def next_question(view, n=chat_len) -> bool:
                    # After the answer's own message, an interviewer message with text: the next question.
                    chat = view["chat"] or []
                    return len(chat) > n + 1 and chat[-1].get("role") == "assistant" and bool(chat[-1].get("content"))

                text = answer_of_length(answers, rng.choice((120, 300, 600)), rng)
                t_sent = time.monotonic()
                seen, v = api.call_until("/answer", text, bs, until=None if last else next_question)
                bs, chat_len = v["browser"], len(v["chat"])
                if last:
                    continue
                asked = [r for r in list(fake.requests) if r.body.get("stream") and r.received_at >= t_sent]
                if seen is None or not asked or asked[0].first_byte is None:
                    raise RuntimeError("the next question was not streamed")
                if warm:
                    # The first turns pay for the first connection and, after the first start, the
                    # background load of the encoder and jieba: steady state is measured after them.
                    warm -= 1
                    if not warm:
                        time.sleep(max(0.0, WARM_UP_SECONDS - (time.perf_counter() - started)))
                    continue
                out.append((seen, asked[0].first_byte))
        finally:
            api.close()
            srv.stop()
    return out


def next_question_figures(data_dir: Path, turns: int, answers: list[str], rng: random.Random,
                          extra: dict, compare: int = 0, grading: str = "realistic") -> list[Figure]:
    from interviewer.testing.fake_openai import LATENCY

    pairs = next_question_latency(data_dir, turns, answers, rng, grading=grading)
    grade_s = LATENCY[grading].complete
    seen = [a for a, _ in pairs]
    model = [b for _, b in pairs]
    over = [a - b for a, b in pairs]
    ratio = [a / b for a, b in pairs]
    model_p95 = percentile(model, 95)
    extra["next_question_turns"] = len(pairs)
    figures = [
        Figure("next question: send -> first token p50", percentile(seen, 50) * 1000, "ms"),
        Figure("next question: send -> first token p95", percentile(seen, 95) * 1000, "ms",
               (model_p95 + 0.150) * 1000, "(target: model first token p95 + 150 ms)"),
        Figure("next question: model's own first token p95", model_p95 * 1000, "ms"),
        Figure("next question: ratio to model first token p50", percentile(ratio, 50), "x"),
        Figure("next question: ratio to model first token p95", percentile(ratio, 95), "x"),
        Figure("next question: above model first token p95", percentile(over, 95) * 1000, "ms", 150,
               f"({len(pairs)} turns, grading {grade_s:g} s in the background)"),
    ]
    if compare:
        before = next_question_latency(data_dir, compare, answers, rng, background=False, grading=grading)
        figures.append(Figure("next question, grading in turn (before): p50",
                              percentile([a for a, _ in before], 50) * 1000, "ms",
                              note=f"(MIANSHI_GRADE_IN_BACKGROUND=0, {len(before)} turns)"))
    return figures


def llm_figures(data_dir: Path, turns: int, answers: list[str], rng: random.Random, delay: float,
                extra: dict) -> list[Figure]:
    overhead, calls = llm_overhead(data_dir, turns, answers, rng, delay)
    extra["llm_calls_per_turn"] = calls
    extra["llm_turns"] = len(overhead)
    return [Figure("LLM-mode overhead p50", percentile(overhead, 50) * 1000, "ms"),
            Figure("LLM-mode overhead p95", percentile(overhead, 95) * 1000, "ms", 50,
                   f"({calls:.1f} model calls/turn, {len(overhead)} turns)")]


# ------------------------------------------------------------------------- the run

def run(quick: bool = False, as_json: bool = False, candidates: int | None = None,
        load_only: bool = False, think: float = 10.0, llm_only: bool = False, next_question_only: bool = False,
        turns: int | None = None, grading: str = "realistic", replicas: int = 0) -> int:
    from interviewer.bench.load import run_load

    answers = load_answers()
    rng = random.Random(3)
    n_grade = 15 if quick else 60
    n_turns = 10 if quick else 40
    n_llm = 30 if quick else 100
    n_next = turns or (20 if quick else 60)
    n_cand = candidates or (10 if quick else 50)
    llm_delay = 0.2
    machine = _machine()
    figures: list[Figure] = []
    extra: dict = {}
    say = (lambda *a: None) if as_json else (lambda *a: print(*a, flush=True))
    say(f"Mianshi benchmark  {machine['date']}  cores={machine['cores']}  loadavg={machine['loadavg']}"
        f"  mode={'quick' if quick else 'full'}")
    root = Path(tempfile.mkdtemp(prefix="mianshi-bench-"))
    try:
        data = root / "data"
        if replicas:
            from interviewer.bench.replicas_bench import run_replicas

            rss_start = None
            figs, more = run_replicas(replicas, n_cand, think, say=say)
            figures += [Figure(**fields) for fields in figs]
            extra.update(more)
        elif next_question_only:
            say(f"next question against a realistic fake model (first token 0.8 s, 50 tokens/s, grading profile "
                f"{grading!r}; the first start builds the bank) ...")
            figures += next_question_figures(data, n_next, answers, rng, extra, compare=0 if quick else 10,
                                             grading=grading)
        elif llm_only:
            say(f"LLM mode against the fake model ({llm_delay * 1000:.0f} ms per call; "
                "the first start builds the bank) ...")
            figures += llm_figures(data, n_llm, answers, rng, llm_delay, extra)
        elif not load_only:
            say("cold start with a forced rebuild (fresh MIANSHI_DATA_DIR) ...")
            t_rebuild, srv = cold_start(data)
            srv.stop()
            say("cold start with the bank already built ...")
            t_built, srv = cold_start(data)
            try:
                rss_start = rss_tree(srv.proc.pid)
                say("offline turns over the Gradio API ...")
                # The first answer after a start loads the sentence encoder and jieba (lazily):
                # reported on its own, then the steady state.
                first_turn = api_turns(srv.url, 1, answers, rng)[0]
                turn_times = api_turns(srv.url, n_turns, answers, rng)
                client_times = client_turns(srv.url, max(5, n_turns // 4), answers, rng)
            finally:
                srv.stop()
            figures += [Figure("cold start, bank built", t_built, "s", 10),
                        Figure("cold start, forced rebuild", t_rebuild, "s", None)]

            say("offline grading (OfflineGrader directly) ...")
            grading = offline_grading(data, n_grade, answers)
            for n, times in grading.items():
                target = 150 if n == 500 else None
                figures.append(Figure(f"offline grading {n:>5} chars p50", percentile(times, 50) * 1000, "ms"))
                figures.append(Figure(f"offline grading {n:>5} chars p95", percentile(times, 95) * 1000, "ms",
                                      target))
            figures.append(Figure("first offline turn after start (model load)", first_turn * 1000, "ms"))
            figures.append(Figure("offline turn p50", percentile(turn_times, 50) * 1000, "ms"))
            figures.append(Figure("offline turn p95", percentile(turn_times, 95) * 1000, "ms", 300))
            figures.append(Figure("offline turn via gradio_client p50", percentile(client_times, 50) * 1000, "ms",
                                  note="(client polls every 50 ms)"))

            say(f"LLM mode against the fake model ({llm_delay * 1000:.0f} ms per call) ...")
            figures += llm_figures(data, n_llm, answers, rng, llm_delay, extra)
            say("next question against a realistic fake model (first token 0.8 s, 50 tokens/s, grading 3 s) ...")
            figures += next_question_figures(data, n_next, answers, rng, extra, compare=0 if quick else 10)
        else:
            rss_start = None

        if not (llm_only or next_question_only or replicas):
            say(f"load: {n_cand} candidates at once x 3 questions ...")
            srv = _server(data).start()
            try:
                if rss_start is None:
                    rss_start = rss_tree(srv.proc.pid)
                api_turns(srv.url, 1, answers, rng)  # one answer first: the encoder loads lazily (see above)
                result = run_load(srv.url, srv.data_dir / "mianshi.sqlite3", candidates=n_cand, questions=3,
                                  followups=True, think=think, time_limit=600)
                rss_after = rss_tree(srv.proc.pid)
            finally:
                srv.stop()
            label = f"load {n_cand} candidates (think {think:g} s)"
            figures += [
                Figure(f"{label}: turn p50", result.p50 * 1000, "ms"),
                Figure(f"{label}: turn p95", result.p95 * 1000, "ms", 2000),
                Figure(f"{label}: errors", len(result.errors), "", 1),
                Figure(f"{label}: lost/crossed turns", len(result.problems), "", 1),
                Figure("memory (RSS incl. children) after start", rss_start / MB, "MB", 1536),
                Figure(f"memory after {n_cand} sessions", rss_after / MB, "MB", 1536),
            ]
            extra["load"] = result.summary()
            extra["load_errors"] = result.errors[:10]
            extra["load_problems"] = result.problems[:10]
            if think > 0 and not quick:
                # The same candidates with no pause at all: a stress figure of the machine's capacity
                # (the 2 cores are then shared with 50 gradio_client instances), not a target.
                say(f"stress: {n_cand} candidates back to back ...")
                srv = _server(data).start()
                try:
                    api_turns(srv.url, 1, answers, rng)
                    stress = run_load(srv.url, srv.data_dir / "mianshi.sqlite3", candidates=n_cand, questions=3,
                                      followups=True, think=0.0, time_limit=600)
                finally:
                    srv.stop()
                figures += [
                    Figure(f"stress {n_cand} back to back: turn p50", stress.p50 * 1000, "ms"),
                    Figure(f"stress {n_cand} back to back: turn p95", stress.p95 * 1000, "ms"),
                    Figure(f"stress {n_cand} back to back: errors", len(stress.errors), "", 1),
                    Figure(f"stress {n_cand} back to back: lost/crossed turns", len(stress.problems), "", 1),
                ]
                extra["stress"] = stress.summary()
                extra["load_errors"] += stress.errors[:10]
                extra["load_problems"] += stress.problems[:10]
    finally:
        shutil.rmtree(root, ignore_errors=True)

    machine["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    missed = [f.name for f in figures if f.verdict == "MISS"]
    if as_json:
        print(json.dumps({"machine": machine, "figures": [f.__dict__ | {"verdict": f.verdict} for f in figures],
                          "extra": extra, "missed": missed}, ensure_ascii=False, indent=2))
    else:
        print()
        for f in figures:
            print(f.line())
        if "load" in extra:
            print(f"\n  {extra['load']}")
        if "stress" in extra:
            print(f"  stress: {extra['stress']}")
        for key, value in extra.items():
            if "replica" in key:
                print(f"  {key}: {value}")
        for e in extra.get("load_errors", []) + extra.get("load_problems", []):
            print(f"    ! {e}")
        print(f"  loadavg at the end: {machine['loadavg_end']}")
        print(f"  {len(figures) - len(missed)} PASS, {len(missed)} MISS" + (f": {', '.join(missed)}" if missed else ""))
    return 1 if missed else 0
