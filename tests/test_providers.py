"""Every common OpenAI-compatible provider, as the fake server's profiles reproduce it (issue 15, part 2).

The real clients over real HTTP: parameters a provider refuses are dropped or renamed once and
remembered in the data dir; reasoning text (a `reasoning_content` field or an inline <think>) is
never shown or parsed, but its tokens are counted; a 429's Retry-After is honoured; an unknown
model is one clear message, not a retry storm. Then a whole interview against each profile over
the app's Gradio HTTP API.
"""

from __future__ import annotations

import json

import pytest

from interviewer.config import Settings
from interviewer.engine.session import InterviewEngine
from interviewer.grading.llm_grader import LLMGrader
from interviewer.interviewers.llm_interviewer import LLMInterviewer
from interviewer.llm.capabilities import FILE_NAME
from interviewer.llm.client import ChatClient, EndpointError, RetryPolicy, UnsupportedMode, Usage, usage_listener
from interviewer.models import SessionConfig
from interviewer.testing.fake_openai import PROVIDERS, FakeOpenAI, Reply
from tests.test_llm_path import GOOD, POINTS, QUESTION, NoFallback, TwoCards, grade_json

FAST = RetryPolicy(max_retries=2, base_delay=0.01, max_delay=5)
MARK = "REASONING-TRACE"


def settings_for(server: FakeOpenAI, data_dir, key: str | None = "sk-test", **env) -> Settings:
    base = {"OPENAI_BASE_URL": server.base_url, "MIANSHI_MODEL": server.model, "MIANSHI_DATA_DIR": str(data_dir),
            "MIANSHI_INTERVIEWER": "llm", "MIANSHI_LLM_TIMEOUT": "5"}
    if key is not None:
        base["OPENAI_API_KEY"] = key
    return Settings.from_env({**base, **env})


def provider_model(request):
    """The app's three kinds of request, answered from the prompt the server received."""
    system = request.body["messages"][0]["content"]
    if "check a connection" in system:
        return '{"ok": true}'
    if "grading one answer" in system:
        return grade_json(request, scores=(8, 8, 8, 8, 8))
    if "follow-up" in system:
        return "你提到了这一点，那具体是怎么实现的呢？"
    return "我们来聊聊这个问题：请说说你的理解，先讲核心思路。"


def collected_usage():
    seen: list[Usage] = []
    usage_listener.set(seen.append)
    return seen


# --------------------------------------------------------------------------- parameters

def test_openai_reasoning_model_params_renamed_and_dropped_once_then_remembered(tmp_path):
    with FakeOpenAI(script=provider_model, provider="openai-reasoning") as server:
        client = ChatClient(settings_for(server, tmp_path), temperature=0.7, max_tokens=400, retry=FAST)
        text = "".join(client.stream([("system", "interviewer"), ("user", "ask")]))
        first = [(r.status, sorted(k for k in ("temperature", "max_tokens", "max_completion_tokens")
                                   if k in r.body)) for r in server.requests]
        # A new process on the same data dir (a new client, a new book) pays nothing again.
        from interviewer.llm import capabilities

        capabilities._books.clear()
        again = ChatClient(settings_for(server, tmp_path), temperature=0.0, max_tokens=2048, retry=FAST)
        again.complete([("system", "x"), ("user", "y")])
        last = server.requests[-1]
    assert text.startswith("我们来聊聊")
    assert first == [(400, ["max_tokens", "temperature"]), (400, ["max_completion_tokens", "temperature"]),
                     (200, ["max_completion_tokens"])]
    assert last.status == 200 and "temperature" not in last.body and "max_tokens" not in last.body
    assert last.body["max_completion_tokens"] >= 2048          # room for the hidden reasoning too
    saved = json.loads((tmp_path / FILE_NAME).read_text(encoding="utf-8"))
    (entry,) = saved.values()
    assert entry["renamed"] == {"max_tokens": "max_completion_tokens"} and entry["dropped"] == ["temperature"]
    assert "sk-test" not in (tmp_path / FILE_NAME).read_text(encoding="utf-8")


def test_a_400_about_something_else_is_not_retried_or_adapted(tmp_path):
    with FakeOpenAI([Reply(status=400, error_message="Invalid 'messages': too long")]) as server:
        client = ChatClient(settings_for(server, tmp_path, key=None), retry=FAST)
        with pytest.raises(UnsupportedMode):
            client.complete([("user", "x")])
        assert len(server.requests) == 1


# --------------------------------------------------------------------------- structured output

