"""Mianshi 面试 — the Gradio app. Runs unchanged locally and as a Hugging Face Space.

    python app.py            # http://127.0.0.1:7860, offline, no configuration

Host and port come from GRADIO_SERVER_NAME / GRADIO_SERVER_PORT (Spaces sets 0.0.0.0:7860);
data dir and model settings from the MIANSHI_* / OPENAI_* variables (see README).
"""

from __future__ import annotations

import gc
import os

# Start-up allocates a great many long-lived objects (gradio's import alone is hundreds of
# thousands); the cyclic collector ran ten full passes over them (1.4 s, measured) and found next
# to no garbage. It is switched back on in main(), once they are frozen.
gc.disable()

# Before gradio is imported: no usage reporting from a self-hosted interviewer.
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
# Gradio's queue rebuilds a pandas summary of its last 10,000 events after every event, for a
# monitoring dashboard this app does not enable: 4-17 ms of CPU per event (measured), growing
# with uptime. Summarise rarely, and keep fewer events.
os.environ.setdefault("GRADIO_ANALYTICS_CACHE_FREQUENCY", "100000")
os.environ.setdefault("GRADIO_ANALYTICS_MAX_EVENTS", "1000")

from interviewer.config import Settings  # noqa: E402
from interviewer.ui.app import build_app, launch_kwargs  # noqa: E402
from interviewer.ui.services import build_services  # noqa: E402


def main() -> None:
    settings = Settings.from_env()
    # The bank is opened (built on first run) once, here, and shared read-only by all sessions.
    services = build_services(settings)
    demo = build_app(settings, services)
    # Gradio's default is one event at a time across all users; an interview mostly waits on
    # the candidate, so many sessions can stream at once.
    demo.queue(default_concurrency_limit=int(os.environ.get("MIANSHI_CONCURRENCY", "32")))
    demo.launch(
        server_name=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
        server_port=int(os.environ.get("GRADIO_SERVER_PORT", "7860")),
        show_error=True,
        footer_links=["api"],
        prevent_thread_lock=True,
        **launch_kwargs(),
    )
    # Everything built so far (the bank, Gradio, the model clients) lives as long as the process.
    # Frozen, the cyclic garbage collector stops re-scanning it: its full collections took
    # 100-270 ms each (measured), stalling every request in flight; now ~13 ms.
    gc.collect()
    gc.freeze()
    gc.enable()
    demo.block_thread()


if __name__ == "__main__":
    main()
