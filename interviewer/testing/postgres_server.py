"""A real, throw-away PostgreSQL server for tests (and local trials), from the distribution's binaries.

    with PostgresServer.start() as server:      # initdb into a temp dir, postgres on a free port
        url = server.create_database()           # postgresql://mianshi@127.0.0.1:PORT/t_...

The cluster lives in a temp dir and is removed on stop. PostgreSQL refuses to run as root: when
the tests run as root (a CI container), the server runs as Debian's `postgres` user through
`runuser`, in dirs chowned to it. `NotAvailable` says why a server cannot be started (not
installed, no unprivileged user), for the caller to skip with that reason.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

SUPERUSER = "mianshi"


class NotAvailable(RuntimeError):
    """No PostgreSQL server can be started here; the message says why and what to install."""


def bin_dir() -> Path | None:
    """The newest installed PostgreSQL's bin dir (Debian: /usr/lib/postgresql/N/bin), or one on PATH."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"),
                   key=lambda p: int(Path(p).parent.parent.name) if Path(p).parent.parent.name.isdigit() else 0)
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("postgres")
    if on_path and shutil.which("initdb"):
        return Path(on_path).parent
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgresServer:
    def __init__(self, root: Path, port: int, bins: Path, run_as: list[str], proc: subprocess.Popen):
        self.root, self.port, self.bins, self._run_as, self._proc = root, port, bins, run_as, proc
        self.data = root / "data"
        self.url = f"postgresql://{SUPERUSER}@127.0.0.1:{port}/postgres"

    @classmethod
    def start(cls, *, timeout: float = 60.0) -> PostgresServer:
        bins = bin_dir()
        if bins is None:
            raise NotAvailable("PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/postgres, no postgres "
                               "on PATH): install the distribution's package (Debian: apt-get install postgresql; "
                               "scripts/dev.sh test does)")
        run_as: list[str] = []
        root = Path(tempfile.mkdtemp(prefix="mianshi-pg-"))
        if os.geteuid() == 0:  # postgres will not run as root: run it as the distribution's user
            if shutil.which("runuser") is None:
                raise NotAvailable("running as root without runuser: cannot start PostgreSQL as another user")
            try:
                shutil.chown(root, user="postgres", group=None)
            except (LookupError, OSError) as exc:
                shutil.rmtree(root, ignore_errors=True)
                raise NotAvailable(f"running as root and no 'postgres' user to run PostgreSQL as ({exc})") from None
            run_as = ["runuser", "-u", "postgres", "--"]
        data, sock, log = root / "data", root / "sock", root / "postgres.log"
        try:
            subprocess.run(run_as + ["mkdir", "-p", str(sock)], check=True)
            subprocess.run(run_as + [str(bins / "initdb"), "-D", str(data), "-U", SUPERUSER, "--auth=trust",
                                     "--encoding=UTF8", "--no-sync"],
                           check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        except subprocess.CalledProcessError as exc:
            shutil.rmtree(root, ignore_errors=True)
            raise RuntimeError(f"initdb failed: {exc.stderr}") from exc
        port = _free_port()
        # fsync off: a test server's data need not survive an OS crash, and the machine is shared.
        # Commits still happen before each call returns (synchronous_commit stays on).
        with open(log, "wb") as out:
            proc = subprocess.Popen(run_as + [str(bins / "postgres"), "-D", str(data), "-p", str(port),
                                              "-k", str(sock), "-c", "listen_addresses=127.0.0.1",
                                              "-c", "fsync=off", "-c", "full_page_writes=off",
                                              "-c", "max_connections=300"],
                                    stdout=out, stderr=subprocess.STDOUT)
        server = cls(root, port, bins, run_as, proc)
        try:
            server._wait_ready(timeout, log)
        except BaseException:
            server.stop()
            raise
        return server

    def _wait_ready(self, timeout: float, log: Path) -> None:
        import psycopg

        deadline = time.monotonic() + timeout
        while True:
            if self._proc.poll() is not None:
                raise RuntimeError(f"postgres exited with {self._proc.returncode}: {log.read_text(errors='replace')}")
            try:
                psycopg.connect(self.url, connect_timeout=2).close()
                return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"postgres did not accept connections in {timeout:.0f} s: "
                                       f"{log.read_text(errors='replace')}") from None
                time.sleep(0.1)

    def create_database(self, name: str | None = None) -> str:
        """A new, empty database; its URL."""
        import psycopg

        name = name or f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{name}"

    def drop_database(self, url: str) -> None:
        import psycopg

        name = url.rsplit("/", 1)[-1]
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def stop(self) -> None:
        """Fast shutdown (clients are disconnected), then remove the cluster."""
        if self._proc.poll() is None:
            subprocess.run(self._run_as + [str(self.bins / "pg_ctl"), "stop", "-D", str(self.data), "-m", "fast",
                                           "-w", "-t", "30"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                self._proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> PostgresServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
