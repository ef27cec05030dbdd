"""`python -m interviewer doctor` and the app's "check the model" control (issue 15, part 3): one
tiny request, and for each way it can fail its own message. The key is never shown, logged or stored."""

from __future__ import annotations

import json
import logging
import socket

import pytest

from interviewer.cli import main
from interviewer.config import Settings
from interviewer.llm.doctor import check_model
from interviewer.testing.fake_openai import FakeOpenAI

SECRET = "sk-proj-SECRET0123456789abcdefSECRET"


def settings(base_url: str, data_dir, key: str | None = SECRET, model: str = "gpt-4o-mini") -> Settings:
    env = {"OPENAI_BASE_URL": base_url, "MIANSHI_MODEL": model, "MIANSHI_DATA_DIR": str(data_dir),
           "MIANSHI_INTERVIEWER": "llm", "MIANSHI_LLM_TIMEOUT": "3"}
    if key:
        env["OPENAI_API_KEY"] = key
    return Settings.from_env(env)


def ok_model(request):
    return '{"ok": true}'


@pytest.mark.parametrize("provider,mode", [("openai", "json_schema"), ("deepseek", "json_mode"),
                                           ("ollama", "json_schema"), ("openai-reasoning", "json_schema"),
                                           ("deepseek-reasoner", "json_mode")])
def test_a_working_endpoint_reports_mode_and_first_token(tmp_path, provider, mode):
    with FakeOpenAI(script=ok_model, provider=provider, api_key=SECRET if provider != "ollama" else None) as server:
        result = check_model(settings(server.base_url, tmp_path, model=server.model,
                                      key=None if provider == "ollama" else SECRET))
        first = max(r.first_byte or 0 for r in server.requests)
    assert result.ok and result.reachable and result.model_found, result
    assert result.structured_mode == mode and result.failure is None
    # Inline or field reasoning used up the check's tiny token limit: learnt, and asked again.
    assert result.reasoning == (provider in ("ollama", "deepseek-reasoner"))
    assert result.first_token_ms >= first * 1000 > 0
    assert "\n".join(result.lines()).startswith(f"OK: {server.model} @ 127.0.0.1:")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_each_failure_has_its_own_message_and_the_key_never_appears(tmp_path, caplog, monkeypatch):
    caplog.set_level(logging.DEBUG)
    results = {}
    with FakeOpenAI(script=ok_model, provider="openai", api_key="sk-the-right-one") as server:
        root = server.base_url.removesuffix("/v1")
        results["bad_key"] = check_model(settings(server.base_url, tmp_path))
        server.api_key = SECRET
        results["wrong_url"] = check_model(settings(root + "/api", tmp_path))
        results["unknown_model"] = check_model(settings(server.base_url, tmp_path, model="gpt-9-ultra"))
        requests = len(server.requests)
    results["network"] = check_model(settings(f"http://127.0.0.1:{_free_port()}/v1", tmp_path))
    with FakeOpenAI(script=ok_model, provider="openai", api_key=SECRET, delay=2) as slow:
        results["timeout"] = check_model(settings(slow.base_url, tmp_path).model_copy(update={"llm_timeout": 0.3}))

    assert {k: r.failure for k, r in results.items()} == {k: k for k in results}
    reasons = {k: r.reason for k, r in results.items()}
    assert "API key" in reasons["bad_key"] and "OPENAI_API_KEY" in reasons["bad_key"]
    assert "404" in reasons["wrong_url"] and "OPENAI_BASE_URL" in reasons["wrong_url"]
    assert "'gpt-9-ultra' does not exist" in reasons["unknown_model"] and "MIANSHI_MODEL" in reasons["unknown_model"]
    assert "connection refused" in reasons["network"]
    assert "no answer" in reasons["timeout"]
    assert len(set(reasons.values())) == len(reasons)              # each its own message
    assert results["bad_key"].reachable and not results["network"].reachable
    assert results["unknown_model"].model_found is False
    assert requests == 3                                          # one tiny request each, no retries
    # Never shown, logged or stored.
    shown = json.dumps([r.as_dict() for r in results.values()]) + "\n".join(
        line for r in results.values() for line in r.lines())
    assert SECRET not in shown and SECRET[8:20] not in shown
    assert SECRET not in caplog.text and SECRET[8:20] not in caplog.text
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path


def test_doctor_command_exit_status_and_output(tmp_path, monkeypatch, capsys):
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "MIANSHI_INTERVIEWER", "MIANSHI_MODEL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MIANSHI_DATA_DIR", str(tmp_path))
    assert main(["doctor"]) == 0
    assert "no model configured" in capsys.readouterr().out

    with FakeOpenAI(script=ok_model, provider="deepseek", api_key=SECRET) as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        monkeypatch.setenv("MIANSHI_MODEL", "deepseek-chat")
        monkeypatch.setenv("OPENAI_API_KEY", SECRET)
        assert main(["doctor", "--json"]) == 0
        out = json.loads(capsys.readouterr().out)
        assert out["ok"] and out["structured_mode"] == "json_mode" and out["first_token_ms"] > 0
        monkeypatch.setenv("OPENAI_API_KEY", SECRET[:-4] + "XXXX")
        assert main(["doctor"]) == 1
        text = capsys.readouterr().out
    assert text.startswith("FAILED (bad_key): deepseek-chat @ 127.0.0.1:") and "check OPENAI_API_KEY" in text
    assert SECRET[:-4] not in text


def test_the_doctor_writes_nothing_but_capabilities(tmp_path):
    with FakeOpenAI(script=ok_model, provider="openai-reasoning", api_key=SECRET) as server:
        check_model(settings(server.base_url, tmp_path, model=server.model))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["llm_endpoints.json"]
    assert SECRET not in (tmp_path / "llm_endpoints.json").read_text(encoding="utf-8")
