"""Named locks that hold across processes sharing a directory (the SQLite back end's session lock).

One lock file; each name locks one byte of it (an offset from the name's hash) with an
open-file-description lock (Linux F_OFD_SETLKW). Unlike flock on per-name files, nothing piles
up on disk; unlike classic POSIX record locks, each holder owns its lock through its own file
descriptor, so two threads of one process exclude each other too, closing another descriptor
releases nothing, and the kernel reports no false deadlocks between threads.

Where OFD locks do not exist (not Linux), the locks are per process only, as before, and a
warning says so once.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

log = logging.getLogger(__name__)

_OFD_SETLKW = getattr(fcntl, "F_OFD_SETLKW", None)


def _flock(kind: int, offset: int) -> bytes:
    # struct flock on 64-bit Linux: short l_type, short l_whence, off_t l_start, off_t l_len,
    # pid_t l_pid (0 for OFD locks), padded to 32 bytes.
    return struct.pack("@hhqqi4x", kind, os.SEEK_SET, offset, 1, 0)


class FileLocks:
    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)
        self._warned = False

    @staticmethod
    def offset(name: str) -> int:
        return int.from_bytes(hashlib.sha256(name.encode("utf-8")).digest()[:7], "big")  # < 2**56

    @contextmanager
    def hold(self, name: str) -> Iterator[None]:
        """Hold the lock for ``name`` until the block ends; waits while another holder has it.

        OSError if the lock file cannot be opened (a read-only directory)."""
        if _OFD_SETLKW is None or struct.calcsize("@q") != 8:
            if not self._warned:
                self._warned = True
                log.warning("no open-file-description locks here: sessions are locked per process only")
            yield
            return
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.fcntl(fd, _OFD_SETLKW, _flock(fcntl.F_WRLCK, self.offset(name)))
            yield
        finally:
            os.close(fd)  # releases this descriptor's lock, and only it
