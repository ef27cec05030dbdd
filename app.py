"""Mianshi 面试 — the Gradio app. Runs unchanged locally and as a Hugging Face Space.

    python app.py            # http://127.0.0.1:7860, offline, no configuration

Host and port come from GRADIO_SERVER_NAME / GRADIO_SERVER_PORT (Spaces sets 0.0.0.0:7860);
data dir and model settings from the MIANSHI_* / OPENAI_* variables (see README).
"""

from interviewer.ui import streaming  # first: it configures Gradio before gradio is imported

streaming.startup_gc_off()

from interviewer.ui.app import build_demo, launch  # noqa: E402

# At module level, so Gradio's reload mode (a Space's dev mode) finds it.
demo = build_demo()

if __name__ == "__main__":
    launch(demo)
