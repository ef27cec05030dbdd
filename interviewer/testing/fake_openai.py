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

Provider profiles (`FakeOpenAI(provider="deepseek")`, PROVIDERS below) reproduce what real
endpoints document and do: which response formats and parameters they refuse and with which
400, reasoning in `reasoning_content` or inline `<think>`, keyless local servers, a 404 for an
unknown model, a 401 for a wrong key. Latency profiles (`latency=LATENCY["realistic"]`) give
replies a first-token time and a token rate like a hosted model's.
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
    status: int | None = None  # the HTTP status answered
    first_byte: float | None = None  # seconds from receiving the request to the first content token
    usage: dict | None = None  # the usage the reply reported (streams: only when the client asked for it)

    @property
    def text(self) -> str:
        """The request body as text (for 'is the fence in what the server received' checks)."""
        return self.raw.decode("utf-8", errors="replace")

    @property
    def response_format(self) -> str | None:
        fmt = self.body.get("response_format")
        return fmt.get("type") if isinstance(fmt, dict) else None


Script = Callable[[Request], "Reply | str | None"]


@dataclass(frozen=True)
class Provider:
    """Documented behaviour of one kind of OpenAI-compatible endpoint.

    json_schema_error: the 400 message when response_format json_schema is refused (None: accepted).
    json_object: "yes", "no" (400), or "needs_word" (accepted only if a message contains "json").
    reasoning: None, "field" (delta/message `reasoning_content`) or "inline" (`<think>…</think>` first).
    refused_params: parameter -> (400 message, code) for a parameter the endpoint refuses.
    unknown_model: (status, body) for a model it does not serve.
    needs_key: a request without the right Bearer key gets a 401.
    """

    name: str
    model: str
    json_schema_error: str | None = None
    json_object: str = "yes"
    reasoning: str | None = None
    refused_params: dict[str, tuple[str, str]] = field(default_factory=dict)
    temperature_only_default: bool = False
    unknown_model: tuple[int, dict] = (404, {"error": {
        "message": "The model `{model}` does not exist or you do not have access to it.",
        "type": "invalid_request_error", "param": None, "code": "model_not_found"}})
    needs_key: bool = True
    reasoning_tokens: int = 600  # what its reasoning costs; a max_tokens at or below it cuts the reply


_JSON_WORD = ("'messages' must contain the word 'json' in some form, to use 'response_format' of type "
              "'json_object'.")

PROVIDERS: dict[str, Provider] = {p.name: p for p in (
    Provider("openai", "gpt-4o-mini"),
    # o1/o3/o4-mini and gpt-5: max_completion_tokens only; temperature only at its default (1).
    Provider("openai-reasoning", "o3-mini", reasoning="hidden", temperature_only_default=True, refused_params={
        "max_tokens": ("Unsupported parameter: 'max_tokens' is not supported with this model. "
                       "Use 'max_completion_tokens' instead.", "unsupported_parameter")}),
    # DeepSeek: no json_schema; json_object only when the prompt says "json".
    Provider("deepseek", "deepseek-chat", json_schema_error="This response_format type is unavailable now",
             json_object="needs_word",
             unknown_model=(400, {"error": {"message": "Model Not Exist", "type": "invalid_request_error",
                                            "param": None, "code": "invalid_request_error"}})),
    Provider("deepseek-reasoner", "deepseek-reasoner", json_schema_error="This response_format type is unavailable now",
             json_object="needs_word", reasoning="field",
             unknown_model=(400, {"error": {"message": "Model Not Exist", "type": "invalid_request_error",
                                            "param": None, "code": "invalid_request_error"}})),
    # Ollama at /v1: no key; Qwen3 / R1 distills think inline.
    Provider("ollama", "qwen3:8b", reasoning="inline", needs_key=False,
             unknown_model=(404, {"error": {"message": 'model "{model}" not found, try pulling it first',
                                            "type": "api_error", "param": None, "code": None}})),
    # vLLM's OpenAI server: no key unless --api-key; errors are not nested under "error".
    Provider("vllm", "Qwen/Qwen3-8B", reasoning="inline", needs_key=False,
             unknown_model=(404, {"object": "error", "message": "The model `{model}` does not exist.",
                                  "type": "NotFoundError", "param": None, "code": 404})),
)}


