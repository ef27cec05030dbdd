"""What an endpoint accepts, learnt from its 400s and remembered per endpoint and model.

Providers differ: DeepSeek rejects `response_format` json_schema, OpenAI's reasoning models reject
`temperature` and want `max_completion_tokens` instead of `max_tokens`. The first request that
hits such a 400 pays for it once; what was learnt is kept in `$MIANSHI_DATA_DIR/llm_endpoints.json`
(keyed by the endpoint URL without credentials, and the model) so a restart does not pay again.

Never stored: the key, headers, prompts. Only parameter names and structured-output modes.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

DEFAULT_BASE_URL = "https://api.openai.com/v1"
FILE_NAME = "llm_endpoints.json"

# The parameters we send that a provider may refuse, and what to do when it names one:
# a new name to send the value under, or None to leave the parameter out.
ADAPTABLE: dict[str, str | None] = {
    "max_tokens": "max_completion_tokens",
    "max_completion_tokens": None,
    "temperature": None,
}
# A reasoning model's max_completion_tokens covers its hidden reasoning too: a limit sized for a
# one-sentence question would leave nothing for the answer.
REASONING_MIN_TOKENS = 8192


def endpoint_id(base_url: str | None) -> str:
    """The endpoint as a key: scheme, host, port and path; never a user:password or a query."""
    url = urlsplit(base_url or DEFAULT_BASE_URL)
    host = url.hostname or ""
    netloc = f"{host}:{url.port}" if url.port else host
    return urlunsplit((url.scheme, netloc, url.path.rstrip("/"), "", ""))


class Capabilities:
    """The learnt facts of one endpoint+model; shared by every client of it in the process."""

    def __init__(self, book: CapabilityBook, key: str, data: dict):
        self._book = book
        self._key = key
        self.rejected_modes: list[str] = list(data.get("rejected_modes") or [])
        self.renamed: dict[str, str] = dict(data.get("renamed") or {})
        self.dropped: list[str] = list(data.get("dropped") or [])
        # The model reasons before it answers, within the same token limit (learnt from a reply
        # cut at the limit before any answer): its limits are raised to REASONING_MIN_TOKENS.
        self.reasoning: bool = bool(data.get("reasoning"))

    def as_dict(self) -> dict:
        return {"rejected_modes": self.rejected_modes, "renamed": self.renamed, "dropped": self.dropped,
                "reasoning": self.reasoning}

    def params(self, wanted: dict) -> dict:
        """The request parameters to send for `wanted` (name -> value) as this endpoint accepts them."""
        out = {}
        for name, value in wanted.items():
            if value is None:
                continue
            while name in self.renamed:
                name = self.renamed[name]
                if name == "max_completion_tokens":
                    value = max(int(value), REASONING_MIN_TOKENS)
            if name in self.dropped:
                continue
            if self.reasoning and name in ("max_tokens", "max_completion_tokens"):
                value = max(int(value), REASONING_MIN_TOKENS)
            out[name] = value
        return out

    def learn_param(self, param: str) -> bool:
        """The endpoint refused `param` (a name we sent): rename or drop it. False if that is not
        a parameter we can do without, or it was already handled (no second try)."""
        if param not in ADAPTABLE or param in self.dropped or param in self.renamed:
            return False
        new = ADAPTABLE[param]
        if new is None:
            self.dropped.append(param)
        else:
            self.renamed[param] = new
        self._book.save()
        return True

    def learn_reasoning(self) -> bool:
        """A reply was cut at the token limit before any answer: the model spends it on reasoning.
        False if that was known already (then the limit is not the cause)."""
        if self.reasoning:
            return False
        self.reasoning = True
        self._book.save()
        return True

    def reject_mode(self, mode: str) -> None:
        if mode not in self.rejected_modes:
            self.rejected_modes.append(mode)
            self._book.save()


class CapabilityBook:
    """The file of every endpoint+model's capabilities (JSON, written whole and renamed over)."""

    def __init__(self, path: Path | None):
        self.path = Path(path) if path is not None else None
        self._lock = threading.RLock()
        self._entries: dict[str, Capabilities] = {}
        raw: dict = {}
        if self.path is not None:
            try:
                raw = json.loads(self.path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                raw = {}
        self._raw = raw if isinstance(raw, dict) else {}

    def get(self, base_url: str | None, model: str) -> Capabilities:
        key = f"{endpoint_id(base_url)} {model}"
        with self._lock:
            caps = self._entries.get(key)
            if caps is None:
                data = self._raw.get(key)
                caps = self._entries[key] = Capabilities(self, key, data if isinstance(data, dict) else {})
            return caps

    def save(self) -> None:
        if self.path is None:
            return
        with self._lock:
            data = dict(self._raw)
            data.update({k: c.as_dict() for k, c in self._entries.items()})
            self._raw = data
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=self.path.parent, delete=False,
                                                 suffix=".part") as tmp:
                    json.dump(data, tmp, ensure_ascii=False, indent=1, sort_keys=True)
                os.replace(tmp.name, self.path)
            except OSError:
                pass  # remembering is an optimisation: the next start learns it again


_books: dict[str, CapabilityBook] = {}
_books_lock = threading.Lock()


def book_for(data_dir: Path | str | None) -> CapabilityBook:
    """One book per data dir per process (the interviewer's and the grader's clients share it)."""
    path = Path(data_dir) / FILE_NAME if data_dir is not None else None
    key = str(path.resolve()) if path is not None else ""
    with _books_lock:
        book = _books.get(key)
        if book is None:
            book = _books[key] = CapabilityBook(path)
        return book
