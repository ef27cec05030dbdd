"""`eval grading`: how well a grader agrees with human scores on a human-scored answer set.

The data format is in the grading sets' README (shared/bench/grading/README.md): one JSON object a
line: question, reference, answer, score, max_score, lang. Every row is graded through the grader the app
uses (`grader.grade`), with the row's reference split into key points by `split_points`.

Metrics are implemented here in numpy:
- Pearson r and Spearman rho (ranks with ties averaged) between our total and the human score;
- quadratic weighted kappa on the dataset's own scale. Both scores are rounded to the scale's
  natural bins: whole points on 0-10 scales (11 bins), quarters on 0-1 scales (SAF's human
  scores are almost all multiples of 0.25, so 5 bins: 0, 0.25, 0.5, 0.75, 1);
- RMSE and MAE after mapping our 0-10 total to the dataset's scale (total / 10 * max_score);
- seconds per answer (wall clock of grade(), model loading excluded by a warm-up call).
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import numpy as np

from interviewer.models import QuestionKind

REQUIRED_FIELDS = ("question", "answer", "score", "max_score")  # and `reference` or `card_id`


def load_rows(path: Path | str, limit: int | None = None) -> list[dict]:
    """Rows of a grading set; raises ValueError naming the line for malformed rows."""
    rows = []
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}:{lineno}: not JSON ({exc.msg})") from None
            missing = [f for f in REQUIRED_FIELDS if f not in row]
            if "reference" not in row and not row.get("card_id"):
                missing.append("reference")
            if missing:
                raise ValueError(f"{path}:{lineno}: missing fields {missing}")
            row.setdefault("lang", "zh")
            row.setdefault("dataset", Path(path).stem)
            row["score"] = float(row["score"])
            row["max_score"] = float(row["max_score"])
            if row["max_score"] <= 0:
                raise ValueError(f"{path}:{lineno}: max_score must be positive")
            row["answer"] = row["answer"] or ""
            rows.append(row)
            if limit is not None and len(rows) >= limit:
                break
    return rows


# --------------------------------------------------------------------------- metrics

def pearson(a, b) -> float:
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if len(a) < 2:
        return float("nan")
    da, db = a - a.mean(), b - b.mean()
    den = math.sqrt(float(da @ da) * float(db @ db))
    return float(da @ db / den) if den > 0 else float("nan")


def rankdata(x) -> np.ndarray:
    """1-based ranks, tied values get the mean of their ranks."""
    x = np.asarray(x, dtype=np.float64)
    order = np.argsort(x, kind="mergesort")
    ranks = np.empty(len(x), dtype=np.float64)
    sx = x[order]
    i = 0
    while i < len(x):
        j = i
        while j + 1 < len(x) and sx[j + 1] == sx[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2.0 + 1.0
        i = j + 1
    return ranks


def spearman(a, b) -> float:
    return pearson(rankdata(a), rankdata(b))


def bin_step(max_score: float) -> float:
    """The width of a QWK bin on a dataset's scale (see the module docstring)."""
    return 0.25 if max_score <= 1.0 else 1.0


