"""Shared fixtures: one embedder and one real on-disk question bank per test run, and a real Chroma
server (`chroma run`) for the tests of the bank on a server."""

from __future__ import annotations

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import pytest

from interviewer.config import REPO_ROOT, Settings


@pytest.fixture(scope="session")
def embedder():
    from interviewer.bank.embedding import Embedder

    return Embedder()


@pytest.fixture(scope="session")
def bank_settings(tmp_path_factory) -> Settings:
    data = tmp_path_factory.mktemp("bank-data")
    return Settings.from_env({"MIANSHI_DATA_DIR": str(data), "MIANSHI_CORPUS_DIR": str(REPO_ROOT / "corpus"),
                              "MIANSHI_INTERVIEWER": "offline"})


@pytest.fixture(scope="session")
def bank(bank_settings, embedder):
    """The real bank built from corpus/ into a real Chroma store on disk (shared: read-only use)."""
    from interviewer.bank.bank import QuestionBank

    return QuestionBank.open(bank_settings, embedder=embedder)


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory):
    """A real `chroma run` on a free loopback port for the whole run; skipped, saying why, only
    when it cannot start. Tests take a database of their own on it (server.database_url())."""
    from interviewer.testing.chroma_server import ChromaServer, ChromaServerUnavailable

    server = ChromaServer(tmp_path_factory.mktemp("chroma-server") / "db")
    try:
        server.start()
    except ChromaServerUnavailable as exc:
        pytest.skip(f"cannot start a Chroma server for the MIANSHI_CHROMA_URL tests: {exc}")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def browser():
    """Debian chromium driven by Playwright (never a downloaded browser), one per test module."""
    from playwright.sync_api import sync_playwright

    from tests.test_app_browser import CHROMIUM, CHROMIUM_ARGS

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="session")
def postgres_server():
    """A real PostgreSQL server for the run (initdb into a temp dir; as Debian's postgres user when
    root), stopped at the end. Skipped, with the reason, where PostgreSQL is not installed."""
    from interviewer.testing.postgres_server import NotAvailable, PostgresServer

    try:
        server = PostgresServer.start()
    except NotAvailable as exc:
        pytest.skip(f"PostgreSQL tests skipped: {exc}")
    yield server
    server.stop()


@pytest.fixture()
def postgres_url(postgres_server):
    """A fresh, empty database on the run's server; dropped after the test."""
    url = postgres_server.create_database()
    yield url
    postgres_server.drop_database(url)
