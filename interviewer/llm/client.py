"""Chat-model client over langchain-openai for any OpenAI-compatible endpoint.

One place decides what a failure is and how often to try again:
- retried (bounded, exponential backoff, Retry-After honoured up to a cap): timeouts, connection
  errors (including a stream cut mid-way), 429, 5xx, a body that is not JSON, and output that
  cannot be parsed;
- not retried: 400 (the request itself is wrong or a feature is unsupported; callers fall back
  to another structured-output mode), 401/403/404.
- adapted once: a 400 that names a parameter we can do without (`temperature`, `max_tokens`) drops
  or renames it, and the endpoint's capabilities remember that (llm/capabilities.py).
- fatal for the endpoint: a rejected key (401/403) or a model that does not exist. One clear
  reason, and for a minute no further requests to that endpoint+model (no retry storm).
Everything that still fails surfaces as LLMError with a short reason for provenance and notices.

Reasoning models: text in `reasoning_content` is never read (langchain-openai leaves it out of
the message) and an inline `<think>…</think>` before the answer is cut off (ThinkFilter); the
tokens they cost are counted all the same, from the usage the endpoint reports.

The openai client's own retries are switched off (max_retries=0) so there is exactly one retry
policy, and its delays are configurable (tests use milliseconds).
"""

from __future__ import annotations

import contextvars
import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import openai
from pydantic import BaseModel, ValidationError

from interviewer.config import Settings
from interviewer.llm.capabilities import Capabilities, book_for

T = TypeVar("T", bound=BaseModel)

DUMMY_KEY = "sk-no-key"  # keyless local servers (Ollama, vLLM) still need a non-empty key header

# Called, when set, as each request to the model is sent (built, about to go on the wire), in the
# thread that makes it. The app sends its interim views from there: Gradio's work on them then
# overlaps the wait for the model instead of competing with building the request for the CPU.
# Per context, so per interview turn.
before_request: contextvars.ContextVar[Callable[[], None] | None] = contextvars.ContextVar(
    "mianshi_before_request", default=None)


def _announce_request(_request: Any = None) -> None:
    hook = before_request.get()
    if hook is not None:
        hook()


