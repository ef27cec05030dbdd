"""Every trick the app plays for speed, in one place, so none of them surprises a reader elsewhere.

Why: an interview turn has a latency budget, and on a small shared machine (a Space has two
cores) Gradio's own bookkeeping, the cyclic garbage collector and thread hand-offs cost more than
the interview's own work. Each trick below removes one such cost; BENCHMARKS.md has the figures.

- Gradio's analytics: usage reporting off, and its queue summary (rebuilt after every event for a
  dashboard this app does not use) computed rarely. Environment variables, so this module must be
  imported before gradio is (app.py does so first).
- Garbage collection: off during start-up, then everything start-up built is frozen, so full
  collections stop re-scanning it (`startup_gc_off`, `freeze_startup`).
- One job thread per event (`serve`): handlers are async generators that forward what a blocking
  job produces, instead of a sync generator that costs a worker-thread hand-off per item.
- Views in wire form (`wire_chat`): the chat is post-processed in the job's thread, and the
  interview events run with Gradio's pre/postprocessing off (`RAW_EVENT`).
- Previews timed to the model (`before_model_request`): a preview is sent when the engine's next
  request to the model goes out, so Gradio's work on it overlaps the model's wait.
"""

from __future__ import annotations

import asyncio
import contextvars
import gc
import os
import threading
from typing import TYPE_CHECKING, Any

# gradio is imported lazily in this module: app.py imports it first, so that the settings below
# and the garbage-collector switch come before gradio's import.
if TYPE_CHECKING:
    import gradio as gr

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("GRADIO_ANALYTICS_CACHE_FREQUENCY", "100000")
os.environ.setdefault("GRADIO_ANALYTICS_MAX_EVENTS", "1000")

# Seconds between re-renders of a streamed message.
STREAM_INTERVAL = 0.05
# Event options of the interview actions: their inputs (a text, the browser state's JSON, a
# gr.State) need no preprocessing and their outputs are already in wire form.
COMMON_EVENT = dict(concurrency_limit="default", postprocess=False)
RAW_EVENT = dict(COMMON_EVENT, preprocess=False)


def startup_gc_off() -> None:
    """Start-up allocates a great many long-lived objects; collecting during it finds next to none."""
    gc.disable()


def freeze_startup() -> None:
    """Freeze what start-up built (it lives as long as the process) and switch collection back on."""
    gc.collect()
    gc.freeze()
    gc.enable()


def wire_chat(chatbot: gr.Chatbot | None, messages: list[dict]) -> Any:
    """What Gradio's own postprocessing would send for the chat, made here in the job's thread."""
    if chatbot is None:
        return messages
    return chatbot.postprocess(messages).model_dump()


async def serve(job, *args):
    """Run a blocking job in a thread of its own and yield its previews and its final view.

    The job is called as job(*args, publish=publish); publish("view", v) sends a preview (the
    latest replaces any not yet sent), publish("warning", text) shows a toast, and the job's
    return value is the final view.
    """
    import gradio as gr

    loop = asyncio.get_running_loop()
    feed: asyncio.Queue = asyncio.Queue()

    def publish(kind: str, item: Any) -> None:  # from the job's thread
        loop.call_soon_threadsafe(feed.put_nowait, (kind, item))

    def work() -> None:
        try:
            publish("final", job(*args, publish=publish))
        except BaseException as exc:  # raised from the handler, where Gradio shows it
            publish("error", exc)

    threading.Thread(target=contextvars.copy_context().run, args=(work,), name="mianshi-event",
                     daemon=True).start()
    while True:
        batch = [await feed.get()]
        while not feed.empty():
            batch.append(feed.get_nowait())
        preview = None
        for kind, item in batch:
            if kind == "warning":
                gr.Warning(item)
            elif kind == "error":
                raise item
            elif kind == "final":
                yield item
                return
            else:
                preview = item
        if preview is not None:
            yield preview
