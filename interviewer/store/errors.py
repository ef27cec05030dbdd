"""What the store raises: messages a UI can show as they are."""

from __future__ import annotations

from pathlib import Path


class StoreError(Exception):
    """Base class of the store's errors. ``str(err)`` is a message fit for the user."""


class StoreUnavailable(StoreError):
    """The store cannot be written (or opened): read-only location, disk full, not a database."""


class SessionExists(StoreError):
    """A session with that id is already stored (an import that must pick a new id)."""


class SessionMovedOn(StoreError):
    """A turn at this index is already stored with other content: another tab (or process) acted
    on the session first. Nothing was overwritten."""


class SessionNotFound(StoreError, KeyError):
    """No session with that id (or not one the given owner may see)."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else "session not found"


def _unavailable(exc: BaseException, path: Path, writing: bool) -> StoreUnavailable:
    """Translate a low-level error into a message a candidate or an operator can act on."""
    text = str(exc).lower()
    where = f"the transcript store at {path}"
    if "readonly" in text or "read-only" in text or isinstance(exc, PermissionError):
        msg = f"{where} is read-only; the session was not saved (check that the data directory is writable)"
    elif "full" in text or getattr(exc, "errno", None) == 28:
        msg = f"the disk holding {where} is full; the session was not saved"
    elif "not a database" in text or "malformed" in text:
        msg = f"{where} is not a valid database file (it may be damaged); nothing was written to it"
    elif "locked" in text or "busy" in text:
        msg = f"{where} is busy (locked by another process for too long); try again"
    elif "unable to open" in text or isinstance(exc, (FileNotFoundError, NotADirectoryError, OSError)):
        msg = f"{where} cannot be opened ({exc}); check the data directory"
    else:
        msg = f"{where} failed {'to write' if writing else 'to read'}: {exc}"
    return StoreUnavailable(msg)
