"""`python -m interviewer proxy`: the sticky reverse proxy in front of several app replicas
(interviewer/proxy.py says why a load balancer must be sticky for Gradio, and how this one is)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("proxy", help="a small reverse proxy with sticky routing in front of several "
                                     "`python app.py` replicas (see docs/deploy.md)")
    p.add_argument("--replica", action="append", required=True, metavar="URL",
                   help="base URL of one replica, e.g. http://127.0.0.1:7861 (repeat for each)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port to listen on (default 8000)")
    p.add_argument("--retry-after", type=float, default=5.0,
                   help="seconds a replica that refused a connection is skipped (default 5)")
    p.set_defaults(handler=_proxy)


def _proxy(args: argparse.Namespace) -> int:
    from interviewer.proxy import serve

    print(f"proxy on http://{args.host}:{args.port}/ -> {', '.join(args.replica)}", flush=True)
    serve(args.replica, host=args.host, port=args.port, retry_after=args.retry_after)
    return 0
