"""Shared fixtures: one embedder and one real on-disk question bank per test run."""

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
