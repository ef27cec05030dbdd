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


class AppServer:
    def __init__(self, data_dir: Path, **env: str):
        self.data_dir = Path(data_dir)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.log_path = self.data_dir / "app.log"
        self.extra_env = env
        self.proc: subprocess.Popen | None = None

    def start(self) -> AppServer:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("OPENAI_", "MIANSHI_", "GRADIO_"))}  # offline, whatever the shell has
        env.update(MIANSHI_DATA_DIR=str(self.data_dir), MIANSHI_INTERVIEWER="offline",
                   GRADIO_SERVER_NAME="127.0.0.1", GRADIO_SERVER_PORT=str(self.port),
                   GRADIO_ANALYTICS_ENABLED="False", PYTHONUNBUFFERED="1")
        env.update(self.extra_env)
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen([sys.executable, str(REPO_ROOT / "app.py")], cwd=REPO_ROOT, env=env,
                                     stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"app exited with {self.proc.returncode}:\n{self.log()}")
            try:
                with urllib.request.urlopen(self.url + "config", timeout=2) as resp:
                    if resp.status == 200:
                        return self
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"app did not answer within {START_TIMEOUT}s:\n{self.log()}")

    def log(self) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")[-4000:]
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            # Only our own process group (start_new_session): the app and nothing else.
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)
        self._log.close()
        self.proc = None

    def __enter__(self) -> AppServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


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
