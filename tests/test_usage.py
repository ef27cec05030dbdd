"""Tokens and cost (issue 15, part 4): every model call's prompt and completion tokens (streamed
calls ask for usage) are added to the session, stored with it, and shown with the cost at
MIANSHI_PRICE_PER_MTOK in the report, the review and the exports."""

from __future__ import annotations

import json

import pytest

from interviewer.config import Settings
from interviewer.engine.session import InterviewEngine
from interviewer.grading.llm_grader import LLMGrader
from interviewer.interviewers.llm_interviewer import LLMInterviewer
from interviewer.llm.client import ChatClient
from interviewer.models import SessionConfig, TokenUsage
from interviewer.testing.fake_openai import FakeOpenAI
from tests.test_llm_path import FAST, NoFallback, TwoCards
from tests.test_providers import provider_model


def test_price_setting_is_parsed_or_refused():
    assert Settings.from_env({"MIANSHI_PRICE_PER_MTOK": "0.15, 0.60"}).price_per_mtok == (0.15, 0.6)
    assert Settings.from_env({}).price_per_mtok is None
    for bad in ("0.15", "a,b", "1,2,3", "-1,2"):
        with pytest.raises(ValueError):
            Settings.from_env({"MIANSHI_PRICE_PER_MTOK": bad})


@pytest.mark.parametrize("provider", ["openai", "deepseek-reasoner"])
def test_every_call_is_counted_in_the_session_and_priced(tmp_path, provider):
    from interviewer.store import TranscriptStore

    with FakeOpenAI(script=provider_model, provider=provider) as server:
        settings = Settings.from_env({
            "OPENAI_BASE_URL": server.base_url, "OPENAI_API_KEY": server.api_key, "MIANSHI_MODEL": server.model,
            "MIANSHI_DATA_DIR": str(tmp_path), "MIANSHI_PRICE_PER_MTOK": "2.5,10"})
        store = TranscriptStore.from_settings(settings)
        engine = InterviewEngine(TwoCards(), LLMInterviewer(ChatClient(settings, temperature=0.7, retry=FAST)),
                                 LLMGrader.from_settings(settings, fallback=NoFallback(), retry=FAST),
                                 recorder=store, settings=settings)
        state = engine.start(SessionConfig(n_questions=2, seed=1, max_followups=1))
        list(engine.open(state))
        for _ in range(4):
            list(engine.answer(state, "我觉得主要是工程上的取舍。"))
        answered = [r for r in server.requests if r.status == 200]
    assert state.phase.value == "finished"
    streamed = [r for r in answered if r.body.get("stream")]
    assert streamed and all(r.body["stream_options"] == {"include_usage": True} for r in streamed)
    usage = state.usage
    assert [c.purpose for c in usage.calls] == ["question", "followup", "grade", "question", "followup", "grade"]
    assert len(usage.calls) == len(answered)
    assert usage.prompt_tokens == sum(r.usage["prompt_tokens"] for r in answered)
    assert usage.completion_tokens == sum(r.usage["completion_tokens"] for r in answered)
    assert usage.reasoning_tokens == sum(r.usage["completion_tokens_details"]["reasoning_tokens"] for r in answered)
    assert (usage.reasoning_tokens > 0) == (provider == "deepseek-reasoner")
    report = engine.report(state)
    expected = round(usage.prompt_tokens / 1e6 * 2.5 + usage.completion_tokens / 1e6 * 10, 6)
    assert report.cost == expected > 0 and report.usage == usage

    # Stored with the session, and in the exports and the review.
    from interviewer import export
    from interviewer.ui import render

    record = store.get_session(state.id)
    assert TokenUsage.model_validate(record.state["usage"]) == usage
    data = export.to_json(record, price_per_mtok=settings.price_per_mtok)
    assert data["session"]["usage"]["cost"] == expected
    assert data["session"]["usage"]["prompt_tokens"] == usage.prompt_tokens
    md = export.to_markdown(record, price_per_mtok=settings.price_per_mtok, language="en")
    assert f"{usage.prompt_tokens:,} input + {usage.completion_tokens:,} output tokens" in md
    assert f"cost {expected:.4f}" in md
    html = render.report_html(report, "zh")
    assert "ms-usage" in html and f"费用 {expected:.4f}" in html
    assert export.import_json(store, json.dumps(data)) != state.id   # the export still imports
    store.close()


def test_no_model_no_usage_line():
    assert TokenUsage().line((1.0, 2.0)) == ""
    from interviewer.ui import render

    assert render.usage_html({"calls": []}, (1.0, 2.0)) == "" and render.usage_html(None, None) == ""
