"""What the app needs from the library, built once at startup and shared read-only.

The bank, the engine, the grader and the transcript store are safe to share between sessions:
the engine keeps no state of its own (everything lives in the SessionState it is handed) and
the store is a SQLite database with its own connection handling. Nothing here is per-user.
"""

from __future__ import annotations

import atexit
import logging
import secrets
import shutil
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from interviewer.config import Settings
from interviewer.models import QuestionCard


@dataclass(frozen=True)
class Services:
    settings: Settings
    bank: Any
    engine: Any
    grader: Any
    store: Any  # TranscriptStore (also the engine's recorder)
    embedder: Any = None  # the offline embedder shared by the bank and the offline grader
    # Where the app writes Markdown/JSON exports for download: this process's own temp dir,
    # removed when it exits (sessions stay in the store; exports are rewritten on demand).
    export_dir: Path = field(default_factory=lambda: _temp_dir("mianshi-exports-"))
    _warm: threading.Event = field(default_factory=threading.Event)

    def warm_up_once(self) -> None:
        """Load the encoder and jieba in the background, once per process.

        They load lazily on the first grade (2-5 s), which the first candidate to answer would
        wait for. Called when an interview starts: the candidate is then reading the question,
        and the app's own start-up (and its first question) is not slowed down by it.
        """
        if self._warm.is_set():
            return
        self._warm.set()
        threading.Thread(target=warm_up, args=(self.embedder,), name="mianshi-warm-up", daemon=True).start()

    # ------------------------------------------------------------------ bank
    def card(self, card_id: str) -> QuestionCard | None:
        try:
            return self.bank.get(card_id)
        except KeyError:
            return None


def _temp_dir(prefix: str) -> Path:
    path = Path(tempfile.mkdtemp(prefix=prefix))
    atexit.register(shutil.rmtree, path, True)
    return path


def browser_secret(settings: Settings, env: dict[str, str]) -> str:
    """The key BrowserState encrypts localStorage with.

    Gradio's default is random per process, which would make every browser forget its session
    after a restart (a Space restarts often). So it is taken from MIANSHI_BROWSER_SECRET, or
    generated once and kept in the data dir next to the transcripts it protects.
    """
    if env.get("MIANSHI_BROWSER_SECRET"):
        return env["MIANSHI_BROWSER_SECRET"]
    path = Path(settings.data_dir) / "browser_secret"
    try:
        return path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        value = secrets.token_urlsafe(24)
        path.write_text(value, encoding="utf-8")
        path.chmod(0o600)
        return value


def build_services(settings: Settings) -> Services:
    """Open the bank (building it if needed) and build engine, grader and store from settings.

    One embedder serves the bank and the offline grader; the store is the engine's recorder.
    """
    from interviewer.bank.bank import QuestionBank
    from interviewer.bank.embedding import Embedder
    from interviewer.engine.factory import build_engine
    from interviewer.store import TranscriptStore

    embedder = Embedder()
    bank = QuestionBank.open(settings, embedder=embedder)
    store = TranscriptStore.from_settings(settings, card_topics=lambda cid: bank.get(cid).topics)
    engine = build_engine(settings, bank, embedder=embedder, recorder=store)
    return Services(settings=settings, bank=bank, engine=engine, grader=engine.grader, store=store,
                    embedder=embedder)


def warm_up(embedder) -> None:
    """Load the sentence encoder and jieba's dictionary (what the offline grader and search use)."""
    if embedder is None:
        return
    from interviewer.text import load_jieba

    try:
        embedder.encode(["预热 warm-up"])
        load_jieba().initialize()
    except Exception:  # a failed warm-up only means the first grade loads them itself
        logging.getLogger(__name__).exception("warm-up failed")