@dataclass(frozen=True)
class Latency:
    """How long a model takes: first token of a stream, then tokens per second; a whole
    non-streamed (grading) reply; and reasoning time before the answer starts."""

    first_token: float = 0.0
    tokens_per_second: float | None = None
    complete: float = 0.0
    reasoning: float = 0.0


LATENCY: dict[str, Latency] = {
    "none": Latency(),
    # A hosted chat model: first token after 0.8 s, then 50 tokens/s; a grading reply in 3 s.
    "realistic": Latency(first_token=0.8, tokens_per_second=50.0, complete=3.0),
    # A reasoning model: 20 s of thinking before a grade.
    "reasoning": Latency(first_token=0.8, tokens_per_second=50.0, complete=20.0),
}

REASONING_TEXT = "REASONING-TRACE 让我想想……候选人说的对吗？{\"criteria\": [], \"summary\": \"REASONING-TRACE\"} "


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
                 reject_json_schema: bool = False, reject_json_mode: bool = False, model: str | None = None,
                 provider: str | Provider | None = None, latency: Latency | str | None = None,
                 api_key: str | None = None, strict_model: bool | None = None):
        self._queue: deque[Reply | str] = deque(replies)
        self._script = script
        self._default = default if default is not None else Reply()
        self.delay = delay  # added to every reply: the benchmark measures overhead above it
        self.reject_json_schema = reject_json_schema
        self.reject_json_mode = reject_json_mode
        self.provider = PROVIDERS[provider] if isinstance(provider, str) else provider
        self.model = model or (self.provider.model if self.provider else "fake-model")
        self.latency = LATENCY[latency] if isinstance(latency, str) else (latency or Latency())
        # The key a request must carry (401 otherwise); a provider that needs one gets "sk-test".
        self.api_key = api_key if api_key is not None else (
            "sk-test" if self.provider is not None and self.provider.needs_key else None)
        # Only this model is served (404/400 for another): on with a provider profile.
        self.strict_model = strict_model if strict_model is not None else self.provider is not None
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

    # ----------------------------------------------------------------- provider behaviour

    @property
    def _reasoning(self) -> str | None:
        return self.provider.reasoning if self.provider is not None else None

    def _content(self, text: str, request: Request | None = None) -> str:
        """The reply's content as the provider sends it (inline reasoning first; nothing but
        reasoning when the token limit does not leave room for an answer)."""
        if request is not None and self._cut(request):
            return f"<think>\n{REASONING_TEXT}" if self._reasoning == "inline" else ""
        if self._reasoning == "inline":
            return f"<think>\n{REASONING_TEXT}\n</think>\n\n{text}"
        return text

    def _cut(self, request: Request) -> bool:
        """The request's token limit is used up by reasoning before the answer begins."""
        limit = request.body.get("max_completion_tokens", request.body.get("max_tokens"))
        return (self._reasoning is not None and limit is not None and self.provider is not None
                and int(limit) <= self.provider.reasoning_tokens)

    def usage(self, request: Request, content: str) -> dict:
        """Token counts of a reply (a token ~ 4 bytes of prompt, 2 characters of reply); reasoning
        is counted in completion_tokens, as providers do, and broken out in its details."""
        reasoning = self.provider.reasoning_tokens if self._reasoning in ("field", "inline", "hidden") else 0
        prompt, completion = len(request.raw) // 4, -(-len(content) // 2) + reasoning
        if self._cut(request):
            limit = int(request.body.get("max_completion_tokens", request.body.get("max_tokens")))
            reasoning = completion = limit
        request.usage = {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion,
                         "completion_tokens_details": {"reasoning_tokens": reasoning}}
        return request.usage

    def _refusal(self, request: Request) -> tuple[int, dict] | None:
        """(status, body) when the request is refused before any reply, as the provider would."""
        def bad(message: str, param: str | None, code: str | None = "invalid_request_error") -> tuple[int, dict]:
            return 400, {"error": {"message": message, "type": "invalid_request_error", "param": param,
                                   "code": code}}

        if self.api_key is not None and request.headers.get("authorization") != f"Bearer {self.api_key}":
            return 401, {"error": {"message": "Incorrect API key provided. You can find your API key at "
                                              "https://platform.openai.com/account/api-keys.",
                                   "type": "invalid_request_error", "param": None, "code": "invalid_api_key"}}
        model = str(request.body.get("model", ""))
        if self.strict_model and model != self.model:
            status, body = (self.provider.unknown_model if self.provider is not None
                            else Provider("x", "x").unknown_model)
            return status, json.loads(json.dumps(body).replace("{model}", model.replace('"', "")))
        p = self.provider
        if p is None:
            return None
        for param, (message, code) in p.refused_params.items():
            if param in request.body:
                return bad(message, param, code)
        temp = request.body.get("temperature")
        if p.temperature_only_default and temp is not None and temp != 1:
            return bad(f"Unsupported value: 'temperature' does not support {temp} with this model. "
                       "Only the default (1) value is supported.", "temperature", "unsupported_value")
        fmt = request.response_format
        if fmt == "json_schema" and p.json_schema_error:
            return bad(p.json_schema_error, None)
        if fmt == "json_object" and (p.json_object == "no" or (
                p.json_object == "needs_word" and "json" not in json.dumps(request.body.get("messages"),
                                                                           ensure_ascii=False).lower())):
            return bad(_JSON_WORD, "messages")
        return None

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
                self._request = request
                if not self.path.rstrip("/").endswith("/v1/chat/completions"):
                    with fake._lock:
                        fake.requests.append(request)
                    self._json(404, {"error": {"message": f"unknown path {self.path}",
                                               "type": "invalid_request_error"}})
                    return
                refusal = fake._refusal(request)
                if refusal is not None:
                    with fake._lock:
                        fake.requests.append(request)
                    self._json(*refusal)
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
                if reply.status < 400 and not reply.malformed:
                    lat = fake.latency
                    # A stream waits for its first token here (its pace is kept in _stream); a
                    # whole (grading) reply for all of its time.
                    wait += lat.reasoning + (lat.first_token if request.body.get("stream") else lat.complete)
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
                message = {"role": "assistant", "content": fake._content(reply.content, request), "refusal": None}
                if fake._reasoning == "field":
                    message["reasoning_content"] = REASONING_TEXT
                return {
                    "id": f"chatcmpl-{uuid.uuid4().hex[:12]}", "object": "chat.completion",
                    "created": int(time.time()), "model": request.body.get("model", fake.model),
                    "choices": [{"index": 0, "finish_reason": "length" if fake._cut(request) else reply.finish_reason,
                                 "logprobs": None, "message": message}],
                    "usage": fake.usage(request, reply.content),
                }

            def _stream(self, request: Request, reply: Reply) -> None:
                request.status = 200
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
                if fake._reasoning == "field":
                    for piece in _split(REASONING_TEXT):
                        event({"content": None, "reasoning_content": piece})
                rate = fake.latency.tokens_per_second
                content = fake._content(reply.content, request)
                if reply.chunks is not None:
                    pieces = reply.chunks
                elif rate:
                    pieces = [content[i:i + 2] for i in range(0, len(content), 2)] or [""]  # ~a token each
                else:
                    pieces = _split(content)
                for i, piece in enumerate(pieces):
                    if reply.drop_after is not None and i >= reply.drop_after:
                        self.wfile.flush()
                        self.connection.shutdown(socket.SHUT_RDWR)  # no final chunk: incomplete body
                        self.close_connection = True
                        return
                    if rate and i and fake._stop.wait(1 / rate):
                        return
                    if request.first_byte is None:
                        request.first_byte = time.monotonic() - request.received_at
                    event({"content": piece})
                event({}, "length" if fake._cut(request) else reply.finish_reason)
                if (request.body.get("stream_options") or {}).get("include_usage"):
                    self._chunk(f"data: {json.dumps({'id': cid, 'object': 'chat.completion.chunk', 'created': int(time.time()), 'model': model, 'choices': [], 'usage': fake.usage(request, reply.content)})}\n\n".encode())  # noqa: E501
                self._chunk(b"data: [DONE]\n\n")
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()

            def _chunk(self, data: bytes) -> None:
                self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                self.wfile.flush()

            def _json(self, status: int, payload: dict, headers: dict[str, str] | None = None) -> None:
                self._send(status, json.dumps(payload, ensure_ascii=False).encode(), "application/json", headers)

            def _send(self, status: int, body: bytes, ctype: str, headers: dict[str, str] | None = None) -> None:
                request = getattr(self, "_request", None)
                if request is not None:
                    request.status = status
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)
                self.wfile.flush()

        return Handler
