"""Session ids where they meet file names and terminals.

A session id can come from outside (an imported file), so it is checked before it is stored
(`valid_session_id`), and it never becomes part of a path as it is (`file_stem`): an id like
`../../x`, or one with NUL, newlines or terminal escapes, must not reach the file system.
"""

from __future__ import annotations

import hashlib
import re

# What the app itself creates (uuid4 hex) and what a person might type: letters, digits, - and _.
SESSION_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


def valid_session_id(value: str) -> bool:
    return bool(SESSION_ID.fullmatch(value or ""))


def file_stem(session_id: str) -> str:
    """`mianshi-<id>` for a valid id; any other id becomes a digest, so it names one file in the
    directory it is put in and nothing else."""
    if valid_session_id(session_id):
        return f"mianshi-{session_id}"
    return "mianshi-x" + hashlib.sha256(session_id.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def printable(value: str, limit: int = 64) -> str:
    """One line for a terminal: control characters and escapes shown as \\x.., cut at `limit`."""
    out = value.encode("unicode_escape").decode("ascii") if not value.isprintable() else value
    return out if len(out) <= limit else out[: limit - 1] + "…"
