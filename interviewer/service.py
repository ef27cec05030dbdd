"""The one wiring of the library: what the app and the command line both run on.

`build_services(settings)` opens the bank (building it if needed) and builds the engine, the
grader and the transcript store; `Services` then offers the actions that are more than one
library call: resuming a stored session, regrading, writing exports, importing, progress.

Everything here is safe to share between sessions: the engine keeps no state of its own
(everything lives in the SessionState it is handed) and the store (SQLite, or PostgreSQL shared
by several replicas) has its own connection handling. Nothing here is per-user: per-user data
comes in as arguments. The session locks hold across processes through the store's lock.
"""

from __future__ import annotations

import atexit
import logging
import os
import secrets
import shutil
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from interviewer.bank.errors import ChromaServerError  # noqa: F401 (MIANSHI_CHROMA_URL unusable: the app says so)
from interviewer.bank_actions import MAX_POST_BYTES, CardFilter, PostError  # noqa: F401 (for the bank tab)
from interviewer.config import Settings
from interviewer.grading.rubric import criterion_name  # noqa: F401 (the UI names criteria through here)
from interviewer.llm.client import before_request as before_model_request  # noqa: F401 (ui/streaming)
from interviewer.models import QuestionCard, SessionConfig
from interviewer.safe_names import file_stem, valid_session_id  # noqa: F401 (ui/review shows ids through it)
from interviewer.session_locks import SessionLocks
from interviewer.store.errors import SessionMovedOn, StoreError  # noqa: F401 (the UI catches them from here)

# The largest file the app takes (an upload is refused by Gradio above it; the importer too).
MAX_UPLOAD_BYTES = 20 * 1024 * 1024

log = logging.getLogger(__name__)


class DataDirError(RuntimeError):
    """The data dir cannot be used; the message says what to do, in one line."""


def check_data_dir(settings: Settings) -> None:
    """Fail before any work (embedding every card takes a while) when the data dir is unusable.

    On a Space, MIANSHI_DATA_DIR=/data without persistent storage (or before it is mounted) is
    a directory nobody may write: say which setting to change instead of a traceback.
    """
    path = Path(settings.data_dir)
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".write-check-"):
            pass
    except OSError as exc:
        raise DataDirError(
            f"the data dir {path} is not writable ({exc.strerror or type(exc).__name__}). Set MIANSHI_DATA_DIR "
            f"to a writable directory; on a Hugging Face Space, enable persistent storage (Settings → "
            f"Persistent storage) before setting MIANSHI_DATA_DIR=/data, or remove the variable") from None


class ImportRefused(ValueError):
    """A file that is not a Mianshi JSON export, too large, or that the store could not take."""


class UnusableState(ValueError):
    """A session copy from a browser that cannot be played (forged or from another bank).
    ``str(err)`` says why, in one line fit for the candidate."""


