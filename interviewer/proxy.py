"""A small reverse proxy with sticky routing, in front of several app replicas.

    python -m interviewer proxy --port 8000 --replica http://127.0.0.1:7861 --replica http://127.0.0.1:7862

Why sticky: Gradio's queue keeps an event in the memory of the process that took it. A page
(or gradio_client) sends POST /gradio_api/queue/join and then reads the event's results on the
server-sent event stream GET /gradio_api/queue/data?session_hash=...; both must reach the same
process, or the stream answers "Session not found" (gradio-app/gradio#10487, #9070). Uploads,
served files (exports) and gr.State live in that process too. So every request of one page load
goes to one replica. Across page loads nothing needs to: the interview is in the shared
database and the browser keeps its ids, so a reload may land on any replica.

How: the first response to a client sets a cookie naming its replica (gradio_client keeps the
cookies of its first /config request for this purpose; browsers keep a session cookie across a
reload). A request with the cookie goes to that replica. A replica that refuses the connection
is skipped for RETRY_AFTER seconds and the client is moved to another one with a new cookie,
which is how the sessions of a killed replica resume elsewhere: the browser reloads (or the
client reconnects), lands on a live replica, and the app resumes the session from the store.

Only what such a proxy needs: HTTP/1.1 requests and streamed responses (Gradio 6 uses HTTP
and server-sent events, no WebSocket). Request bodies are read whole before forwarding, so a
request that found its replica down can be sent to another one unchanged.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from http.cookies import SimpleCookie

COOKIE = "mianshi-replica"
RETRY_AFTER = 5.0  # seconds a replica that refused a connection is skipped
# Not forwarded either way (RFC 9110 7.6.1), plus what the proxy sets itself.
HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
                        "transfer-encoding", "upgrade", "proxy-connection"})


class StickyProxy:
    """An ASGI app forwarding each request to one of `replicas` (base URLs), sticky by cookie."""

    def __init__(self, replicas: list[str], retry_after: float = RETRY_AFTER):
        if not replicas:
            raise ValueError("the proxy needs at least one replica")
        # Cookie value -> base URL. The value is the replica's position: short, and it names no host.
        self.replicas = {f"r{i}": url.rstrip("/") for i, url in enumerate(replicas)}
        self.retry_after = retry_after
        self._down: dict[str, float] = {}
        self._next = itertools.cycle(list(self.replicas))
        self._client = None
        self.routed: dict[str, int] = dict.fromkeys(self.replicas, 0)  # requests per replica, for tests/logs

    # ------------------------------------------------------------------ routing
    def order(self, pinned: str | None) -> list[str]:
        """Replicas to try for a request, best first: its own (if up), then the next up ones in
        turn, then those marked down (they may be back)."""
        now = time.monotonic()
        up = [r for r in self.replicas if self._down.get(r, 0.0) <= now]
        names = list(self.replicas)
        first = None
        if pinned in self.replicas:
            # Its own replica, else the next one up after it: the same for every request of the
            # client, which may not take the new cookie (gradio_client keeps only its first ones).
            ring = names[names.index(pinned):] + names[:names.index(pinned)]
            first = next((r for r in ring if r in up), None)
        else:
            for _ in range(len(self.replicas)):
                candidate = next(self._next)
                if candidate in up:
                    first = candidate
                    break
        rest = [r for r in up if r != first]
        down = [r for r in self.replicas if r not in up and r != first]
        return ([first] if first else []) + rest + down

    def mark_down(self, name: str) -> None:
        self._down[name] = time.monotonic() + self.retry_after

    # ------------------------------------------------------------------ ASGI
    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        elif scope["type"] == "http":
            await self._http(scope, receive, send)
        else:  # websocket: nothing of the app uses one
            await send({"type": "websocket.close", "code": 1003})

    async def _lifespan(self, receive, send) -> None:
        import httpx

        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                # No read timeout: event streams stay open for as long as an interview waits.
                self._client = httpx.AsyncClient(timeout=httpx.Timeout(None, connect=3.0),
                                                 limits=httpx.Limits(max_connections=None,
                                                                     max_keepalive_connections=100,
                                                                     # below uvicorn's 5 s, so the replica
                                                                     # never closes a connection being reused
                                                                     keepalive_expiry=2.0))
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self._client is not None:
                    await self._client.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _http(self, scope, receive, send) -> None:
        import httpx

        body = b""
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]]
        pinned = _cookie(headers, COOKIE)
        forward = [(k, v) for k, v in headers if k.lower() not in HOP_BY_HOP]
        client_host = (scope.get("client") or ("", 0))[0]
        forward.append(("x-forwarded-for", client_host))
        path = scope.get("raw_path") or scope["path"].encode()
        target = path.decode("latin-1") + (("?" + scope["query_string"].decode("latin-1"))
                                           if scope.get("query_string") else "")
        for name in self.order(pinned):
            request = self._client.build_request(scope["method"], self.replicas[name] + target,
                                                 headers=forward, content=body)
            try:
                response = await self._client.send(request, stream=True)
            except (httpx.ConnectError, httpx.ConnectTimeout):
                self.mark_down(name)  # nothing reached it: the request can go elsewhere unchanged
                continue
            except httpx.TransportError:
                # It went away while the request was under way. A GET can be asked elsewhere; any
                # other request may have been acted on, so the client is told (as the replica's
                # own crash would have told it) and decides.
                self.mark_down(name)
                if scope["method"] in ("GET", "HEAD"):
                    continue
                await _plain(send, 502, b"the replica went away during the request\n")
                return
            self.routed[name] += 1
            try:
                await self._relay(response, name if name != pinned else None, receive, send)
            finally:
                await response.aclose()
            return
        await _plain(send, 502, b"no replica is reachable\n")

    async def _relay(self, response, set_cookie: str | None, receive, send) -> None:
        """Stream the replica's response to the client; stop when either side goes away."""
        import httpx

        headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in response.headers.multi_items()
                   if k.lower() not in HOP_BY_HOP]
        if set_cookie is not None:
            headers.append((b"set-cookie", f"{COOKIE}={set_cookie}; Path=/; HttpOnly; SameSite=Lax".encode()))
        await send({"type": "http.response.start", "status": response.status_code, "headers": headers})

        async def pump() -> None:
            try:
                async for chunk in response.aiter_raw():
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
            except (httpx.ReadError, httpx.RemoteProtocolError):
                pass  # the replica went away mid-stream: end what the client got
            await send({"type": "http.response.body", "body": b"", "more_body": False})

        async def client_gone() -> None:
            # The body was read whole: the next message is the client disconnecting.
            while (await receive())["type"] != "http.disconnect":
                pass

        tasks = [asyncio.ensure_future(pump()), asyncio.ensure_future(client_gone())]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:  # a closed browser tab closes the replica's event stream too
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)


def _cookie(headers: list[tuple[str, str]], name: str) -> str | None:
    for key, value in headers:
        if key.lower() == "cookie":
            jar = SimpleCookie()
            try:
                jar.load(value)
            except Exception:  # a malformed cookie header: treated as none
                continue
            if name in jar:
                return jar[name].value
    return None


async def _plain(send, status: int, text: bytes) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                            (b"content-length", str(len(text)).encode())]})
    await send({"type": "http.response.body", "body": text})


def serve(replicas: list[str], host: str = "127.0.0.1", port: int = 8000, retry_after: float = RETRY_AFTER) -> None:
    """Run the proxy until interrupted."""
    import uvicorn

    uvicorn.run(StickyProxy(replicas, retry_after=retry_after), host=host, port=port, log_level="warning",
                lifespan="on", timeout_keep_alive=30)
