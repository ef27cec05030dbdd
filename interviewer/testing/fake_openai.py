"""A real local HTTP server speaking the OpenAI chat-completions API, for tests and benchmarks.

It listens on 127.0.0.1 on a random port, so the real openai / langchain-openai clients talk to
it over real HTTP: timeouts, retries, SSE parsing and error mapping are exercised for real.

    with FakeOpenAI(replies=["你好", Reply(status=500), Reply(content='{"a": 1}')]) as server:
        settings = Settings.from_env({"OPENAI_BASE_URL": server.base_url, "OPENAI_API_KEY": "dummy"})
        ...
        server.requests[0].body["messages"]

Replies come from a queue (consumed in order) or from a callable on the request; when both are
exhausted the `default` reply is used. Faults are replies too: a status code (500, 429 with
Retry-After, 400), a delay or a hang, a malformed JSON body, or a stream cut mid-way.
"""

from __future__ import annotations

import json
import socket
import sys
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    """One scripted response.

    content: assistant text (for streaming it is split into `chunks` pieces unless given).
    status: HTTP status; non-2xx sends an OpenAI-style error body.
    delay: seconds to wait before answering (a hang is a delay longer than the client timeout).
    malformed: send a 200 whose body is not valid JSON.
    drop_after: streaming only: send this many content chunks, then cut the connection.
    """

    content: str = "好的。"
    status: int = 200
    delay: float = 0.0
    retry_after: float | None = None
    malformed: bool = False
    drop_after: int | None = None
    chunks: list[str] | None = None
    error_message: str = "fake error"
    finish_reason: str = "stop"


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    raw: bytes
    received_at: float = field(default_factory=time.monotonic)
    # Seconds the server spent on this request, from reading its body to the last byte of the
    # reply (the model's own time, delay included); None until the reply is complete.
    served: float | None = None

    @property
    def text(self) -> str:
        """The request body as text (for 'is the fence in what the server received' checks)."""
        return self.raw.decode("utf-8", errors="replace")

    @property
    def response_format(self) -> str | None:
        fmt = self.body.get("response_format")
        return fmt.get("type") if isinstance(fmt, dict) else None


Script = Callable[[Request], "Reply | str | None"]


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, *args, **kwargs):
        self.open_connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(*args, **kwargs)

    def process_request_thread(self, request, client_address):
        with self.connections_lock:
            self.open_connections.add(request)
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self.connections_lock:
                self.open_connections.discard(request)

    def drop_connections(self) -> None:
        """Cut every open connection, as a server that goes away does (keep-alive ones included)."""
        with self.connections_lock:
            connections = list(self.open_connections)
        for conn in connections:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def handle_error(self, request, client_address) -> None:
        # A client closing its keep-alive connection (or a test cutting one) is normal here;
        # anything else is still printed.
        if not isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
            super().handle_error(request, client_address)


