"""A real Chroma server (`chroma run`) on a free loopback port, for tests and local recipes.

    with ChromaServer(tmp_dir) as server:
        url = server.database_url()   # http://127.0.0.1:PORT/t1a2b...: a fresh database of its own

One server per test run is enough: each test takes its own database on it (the path part of
MIANSHI_CHROMA_URL), so tests never see each other's collections.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

START_TIMEOUT = 60.0


class ChromaServerUnavailable(RuntimeError):
    """`chroma run` is not installed or did not answer its heartbeat (the message says which)."""


def chroma_executable() -> str | None:
    beside = Path(sys.executable).parent / "chroma"  # the venv's own CLI
    return str(beside) if beside.exists() else shutil.which("chroma")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ChromaServer:
    def __init__(self, path: Path, port: int | None = None):
        self.path = Path(path)
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None
        self.log = self.path.parent / f"chroma-{self.port}.log"

    def start(self, timeout: float = START_TIMEOUT) -> ChromaServer:
        exe = chroma_executable()
        if exe is None:
            raise ChromaServerUnavailable("no `chroma` executable beside the interpreter or on PATH")
        self.path.mkdir(parents=True, exist_ok=True)
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen([exe, "run", "--path", str(self.path), "--host", "127.0.0.1",
                                          "--port", str(self.port)], stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise ChromaServerUnavailable(f"`chroma run` exited with {self.proc.returncode}: {self._tail()}")
            if self.heartbeat():
                return self
            time.sleep(0.2)
        self.stop()
        raise ChromaServerUnavailable(f"`chroma run` gave no heartbeat on {self.url} in {timeout:.0f}s: {self._tail()}")

    def heartbeat(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/api/v2/heartbeat", timeout=2) as resp:
                return resp.status == 200
        except OSError:
            return False

    def database_url(self) -> str:
        """MIANSHI_CHROMA_URL for a database of its own on this server (created on first use)."""
        return f"{self.url}/t{uuid.uuid4().hex[:12]}"

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def _tail(self) -> str:
        try:
            return " | ".join(self.log.read_text(errors="replace").strip().splitlines()[-3:])[-400:]
        except OSError:
            return "(no log)"

    def __enter__(self) -> ChromaServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
