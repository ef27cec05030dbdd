"""Fit the offline grader's calibration (interviewer/grading/calibration.json) and report held-out figures.

    uv run --frozen python scripts/fit_grader.py [--data-dir ../shared/bench/grading] [--dry-run] [--json FILE]

The grader's total is built from key-point credits (interviewer/grading/scoring.py). One number is
fitted: gamma in credit = evidence ** gamma, where a point's evidence (0-1) is the mean of its best
sentence similarity (rescaled), word recall and bigram recall. No evidence earns 0 and full evidence 1
whatever gamma is; gamma only sets how much partial evidence earns. It is chosen on a grid (0.2-1.5,
step 0.05) to maximise the mean Pearson r over the training sets: a level-free objective, because the
sets' human graders differ in leniency (students' exam graders give far more partial credit than the
expert interviewer of the bank set), and a grader must rank answers the same way on every set.

Reported, always beside the plain baseline (interviewer/grading/baseline.py):
- **leave one dataset out** (the headline): for each of ads_zh_dev, saf_en_dev and bank_answers_dev, gamma
  is fitted on the other two, written to a calibration file, and an OfflineGrader loading it grades the
  held-out set through grade() (the app's code path, card content included);
- **leave one question out on ads_zh_dev**: each ADS question held out in turn, fitted on every other row;
- per `kind` means on bank_answers_dev (grader vs human), held out.
The shipped calibration is then fitted on all three sets (not held out; recorded in `fitted_on`).

Deterministic (a grid, fixed order). Embeddings are cached on disk.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from datetime import date
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from interviewer.grading import lodo  # noqa: E402

DATASETS = ("ads_zh_dev.jsonl", "saf_en_dev.jsonl", "bank_answers_dev.jsonl")


class CachedEmbedder:
    """The real Embedder with a persistent text -> vector cache, for fast refits."""

    def __init__(self, path: Path | None):
        from interviewer.bank.embedding import Embedder

        self.inner = Embedder(cache_size=16)
        self.name = self.inner.name
        self.dim = self.inner.dim
        self.path = path
        self.vectors: dict[str, np.ndarray] = {}
        if path and path.exists():
            data = np.load(path, allow_pickle=False)
            self.vectors = dict(zip(data["texts"].tolist(), data["vectors"]))
        self.dirty = False

    def encode(self, texts: list[str]) -> np.ndarray:
        todo = sorted({t for t in texts if t and t.strip() and t not in self.vectors})
        if todo:
            for t, v in zip(todo, self.inner.encode(todo)):
                self.vectors[t] = v
            self.dirty = True
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, t in enumerate(texts):
            if t and t.strip():
                out[i] = self.vectors[t]
        return out

    def save(self) -> None:
        if self.path and self.dirty:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            texts = list(self.vectors)
            np.savez(self.path, texts=np.array(texts), vectors=np.stack([self.vectors[t] for t in texts]))
            self.dirty = False


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", type=Path, default=REPO.parent / "shared" / "bench" / "grading")
    ap.add_argument("--cache", type=Path, default=REPO / ".cache" / "fit_embeddings.npz")
    ap.add_argument("--out", type=Path, default=REPO / "interviewer" / "grading" / "calibration.json")
    ap.add_argument("--dry-run", action="store_true", help="report, do not write the calibration")
    ap.add_argument("--json", type=Path, default=None, help="also write the full report as JSON here")
    args = ap.parse_args(argv)

    embedder = CachedEmbedder(args.cache)
    paths = [args.data_dir / n for n in DATASETS]
    report = lodo.run(paths, embedder, loqo=DATASETS[0])
    embedder.save()
    print(lodo.format_table(report))
    for name, b in report["full_fit"].items():
        print(f"full fit (NOT held out, gamma {report['full_gamma']}) {name}: pearson {b['pearson']:.3f}")

    r4 = lambda v: round(v, 4) if isinstance(v, float) else v  # noqa: E731
    spec = lodo.spec_of(report["full_gamma"]) | {
        "version": f"cal-{date.today().isoformat()}",
        "fitted_on": [f"{n} (sha256 {hashlib.sha256((args.data_dir / n).read_bytes()).hexdigest()[:12]})"
                      for n in DATASETS],
        "cards": "corpus/key_points.json (sha256 "
                 f"{hashlib.sha256((REPO / 'corpus' / 'key_points.json').read_bytes()).hexdigest()[:12]})",
        "target": "gamma maximising the mean over the training sets of Pearson r (grader total vs human score)",
        "lodo": {k: {m: r4(v[m]) for m in ("gamma", "pearson", "spearman", "baseline_pearson")}
                 for k, v in report["leave_one_dataset_out"].items()},
        "loqo": {k: {m: r4(v[m]) for m in ("pearson", "spearman", "baseline_pearson")}
                 for k, v in report["leave_one_question_out"].items()},
    }
    if args.json:
        args.json.write_text(json.dumps(report, ensure_ascii=False, indent=1, default=float) + "\n", encoding="utf-8")
    if not args.dry_run:
        args.out.write_text(json.dumps(spec, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