def _split(text: str, n: int = 4) -> list[str]:
    if not text:
        return [""]
    size = max(1, -(-len(text) // n))
    return [text[i:i + size] for i in range(0, len(text), size)]


class FakeOpenAI:
    def __init__(self, replies: Iterable[Reply | str] = (), *, script: Script | None = None,
                 default: Reply | str | None = None, delay: float = 0.0,
                 reject_json_schema: bool = False, reject_json_mode: bool = False, model: str = "fake-model"):
        self._queue: deque[Reply | str] = deque(replies)
        self._script = script
        self._default = default if default is not None else Reply()
        self.delay = delay  # added to every reply: the benchmark measures overhead above it
        self.reject_json_schema = reject_json_schema
        self.reject_json_mode = reject_json_mode
        self.model = model
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._address: tuple[str, int] | None = None

    # ----------------------------------------------------------------- lifecycle

    @property
    def base_url(self) -> str:
        assert self._address is not None, "server not started"
        host, port = self._address
        return f"http://{host}:{port}/v1"

    def start(self, port: int = 0) -> FakeOpenAI:
        """Serve on 127.0.0.1 (a free port, or `port`: a restart after stop(), retried for a
        few seconds while the old socket is released)."""
        self._stop.clear()
        deadline = time.monotonic() + 5
        while True:
            try:
                self._server = _QuietServer(("127.0.0.1", port), self._handler_class())
                break
            except OSError:
                if not port or time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        self._address = self._server.server_address[:2]  # kept after stop() for assertions
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="fake-openai", daemon=True)
        self._thread.start()
        return self

    def restart(self) -> FakeOpenAI:
        """Serve again on the same address after stop() (a model endpoint that came back)."""
        return self.start(port=self._address[1])

    def stop(self) -> None:
        self._stop.set()  # releases handlers that are "hanging"
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            # Handler threads would otherwise go on serving the clients' keep-alive connections.
            self._server.drop_connections()
            self._server = None

    def __enter__(self) -> FakeOpenAI:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def push(self, *replies: Reply | str) -> None:
        with self._lock:
            self._queue.extend(replies)

    # ----------------------------------------------------------------- scripting

    def _next_reply(self, request: Request) -> Reply:
        with self._lock:
            self.requests.append(request)
            reply: Reply | str | None = None
            if self._script is not None:
                reply = self._script(request)
            if reply is None and self._queue:
                reply = self._queue.popleft()
            if reply is None:
                reply = self._default
        return Reply(content=reply) if isinstance(reply, str) else reply

    def _handler_class(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # TCP_NODELAY, as real API servers set it: without it the small writes of a chunked
            # stream wait on delayed ACKs (~40 ms each), which would be counted as app overhead.
            disable_nagle_algorithm = True

            def log_message(self, *args):  # keep test output clean
                return None

            def do_GET(self):
                if self.path.rstrip("/").endswith("/models"):
                    self._json(200, {"object": "list", "data": [{"id": fake.model, "object": "model"}]})
                else:
                    self._json(404, {"error": {"message": "not found", "type": "invalid_request_error"}})

            def do_POST(self):
                started = time.perf_counter()
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw or b"{}")
                except json.JSONDecodeError:
                    body = {}
                request = Request("POST", self.path, {k.lower(): v for k, v in self.headers.items()}, body, raw)
                if not self.path.rstrip("/").endswith("/chat/completions"):
                    with fake._lock:
                        fake.requests.append(request)
                    self._json(404, {"error": {"message": f"unknown path {self.path}",
                                               "type": "invalid_request_error"}})
                    return
                fmt = request.response_format
                if ((fmt == "json_schema" and fake.reject_json_schema)
                        or (fmt == "json_object" and fake.reject_json_mode)):
                    # Rejected like a provider without that feature; a scripted reply is not used up.
                    with fake._lock:
                        fake.requests.append(request)
                    self._json(400, {"error": {"message": f"response_format {fmt} is not supported by this model",
                                               "type": "invalid_request_error", "param": "response_format",
                                               "code": "invalid_request_error"}})
                    return
                reply = fake._next_reply(request)
                wait = fake.delay + reply.delay
                if wait and fake._stop.wait(wait):
                    return
                try:
                    self._respond(request, reply)
                except (TimeoutError, BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test): nothing to answer
                request.served = time.perf_counter() - started

            # ------------------------------------------------------------- responses

            def _respond(self, request: Request, reply: Reply) -> None:
                if reply.status >= 400:
                    headers = {}
                    if reply.retry_after is not None:
                        headers["Retry-After"] = str(reply.retry_after)
                    kind = "rate_limit_error" if reply.status == 429 else "server_error"
                    self._json(reply.status, {"error": {"message": reply.error_message, "type": kind, "code": kind}},
                               headers)
                    return
                if reply.malformed:
                    payload = b'{"id": "x", "choices": [{"message": {"content": "trunc'
                    self._send(200, payload, "application/json")
                    return
                if request.body.get("stream"):
                    self._stream(request, reply)
                else:
                    self._json(200, self._completion(request, reply))

            def _completion(self, request: Request, reply: Reply) -> dict:
                return {
                    "id": f"chatcmpl-{uuid.uuid4().hex[:12]}", "object": "chat.completion",
                    "created": int(time.time()), "model": request.body.get("model", fake.model),
                    "choices": [{"index": 0, "finish_reason": reply.finish_reason, "logprobs": None,
                                 "message": {"role": "assistant", "content": reply.content, "refusal": None}}],
                    "usage": {"prompt_tokens": len(request.raw) // 4, "completion_tokens": len(reply.content),
                              "total_tokens": len(request.raw) // 4 + len(reply.content)},
                }

            def _stream(self, request: Request, reply: Reply) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Cache-Control", "no-cache")
                # Chunked encoding: a connection cut mid-stream is then a detectable incomplete body.
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                cid = f"chatcmpl-{uuid.uuid4().hex[:12]}"
                model = request.body.get("model", fake.model)

                def event(delta: dict, finish: str | None = None) -> None:
                    data = {"id": cid, "object": "chat.completion.chunk", "created": int(time.time()),
                            "model": model, "choices": [{"index": 0, "delta": delta, "finish_reason": finish,
                                                         "logprobs": None}]}
                    self._chunk(f"data: {json.dumps(data, ensure_ascii=False)}\n\n".encode())

                event({"role": "assistant", "content": ""})
                pieces = reply.chunks if reply.chunks is not None else _split(reply.content)
                for i, piece in enumerate(pieces):
                    if reply.drop_after is not None and i >= reply.drop_after:
                        self.wfile.flush()
                        self.connection.shutdown(socket.SHUT_RDWR)  # no final chunk: incomplete body
                        self.close_connection = True
                        return
                    event({"content": piece})
                event({}, reply.finish_reason)
                self._chunk(b"data: [DONE]\n\n")
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()

            def _chunk(self, data: bytes) -> None:
                self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                self.wfile.flush()

            def _json(self, status: int, payload: dict, headers: dict[str, str] | None = None) -> None:
                self._send(status, json.dumps(payload, ensure_ascii=False).encode(), "application/json", headers)

            def _send(self, status: int, body: bytes, ctype: str, headers: dict[str, str] | None = None) -> None:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)
                self.wfile.flush()

        return Handler