@dataclass(frozen=True)
class Services:
    settings: Settings
    bank: Any
    engine: Any
    grader: Any
    store: Any  # TranscriptStore (also the engine's recorder)
    embedder: Any = None  # the offline embedder shared by the bank and the offline grader
    store_error: str | None = None  # why there is no store (build_services(require_store=False))
    # The one place files are served from: Gradio's cache (GRADIO_TEMP_DIR, set by the UI) with
    # the exports inside it, so Gradio serves them where they are instead of copying them.
    # build_services puts it under the data dir and empties it on start; deleting a session
    # removes its files from here. Sessions stay in the store; exports are rewritten on demand.
    served_dir: Path = field(default_factory=lambda: _temp_dir("mianshi-served-"))
    locks: SessionLocks = field(default_factory=SessionLocks)
    _warm: threading.Event = field(default_factory=threading.Event)

    @property
    def export_dir(self) -> Path:
        return self.served_dir / "exports"

    def warm_up_once(self) -> None:
        """Load the encoder and jieba in the background, once per process.

        They load lazily on the first grade, which the first candidate to answer would wait for.
        Called when an interview starts: the candidate is then reading the question, and the
        app's own start-up (and its first question) is not slowed down by it.
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

    def card_topics(self, card_id: str) -> list[str]:
        return self.bank.get(card_id).topics

    @cached_property
    def bank_actions(self):
        """Browse, search, add and remove posts for one owner (the bank tab and the CLI)."""
        from interviewer.bank_actions import BankActions

        return BankActions(self)

    # ------------------------------------------------------------------ sessions
    def start(self, config: SessionConfig, owner: str):
        """A new session of this owner, planned from their history when they practise weak spots."""
        history = self.history(owner) if config.weak_spots else None
        if config.card_ids:  # only cards this owner may see
            config = config.model_copy(update={"card_ids": self.bank_actions.visible_ids(config.card_ids, owner)})
            if not config.card_ids:
                raise ValueError("none of the picked cards is in your bank")
        return self.engine.start(config, owner=owner, history=history)

    def load_session(self, session_id: str, owner: str):
        """The store's latest snapshot of a session as a SessionState, None if it has none.

        A snapshot taken just before a question was asked (the process was stopped mid-stream)
        has the question in the turns but not in its record: it is taken from there, so resuming
        does not ask it a second time. SessionNotFound/StoreError propagate.
        """
        from interviewer.engine.session import SessionState

        snap = self.store.load_state(session_id, owner=owner)
        if snap is None:
            return None
        state = SessionState.model_validate(snap)
        qid = state.current_id
        if state.phase.value != "finished" and qid and not state.records[qid].asked:
            asked = [t.text for t in state.turns if t.question_id == qid and t.kind == "question"]
            if asked:
                state.records[qid].asked = asked[-1]
        if self.engine.pending_grades(state):
            self._finish_pending(state, owner)
        return state

    def _finish_pending(self, state, owner: str) -> None:
        """Grades that were pending in the snapshot: taken from the store if they were written
        after it (the snapshot is not rewritten for a background grade), else graded again now."""
        try:
            stored = self.store.get_session(state.id, owner=owner).current_grades()
        except Exception:  # the grade is then simply graded again
            stored = {}
        for qid in self.engine.pending_grades(state):
            record = state.records[qid]
            g = stored.get(qid)
            if g is not None and g.answer == "\n\n".join(record.answers):
                record.grade, record.grade_pending = g.grade, False
        self.engine.ensure_grading(state)

    def resume(self, session_id: str, owner: str, browser_copy: dict | None = None):
        """The session to continue: the store's snapshot; the browser's own copy only when the
        store is unavailable or never saw the session (never for an id the store knows, or its
        turns would be written into someone else's session). None when there is none.

        What a stopped process left half-done (an answer stored but not graded) is finished here.
        UnusableState when the only copy is one this bank cannot play (forged, or another bank's)."""
        from interviewer.store import SessionNotFound

        with self.locks.hold(session_id):
            try:
                state = self.load_session(session_id, owner)
                if state is not None:
                    try:
                        if list(self.engine.settle(state)):  # something was finished: keep the snapshot in step
                            self.save(state)
                    except SessionMovedOn:  # a process without the lock wrote first: take its state
                        state = self.load_session(session_id, owner) or state
                    return state
                if self.store.exists(session_id):
                    return None
            except SessionNotFound:
                if self.store.exists(session_id):
                    return None
            except StoreError:
                pass  # the store is unavailable: fall back to the copy kept in the browser
        if browser_copy:
            state = self.playable(browser_copy)
            if state.id == session_id and state.owner == owner:
                return state
        return None

    def playable(self, copy: dict):
        """A browser's copy of a session as a SessionState, if this bank can play it; else
        UnusableState with the reason (never a raw validation error)."""
        from interviewer.engine.session import SessionState

        try:
            state = SessionState.model_validate(copy)
        except ValueError as exc:
            raise UnusableState("the interview kept in this browser is not a valid session; start a new one") from exc
        unknown = [cid for cid in state.plan if self.card(cid) is None or cid not in state.records]
        if unknown:
            raise UnusableState(f"the interview kept in this browser asks about a question this app does not have "
                                f"({unknown[0][:60]!r}); start a new one")
        try:  # pydantic refuses to write a lone surrogate (a ValueError); SQLite could not store it
            state.model_dump_json().encode("utf-8")
        except (UnicodeEncodeError, ValueError):
            raise UnusableState("the interview kept in this browser holds text that is not valid Unicode "
                                "(a lone surrogate); start a new one") from None
        return state

    @contextmanager
    def exclusive(self, state) -> Iterator[Any]:
        """Hold the session's lock for one action; yields the state to act on.

        That is the given copy when it is up to date, else the store's newer state: another tab
        (or a second request of this one) acted first, and the caller must show it instead of
        acting on a copy that is behind. Copies the store cannot check are taken as they are."""
        with self.locks.hold(state.id):
            newer = None
            try:
                if self.store is not None and self.store.turn_count(state.id) > len(state.turns):
                    newer = self.load_session(state.id, state.owner)
            except StoreError:
                newer = None
            yield newer if newer is not None else state

    def save(self, state) -> str | None:
        """Store the state after an action, so a reload resumes exactly there. Returns a warning
        to show when the store could not take it. SessionMovedOn when the store refused it
        because more turns are stored than this copy has (the caller shows the store's state)."""
        try:
            self.engine.record_session(state)
        except SessionMovedOn:
            raise
        except StoreError as exc:
            return str(exc)
        return None

    def regrade(self, record, language: str | None = None) -> int:
        """Grade every answered question of a stored session again with the current grader; the
        old grades stay beside the new ones. Returns how many were regraded."""
        language = language or (record.config or {}).get("language", "zh")
        done = 0
        for q in record.questions():
            card = self.card(q.question_id)
            if card is None:
                continue
            answer = q.grade.answer if q.grade else "\n\n".join(
                t.text for t in q.turns if t.role == "candidate" and t.kind == "answer")
            if not answer.strip():
                continue
            grade = self.engine.grade_answer(card, answer, language)
            self.store.add_regrade(record.id, q.question_id, grade, answer)
            done += 1
        return done

    # ------------------------------------------------------------------ exports
    def write_exports(self, record) -> tuple[str, str]:
        """Markdown and JSON files of a session in the export dir. One file per session and
        format, replaced whole on each export, so exporting again does not pile up files."""
        from interviewer import export
        from interviewer.store import Scrubber

        scrubber = Scrubber.from_settings(self.settings)
        out = self.export_dir
        out.mkdir(parents=True, exist_ok=True)
        paths = []
        price = self.settings.price_per_mtok
        for suffix, text in (("md", export.to_markdown(record, scrubber, price_per_mtok=price)),
                             ("json", export.dumps_json(record, scrubber, price))):
            path = out / f"{file_stem(record.id)}.{suffix}"
            # Written beside and renamed over: a download of the same session at the same moment
            # reads the old file or the new one, never half of one.
            with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=out, delete=False, suffix=".part") as tmp:
                try:
                    tmp.write(text)
                except BaseException:
                    Path(tmp.name).unlink(missing_ok=True)
                    raise
            os.replace(tmp.name, path)
            paths.append(str(path))
        return paths[0], paths[1]

    def delete_session(self, session_id: str, owner: str | None) -> bool:
        """Delete a session (for this owner) and every file of it the app serves. False if there was none."""
        if not self.store.delete_session(session_id, owner=owner):
            return False
        self.remove_served_files(session_id)
        return True

    def remove_served_files(self, session_id: str) -> None:
        """Every served copy of a session's exports: ours, and any Gradio made of them."""
        stem = file_stem(session_id)
        for pattern in (f"{stem}.*", f"*/{stem}.*"):
            for path in self.served_dir.glob(pattern):
                path.unlink(missing_ok=True)

    def export_files(self, session_id: str, owner: str | None) -> tuple[str | None, str | None]:
        """The export files of a session this owner may read (None, None if it may not)."""
        from interviewer.store import StoreError

        try:
            record = self.store.get_session(session_id, owner=owner)
        except (KeyError, StoreError):
            return None, None
        return self.write_exports(record)

    def import_file(self, path: str | Path, owner: str) -> str:
        """Restore an exported JSON transcript for review, owned by `owner`; returns its session id.
        ImportRefused says why a file was refused (nothing is written then)."""
        from interviewer.export import MAX_IMPORT_BYTES, InvalidExport, import_json
        from interviewer.store import StoreError

        try:
            size = Path(path).stat().st_size
            if size > min(MAX_IMPORT_BYTES, MAX_UPLOAD_BYTES):
                raise InvalidExport(f"the file is {size / 2**20:.1f} MiB; an export is at most "
                                    f"{MAX_IMPORT_BYTES // 2**20} MiB")
            return import_json(self.store, Path(path).read_bytes(), owner=owner)
        except (InvalidExport, StoreError, OSError) as exc:
            raise ImportRefused(str(exc)) from exc
        finally:
            self.discard_upload(path)

    def discard_upload(self, path: str | Path) -> None:
        """An upload is read once: the copy Gradio kept in the served dir goes at once."""
        path = Path(path)
        try:
            if path.resolve().is_relative_to(self.served_dir.resolve()):
                path.unlink(missing_ok=True)
        except OSError:
            pass

    # ------------------------------------------------------------------ progress
    def history(self, owner: str):
        from interviewer import progress

        return progress.history_for_planner(self.store, owner, card_topics=self.card_topics)

    def mastery(self, owner: str | None) -> dict[str, float]:
        """Per-topic mastery (0-10, recency-weighted) of this owner's graded answers."""
        from interviewer import progress

        return progress.mastery(self.store, owner, card_topics=self.card_topics)


def _temp_dir(prefix: str) -> Path:
    path = Path(tempfile.mkdtemp(prefix=prefix))
    atexit.register(shutil.rmtree, path, True)
    return path


def fresh_served_dir(settings: Settings) -> Path:
    """The served dir under the data dir, emptied: what a killed process left there (exports,
    uploads, Gradio's copies) is swept on start, since atexit never ran for it."""
    path = settings.served_dir
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True, exist_ok=True)
    return path


