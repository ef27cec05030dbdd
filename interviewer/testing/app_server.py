"""Start the real app (python app.py) in a subprocess for tests, and stop it.

The app runs exactly as a user starts it: its own process, offline, on 127.0.0.1 with a free
port and a temporary MIANSHI_DATA_DIR, so tests go through real HTTP and a real queue.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path

from pydantic import SecretStr

from interviewer.config import REPO_ROOT

START_TIMEOUT = 240  # first start builds the question bank (embeddings of every card)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServedProcess:
    """A server in a subprocess of its own process group, ready once `url + "config"` answers 200;
    its output goes to a log file that errors quote. Subclasses say what to run."""

    name = "server"
    start_timeout: float = START_TIMEOUT
    stop_timeout: float = 15

    def __init__(self, log_path: Path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.log_path = Path(log_path)
        self.proc: subprocess.Popen | None = None

    def _spawn(self, args: list[str], env: dict[str, str], poll: float = 0.5) -> None:
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(args, cwd=REPO_ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}:\n{self.log()}")
            try:
                with urllib.request.urlopen(self.url + "config", timeout=2) as resp:
                    if resp.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(poll)
        self.stop()
        raise RuntimeError(f"{self.name} did not answer within {self.start_timeout}s:\n{self.log()}")

    def log(self) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")[-4000:]
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            # Only our own process group (start_new_session): the server and nothing else.
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=self.stop_timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)
        self._log.close()
        self.proc = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


class AppServer(ServedProcess):
    name = "app"

    def __init__(self, data_dir: Path, **env: str):
        self.data_dir = Path(data_dir)
        super().__init__(self.data_dir / "app.log")
        self.extra_env = env

    def start(self) -> AppServer:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("OPENAI_", "MIANSHI_", "GRADIO_"))}  # offline, whatever the shell has
        env.update(MIANSHI_DATA_DIR=str(self.data_dir), MIANSHI_INTERVIEWER="offline",
                   GRADIO_SERVER_NAME="127.0.0.1", GRADIO_SERVER_PORT=str(self.port),
                   GRADIO_ANALYTICS_ENABLED="False", PYTHONUNBUFFERED="1")
        env.update(self.extra_env)
        self._spawn([sys.executable, str(REPO_ROOT / "app.py")], env)
        return self


@contextmanager
def inprocess_app(settings, bank, embedder, store, **engine_kw):
    """The real Gradio app served from this process on a free port, over a given store.

    For tests that need to reach inside the running app (swap the store, script the model) while
    still going through real HTTP and the real queue. Yields (url, demo).
    """
    from interviewer.engine.factory import build_engine
    from interviewer.service import Services
    from interviewer.ui.app import build_app, launch_kwargs

    engine = build_engine(settings, bank, embedder=embedder, recorder=store, **engine_kw)
    services = Services(settings=settings, bank=bank, engine=engine, grader=engine.grader, store=store,
                        embedder=embedder)
    settings = settings.model_copy(update={"browser_secret": SecretStr("test-secret")})
    demo = build_app(settings, services)
    demo.queue(default_concurrency_limit=4)
    port = free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, show_error=True, quiet=True,
                max_file_size=launch_kwargs()["max_file_size"])
    try:
        yield f"http://127.0.0.1:{port}/", demo
    finally:
        demo.close()


def stored_session(db, session_id: str):
    """A session as the store on disk has it (read-only), for tests that kill and restart the app."""
    from interviewer.store import TranscriptStore

    store = TranscriptStore(db, readonly=True)
    try:
        return store.get_session(session_id)
    finally:
        store.close()
