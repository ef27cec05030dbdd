"""Shared helpers of the benchmark and the load test: the answer fixture, Gradio API calls,
percentiles, a fake model that answers the app's prompts, and memory of a process tree.

Traffic goes only to 127.0.0.1 (the app and the fake model are started here, on free ports).
"""

from __future__ import annotations

import json
import random
import re
import uuid
from pathlib import Path

ANSWERS_FILE = Path(__file__).with_name("answers.json")
VIEW = ("chat", "cards", "report", "report_md", "report_json", "answer_box", "browser")


def load_answers(path: Path = ANSWERS_FILE) -> list[str]:
    answers = json.loads(Path(path).read_text(encoding="utf-8"))
    if not answers or not all(isinstance(a, str) and a.strip() for a in answers):
        raise ValueError(f"{path}: expected a non-empty JSON list of answers")
    return answers


def answer_of_length(answers: list[str], n_chars: int, rng: random.Random) -> str:
    """A realistic answer of exactly n_chars: fixture answers in a random order, joined, cut.

    Every sentence of every call is new text, so the embedder's cache never turns a measurement
    into a lookup.
    """
    parts: list[str] = []
    pool = list(answers)
    while sum(map(len, parts)) < n_chars:
        rng.shuffle(pool)
        parts.extend(pool)
    # The grader embeds sentence by sentence and the embedder caches by text: a sample-specific
    # number in front of every sentence keeps each one new, as a real candidate's would be.
    text = re.sub(r"(?<=[。；！？])", lambda m: f"第{rng.randrange(10**5)}点，", "".join(parts))
    return (f"第{rng.randrange(10**5)}点，" + text)[:n_chars]


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100) of a non-empty list."""
    if not values:
        return float("nan")
    xs = sorted(values)
    k = max(0, min(len(xs) - 1, int(round(p / 100 * len(xs) + 0.5)) - 1))
    return xs[k]


def new_browser() -> dict:
    return {"browser_id": uuid.uuid4().hex, "session_id": None, "state": None}


def client(url: str, download_dir: Path | None = None):
    from gradio_client import Client

    kw = {"download_files": str(download_dir)} if download_dir else {}
    return Client(url, verbose=False, **kw)


def call(c, api: str, *args) -> dict:
    return dict(zip(VIEW, c.predict(*args, api_name=api)))


class HttpApi:
    """The app's Gradio HTTP API called directly: POST /gradio_api/call/<name>, then read its
    event stream to the `complete` event.

    Turn latencies are timed with this rather than gradio_client, whose result loop polls its
    message queue every 50 ms: measured here, that adds about 120 ms to every call of even a
    trivial endpoint (gradio_client 140-160 ms against 13-21 ms for the same call over HTTP), so
    it would measure the client's sleep, not the app. This is the same API, the same queue and
    the same server-sent events a browser gets.
    """

    def __init__(self, url: str, timeout: float = 120.0):
        import httpx

        self._http = httpx.Client(base_url=url.rstrip("/"), timeout=timeout)
        # One Gradio session per simulated browser tab, as a page keeps one (and gradio_client).
        self._session_hash = uuid.uuid4().hex
        # The HTTP API returns a slot for every output, gr.State ones included (as null);
        # gradio_client drops those, and VIEW names what it returns. Find them in the config.
        config = self._http.get("/config").json()
        kinds = {c["id"]: c.get("type") for c in config["components"]}
        self._state_slots = {
            dep["api_name"]: [i for i, cid in enumerate(dep["outputs"]) if kinds.get(cid) == "state"]
            for dep in config["dependencies"] if dep.get("api_name")}

    def call(self, api: str, *args) -> dict:
        return self.call_until(api, *args)[1]

    def call_until(self, api: str, *args, until=None) -> tuple[float | None, dict]:
        """Call and read the event stream to the end; also return the seconds from sending the
        call to the first streamed view for which until(view) is true (None if none was)."""
        import time

        name = api.lstrip("/")
        drop = set(self._state_slots.get(name, ()))

        def as_view(values) -> dict:
            return dict(zip(VIEW, [v for i, v in enumerate(values) if i not in drop]))

        started = time.perf_counter()
        matched: float | None = None
        resp = self._http.post(f"/gradio_api/call/{name}",
                               json={"data": list(args), "session_hash": self._session_hash})
        resp.raise_for_status()
        event_id = resp.json()["event_id"]
        event, data = None, None
        with self._http.stream("GET", f"/gradio_api/call/{name}/{event_id}") as stream:
            for line in stream.iter_lines():
                if line.startswith("event:"):
                    event = line[6:].strip()
                elif line.startswith("data:") and event == "generating" and until is not None and matched is None:
                    if until(as_view(json.loads(line[5:].strip()))):
                        matched = time.perf_counter() - started
                elif line.startswith("data:") and event in ("complete", "error"):
                    data = line[5:].strip()
                    break
        if event != "complete" or data is None:
            raise RuntimeError(f"{api} failed: {event}: {data}")
        view = as_view(json.loads(data))
        if until is not None and matched is None and until(view):
            matched = time.perf_counter() - started
        return matched, view

    def close(self) -> None:
        self._http.close()


def start_args(n_questions: int, followups: bool, bs: dict, language: str = "zh") -> tuple:
    # topics, sections, n_questions, followups, language, weak_spots, browser state
    return ([], [], n_questions, followups, language, False, bs)


def rss_tree(pid: int) -> int:
    """Resident memory (bytes) of a process and all its children."""
    import psutil

    proc = psutil.Process(pid)
    total = proc.memory_info().rss
    for child in proc.children(recursive=True):
        try:
            total += child.memory_info().rss
        except psutil.Error:
            pass
    return total


# ------------------------------------------------------------------------- fake model

def grade_reply(request) -> str:
    """A valid structured grade for the app's grading prompt: one score per criterion id and one
    verdict per numbered key point, read from the prompt the server received."""
    user = request.body["messages"][-1]["content"]
    ids = re.findall(r"^- (\w+): ", user, re.MULTILINE)
    n_points = len(re.findall(r"^\d+\. ", user.split("Criteria")[0].split("key points")[-1], re.MULTILINE))
    out = {"criteria": [{"criterion": c, "score": 7, "reason": "基本正确"} for c in ids],
           "key_points": [{"index": i + 1, "status": "covered", "evidence": ""} for i in range(n_points)],
           "summary": "回答覆盖了主要要点。"}
    return json.dumps(out, ensure_ascii=False)


def fake_model_script(request):
    """Grading requests (structured output) get a grade; everything else a phrased question."""
    if request.response_format is not None:
        return grade_reply(request)
    return "好的，我们来看下一个问题：请结合你的经验谈谈这个问题，先说核心思路，再说细节。"


def copy_built_bank(src_data_dir: Path, dst_data_dir: Path) -> None:
    """Give a fresh data dir an already built question bank (its Chroma dir and snapshot), so an
    app started on it opens the bank instead of embedding every card again (tests save ~25 s)."""
    import shutil

    dst = Path(dst_data_dir)
    dst.mkdir(parents=True, exist_ok=True)
    shutil.copytree(Path(src_data_dir) / "chroma", dst / "chroma")
