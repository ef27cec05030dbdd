"""Build the interview engine, interviewer and grader from Settings (one place for the choice).

Offline unless a model is configured (Settings.use_llm): then the LLM interviewer and grader,
both falling back to the offline ones, which need no key and no network.
"""

from __future__ import annotations

from interviewer.config import Settings
from interviewer.llm.client import ChatClient, RetryPolicy

QUESTION_MAX_TOKENS = 400  # a question or follow-up is one or two sentences


def build_interviewer(settings: Settings, *, offline: bool = False, retry: RetryPolicy | None = None,
                      timeout: float | None = None):
    from interviewer.interviewers.offline import OfflineInterviewer

    if offline or not settings.use_llm:
        return OfflineInterviewer()
    from interviewer.interviewers.llm_interviewer import LLMInterviewer

    # Some warmth in phrasing is fine; grading is the part that must be deterministic.
    client = ChatClient(settings, temperature=0.7, retry=retry, timeout=timeout, max_tokens=QUESTION_MAX_TOKENS)
    return LLMInterviewer(client)


def build_grader(settings: Settings, embedder=None, *, offline: bool = False, retry: RetryPolicy | None = None,
                 timeout: float | None = None):
    from interviewer.grading.offline import OfflineGrader

    if embedder is None:
        from interviewer.bank.embedding import Embedder

        embedder = Embedder()
    offline_grader = OfflineGrader(embedder)
    if offline or not settings.use_llm:
        return offline_grader
    from interviewer.grading.llm_grader import LLMGrader

    return LLMGrader.from_settings(settings, fallback=offline_grader, retry=retry, timeout=timeout)


def build_engine(settings: Settings, bank, *, embedder=None, recorder=None, offline: bool = False,
                 retry: RetryPolicy | None = None, timeout: float | None = None, background_grading: bool = False):
    """The engine the app and the CLI use. `offline=True` forces the offline pair;
    `background_grading` grades answers in the engine's threads while the next question is asked."""
    from interviewer.engine.session import InterviewEngine

    return InterviewEngine(bank, build_interviewer(settings, offline=offline, retry=retry, timeout=timeout),
                           build_grader(settings, embedder, offline=offline, retry=retry, timeout=timeout),
                           recorder=recorder, settings=settings, background_grading=background_grading)
