"""Read the corpus safely: `.txt`/`.md` files, size limit, binary check, UTF-8 then GB18030.

A broken file is never fatal: it is reported by name with a reason and skipped, and the rest
of the corpus still ingests.
"""

from __future__ import annotations

import codecs
import errno
import os
import stat
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel

MAX_BYTES = 5 * 1024 * 1024
SUFFIXES = (".txt", ".md")
# Files that live in corpus/ but are not documents.
NOT_DOCUMENTS = frozenset({"key_points.json", "README.md"})


class SkippedFile(BaseModel):
    path: str
    reason: str


@dataclass(frozen=True)
class Document:
    path: Path
    name: str
    text: str
    encoding: str
    raw: bytes


class CorpusError(ValueError):
    """Why one file cannot be ingested (the message is shown to the user)."""


def _looks_binary(data: bytes) -> bool:
    head = data[:8192]
    if b"\x00" in head:
        return True
    # Control bytes other than whitespace are rare in text in any encoding.
    ctrl = sum(1 for b in head if b < 32 and b not in (9, 10, 12, 13, 27))
    return ctrl > max(2, len(head) // 100)


def _garbled(text: str) -> bool:
    """A decode that 'worked' but produced mostly unassigned/private/control characters."""
    if not text:
        return False
    bad = sum(1 for ch in text if unicodedata.category(ch) in ("Co", "Cn", "Cs")
              or (unicodedata.category(ch) == "Cc" and ch not in "\t\n\r\f"))
    return bad > max(2, len(text) // 50)


def _utf16(data: bytes) -> str | None:
    """The text of UTF-16 with a byte-order mark; None when there is no mark, or bytes that merely
    start like one do not decode to text."""
    if not data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return None
    try:
        text = data.decode("utf-16")
    except UnicodeDecodeError:
        return None
    return None if _garbled(text) else text


def decode(data: bytes) -> tuple[str, str]:
    """(text, encoding). UTF-16 with a byte-order mark (Windows' Notepad "Unicode"), else UTF-8
    (with or without BOM) first, GB18030 (a superset of GBK) second."""
    text = _utf16(data)
    if text is not None:
        return text, "utf-16"
    try:
        return data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        text = data.decode("gb18030")
    except UnicodeDecodeError as exc:
        raise CorpusError(f"not valid UTF-8 or GBK/GB18030 text (bad byte at offset {exc.start})") from None
    if _garbled(text):
        raise CorpusError("not valid UTF-8, and decoding as GBK/GB18030 gives garbled text")
    return text, "gb18030"


def read_document(path: Path, max_bytes: int = MAX_BYTES) -> Document:
    """Read one document or raise CorpusError with the reason."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise CorpusError(f"cannot read: {exc.strerror or exc}") from None
    if not path.is_file():
        raise CorpusError("not a regular file")
    if size > max_bytes:
        raise CorpusError(f"too large: {size / 1e6:.1f} MB (limit {max_bytes / 1e6:.0f} MB)")
    if size == 0:
        raise CorpusError("empty file")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CorpusError(f"cannot read: {exc.strerror or exc}") from None
    # UTF-16 is full of NUL bytes: recognised before the binary check, which would refuse it.
    if _utf16(data) is None and _looks_binary(data):
        raise CorpusError("binary file, not text")
    text, encoding = decode(data)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        raise CorpusError("empty file (only whitespace)")
    return Document(path=path, name=path.name, text=text, encoding=encoding, raw=data)


def not_a_file(path: Path) -> str | None:
    """Why a path cannot be read as a document (a symlink loop, a FIFO, ...), None for a regular file."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return "broken symlink (its target does not exist)" if path.is_symlink() else "no such file"
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "symlink loop"
        return f"cannot read: {exc.strerror or exc}"
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "a directory"
    kind = "FIFO (named pipe)" if stat.S_ISFIFO(mode) else "socket" if stat.S_ISSOCK(mode) else "device"
    return f"not a regular file: {kind}"


def discover(corpus_dir: Path, extra_paths: tuple[Path | str, ...] | list = ()) -> tuple[list[Path], list[SkippedFile]]:
    """The files to ingest: `.txt`/`.md` in corpus_dir (not recursive) plus the extra paths.

    An extra path may be a file (any name: it is checked like the others) or a directory.
    """
    found: list[Path] = []
    skipped: list[SkippedFile] = []

    def scan(directory: Path) -> None:
        for p in sorted(directory.iterdir()):
            if p.suffix.lower() not in SUFFIXES or p.name in NOT_DOCUMENTS:
                continue
            problem = not_a_file(p)
            if problem:  # a document's name on something that is not one: say so, do not skip silently
                skipped.append(SkippedFile(path=str(p), reason=problem))
            else:
                found.append(p)

    if corpus_dir.is_dir():
        scan(corpus_dir)
    for raw in extra_paths:
        p = Path(raw).expanduser()
        problem = not_a_file(p)
        if p.is_dir():
            scan(p)
        elif problem:
            skipped.append(SkippedFile(path=str(p), reason=problem))
        elif p.suffix.lower() not in SUFFIXES:
            skipped.append(SkippedFile(path=str(p), reason=f"unsupported file type '{p.suffix}' (use .txt or .md)"))
        else:
            found.append(p)
    # The same file named twice (or a name clash between directories) is ingested once.
    unique: list[Path] = []
    names: set[str] = set()
    for p in found:
        if p.name in names:
            if p.resolve() not in {q.resolve() for q in unique}:
                skipped.append(SkippedFile(path=str(p), reason=f"duplicate document name '{p.name}'"))
            continue
        names.add(p.name)
        unique.append(p)
    return unique, skipped


def load_corpus(
    corpus_dir: Path, extra_paths=(), max_bytes: int = MAX_BYTES
) -> tuple[list[Document], list[SkippedFile]]:
    """Every readable document, and every skipped file with its reason."""
    paths, skipped = discover(corpus_dir, tuple(extra_paths))
    docs: list[Document] = []
    for p in paths:
        try:
            docs.append(read_document(p, max_bytes))
        except CorpusError as exc:
            skipped.append(SkippedFile(path=str(p), reason=str(exc)))
    return docs, skipped
