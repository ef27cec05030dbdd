"""`python -m interviewer bench --replicas 2 --candidates 100`: the load test across replicas.

Starts the shared back ends a deployment uses (a throw-away PostgreSQL from the distribution's
binaries and `chroma run`), builds the bank once (`python -m interviewer ingest`), then drives
the same load three times through the sticky proxy (interviewer/proxy.py):

  1 replica     the one-process figure, over the same back ends and the same proxy
  N replicas    the same candidates spread over N `python app.py` processes
  N, one killed replica 0 is SIGKILLed when half the answers are in; its candidates resume on
                the others (interviewer/bench/load.py, failover) and must lose nothing

Every run checks every session in PostgreSQL for lost, duplicated or crossed turns, as the
single-process load test does. All on 127.0.0.1; everything started here is stopped here.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from interviewer.bench.common import load_answers, percentile


def _ingest(env: dict[str, str], data_dir: Path) -> None:
    """The bank built once into the Chroma server, as a deployment does before starting replicas."""
    from interviewer.config import REPO_ROOT

    run_env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "MIANSHI_"))}
    run_env.update(env, MIANSHI_DATA_DIR=str(data_dir), MIANSHI_INTERVIEWER="offline")
    done = subprocess.run([sys.executable, "-m", "interviewer", "ingest"], cwd=REPO_ROOT, env=run_env,
                          capture_output=True, text=True, timeout=900)
    if done.returncode != 0:
        raise RuntimeError(f"ingest failed ({done.returncode}): {done.stdout[-1500:]}{done.stderr[-1500:]}")


def _warm(replicas, answers, rng) -> None:
    """One answer on each replica first: each loads its encoder lazily (see run.py)."""
    from interviewer.bench.common import HttpApi, answer_of_length, new_browser, start_args

    for srv in replicas.servers:
        api = HttpApi(srv.url)
        try:
            bs = api.call("/start", *start_args(2, False, new_browser()))["browser"]
            api.call("/answer", answer_of_length(answers, 300, rng), bs)
        finally:
            api.close()


def figure(name: str, value: float | None, unit: str, target: float | None = None, note: str = "") -> dict:
    """A figure's fields, for run.Figure (which the caller builds: run imports this module)."""
    return {"name": name, "value": value, "unit": unit, "target": target, "note": note}


def _cpu_seconds(pid: int) -> float:
    """CPU seconds (user + system) of a process and its children so far."""
    import psutil

    proc = psutil.Process(pid)
    total = sum(proc.cpu_times()[:2])
    for child in proc.children(recursive=True):
        try:
            total += sum(child.cpu_times()[:2])
        except psutil.Error:
            pass
    return total


def run_replicas(n: int, candidates: int, think: float, say=print, kill: bool = True) -> tuple[list, dict]:
    """The figures (as run.Figure's fields) and extra details of the three runs."""
    import random

    from interviewer.bench.load import run_load
    from interviewer.testing.chroma_server import ChromaServer
    from interviewer.testing.postgres_server import PostgresServer
    from interviewer.testing.replicas import Replicas

    answers = load_answers()
    rng = random.Random(5)
    root = Path(tempfile.mkdtemp(prefix="mianshi-bench-replicas-"))
    figures: list = []
    extra: dict = {}
    say("starting PostgreSQL (the distribution's binaries) and `chroma run` ...")
    pg = PostgresServer.start()
    chroma = ChromaServer(root / "chroma").start()
    try:
        env = {"MIANSHI_DATABASE_URL": pg.create_database(), "MIANSHI_CHROMA_URL": chroma.database_url()}
        say("building the bank once into the Chroma server (python -m interviewer ingest) ...")
        _ingest(env, root / "ingest")

        results = {}
        plan = [(1, False), (n, False)] + ([(n, True)] if kill and n > 1 else [])
        for count, with_kill in plan:
            label = f"{count} replica{'s' if count > 1 else ''}" + (", replica 0 killed mid-load" if with_kill else "")
            say(f"load: {candidates} candidates x 3 questions (think {think:g} s) on {label} ...")
            reps = Replicas(root / f"run-{count}-{int(with_kill)}", count, **env).start()
            try:
                _warm(reps, answers, rng)
                result = run_load(reps.url, env["MIANSHI_DATABASE_URL"], candidates=candidates, questions=3,
                                  followups=True, think=think, time_limit=900, failover=with_kill,
                                  midway=(lambda r=reps: r.kill(0)) if with_kill else None)
                # Where the CPU went (the machine's 2 cores also run the candidates' clients): is the
                # proxy a bottleneck? (A killed replica is gone and not counted.)
                cpu = [f"{_cpu_seconds(pid):.0f}" for pid in reps.pids()]
                extra[f"{count}-{int(with_kill)} cpu"] = (f"CPU seconds: replicas {', '.join(cpu)}; "
                                                          f"proxy {_cpu_seconds(reps.proxy.proc.pid):.0f}")
            finally:
                reps.stop()
            results[(count, with_kill)] = result
            extra[label] = result.summary() + "; " + extra.pop(f"{count}-{int(with_kill)} cpu", "")
            extra.setdefault("load_errors", []).extend(result.errors[:10])
            extra.setdefault("load_problems", []).extend(result.problems[:10])
            name = f"{label}: {candidates} candidates"
            figures += [figure(f"{name}: turn p50", result.p50 * 1000, "ms"),
                        figure(f"{name}: turn p95", result.p95 * 1000, "ms", 2000),
                        figure(f"{name}: errors", len(result.errors), "", 1),
                        figure(f"{name}: lost/crossed turns", len(result.problems), "", 1)]
            if with_kill:
                figures.append(figure(f"{name}: failovers (calls cut by the kill)", result.failovers, "",
                                      note=f"(resume p95 {percentile(result.resume_latencies, 95) * 1000:.0f} ms)"
                                      if result.failovers else ""))
        one, many = results[(1, False)], results[(n, False)]
        figures += [figure(f"turn p50 ratio, {n} replicas / 1", many.p50 / one.p50, "x"),
                    figure(f"turn p95 ratio, {n} replicas / 1", many.p95 / one.p95, "x")]
    finally:
        chroma.stop()
        pg.stop()
        shutil.rmtree(root, ignore_errors=True)
    return figures, extra
