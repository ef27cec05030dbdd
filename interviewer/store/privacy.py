"""Secrets never reach the disk: the configured key, secret-looking environment variables and
key-shaped strings are replaced before anything is stored or exported."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, urlparse

from interviewer.config import Settings

REDACTED = "[REDACTED]"
# Secrets shorter than this are not scrubbed by value: replacing every "abc" in an answer would
# destroy the text, and no real key is that short (the patterns below still catch key shapes).
MIN_SECRET_LEN = 8

# Shapes of API keys and tokens that must never be stored even when they are not our own key.
_KEY_PATTERNS: tuple[re.Pattern[str], ...] = (
    re.compile(r"\bsk-[A-Za-z0-9][A-Za-z0-9_\-]{15,}"),           # OpenAI / Anthropic style
    re.compile(r"\bhf_[A-Za-z0-9]{30,}"),                          # Hugging Face
    re.compile(r"\bgh[pousr]_[A-Za-z0-9]{30,}"),                   # GitHub
    re.compile(r"\bAKIA[0-9A-Z]{16}\b"),                           # AWS access key id
    re.compile(r"\bAIza[0-9A-Za-z_\-]{35}"),                       # Google API key
    re.compile(r"(?i)(?<=bearer )[A-Za-z0-9._\-]{20,}"),           # Authorization: Bearer ...
)
# The lower-case literal every match of each pattern contains, in the same order.
_KEY_MARKERS: tuple[tuple[tuple[str, ...], re.Pattern[str]], ...] = tuple(zip(
    (("sk-",), ("hf_",), ("ghp_", "gho_", "ghu_", "ghs_", "ghr_"), ("akia",), ("aiza",), ("bearer ",)),
    _KEY_PATTERNS))
_SECRET_ENV_NAME = re.compile(r"(KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL)", re.I)


class Scrubber:
    """Replaces known secret values and API-key-shaped strings with ``[REDACTED]``."""

    def __init__(self, secrets: tuple[str, ...] | list[str] = ()) -> None:
        # Longest first so a secret that contains another is replaced whole.
        uniq = {s for s in secrets if s and len(s) >= MIN_SECRET_LEN}
        self._secrets = tuple(sorted(uniq, key=len, reverse=True))
        # How each secret appears inside JSON text (a quote or backslash in it is escaped there),
        # for the one-pass check of a whole structure.
        in_json = {json.dumps(s, ensure_ascii=False)[1:-1] for s in self._secrets} - set(self._secrets)
        self._needles = self._secrets + tuple(in_json)

    @classmethod
    def from_settings(cls, settings: Settings | None, env: Mapping[str, str] | None = None) -> Scrubber:
        """Secrets of the settings plus every secret-looking environment variable's value.

        Environment values are included because Spaces secrets (HF_TOKEN, other keys) live there
        and a candidate could paste one; they are only used to redact, never stored.
        """
        env = os.environ if env is None else env
        secrets: list[str] = []
        if settings is not None:
            if settings.openai_api_key is not None:
                secrets.append(settings.openai_api_key.get_secret_value())
            if settings.openai_base_url:
                parsed = urlparse(settings.openai_base_url)
                if parsed.password:
                    secrets.append(parsed.password)
                # A key in the query string (?api-key=..., as Azure-style gateways take it) is as
                # secret as the password; short values (?v=1) would redact ordinary words.
                secrets += [v for _, v in parse_qsl(parsed.query) if len(v) >= 8]
            if settings.database_url is not None:  # the database password, if the URL carries one
                try:
                    password = urlparse(settings.database_url.get_secret_value()).password
                except ValueError:
                    password = None
                if password:
                    secrets.append(password)
        secrets += [v for k, v in env.items() if _SECRET_ENV_NAME.search(k)]
        return cls(secrets)

    def finds(self, value: str) -> bool:
        """Whether value (a string, or a structure's JSON text) holds anything this scrubber
        would replace.

        Each key shape starts with a fixed marker; looking for the markers first keeps this one
        fast pass over a whole snapshot (running every regex over it costs far more).
        """
        if any(secret in value for secret in self._needles):
            return True
        lowered = value.lower()
        return any(any(m in lowered for m in markers) and pattern.search(value)
                   for markers, pattern in _KEY_MARKERS)

    def text(self, value: str) -> str:
        for secret in self._secrets:
            if secret in value:
                value = value.replace(secret, REDACTED)
        for pattern in _KEY_PATTERNS:
            value = pattern.sub(REDACTED, value)
        return value

    def __call__(self, value: Any) -> Any:
        """Scrub every string inside a JSON-like value (dicts, lists, strings).

        A structure is first checked in one pass over its JSON text, and walked string by string
        only when that finds something: snapshots and exports are written on every step and
        almost never hold a secret, and the walk is the slow part.
        """
        if isinstance(value, (dict, list, tuple)) and not self.finds(
                json.dumps(value, ensure_ascii=False, separators=(",", ":"))):
            return value
        return self._walk(value)

    def _walk(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {k: self._walk(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self._walk(v) for v in value]
        return value