def test_deepseek_json_schema_refused_json_object_used_and_remembered_across_restarts(tmp_path):
    with FakeOpenAI(script=provider_model, provider="deepseek") as server:
        grade = LLMGrader.from_settings(settings_for(server, tmp_path), fallback=NoFallback(), retry=FAST,
                                        cache=False).grade(QUESTION, POINTS, GOOD)
        first = [(r.response_format, r.status) for r in server.requests]
        refusal = server.requests[0]
        from interviewer.llm import capabilities

        capabilities._books.clear()
        LLMGrader.from_settings(settings_for(server, tmp_path), fallback=NoFallback(), retry=FAST,
                                cache=False).grade(QUESTION, POINTS, GOOD + "。")
        second = [(r.response_format, r.status) for r in server.requests[len(first):]]
    assert grade.status == "graded" and grade.provenance.structured_mode == "json_mode"
    assert grade.provenance.fallback_reason is None
    assert first == [("json_schema", 400), ("json_object", 200)] and second == [("json_object", 200)]
    assert refusal.status == 400


def test_deepseek_json_object_needs_the_word_json_in_the_prompt(tmp_path):
    from interviewer.grading.llm_grader import GradeOut

    with FakeOpenAI(script=provider_model, provider="deepseek") as server:
        client = ChatClient(settings_for(server, tmp_path), retry=FAST)
        with pytest.raises(UnsupportedMode) as info:
            client.structured([("system", "grade it"), ("user", "an answer")], GradeOut, "json_mode")
        assert "json" in info.value.reason
        # The grading prompt file says JSON, so DeepSeek accepts json_object for it.
        from interviewer.llm.prompts import load_prompt

        assert "json" in load_prompt("grade.v1.md").text.lower()


# --------------------------------------------------------------------------- reasoning

@pytest.mark.parametrize("provider", ["deepseek-reasoner", "ollama", "vllm", "openai-reasoning"])
def test_reasoning_never_shown_never_parsed_and_counted(tmp_path, provider):
    def model(request):
        if "grading one answer" in request.body["messages"][0]["content"]:
            return grade_json(request, scores=(4, 5, 6))
        return provider_model(request)

    seen = collected_usage()
    with FakeOpenAI(script=model, provider=provider) as server:
        settings = settings_for(server, tmp_path)
        deltas = list(ChatClient(settings, temperature=0.7, retry=FAST).stream([("system", "ask"), ("user", "q")]))
        grade = LLMGrader.from_settings(settings, fallback=NoFallback(), retry=FAST).grade(QUESTION, POINTS, GOOD)
        raw = [r for r in server.requests if r.status == 200]
    usage_listener.set(None)
    assert MARK not in "".join(deltas) and "think>" not in "".join(deltas)
    assert "".join(deltas).startswith("我们来聊聊")
    assert grade.status == "graded" and [c.score for c in grade.criteria] == [4, 5, 6]
    assert MARK not in grade.model_dump_json()
    assert len(seen) == len(raw) == 2                       # one Usage per answered call
    assert all(u.reasoning_tokens == PROVIDERS[provider].reasoning_tokens for u in seen)
    assert all(u.completion_tokens > u.reasoning_tokens and u.prompt_tokens > 0 for u in seen)


@pytest.mark.parametrize("provider", ["ollama", "deepseek-reasoner"])
def test_a_limit_used_up_by_reasoning_is_raised_once_and_remembered(tmp_path, provider):
    """max_tokens sized for a one-sentence question: a reasoning model spends it all thinking and
    answers nothing (finish_reason "length"). Asked again at once with room for the reasoning."""
    from interviewer.llm import capabilities

    with FakeOpenAI(script=provider_model, provider=provider) as server:
        client = ChatClient(settings_for(server, tmp_path), temperature=0.7, max_tokens=400, retry=FAST)
        text = "".join(client.stream([("system", "ask"), ("user", "q")]))
        limits = [r.body.get("max_tokens") for r in server.requests]
        capabilities._books.clear()
        again = ChatClient(settings_for(server, tmp_path), temperature=0.7, max_tokens=400, retry=FAST)
        assert "".join(again.stream([("system", "ask"), ("user", "q")])) == text
        limits_after = [r.body.get("max_tokens") for r in server.requests[len(limits):]]
    assert text.startswith("我们来聊聊") and MARK not in text
    assert limits == [400, capabilities.REASONING_MIN_TOKENS] and limits_after == [capabilities.REASONING_MIN_TOKENS]


# --------------------------------------------------------------------------- failures

def test_429_retry_after_is_honoured(tmp_path):
    with FakeOpenAI([Reply(status=429, retry_after=0.6)], default="好的") as server:
        client = ChatClient(settings_for(server, tmp_path, key=None), retry=FAST)
        assert client.complete([("user", "x")]) == "好的"
        t = [r.received_at for r in server.requests]
    assert len(t) == 2 and t[1] - t[0] >= 0.6           # the backoff alone would be 0.01 s


