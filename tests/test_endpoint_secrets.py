"""Issue 14, item 2: a password or key in OPENAI_BASE_URL is never shown. The status line, the
app's /config, every /answer response, the log and the transcript file name the host only.
The real app in a subprocess against a local OpenAI-compatible server.
"""

from __future__ import annotations

import httpx
import pytest

from interviewer.bench.common import HttpApi, copy_built_bank, fake_model_script, new_browser, start_args
from interviewer.config import Settings
from interviewer.testing.app_server import AppServer
from interviewer.testing.fake_openai import FakeOpenAI

PASSWORD = "pw-SECRET-1234"
QUERY_KEY = "qk-SECRET-5678"


@pytest.mark.parametrize("url", [
    f"http://user:{PASSWORD}@models.example.com:8443/v1",
    f"https://models.example.com/v1?api-key={QUERY_KEY}",
    f"https://user:{PASSWORD}@models.example.com/v1?api-key={QUERY_KEY}&v=1",
])
def test_the_status_line_shows_the_host_only(url):
    settings = Settings.from_env({"OPENAI_BASE_URL": url, "MIANSHI_DATA_DIR": "/tmp/unused"})
    assert settings.endpoint_host in ("models.example.com", "models.example.com:8443")
    line = settings.describe_interviewer()
    assert "models.example.com" in line and PASSWORD not in line and QUERY_KEY not in line and "user" not in line


def test_a_key_in_the_query_string_is_scrubbed_like_the_password():
    from interviewer.store import Scrubber

    settings = Settings.from_env({"OPENAI_BASE_URL": f"https://u:{PASSWORD}@h/v1?api-key={QUERY_KEY}",
                                  "MIANSHI_DATA_DIR": "/tmp/unused"})
    scrubbed = Scrubber.from_settings(settings).text(f"error calling https://u:{PASSWORD}@h/v1?api-key={QUERY_KEY}")
    assert PASSWORD not in scrubbed and QUERY_KEY not in scrubbed


@pytest.mark.slow
def test_the_app_never_shows_the_url_secrets(tmp_path, bank, bank_settings):
    data = tmp_path / "data"
    copy_built_bank(bank_settings.data_dir, data)
    with FakeOpenAI(script=fake_model_script) as fake:
        host_port = fake.base_url.split("//")[1].split("/")[0]
        url = f"http://user:{PASSWORD}@{host_port}/v1?api-key={QUERY_KEY}"
        with AppServer(data, MIANSHI_INTERVIEWER="llm", OPENAI_BASE_URL=url, OPENAI_API_KEY="sk-dummy-key-for-test",
                       MIANSHI_MODEL="fake-model", MIANSHI_LLM_TIMEOUT="10") as app:
            seen = [httpx.get(app.url + "config", timeout=30).text]
            assert f"fake-model @ {host_port}" in seen[0]              # the status line, with the host
            api = HttpApi(app.url)
            v = api.call("/start", *start_args(2, False, new_browser()))
            seen.append(repr(v))
            for text in ("KV cache 缓存 key 和 value。", "Pre-Norm 更稳定。"):
                v = api.call("/answer", text, v["browser"])
                seen.append(repr(v))
            assert v["browser"]["state"]["phase"] == "finished"
            seen.append(app.log())
        seen.append((data / "mianshi.sqlite3").read_bytes().decode("utf-8", "replace"))
    for where, text in enumerate(seen):
        assert PASSWORD not in text and QUERY_KEY not in text, f"secret shown in item {where}"
