"""`eval grading`: agreement of a grader with human scores (see interviewer/evaluation.py).

    python -m interviewer eval grading --data FILE.jsonl [--grader offline|llm] [--json] [--limit N]
    python -m interviewer eval grading --lodo --data A.jsonl --data B.jsonl --data C.jsonl [--json]

Rows name a `reference` or a bank card (`card_id`: graded against that card's key points,
misconceptions and facts). The plain baseline (interviewer/grading/baseline.py) is printed beside the
grader; rows with a `kind` also get per-kind means. --lodo refits the offline grader's calibration
with each set held out in turn (interviewer/grading/lodo.py) and prints the held-out table.

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
    g.add_argument("--data", required=True, type=Path, action="append",
                   help="JSONL rows: question, reference or card_id, answer, score, max_score "
                        "(once, or once per set with --lodo)")
    g.add_argument("--lodo", action="store_true",
                   help="leave one dataset out: refit the offline calibration without each --data set, grade it")
    g.add_argument("--loqo", default=None, metavar="NAME",
                   help="with --lodo: also leave one question out on the set with this file name")
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

    def grade(self, question, key_points, answer, kind=None, language="zh", content=None):
        raise RuntimeError("model grading failed (no fallback during evaluation)")


def run_grading(args: argparse.Namespace) -> int:
    from interviewer.grading.evaluation import evaluate_grader, json_safe, latency_probe, load_rows

    if args.limit is not None and args.limit < 1:
        return _fail("--limit must be at least 1")
    for path in args.data:
        if not path.is_file():
            return _fail(f"no such file: {path}")
    if args.lodo:
        return run_lodo(args)
    if len(args.data) > 1:
        return _fail("give one --data file (several only with --lodo)")
    args.data = args.data[0]
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
    print(f"  baseline  pearson {fmt(result.get('baseline_pearson'))}, spearman "
          f"{fmt(result.get('baseline_spearman'))} (share of the reference's character bigrams / words in the answer)")
    for kind, d in result.get("by_kind", {}).items():
        print(f"  kind {kind:<10} n={d['n']:<4} grader mean {d['grader_mean']:.2f}  "
              f"human mean {d['human_mean']:.2f} (0-10)")
    print(f"  seconds per answer {result['seconds_per_answer']:.4f}")
    if "latency_p95_ms" in result:
        print(f"  {result['latency_chars']}-char answers: p50 {result['latency_p50_ms']:.0f} ms, "
              f"p95 {result['latency_p95_ms']:.0f} ms ({result['latency_probes']} probes)")
    return 0


def run_lodo(args: argparse.Namespace) -> int:
    if args.grader != "offline":
        return _fail("--lodo refits the offline grader; it cannot be used with --grader llm")
    if len(args.data) < 2:
        return _fail("--lodo needs at least two --data sets")
    from interviewer.bank.embedding import Embedder
    from interviewer.grading import lodo
    from interviewer.grading.evaluation import json_safe

    names = [p.name for p in args.data]
    if args.loqo and args.loqo not in names:
        return _fail(f"--loqo {args.loqo}: not one of the --data files {names}")
    log = (lambda msg: print(msg, file=sys.stderr)) if not args.json else (lambda msg: None)
    try:
        # A cache large enough for every text of the sets: each held-out pass re-grades rows already measured.
        report = lodo.run(list(args.data), Embedder(cache_size=200_000), loqo=args.loqo, log=log)
    except (OSError, ValueError, KeyError) as exc:
        return _fail(str(exc))
    if args.json:
        print(json.dumps(json_safe(report), ensure_ascii=False, default=float))
        return 0
    print(lodo.format_table(report))
    return 0
