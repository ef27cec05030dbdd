"""Issue 14, items 3 and 4: what the app serves as files, and what it takes.

Deleting a session used to leave its Markdown/JSON downloadable from Gradio's cache (a copy per
open or download), and export folders in the temp dir outlived a killed process. Now files are
served from one place under the data dir, deleting a session removes every copy, and a start
sweeps what a killed process left. Uploads are refused above the stated limit before they are
stored. The real app in a subprocess, over HTTP.
"""

from __future__ import annotations

import os
import signal

import httpx
import pytest

from interviewer.bench.common import HttpApi, copy_built_bank, new_browser, start_args
from interviewer.testing.app_server import AppServer

pytestmark = pytest.mark.slow

ALL = "全部 / all"


def file_urls(values) -> list[str]:
    """The URLs of the files in some outputs (plain file data or property updates)."""
    out = []
    for v in values:
        if isinstance(v, dict) and v.get("__type__") == "update":
            v = v.get("value")
        if isinstance(v, dict) and v.get("url"):
            out.append(v["url"])
    return out


def test_deleting_a_session_removes_every_served_copy_and_a_start_sweeps(tmp_path, bank, bank_settings):
    data = tmp_path / "data"
    copy_built_bank(bank_settings.data_dir, data)
    app = AppServer(data).start()
    try:
        api = HttpApi(app.url)
        bs = api.call("/start", *start_args(1, False, new_browser()))["browser"]
        bs = api.call("/answer", "LoRA 的 B 矩阵初始化为 0，训练开始时增量为零。", bs)["browser"]
        bs = api.call("/end", bs)["browser"]
        sid = bs["session_id"]
        urls = file_urls(api.call("/downloads", bs).values())
        for _ in range(2):  # each open used to cache another copy
            urls += file_urls(api.call("/open_session", sid, bs).values())
        assert len(urls) == 6
        with httpx.Client(timeout=30) as http:
            assert all(http.get(u).status_code == 200 for u in urls)
            served = [p for p in (data / "served").rglob("*") if p.is_file() and sid in p.name]
            assert len(served) == 2, served                 # one file per format, served where written
            api.call("/delete_session", sid, ALL, 0, bs)
            assert [http.get(u).status_code >= 400 for u in urls] == [True] * 6
        assert not [p for p in (data / "served").rglob("*") if sid in p.name]
        assert not [p for p in data.rglob("*") if sid in p.name and p.suffix in (".md", ".json")]

        # A killed process leaves its files; the next start sweeps them.
        api.call("/downloads", api.call("/end", api.call("/start", *start_args(1, False, new_browser()))
                                        ["browser"])["browser"])
        left = [p for p in (data / "served").rglob("*") if p.is_file()]
        assert left
        os.killpg(app.proc.pid, signal.SIGKILL)
        app.proc.wait(timeout=10)
    finally:
        app.stop()
    again = AppServer(data).start()
    try:
        assert not [p for p in left if p.exists()]
    finally:
        again.stop()


def test_uploads_over_the_limit_are_refused_before_they_are_stored(tmp_path, bank, bank_settings):
    data = tmp_path / "data"
    copy_built_bank(bank_settings.data_dir, data)
    with AppServer(data) as app, httpx.Client(base_url=app.url, timeout=120) as http:
        config = http.get("/config").text
        assert "20 MB" in config                                # the limit is said in the UI
        big = b"[" + b" " * (21 * 2**20) + b"]"
        r = http.post("/gradio_api/upload", files={"files": ("big.json", big, "application/json")})
        assert r.status_code == 413, r.text[:200]
        stored = [p for p in tmp_path.rglob("*") if p.is_file() and p.stat().st_size > 2**20
                  and "chroma" not in p.parts]
        assert stored == []
