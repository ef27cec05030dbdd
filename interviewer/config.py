"""Settings from the environment. Read once per process entry point and passed down, never global:
every MIANSHI_*, OPENAI_* and GRADIO_SERVER_* variable the program reads is read here.

The API key and the browser secret are kept as SecretStr so they cannot leak through repr, logs,
exports or the store.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal
from urllib.parse import urlparse

from pydantic import BaseModel, SecretStr

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_MODEL = "gpt-4o-mini"


def _price(value: str | None) -> tuple[float, float] | None:
    """MIANSHI_PRICE_PER_MTOK="input,output" (prices per million tokens) -> (input, output)."""
    if not value or not value.strip():
        return None
    parts = [p.strip() for p in value.replace(";", ",").split(",")]
    try:
        price_in, price_out = (float(p) for p in parts)
    except ValueError:
        raise ValueError(f"MIANSHI_PRICE_PER_MTOK={value!r}: expected two numbers, 'input,output' "
                         "per million tokens, e.g. 0.15,0.60") from None
    if price_in < 0 or price_out < 0:
        raise ValueError("MIANSHI_PRICE_PER_MTOK: prices cannot be negative")
    return price_in, price_out


def _database_url(value: str | None) -> SecretStr | None:
    """MIANSHI_DATABASE_URL: empty for SQLite in the data dir, else a postgresql:// URL."""
    value = (value or "").strip()
    if not value:
        return None
    if urlparse(value).scheme not in ("postgresql", "postgres"):
        raise ValueError("MIANSHI_DATABASE_URL must be a postgresql://user:password@host:port/dbname URL "
                         "(or unset, for SQLite in the data dir)")
    return SecretStr(value)


def _chroma_url(value: str | None) -> str | None:
    """MIANSHI_CHROMA_URL=http://host:port[/database] -> the URL without a trailing slash."""
    if not value or not value.strip():
        return None
    value = value.strip().rstrip("/")
    try:
        url = urlparse(value)
        port = url.port
    except ValueError:
        port, url = None, None
    if url is None or url.scheme not in ("http", "https") or not url.hostname or port is None:
        raise ValueError(f"MIANSHI_CHROMA_URL={value!r}: expected http://host:port (a `chroma run` server), "
                         "optionally with /database")
    return value