def browser_secret(settings: Settings) -> str:
    """The key the browser's local storage is encrypted with.

    Gradio's default is random per process, which would make every browser forget its session
    after a restart (a Space restarts often). So it is taken from MIANSHI_BROWSER_SECRET, or
    generated once and kept in the data dir next to the transcripts it protects. With PostgreSQL
    it is kept in the database instead (inserted by the first replica, read by all), so every
    replica reads the browsers' copies.
    """
    if settings.browser_secret is not None:
        return settings.browser_secret.get_secret_value()
    if settings.database_url is not None:
        from interviewer.store.postgres import Database, shared_secret

        db = Database(settings.database_url.get_secret_value(), pool_size=1, lock_pool_size=1, name="mianshi-secret")
        try:
            db.migrate()
            return shared_secret(db, "browser_secret", lambda: secrets.token_urlsafe(24))
        finally:
            db.close()
    path = Path(settings.data_dir) / "browser_secret"
    try:
        return path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        value = secrets.token_urlsafe(24)
        path.write_text(value, encoding="utf-8")
        path.chmod(0o600)
        return value


def build_services(settings: Settings, *, offline: bool = False, embedder=None,
                   require_store: bool = True, background_grading: bool = False) -> Services:
    """Open the bank (building it if needed) and build engine, grader and store from settings.

    One embedder serves the bank and the offline grader; the store is the engine's recorder.
    `offline=True` forces the offline interviewer and grader whatever is configured. With
    `require_store=False` a store that cannot open leaves `store` None and says why in `store_error`.
    `background_grading` (the app, settings.background_grading) grades while the next question streams.
    """
    from interviewer.bank.embedding import Embedder
    from interviewer.bank.library import Library
    from interviewer.engine.factory import build_engine
    from interviewer.store import open_store

    check_data_dir(settings)
    # The store first: a damaged transcript file stops the start at once, before the bank's work.
    bank = None
    store, store_error = None, None
    try:
        store = open_store(settings, card_topics=lambda cid: bank.get(cid).topics)
    except Exception as exc:
        if require_store:
            raise
        store_error = f"{type(exc).__name__}: {exc}"  # practice goes on; the caller says it is not saved
    embedder = embedder or Embedder()
    bank = Library.open(settings, embedder=embedder)  # the corpus and the posts people added
    engine = build_engine(settings, bank, embedder=embedder, recorder=store, offline=offline,
                          background_grading=background_grading and not offline)
    return Services(settings=settings, bank=bank, engine=engine, grader=engine.grader, store=store,
                    embedder=embedder, store_error=store_error, served_dir=fresh_served_dir(settings),
                    locks=SessionLocks(across=store.session_lock if store is not None else None))


def check_model(settings: Settings):
    """One tiny request to the configured model: a CheckResult (reachable, model found, structured
    mode, first-token latency, or the reason it failed). Never includes the key."""
    from interviewer.llm.doctor import check_model as check

    return check(settings)


def warm_up(embedder) -> None:
    """Load the sentence encoder and jieba's dictionary (what the offline grader and search use)."""
    if embedder is None:
        return
    from interviewer.text import load_jieba

    try:
        embedder.encode(["预热 warm-up"])
        load_jieba().initialize()
    except Exception:  # a failed warm-up only means the first grade loads them itself
        log.exception("warm-up failed")
