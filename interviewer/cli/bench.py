"""`python -m interviewer bench`: speed, memory and load figures of this machine against the targets.

The benchmark code lives in interviewer/bench/; it starts the real app from the checkout's app.py.
"""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="measure cold start, grading and turn latency, LLM-mode overhead, "
                                     "memory and a concurrent-candidates load test (127.0.0.1 only)")
    p.add_argument("--quick", action="store_true", help="fewer samples and 10 candidates (about 3 minutes)")
    p.add_argument("--json", action="store_true", help="print the figures as JSON")
    p.add_argument("--candidates", type=int, default=None,
                   help="candidates in the load test (default 50; 10 with --quick)")
    p.add_argument("--load-only", action="store_true", help="only the load test and memory")
    p.add_argument("--llm-only", action="store_true",
                   help="only the LLM-mode overhead (100 turns, 30 with --quick; about 1 minute)")
    p.add_argument("--next-question", action="store_true",
                   help="only 'send -> first token of the next question' against a realistic fake model "
                        "(first token 0.8 s, 50 tokens/s, grading 3 s): 60 turns, 20 with --quick")
    p.add_argument("--turns", type=int, default=None, help="turns measured by --next-question")
    p.add_argument("--grading", choices=("realistic", "reasoning"), default="realistic",
                   help="--next-question's grading latency: realistic (3 s, the target's) or reasoning (20 s)")
    p.add_argument("--think", type=float, default=10.0,
                   help="mean seconds a simulated candidate reads and types before each answer (default 10; "
                        "0: back to back). The full run also measures back to back, as a stress figure")
    p.add_argument("--replicas", type=int, default=0, metavar="N",
                   help="only the load across N app replicas behind the sticky proxy, over a PostgreSQL and a "
                        "`chroma run` started for it, beside 1 replica (the ratio), and with one replica killed "
                        "mid-load; needs PostgreSQL installed (docs/deploy.md)")
    p.set_defaults(handler=_bench)


def _bench(args: argparse.Namespace) -> int:
    import sys

    try:
        from interviewer.bench.run import run
    except ImportError as exc:
        print(f"bench: the benchmark needs the dev "
              f"dependencies (gradio_client): {exc}", file=sys.stderr)
        return 2
    return run(quick=args.quick, as_json=args.json, candidates=args.candidates, load_only=args.load_only,
               think=args.think, llm_only=args.llm_only, next_question_only=args.next_question, turns=args.turns,
               grading=args.grading, replicas=args.replicas)
