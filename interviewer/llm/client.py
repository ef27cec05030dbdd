"""Chat-model client over langchain-openai for any OpenAI-compatible endpoint.

One place decides what a failure is and how often to try again:
- retried (bounded, exponential backoff, Retry-After honoured up to a cap): timeouts, connection
  errors (including a stream cut mid-way), 429, 5xx, a body that is not JSON, and output that
  cannot be parsed;
- not retried: 400 (the request itself is wrong or a feature is unsupported; callers fall back
  to another structured-output mode), 401/403/404.
Everything that still fails surfaces as LLMError with a short reason for provenance and notices.

The openai client's own retries are switched off (max_retries=0) so there is exactly one retry
policy, and its delays are configurable (tests use milliseconds).
"""

from __future__ import annotations

import contextvars
import json
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import openai
from pydantic import BaseModel, ValidationError

from interviewer.config import Settings

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


class LLMError(Exception):
    """The model could not produce a usable reply. `reason` is short and safe to show."""

    def __init__(self, reason: str, retryable: bool = False):
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable


class UnsupportedMode(LLMError):
    """The endpoint rejected the request shape (400), e.g. response_format json_schema."""


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


def classify(exc: BaseException) -> LLMError:
    """Map a client exception to an LLMError with a reason and whether a retry may help."""
    if isinstance(exc, LLMError):
        return exc
    if isinstance(exc, openai.APITimeoutError):
        return LLMError("timeout", retryable=True)
    if isinstance(exc, openai.APIConnectionError):
        return LLMError("connection error", retryable=True)
    if isinstance(exc, openai.RateLimitError):
        return LLMError("rate limited (429)", retryable=True)
    if isinstance(exc, openai.BadRequestError):
        return UnsupportedMode(f"rejected (400): {_short(exc)}")
    if isinstance(exc, openai.APIStatusError):
        code = exc.status_code
        return LLMError(f"HTTP {code}", retryable=code >= 500 or code in (408, 409))
    if isinstance(exc, (json.JSONDecodeError, ValidationError, ValueError)):
        return LLMError("unparseable response", retryable=True)
    return LLMError(f"{type(exc).__name__}", retryable=False)


def _short(exc: BaseException, limit: int = 120) -> str:
    text = getattr(exc, "message", None) or str(exc)
    return text if len(text) <= limit else text[:limit] + "…"


def _retry_after(exc: BaseException) -> float | None:
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    if not headers:
        return None
    try:
        return float(headers.get("retry-after"))
    except (TypeError, ValueError):
        return None


class ChatClient:
    """A ChatOpenAI with one retry policy. Holds no conversation state; safe to share."""

    def __init__(self, settings: Settings, *, temperature: float = 0.0, timeout: float | None = None,
                 retry: RetryPolicy | None = None, sleep: Callable[[float], None] = time.sleep):
        from langchain_openai import ChatOpenAI

        self.model = settings.model
        self.endpoint_host = settings.endpoint_host
        self.retry = retry or RetryPolicy(max_retries=settings.llm_max_retries)
        self._sleep = sleep
        key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else DUMMY_KEY
        self.chat_model = ChatOpenAI(
            model=settings.model, api_key=key, base_url=settings.openai_base_url,
            timeout=timeout if timeout is not None else settings.llm_timeout,
            max_retries=0, temperature=temperature,
            use_responses_api=False,  # chat completions is what every compatible server speaks
            # openai's own default client, plus the hook that tells the app a request is going out.
            http_client=openai.DefaultHttpx2Client(event_hooks={"request": [_announce_request]}),
        )
        self._formats: dict[tuple[type, str], dict] = {}

    # ----------------------------------------------------------------- retry loop

    def call(self, fn: Callable[[], Any]) -> Any:
        """Run fn with the retry policy; raise LLMError when it keeps failing."""
        last: LLMError | None = None
        for attempt in range(self.retry.max_retries + 1):
            try:
                return fn()
            except Exception as exc:  # classified below: nothing escapes unlabelled
                err = classify(exc)
                if not err.retryable:
                    raise err from exc
                last = err
                if attempt < self.retry.max_retries:
                    self._sleep(self.retry.delay(attempt, _retry_after(exc)))
        assert last is not None
        raise LLMError(f"{last.reason} after {self.retry.max_retries + 1} attempts", retryable=False)

    # ----------------------------------------------------------------- calls

    def complete(self, messages: list[tuple[str, str]]) -> str:
        def once() -> str:
            text = _text(self.chat_model.invoke(messages).content)
            if not text.strip():
                raise LLMError("empty reply", retryable=True)
            return text
        return self.call(once)

    def stream(self, messages: list[tuple[str, str]]) -> Iterator[str]:
        """Yield text deltas. Retries only before the first delta: once text reached the candidate,
        a failure raises LLMError and the caller replaces the partial text."""
        attempt = 0
        while True:
            started = False
            finished = False
            try:
                for chunk in self.chat_model.stream(messages):
                    if chunk.response_metadata.get("finish_reason"):
                        finished = True
                    piece = _text(chunk.content)
                    if piece:
                        started = True
                        yield piece
                if not finished:
                    raise LLMError("stream ended early", retryable=True)
                if not started:
                    raise LLMError("empty reply", retryable=True)
                return
            except Exception as exc:
                err = classify(exc)
                if started or not err.retryable:
                    raise LLMError(err.reason) from exc
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
            kwargs = {"extra_body": {"response_format": self._response_format(schema, mode)}}
        elif mode == "text":
            kwargs = {}
        else:
            raise ValueError(f"unknown structured mode {mode!r}")

        def once() -> T:
            # Some servers wrap JSON in prose or fences even in JSON mode: parse_json_reply finds it.
            parsed = parse_json_reply(_text(self.chat_model.invoke(messages, **kwargs).content), schema)
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
