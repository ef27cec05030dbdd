"""Several app replicas sharing one database and one Chroma server, with the sticky proxy in front.

    with Replicas(tmp, 2, MIANSHI_DATABASE_URL=pg_url, MIANSHI_CHROMA_URL=chroma_url) as reps:
        reps.url            # the proxy: what a browser opens
        reps.servers[0].url  # replica A directly (tests that pick the replica of each request)
        reps.kill(0)        # SIGKILL replica A: a crash, nothing flushed

Each replica is `python app.py` exactly as interviewer/testing/app_server.py starts one (its own
process group, offline, 127.0.0.1, a free port) with its own MIANSHI_DATA_DIR: the data dir holds
what is private to a process (Gradio's cache, served exports, uploads; each process empties its
own on start), while transcripts and the bank are in the shared back ends given in `env`.
The proxy is `python -m interviewer proxy`, as docs/deploy.md runs it.
"""

from __future__ import annotations

import os
import signal
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from interviewer.testing.app_server import AppServer, ServedProcess

PROXY_START_TIMEOUT = 60


class ProxyServer(ServedProcess):
    """`python -m interviewer proxy` in a subprocess, in front of the given replica URLs."""

    name = "proxy"
    start_timeout = PROXY_START_TIMEOUT
    stop_timeout = 10

    def __init__(self, replica_urls: list[str], log_path: Path, retry_after: float = 2.0):
        super().__init__(log_path)
        self.replica_urls = list(replica_urls)
        self.retry_after = retry_after

    def start(self) -> ProxyServer:
        args = [sys.executable, "-m", "interviewer", "proxy", "--port", str(self.port),
                "--retry-after", str(self.retry_after)]
        for url in self.replica_urls:
            args += ["--replica", url]
        self._spawn(args, {**os.environ, "PYTHONUNBUFFERED": "1"}, poll=0.3)
        return self


class Replicas:
    """N replicas of the app over shared back ends (given as MIANSHI_* variables in env), and
    the proxy in front of them (proxy=False: none; callers then address replicas directly)."""

    def __init__(self, root: Path, n: int = 2, *, proxy: bool = True, **env: str):
        self.root = Path(root)
        self.servers = [AppServer(self.root / f"replica-{i}", **env) for i in range(n)]
        self.proxy = ProxyServer([s.url for s in self.servers], self.root / "proxy.log") if proxy else None

    @property
    def url(self) -> str:
        if self.proxy is None:
            raise RuntimeError("these replicas run without a proxy")
        return self.proxy.url

    def start(self) -> Replicas:
        # All at once, as a deployment starts them: the shared back ends must take two replicas
        # migrating and opening the bank at the same moment.
        with ThreadPoolExecutor(len(self.servers)) as pool:
            futures = [pool.submit(s.start) for s in self.servers]
            errors = [f.exception() for f in futures]
        if any(errors):
            self.stop()
            raise RuntimeError("a replica did not start: " + "; ".join(str(e) for e in errors if e))
        if self.proxy is not None:
            try:
                self.proxy.start()
            except Exception:
                self.stop()
                raise
        return self

    def kill(self, i: int) -> None:
        """SIGKILL replica i (no shutdown handler runs: a crash) and wait for it to be gone."""
        srv = self.servers[i]
        if srv.proc is None or srv.proc.poll() is not None:
            return
        os.killpg(srv.proc.pid, signal.SIGKILL)
        srv.proc.wait(timeout=10)

    def pids(self) -> list[int]:
        return [s.proc.pid for s in self.servers if s.proc is not None and s.proc.poll() is None]

    def logs(self) -> str:
        parts = [f"--- replica {i}\n{s.log()}" for i, s in enumerate(self.servers)]
        if self.proxy is not None:
            parts.append(f"--- proxy\n{self.proxy.log()}")
        return "\n".join(parts)

    def stop(self) -> None:
        if self.proxy is not None:
            self.proxy.stop()
        for srv in self.servers:
            srv.stop()

    def __enter__(self) -> Replicas:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