def qwk(a, b, n_bins: int) -> float:
    """Quadratic weighted kappa of two integer ratings in 0..n_bins-1."""
    a = np.asarray(a, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    if len(a) == 0 or n_bins < 2:
        return float("nan")
    observed = np.zeros((n_bins, n_bins))
    np.add.at(observed, (a, b), 1.0)
    expected = np.outer(observed.sum(axis=1), observed.sum(axis=0)) / len(a)
    idx = np.arange(n_bins)
    weights = (idx[:, None] - idx[None, :]) ** 2 / (n_bins - 1) ** 2
    den = float((weights * expected).sum())
    return float(1.0 - (weights * observed).sum() / den) if den > 0 else float("nan")


def to_bins(scores, max_score: float) -> tuple[np.ndarray, int]:
    step = bin_step(max_score)
    n_bins = int(round(max_score / step)) + 1
    bins = np.rint(np.clip(np.asarray(scores, dtype=np.float64), 0, max_score) / step).astype(np.int64)
    return bins, n_bins


def metrics(pred, human, max_score: float) -> dict[str, float]:
    """Agreement of predictions with human scores, both already on the dataset's scale."""
    pred = np.asarray(pred, dtype=np.float64)
    human = np.asarray(human, dtype=np.float64)
    pb, n_bins = to_bins(pred, max_score)
    hb, _ = to_bins(human, max_score)
    err = pred - human
    return {
        "pearson": pearson(pred, human),
        "spearman": spearman(pred, human),
        "qwk": qwk(pb, hb, n_bins),
        "rmse": float(np.sqrt(np.mean(err ** 2))) if len(err) else float("nan"),
        "mae": float(np.mean(np.abs(err))) if len(err) else float("nan"),
    }


# --------------------------------------------------------------------------- running a grader

def grade_rows(grader, rows: list[dict], progress=None) -> tuple[list[float], float, int]:
    """Grade every row with `grader.grade`: (totals on 0-10, seconds spent grading, rows not graded).

    A row the grader cannot grade counts as 0: a grader earns no agreement for it.
    """
    if not rows:
        return [], 0.0, 0
    from interviewer.grading.datasets import row_task

    # Warm up (model load, jieba dictionary) so the timing measures grading only.
    r0 = rows[0]
    points0, _, _ = row_task(r0)
    grader.grade(r0["question"], points0, "warm up", QuestionKind.concept, r0.get("lang", "zh"))
    totals, seconds, not_graded = [], 0.0, 0
    for i, row in enumerate(rows):
        # A `card_id` row is graded against its card's key points, misconceptions and facts.
        points, content, kind = row_task(row)
        extra = {"content": content} if content and getattr(grader, "kind", "") == "offline" else {}
        start = time.perf_counter()
        grade = grader.grade(row["question"], points, row["answer"], kind, row.get("lang", "zh"), **extra)
        seconds += time.perf_counter() - start
        if grade.status != "graded" or grade.total is None:
            not_graded += 1
            totals.append(0.0)
        else:
            totals.append(grade.total)
        if progress:
            progress(i + 1, len(rows))
    return totals, seconds, not_graded


def dataset_scale(rows: list[dict]) -> float:
    scales = {r["max_score"] for r in rows}
    if len(scales) != 1:
        raise ValueError(f"rows mix score scales {sorted(scales)}; evaluate one dataset at a time")
    return scales.pop()


def evaluate_grader(grader, rows: list[dict], progress=None) -> dict:
    """Grade every row with `grader.grade` and compare with the human scores."""
    if not rows:
        raise ValueError("no rows to evaluate")
    max_score = dataset_scale(rows)
    totals, seconds, not_graded = grade_rows(grader, rows, progress)
    preds = [t / 10.0 * max_score for t in totals]
    out = {"n": len(rows)} | metrics(preds, [r["score"] for r in rows], max_score)
    out |= {"seconds_per_answer": seconds / len(rows), "not_graded": not_graded, "max_score": max_score,
            "qwk_bin": bin_step(max_score)}
    return out | baseline_and_kinds(rows, totals)


def baseline_and_kinds(rows: list[dict], totals: list[float]) -> dict:
    """`baseline_pearson` (the plain baseline, interviewer/grading/baseline.py, against the human
    scores) and, when rows carry a `kind`, `by_kind`: kind -> {n, grader_mean, human_mean} on 0-10."""
    from interviewer.grading.baseline import baseline_score
    from interviewer.grading.datasets import reference_text

    human = [r["score"] / r["max_score"] * 10 for r in rows]
    base = [baseline_score(reference_text(r), r["answer"]) for r in rows]
    out: dict = {"baseline_pearson": pearson(base, human), "baseline_spearman": spearman(base, human)}
    kinds: dict[str, list[tuple[float, float]]] = {}
    for r, t, h in zip(rows, totals, human):
        if r.get("kind"):
            kinds.setdefault(str(r["kind"]), []).append((t, h))
    if kinds:
        out["by_kind"] = {k: {"n": len(v), "grader_mean": sum(t for t, _ in v) / len(v),
                              "human_mean": sum(h for _, h in v) / len(v)} for k, v in sorted(kinds.items())}
    return out


def latency_probe(grader, rows: list[dict], chars: int = 500, count: int = 40) -> dict[str, float]:
    """p50/p95 milliseconds of grade() on answers of exactly `chars` characters.

    Each probe answer is stitched from different dataset answers (no two probes share one), so
    the embedding cache cannot make later probes look faster than a fresh answer would be.
    """
    if not rows:
        raise ValueError("no rows to probe")
    answers = sorted({r["answer"] for r in rows if len(r["answer"]) >= 20}, key=lambda a: (len(a), a))
    from interviewer.grading.datasets import row_task

    r0 = rows[0]
    points, _, _ = row_task(r0)
    grader.grade(r0["question"], points, "warm up", QuestionKind.concept, r0.get("lang", "zh"))
    times, pos = [], 0
    for _ in range(count):
        text = ""
        while len(text) < chars and pos < len(answers):
            text += answers[pos] + "\n"
            pos += 1
        if len(text) < chars:
            break
        start = time.perf_counter()
        grader.grade(r0["question"], points, text[:chars], QuestionKind.concept, r0.get("lang", "zh"))
        times.append(time.perf_counter() - start)
    if not times:
        raise ValueError(f"not enough answer text for a {chars}-character probe")
    ms = np.array(times) * 1000
    return {"latency_chars": chars, "latency_probes": len(times),
            "latency_p50_ms": float(np.percentile(ms, 50)), "latency_p95_ms": float(np.percentile(ms, 95))}


def json_safe(value):
    """NaN/inf are not JSON: report them as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    return value
