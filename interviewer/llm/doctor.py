"""The connection check behind `python -m interviewer doctor` and the app's "check the model" control.

One tiny streamed request (a few tokens of JSON) tells: whether the endpoint is reachable, whether
it has the model, which structured-output mode it accepts (json_schema, then json_object, then
plain text: one more tiny request per refused mode), and how long the first token took. On failure
it says which of these it is, in words a user can act on: a rejected key, a wrong base URL, an
unknown model, the network. The key is never part of what it reports or logs.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass

import openai
from pydantic import BaseModel

from interviewer.config import Settings
from interviewer.llm.client import (
    ChatClient,
    EndpointError,
    RetryPolicy,
    UnsupportedMode,
    _text,
    classify,
    strict_response_format,
    strip_think,
)

MODES = (("json_schema", None), ("json_mode", {"type": "json_object"}), ("text", None))
PROMPT = [("system", "You check a connection. Reply with the JSON object {\"ok\": true} and nothing else."),
          ("user", "Reply now in JSON.")]


class _Ping(BaseModel):
    ok: bool


@dataclass
class CheckResult:
    ok: bool
    endpoint: str
    model: str
    reachable: bool = False
    model_found: bool | None = None
    structured_mode: str | None = None
    first_token_ms: float | None = None
    reasoning: bool = False        # the model reasons before answering (its limits leave room for it)
    failure: str | None = None     # bad_key | wrong_url | unknown_model | network | timeout | error
    reason: str | None = None

    def as_dict(self) -> dict:
        return asdict(self)

    def lines(self) -> list[str]:
        where = f"{self.model} @ {self.endpoint}"
        if self.ok:
            return [f"OK: {where}",
                    "reachable: yes", "model found: yes",
                    f"structured output: {self.structured_mode}",
                    f"reasoning model: {'yes' if self.reasoning else 'no'}",
                    f"first token: {self.first_token_ms:,.0f} ms"]
        return [f"FAILED ({self.failure}): {where}",
                f"reachable: {'yes' if self.reachable else 'no'}",
                f"model found: {'-' if self.model_found is None else 'yes' if self.model_found else 'no'}",
                f"reason: {self.reason}"]


def _network_reason(exc: BaseException, settings: Settings) -> tuple[str, str]:
    if isinstance(exc, openai.APITimeoutError):
        return "timeout", (f"no answer from {settings.endpoint_host} within {settings.llm_timeout:g} s "
                           "(network, or a model still loading): check the network or MIANSHI_LLM_TIMEOUT")
    chain, seen = [], exc
    while seen is not None and len(chain) < 10:
        chain.append(seen)
        seen = seen.__cause__ or seen.__context__
    detail = type(chain[-1]).__name__
    text = " ".join(f"{type(e).__name__} {e!r}" for e in chain).lower()
    if "name or service" in text or "nodename" in text or "getaddrinfo" in text or "resolve" in text:
        detail = "the host name does not resolve"
    elif "refused" in text:
        detail = "connection refused (nothing listens there)"
    return "network", (f"cannot reach {settings.endpoint_host}: {detail}. Check OPENAI_BASE_URL and the "
                       "network (for a local server: is it running?)")


def check_model(settings: Settings, *, timeout: float | None = None) -> CheckResult:
    """Send the tiny request(s) and say what works. Never raises; never includes the key."""
    key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else None
    result = CheckResult(ok=False, endpoint=settings.endpoint_host, model=settings.model)
    client = ChatClient(settings, temperature=0.0, max_tokens=16, timeout=timeout,
                        retry=RetryPolicy(max_retries=0))
    client.forget_failures()
    try:
        _check(client, settings, result)
    except Exception as exc:  # the check must report, never crash the page or the command
        result.failure, result.reason = "error", f"{type(exc).__name__}"
    if key and result.reason:
        result.reason = result.reason.replace(key, "***")
    return result


def _check(client: ChatClient, settings: Settings, result: CheckResult) -> None:
    refused: list[str] = []
    for mode, fmt in MODES:
        if mode == "json_schema":
            fmt = strict_response_format(_Ping)
        extra = {"response_format": fmt} if fmt else {}
        for _ in range(4):  # a refused parameter, or a limit used up by reasoning: the same mode again
            started = time.perf_counter()
            first: float | None = None
            parts: list[str] = []
            cut = False
            try:
                for chunk in client.chat_model.stream(PROMPT, **client._body(extra)):
                    cut = cut or chunk.response_metadata.get("finish_reason") == "length"
                    piece = _text(chunk.content)
                    if piece and first is None:
                        first = time.perf_counter() - started
                    parts.append(piece)
            except (openai.APITimeoutError, openai.APIConnectionError) as exc:
                result.failure, result.reason = _network_reason(exc, settings)
                return
            except Exception as exc:
                err = classify(exc, settings.model)
                result.reachable = isinstance(exc, openai.APIStatusError)
                if client._adapt(err):
                    continue
                if isinstance(err, EndpointError):
                    result.failure, result.reason = err.kind, err.reason
                    result.model_found = False if err.kind == "unknown_model" else None
                    return
                if isinstance(err, UnsupportedMode):
                    refused.append(f"{mode}: {err.reason}")
                    if mode != "text":
                        client.capabilities.reject_mode(mode)  # the grader then starts at the next one
                    break  # the next mode
                if "unparseable" in err.reason:
                    result.failure = "wrong_url"
                    result.reason = (f"{settings.endpoint_host} did not answer like an OpenAI-compatible API "
                                     "(not JSON): check OPENAI_BASE_URL (it usually ends in /v1)")
                    return
                result.failure, result.reason = "error", err.reason
                return
            result.reachable = result.model_found = True
            text = strip_think("".join(parts)).strip()
            if not text and cut and client.capabilities.learn_reasoning():
                continue  # the tiny limit went on reasoning: again with room for it
            result.reasoning = client.capabilities.reasoning
            if not text:
                result.failure, result.reason = "error", "the model sent an empty reply"
                return
            if mode != "text":
                try:
                    json.loads(text[text.find("{"):text.rfind("}") + 1] or text)
                except ValueError:
                    refused.append(f"{mode}: reply was not JSON")
                    break
            result.ok = True
            result.structured_mode = mode
            result.first_token_ms = round((first if first is not None else time.perf_counter() - started) * 1000, 1)
            return
    result.failure, result.reason = "error", "no structured output mode worked (" + "; ".join(refused) + ")"