@dataclass
class Usage:
    """Tokens of one call as the endpoint reported them (reasoning tokens are part of completion)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    reasoning_tokens: int = 0
    purpose: str = ""

    @classmethod
    def from_metadata(cls, meta: dict | None, purpose: str = "") -> Usage:
        meta = meta or {}
        details = meta.get("output_token_details") or {}
        return cls(int(meta.get("input_tokens") or 0), int(meta.get("output_tokens") or 0),
                   int(details.get("reasoning") or 0), purpose)


# Called, when set, with the Usage of every call that got a reply, in the thread that made it.
# The engine sets it around each interviewer and grader call to add the tokens to the session.
usage_listener: contextvars.ContextVar[Callable[[Usage], None] | None] = contextvars.ContextVar(
    "mianshi_usage_listener", default=None)


def _report_usage(usage: Usage) -> None:
    listener = usage_listener.get()
    if listener is not None and (usage.prompt_tokens or usage.completion_tokens):
        listener(usage)


class LLMError(Exception):
    """The model could not produce a usable reply. `reason` is short and safe to show."""

    def __init__(self, reason: str, retryable: bool = False):
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable


class UnsupportedMode(LLMError):
    """The endpoint rejected the request shape (400), e.g. response_format json_schema."""

    def __init__(self, reason: str, retryable: bool = False, param: str | None = None):
        super().__init__(reason, retryable)
        self.param = param  # the parameter the endpoint named, if it named one


class EndpointError(LLMError):
    """The endpoint cannot serve us at all: a rejected key, a model it does not have, a wrong URL.
    `kind` is bad_key | unknown_model | wrong_url."""

    def __init__(self, reason: str, kind: str):
        super().__init__(reason, retryable=False)
        self.kind = kind


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = 2        # attempts = max_retries + 1
    base_delay: float = 0.5     # seconds before the first retry; doubles each time
    max_delay: float = 8.0      # cap for backoff and for a server's Retry-After

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        backoff = self.base_delay * (2 ** attempt)
        if retry_after is not None:
            backoff = max(backoff, retry_after)
        return min(backoff, self.max_delay)


def classify(exc: BaseException, model: str | None = None) -> LLMError:
    """Map a client exception to an LLMError with a reason and whether a retry may help."""
    if isinstance(exc, LLMError):
        return exc
    if isinstance(exc, openai.APITimeoutError):
        return LLMError("timeout", retryable=True)
    if isinstance(exc, openai.APIConnectionError):
        return LLMError("connection error", retryable=True)
    if isinstance(exc, openai.RateLimitError):
        return LLMError("rate limited (429)", retryable=True)
    if isinstance(exc, (openai.AuthenticationError, openai.PermissionDeniedError)):
        return EndpointError(f"the endpoint rejected the API key (HTTP {exc.status_code}): check OPENAI_API_KEY",
                             "bad_key")
    if isinstance(exc, openai.APIStatusError) and exc.status_code in (400, 404) and _names_missing_model(exc):
        name = f"model '{model}'" if model else "the model"
        return EndpointError(f"{name} does not exist at this endpoint (or this key may not use it): "
                             "check MIANSHI_MODEL", "unknown_model")
    if isinstance(exc, openai.NotFoundError):
        return EndpointError("the endpoint answered 404 for chat/completions: check OPENAI_BASE_URL "
                             "(it usually ends in /v1)", "wrong_url")
    if isinstance(exc, openai.BadRequestError):
        return UnsupportedMode(f"rejected (400): {_short(exc)}", param=_named_param(exc))
    if isinstance(exc, openai.APIStatusError):
        code = exc.status_code
        return LLMError(f"HTTP {code}", retryable=code >= 500 or code in (408, 409))
    if isinstance(exc, (json.JSONDecodeError, ValidationError, ValueError)):
        return LLMError("unparseable response", retryable=True)
    return LLMError(f"{type(exc).__name__}", retryable=False)


def _error_text(exc: BaseException) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        inner = body.get("error") if isinstance(body.get("error"), dict) else body
        return f"{inner.get('message') or ''} {inner.get('code') or ''}".lower()
    return str(getattr(exc, "message", "") or exc).lower()


def _names_missing_model(exc: BaseException) -> bool:
    text = _error_text(exc)
    return "model_not_found" in text or ("model" in text and any(
        w in text for w in ("not exist", "does not exist", "not found", "unknown model", "no such model")))


def _named_param(exc: BaseException) -> str | None:
    """The request parameter a 400 is about: its `param` field, else one named in its message."""
    param = getattr(exc, "param", None)
    if param:
        return str(param).split(".")[0]
    text = _error_text(exc)
    for name in ("max_completion_tokens", "max_tokens", "temperature", "response_format"):
        if re.search(rf"'{name}'|\b{name}\b", text):
            return name
    return None


def _short(exc: BaseException, limit: int = 120) -> str:
    text = getattr(exc, "message", None) or str(exc)
    return text if len(text) <= limit else text[:limit] + "…"


def _retry_after(exc: BaseException) -> float | None:
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    if not headers:
        return None
    try:
        if headers.get("retry-after-ms") is not None:
            return float(headers.get("retry-after-ms")) / 1000
        return float(headers.get("retry-after"))
    except (TypeError, ValueError):
        return None


_THINK_OPEN, _THINK_CLOSE = "<think>", "</think>"


class ThinkFilter:
    """Streamed text with an inline `<think>…</think>` block at its start removed (Qwen3, R1
    distills on Ollama or vLLM). Text that does not start with the tag passes through at once."""

    def __init__(self) -> None:
        self._state = "start"   # start | think | after (the tag closed, answer not begun) | out
        self._buffer = ""

    def push(self, piece: str) -> str:
        """The visible part of the next streamed piece ("" while it is reasoning or undecided)."""
        if self._state == "out":
            return piece
        if self._state == "after":
            piece = piece.lstrip()
            if piece:
                self._state = "out"
            return piece
        self._buffer += piece
        if self._state == "start":
            head = self._buffer.lstrip()
            if not head or _THINK_OPEN.startswith(head):
                return ""  # not yet known
            if not head.startswith(_THINK_OPEN):
                self._state = "out"
                out, self._buffer = self._buffer, ""
                return out
            self._state = "think"
        end = self._buffer.find(_THINK_CLOSE)
        if end == -1:
            return ""
        rest = self._buffer[end + len(_THINK_CLOSE):].lstrip()
        self._buffer = ""
        self._state = "out" if rest else "after"
        return rest

    def finish(self) -> str:
        """What is left at the end: a start that never became a tag is text; an unclosed think is not."""
        out = self._buffer if self._state == "start" else ""
        self._buffer = ""
        return out


def strip_think(text: str) -> str:
    """A whole reply without a leading <think>…</think> block (or the text before a lone </think>)."""
    head = text.lstrip()
    if head.startswith(_THINK_OPEN) or (_THINK_CLOSE in text and _THINK_OPEN not in text):
        end = text.find(_THINK_CLOSE)
        return text[end + len(_THINK_CLOSE):].lstrip() if end != -1 else ""
    return text


@dataclass
class _Down:
    """A fatal endpoint error, remembered so that calls in the next minute fail without a request."""

    error: EndpointError
    until: float


_down: dict[str, _Down] = {}
_down_lock = threading.Lock()
DOWN_SECONDS = 60.0


class ChatClient:
    """A ChatOpenAI with one retry policy. Holds no conversation state; safe to share."""

    def __init__(self, settings: Settings, *, temperature: float = 0.0, timeout: float | None = None,
                 retry: RetryPolicy | None = None, sleep: Callable[[float], None] = time.sleep,
                 max_tokens: int | None = None, capabilities: Capabilities | None = None):
        from langchain_openai import ChatOpenAI

        self.model = settings.model
        self.endpoint_host = settings.endpoint_host
        self.retry = retry or RetryPolicy(max_retries=settings.llm_max_retries)
        self._sleep = sleep
        self.temperature = temperature
        self.max_tokens = max_tokens
        # What this endpoint+model accepts, learnt from its 400s; kept in the data dir.
        self.capabilities = capabilities or book_for(settings.data_dir).get(settings.openai_base_url, settings.model)
        self._down_key = f"{settings.openai_base_url or ''} {settings.model}"
        key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else DUMMY_KEY
        self.chat_model = ChatOpenAI(
            model=settings.model, api_key=key, base_url=settings.openai_base_url,
            timeout=timeout if timeout is not None else settings.llm_timeout,
            # temperature and max_tokens go in each request's body (see _body): what an endpoint
            # accepts is learnt per endpoint, and langchain would rename max_tokens by itself.
            max_retries=0, temperature=None,
            use_responses_api=False,  # chat completions is what every compatible server speaks
            # openai's own default client, plus the hook that tells the app a request is going out.
            http_client=openai.DefaultHttpx2Client(event_hooks={"request": [_announce_request]}),
        )
        self._formats: dict[tuple[type, str], dict] = {}

    # ----------------------------------------------------------------- what goes in the body

    def _body(self, extra: dict | None = None) -> dict:
        body = self.capabilities.params({"temperature": self.temperature, "max_tokens": self.max_tokens})
        if extra:
            body.update(extra)
        return {"extra_body": body} if body else {}

    def _adapt(self, err: LLMError) -> bool:
        """A 400 about a parameter we can leave out or rename: learn it (once) and say to try again."""
        return isinstance(err, UnsupportedMode) and bool(err.param) and self.capabilities.learn_param(err.param)

    def _check_down(self) -> None:
        with _down_lock:
            down = _down.get(self._down_key)
            if down is not None and down.until > time.monotonic():
                raise down.error
            _down.pop(self._down_key, None)

    def _mark_down(self, err: LLMError) -> None:
        if isinstance(err, EndpointError):
            with _down_lock:
                _down[self._down_key] = _Down(err, time.monotonic() + DOWN_SECONDS)

    def forget_failures(self) -> None:
        """Try the endpoint again now (the connection check does, after the settings changed)."""
        with _down_lock:
            _down.pop(self._down_key, None)

    # ----------------------------------------------------------------- retry loop

    def call(self, fn: Callable[[], Any]) -> Any:
        """Run fn with the retry policy; raise LLMError when it keeps failing."""
        self._check_down()
        last: LLMError | None = None
        attempt = 0
        while attempt <= self.retry.max_retries:
            try:
                return fn()
            except Exception as exc:  # classified below: nothing escapes unlabelled
                err = classify(exc, self.model)
                if self._adapt(err):
                    continue  # the same attempt again without (or with a renamed) parameter
                if not err.retryable:
                    self._mark_down(err)
                    raise err from exc
                last = err
                if attempt < self.retry.max_retries:
                    self._sleep(self.retry.delay(attempt, _retry_after(exc)))
                attempt += 1
        assert last is not None
        raise LLMError(f"{last.reason} after {self.retry.max_retries + 1} attempts", retryable=False)

    # ----------------------------------------------------------------- calls

    def _invoke(self, messages, extra: dict | None = None, purpose: str = "") -> str:
        """One non-streamed call: the reply's text without any inline reasoning; usage reported.
        A reply cut at the token limit before any answer (a reasoning model) is asked again once,
        with a limit that leaves room for the reasoning."""
        while True:
            message = self.chat_model.invoke(messages, **self._body(extra))
            _report_usage(Usage.from_metadata(getattr(message, "usage_metadata", None), purpose))
            text = strip_think(_text(message.content))
            cut = (message.response_metadata or {}).get("finish_reason") == "length"
            if not (cut and not text.strip() and self.capabilities.learn_reasoning()):
                return text

    def complete(self, messages: list[tuple[str, str]], purpose: str = "complete") -> str:
        def once() -> str:
            text = self._invoke(messages, purpose=purpose)
            if not text.strip():
                raise LLMError("empty reply", retryable=True)
            return text
        return self.call(once)

    def stream(self, messages: list[tuple[str, str]], purpose: str = "stream") -> Iterator[str]:
        """Yield text deltas (the answer only, never reasoning). Retries only before the first delta:
        once text reached the candidate, a failure raises LLMError and the caller replaces it."""
        self._check_down()
        attempt = 0
        while True:
            started = False
            finished = False
            usage: dict | None = None
            think = ThinkFilter()
            cut = False
            try:
                for chunk in self.chat_model.stream(messages, stream_usage=True, **self._body()):
                    if chunk.response_metadata.get("finish_reason"):
                        finished = True
                        cut = chunk.response_metadata["finish_reason"] == "length"
                    if getattr(chunk, "usage_metadata", None):
                        usage = chunk.usage_metadata
                    piece = think.push(_text(chunk.content))
                    if piece:
                        started = True
                        yield piece
                tail = think.finish()
                if tail:
                    started = True
                    yield tail
                _report_usage(Usage.from_metadata(usage, purpose))
                if cut and not started and self.capabilities.learn_reasoning():
                    continue  # all of the limit went on reasoning: again, with room for it
                if not finished:
                    raise LLMError("stream ended early", retryable=True)
                if not started:
                    raise LLMError("empty reply", retryable=True)
                return
            except Exception as exc:
                err = classify(exc, self.model)
                if not started and self._adapt(err):
                    continue
                if started or not err.retryable:
                    self._mark_down(err)
                    raise (err if isinstance(err, EndpointError) else LLMError(err.reason)) from exc
                if attempt >= self.retry.max_retries:
                    raise LLMError(f"{err.reason} after {attempt + 1} attempts") from exc
                self._sleep(self.retry.delay(attempt, _retry_after(exc)))
                attempt += 1

    def _response_format(self, schema: type[BaseModel], mode: str) -> dict:
        # The schema's JSON form is built once per schema, not on every call.
        key = (schema, mode)
        fmt = self._formats.get(key)
        if fmt is None:
            fmt = strict_response_format(schema) if mode == "json_schema" else {"type": "json_object"}
            self._formats[key] = fmt  # same value from any thread: a race only builds it twice
        return fmt

    def structured(self, messages: list[tuple[str, str]], schema: type[T], mode: str,
                   validate: Callable[[T], T] | None = None) -> T:
        """One structured reply in `mode` (json_schema | json_mode | text), validated by pydantic
        and by `validate`. 400 raises UnsupportedMode (not retried) so the caller can fall back.

        The response format goes to the model as ready JSON and the reply is validated here. The
        server gets the same request as from langchain's with_structured_output, for less client
        time per call: that starts a thread pool per call and rebuilds the schema from the model
        each time, and even a plain response_format argument costs more than extra_body, as the
        openai client walks the whole schema against its parameter types (BENCHMARKS.md)."""
        if mode in ("json_schema", "json_mode"):
            extra = {"response_format": self._response_format(schema, mode)}
        elif mode == "text":
            extra = {}
        else:
            raise ValueError(f"unknown structured mode {mode!r}")

        def once() -> T:
            # Some servers wrap JSON in prose or fences even in JSON mode: parse_json_reply finds it.
            parsed = parse_json_reply(self._invoke(messages, extra, purpose="grade"), schema)
            return validate(parsed) if validate else parsed
        return self.call(once)


def strict_response_format(schema: type[BaseModel]) -> dict:
    """OpenAI's strict json_schema response format for a pydantic model whose fields are all
    required: its JSON schema with additionalProperties false on every object (what strict
    mode demands, and the same request the openai client builds from the model itself)."""
    def close(node):
        if isinstance(node, dict):
            if node.get("type") == "object" and "properties" in node:
                node["additionalProperties"] = False
            for value in node.values():
                close(value)
        elif isinstance(node, list):
            for value in node:
                close(value)
        return node

    return {"type": "json_schema",
            "json_schema": {"schema": close(schema.model_json_schema()), "name": schema.__name__, "strict": True}}


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content blocks
        return "".join(b.get("text", "") if isinstance(b, dict) else str(b) for b in content)
    return str(content or "")


_FENCED = re.compile(r"```(?:json)?\s*(\{.*?\})\s*```", re.DOTALL)


def parse_json_reply(text: str, schema: type[T]) -> T:
    """The JSON object in a free-text reply: a ```json fence, else the outermost {...}."""
    candidates = [m.group(1) for m in _FENCED.finditer(text)]
    start, end = text.find("{"), text.rfind("}")
    if start != -1 and end > start:
        candidates.append(text[start:end + 1])
    last: Exception | None = None
    for candidate in candidates:
        try:
            return schema.model_validate_json(candidate)
        except ValidationError as exc:
            last = exc
    raise LLMError("unparseable response" + (f": {type(last).__name__}" if last else ": no JSON object"),
                   retryable=True)


# --------------------------------------------------------------------------- prompts

_SECTION = re.compile(r"^## (system|user)\s*$", re.MULTILINE)
LANGUAGE_NAMES = {"zh": "Chinese (简体中文)", "en": "English"}


def neutralise(text: str, tag: str) -> str:
    """Make any look-alike of the fence's tags in untrusted text inert, so the candidate cannot
    close the fence and write outside it (<, > of such tags become full-width ＜ ＞)."""
    pattern = re.compile(r"<\s*/?\s*" + re.escape(tag).replace("_", r"[\s_\-]*") + r"[^>]*>?", re.IGNORECASE)
    return pattern.sub(lambda m: m.group(0).replace("<", "＜").replace(">", "＞"), text)


def render(prompt_text: str, **values: str) -> list[tuple[str, str]]:
    """A prompt file -> [("system", ...), ("user", ...)] with {{name}} placeholders filled.

    Values are inserted in one pass, so text in a value that looks like a placeholder stays as is.
    """
    parts = _SECTION.split(prompt_text)
    sections = {parts[i]: parts[i + 1].strip() for i in range(1, len(parts) - 1, 2)}
    if set(sections) != {"system", "user"}:
        raise ValueError("prompt file needs '## system' and '## user' sections")

    def fill(template: str) -> str:
        return re.sub(r"\{\{(\w+)\}\}", lambda m: str(values[m.group(1)]), template)
    return [("system", fill(sections["system"])), ("user", fill(sections["user"]))]
