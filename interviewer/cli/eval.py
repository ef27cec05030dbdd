"""`eval grading`: agreement of a grader with human scores (see interviewer/evaluation.py).

    python -m interviewer eval grading --data FILE.jsonl [--grader offline|llm] [--json] [--limit N]

The output always says which grader and model produced the figures.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("eval", help="evaluate components against labelled data")
    esub = p.add_subparsers(dest="eval_command", metavar="WHAT")
    g = esub.add_parser("grading", help="agreement of a grader with human scores on a JSONL set")
    g.add_argument("--data", required=True, type=Path, help="JSONL rows: question, reference, answer, score, max_score")
    g.add_argument("--grader", choices=["offline", "llm"], default="offline")
    g.add_argument("--json", action="store_true", help="print one JSON object")
    g.add_argument("--limit", type=int, default=None, help="use the first N rows only")
    g.add_argument("--latency-chars", type=int, default=None, metavar="N",
                   help="also time grade() on 40 answers of N characters stitched from the data (p50/p95 ms)")
    g.set_defaults(handler=run_grading)
    p.set_defaults(handler=lambda args: (p.print_help(), 2)[1])


def _fail(message: str) -> int:
    print(f"eval grading: {message}", file=sys.stderr)
    return 2


def _make_grader(kind: str):
    """(grader, model label) or raises SystemExit-worthy RuntimeError with a clear message."""
    from interviewer.bank.embedding import Embedder

    if kind == "offline":
        from interviewer.grading.offline import OfflineGrader

        grader = OfflineGrader(Embedder())
        return grader, grader.embedder.name
    from interviewer.config import Settings

    settings = Settings.from_env()
    if not (settings.openai_api_key or settings.openai_base_url):
        raise RuntimeError("--grader llm: no model configured (set OPENAI_API_KEY and/or OPENAI_BASE_URL, "
                           "and MIANSHI_MODEL); nothing was measured")
    try:
        from interviewer.grading.llm_grader import LLMGrader
    except ImportError as exc:
        raise RuntimeError(f"--grader llm: the LLM grader is not available ({exc})") from None
    # No offline fallback here: a fallback grade would be reported as the model's agreement.
    # cache=False: a figure must come from the model now, not from earlier runs' answers.
    grader = LLMGrader.from_settings(settings, fallback=_NoFallback(), cache=False)
    return grader, f"{settings.model} @ {settings.endpoint_host}"


class _NoFallback:
    """Stands in for the LLM grader's offline fallback during evaluation: failures count as not graded."""

    kind = "offline"

    def grade(self, question, key_points, answer, kind=None, language="zh"):
        raise RuntimeError("model grading failed (no fallback during evaluation)")


def run_grading(args: argparse.Namespace) -> int:
    from interviewer.grading.evaluation import evaluate_grader, json_safe, latency_probe, load_rows

    if args.limit is not None and args.limit < 1:
        return _fail("--limit must be at least 1")
    if not args.data.is_file():
        return _fail(f"no such file: {args.data}")
    try:
        rows = load_rows(args.data, limit=args.limit)
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        return _fail(str(exc))
    if not rows:
        return _fail(f"{args.data} has no rows")
    try:
        grader, model = _make_grader(args.grader)
    except RuntimeError as exc:
        return _fail(str(exc))

    progress = None
    if not args.json and sys.stderr.isatty():
        def progress(i, n):
            print(f"\r{i}/{n}", end="" if i < n else "\n", file=sys.stderr, flush=True)
    try:
        result = evaluate_grader(grader, rows, progress=progress)
    except ValueError as exc:
        return _fail(str(exc))
    if args.latency_chars:
        try:
            # Read the whole file: the probe needs enough distinct answers even with --limit.
            result |= latency_probe(grader, load_rows(args.data), chars=args.latency_chars)
        except ValueError as exc:
            return _fail(str(exc))
    result = {"grader": args.grader, "grader_version": getattr(grader, "version", None), "model": model,
              "dataset": args.data.name} | result
    if args.json:
        print(json.dumps(json_safe(result), ensure_ascii=False))
        return 0
    fmt = lambda v: "n/a" if v is None or v != v else f"{v:.3f}"  # noqa: E731
    print(f"grader: {result['grader']} ({result['grader_version']}), model: {model}")
    print(f"dataset: {args.data} (scale 0-{result['max_score']:g}, QWK bins of {result['qwk_bin']:g})")
    print(f"n={result['n']}  not graded={result['not_graded']}")
    for key in ("pearson", "spearman", "qwk", "rmse", "mae"):
        print(f"  {key:<9} {fmt(result[key])}")
    print(f"  seconds per answer {result['seconds_per_answer']:.4f}")
    if "latency_p95_ms" in result:
        print(f"  {result['latency_chars']}-char answers: p50 {result['latency_p50_ms']:.0f} ms, "
              f"p95 {result['latency_p95_ms']:.0f} ms ({result['latency_probes']} probes)")
    return 0