@pytest.mark.parametrize("provider", sorted(PROVIDERS))
def test_unknown_model_is_one_clear_message_not_a_retry_storm(tmp_path, provider):
    with FakeOpenAI(script=provider_model, provider=provider) as server:
        settings = settings_for(server, tmp_path, MIANSHI_MODEL="no-such-model")
        interviewer = LLMInterviewer(ChatClient(settings, temperature=0.7, retry=FAST))
        grader = LLMGrader.from_settings(settings, fallback=NoFallback(), retry=FAST)
        engine = InterviewEngine(TwoCards(), interviewer, grader, settings=settings)
        state = engine.start(SessionConfig(n_questions=2, seed=1, followups=False))
        events = list(engine.open(state)) + list(engine.answer(state, GOOD)) + list(engine.answer(state, GOOD))
        n = len(server.requests)
    notices = [e.turn.text for e in events if e.type == "notice" and "模型" in e.turn.text]
    assert n == 1, f"{n} requests for a model that does not exist"
    assert notices and all("model 'no-such-model' does not exist" in t and "MIANSHI_MODEL" in t for t in notices)
    assert state.phase.value == "finished"                  # the interview still went on, offline


def test_a_wrong_key_is_not_retried(tmp_path):
    with FakeOpenAI(provider="openai") as server:
        client = ChatClient(settings_for(server, tmp_path, key="sk-wrong"), retry=FAST)
        with pytest.raises(EndpointError) as info:
            list(client.stream([("user", "x")]))
        with pytest.raises(EndpointError):
            client.complete([("user", "x")])
        assert len(server.requests) == 1
    assert info.value.kind == "bad_key" and "sk-wrong" not in info.value.reason


# --------------------------------------------------------------------------- the whole interview, per provider

def _texts(chat) -> str:
    return "\n".join(str(m.get("content")) for m in chat)


@pytest.mark.slow
@pytest.mark.parametrize("provider", sorted(PROVIDERS))
def test_whole_interview_over_the_api_against_each_provider(tmp_path, bank_settings, bank, provider):
    from interviewer.bench.common import HttpApi, copy_built_bank, new_browser, start_args
    from interviewer.store import TranscriptStore
    from interviewer.testing.app_server import AppServer

    data = tmp_path / "data"
    copy_built_bank(bank_settings.data_dir, data)
    with FakeOpenAI(script=provider_model, provider=provider) as server:
        env = {"MIANSHI_INTERVIEWER": "llm", "OPENAI_BASE_URL": server.base_url, "MIANSHI_MODEL": server.model,
               "MIANSHI_LLM_TIMEOUT": "10", "MIANSHI_PRICE_PER_MTOK": "0.5,2"}
        if PROVIDERS[provider].needs_key:
            env["OPENAI_API_KEY"] = server.api_key          # Ollama and vLLM: no key at all
        with AppServer(data, **env) as app:
            api = HttpApi(app.url)
            try:
                v = api.call("/start", *start_args(2, True, new_browser()))
                views = [v]
                bs = v["browser"]
                for _ in range(8):
                    if bs["state"]["phase"] == "finished":
                        break
                    v = api.call("/answer", "我觉得主要是工程上的取舍。", bs)
                    views.append(v)
                    bs = v["browser"]
                    if "/grades" in api._state_slots or "grades" in api._state_slots:
                        v = api.call("/grades", bs)
                        views.append(v)
                        bs = v["browser"]
                interview_requests = list(server.requests)
                review = api.call("/open_session", bs["session_id"], bs)["chat"]
                # The status line's "check the model" control, on the same running app.
                check = api.call("/check_model")["chat"]
            finally:
                api.close()
        log = app.log()
    state = bs["state"]
    assert state["phase"] == "finished", log
    kinds = [t["kind"] for t in state["turns"]]
    assert kinds.count("question") == 2 and kinds.count("followup") >= 1
    assert not [t["text"] for t in state["turns"] if t["kind"] == "notice" and "模型" in t["text"]]
    for rec in state["records"].values():
        g = rec["grade"]
        assert g and g["status"] == "graded" and g["provenance"]["grader"] == "llm", g
        assert g["provenance"]["fallback_reason"] is None
        assert {c["score"] for c in g["criteria"]} == {8}
    assert "ms-overall" in v["report"]
    # Tokens and cost in the report and the review (part 4).
    usage = state["usage"]["calls"]
    assert len(usage) == len([r for r in interview_requests if r.status == 200])
    assert "ms-usage" in v["report"] and "费用" in v["report"] and "ms-usage" in review
    mode = "json_mode" if provider.startswith("deepseek") else "json_schema"
    assert "ms-check-ok" in check and f"structured output: {mode}" in check and "first token:" in check
    assert (server.api_key or "sk-test") not in check
    everything = json.dumps(views, ensure_ascii=False)
    assert MARK not in everything and "&lt;think" not in everything and "<think" not in everything
    store = TranscriptStore(data / "mianshi.sqlite3", readonly=True)
    try:
        rec = store.get_session(bs["session_id"])
    finally:
        store.close()
    assert MARK not in rec.model_dump_json()
    assert "Traceback" not in log, log
    # What was refused was refused once per endpoint, not once per call.
    refusals = [r for r in interview_requests if r.status == 400]
    expected = {"openai": 0, "openai-reasoning": 2, "deepseek": 1, "deepseek-reasoner": 1, "ollama": 0, "vllm": 0}
    assert len(refusals) == expected[provider], [(r.status, r.response_format) for r in interview_requests]