def _env_bool(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


class Settings(BaseModel):
    data_dir: Path
    corpus_dir: Path
    interviewer: Literal["auto", "offline", "llm"] = "auto"
    openai_api_key: SecretStr | None = None
    openai_base_url: str | None = None
    model: str = DEFAULT_MODEL
    llm_timeout: float = 60.0
    llm_max_retries: int = 2
    price_per_mtok: tuple[float, float] | None = None  # (input, output) per million tokens
    grade_in_background: bool | None = None  # None: in LLM mode (the app only; the CLI grades in turn)
    admin: bool = False
    max_answer_chars: int = 4000
    browser_secret: SecretStr | None = None
    concurrency: int = 32
    # Transcripts, grade cache and browser secret on PostgreSQL (postgresql://...); None = SQLite in
    # the data dir. A SecretStr: the URL may carry a password.
    database_url: SecretStr | None = None
    db_pool_size: int = 10  # connections per process for reads and writes (PostgreSQL only)
    server_name: str = "127.0.0.1"
    server_port: int = 7860
    chroma_url: str | None = None  # a Chroma server (`chroma run`) for the bank; None: on-disk Chroma in data_dir

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        key = env.get("OPENAI_API_KEY") or None
        return cls(
            data_dir=Path(env.get("MIANSHI_DATA_DIR") or "./data").expanduser(),
            corpus_dir=Path(env.get("MIANSHI_CORPUS_DIR") or REPO_ROOT / "corpus").expanduser(),
            interviewer=(env.get("MIANSHI_INTERVIEWER") or "auto").lower(),  # type: ignore[arg-type]
            openai_api_key=SecretStr(key) if key else None,
            openai_base_url=env.get("OPENAI_BASE_URL") or None,
            model=env.get("MIANSHI_MODEL") or env.get("OPENAI_MODEL") or DEFAULT_MODEL,
            llm_timeout=float(env.get("MIANSHI_LLM_TIMEOUT") or 60),
            llm_max_retries=int(env.get("MIANSHI_LLM_MAX_RETRIES") or 2),
            price_per_mtok=_price(env.get("MIANSHI_PRICE_PER_MTOK")),
            grade_in_background=(_env_bool(env["MIANSHI_GRADE_IN_BACKGROUND"])
                                 if (env.get("MIANSHI_GRADE_IN_BACKGROUND") or "").strip() else None),
            admin=_env_bool(env.get("MIANSHI_ADMIN")),
            max_answer_chars=int(env.get("MIANSHI_MAX_ANSWER_CHARS") or 4000),
            browser_secret=SecretStr(env["MIANSHI_BROWSER_SECRET"]) if env.get("MIANSHI_BROWSER_SECRET") else None,
            concurrency=int(env.get("MIANSHI_CONCURRENCY") or 32),
            database_url=_database_url(env.get("MIANSHI_DATABASE_URL")),
            db_pool_size=int(env.get("MIANSHI_DB_POOL_SIZE") or 10),
            # Spaces sets GRADIO_SERVER_NAME=0.0.0.0; locally the app listens on loopback only.
            server_name=env.get("GRADIO_SERVER_NAME") or "127.0.0.1",
            server_port=int(env.get("GRADIO_SERVER_PORT") or 7860),
            chroma_url=_chroma_url(env.get("MIANSHI_CHROMA_URL")),
        )

    @property
    def use_llm(self) -> bool:
        """LLM mode when asked for, or in auto mode when a key or an endpoint is configured."""
        if self.interviewer == "offline":
            return False
        if self.interviewer == "llm":
            return True
        return bool(self.openai_api_key or self.openai_base_url)

    @property
    def background_grading(self) -> bool:
        """Grade answers in the background in the app: on with a model (a grade takes seconds),
        unless MIANSHI_GRADE_IN_BACKGROUND says otherwise."""
        return self.use_llm if self.grade_in_background is None else self.grade_in_background

    @property
    def endpoint_host(self) -> str:
        """Host (and port) of the endpoint, for display: never the user:password or query of the URL."""
        if not self.openai_base_url:
            return "api.openai.com"
        try:
            url = urlparse(self.openai_base_url)
            host, port = url.hostname, url.port
        except ValueError:  # a malformed port or host
            return "configured endpoint"
        if not host:
            return "configured endpoint"
        return f"{host}:{port}" if port else host

    @property
    def database_label(self) -> str:
        """Where the transcripts are, for messages: never the user or password of the URL."""
        if self.database_url is None:
            return str(self.db_path)
        try:
            url = urlparse(self.database_url.get_secret_value())
            host = f"{url.hostname}:{url.port}" if url.port else (url.hostname or "local socket")
        except ValueError:
            return "the configured PostgreSQL database"
        return f"postgresql://{host}{url.path}"

    @property
    def chroma_dir(self) -> Path:
        return self.data_dir / "chroma"

    @property
    def db_path(self) -> Path:
        return self.data_dir / "mianshi.sqlite3"

    @property
    def served_dir(self) -> Path:
        """The only directory the app serves files from (exports, uploads, Gradio's cache)."""
        return self.data_dir / "served"

    @property
    def llm_cache_path(self) -> Path:
        return self.data_dir / "llm_cache.sqlite3"

    def describe_interviewer(self) -> str:
        """The status line: which interviewer is active. Never includes the key."""
        if self.use_llm:
            return f"LLM interviewer: {self.model} @ {self.endpoint_host}"
        return "Offline interviewer (no model; grading by embeddings + keyword coverage)"
