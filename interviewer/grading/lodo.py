"""Leave-one-dataset-out evaluation of the offline grader, and the fit of its one parameter.

Used by `eval grading --lodo` and scripts/fit_grader.py. For each dataset in turn, the calibration
(gamma in credit = evidence ** gamma, see interviewer/grading/scoring.py) is fitted on the other
datasets, written to a calibration file, and an OfflineGrader that loads it grades the held-out set
through grade() (card content included), so a held-out figure is what the app would have given.
Every figure is reported beside the plain baseline (interviewer/grading/baseline.py).

gamma is chosen on a grid to maximise the mean Pearson r over the training sets: level-free, because
the sets' human graders differ in leniency, and a grader must rank answers the same way on each.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import numpy as np

from interviewer.grading import scoring as S
from interviewer.grading.datasets import row_task
from interviewer.grading.evaluation import baseline_and_kinds, load_rows, metrics, pearson


class Table:
    """Every row's measurements, padded to arrays, so the total can be computed for many parameters fast.
    `predict` mirrors scoring.score for the concept criteria (correctness .5, depth .3, clarity .2)."""

    def __init__(self, analyses, flags):
        r = len(analyses)
        pmax = max(1, max(len(a.points) for a in analyses))
        self.X = np.zeros((r, pmax, len(S.POINT_FEATURES)))
        self.mask = np.zeros((r, pmax), dtype=bool)
        self.wrong = np.zeros((r, pmax), dtype=bool)
        self.doubt = np.zeros((r, pmax), dtype=bool)
        self.capped = np.zeros((r, pmax), dtype=bool)   # a doubt that caps the point at partly
        for i, (a, fl) in enumerate(zip(analyses, flags)):
            by = {f.point: f.status for f in fl}
            src = {f.point: f.source for f in fl}
            for j, m in enumerate(a.points):
                self.X[i, j] = [getattr(m, n) for n in S.POINT_FEATURES]
                self.mask[i, j] = True
                st = by.get(j)
                if st in (None, "doubt") and m.negation_conflict and m.coverage >= S.NEGATION_MIN_COVERAGE:
                    st = "wrong"
                self.wrong[i, j] = st == "wrong"
                self.doubt[i, j] = st == "doubt"
                self.capped[i, j] = st == "doubt" and src.get(j) in S.DOUBT_SOURCES
        f = lambda k: np.array([a.features[k] for a in analyses])  # noqa: E731
        self.len_ratio, self.offtopic, self.structure = f("len_ratio"), f("offtopic"), f("structure")
        self.lex, self.bigram = f("lex_cov"), f("bigram_cov")
        self.keyword = np.array([a.keyword_list for a in analyses])
        self.empty = np.array([a.empty for a in analyses])

    def predict(self, gamma: float, rows=slice(None)) -> np.ndarray:
        X, mask = self.X[rows], self.mask[rows]
        e = np.clip((X[:, :, 0] - S.EMB_LOW) / (S.EMB_HIGH - S.EMB_LOW), 0.0, 1.0)
        ev = (e + X[:, :, 1] + X[:, :, 2]) / 3.0
        kw = self.keyword[rows]
        cap = np.where(kw[:, None], S.KEYWORD_CAP, 1.0)
        cap = np.where(self.capped[rows], np.minimum(cap, S.DOUBT_CAP), cap)
        ev = np.minimum(ev, cap)
        wrong = self.wrong[rows] & mask
        ok = mask & ~wrong
        covered = ((ev >= S.COVERED_AT) & ok).sum(axis=1)
        partly = ((ev >= S.PARTLY_AT) & (ev < S.COVERED_AT) & ok).sum(axis=1)
        n_wrong = wrong.sum(axis=1)
        c = np.minimum(cap, np.where(ev >= S.PARTLY_AT, np.power(np.clip(ev, 1e-12, 1.0), gamma), 0.0))
        c = np.where(wrong, S.WRONG_CREDIT, c)
        n = np.maximum(1, mask.sum(axis=1))
        correctness = 10 * np.maximum(0.0, (c * mask).sum(axis=1) / n)
        depth = np.where(kw, 0.0, 10 * np.maximum(0.0, covered + 0.5 * partly - n_wrong) / n)
        clarity = np.where(kw, S.KEYWORD_CLARITY, 10 * (1 - self.offtopic[rows]))
        total = 0.5 * correctness + 0.3 * depth + 0.2 * clarity
        bad = mask.sum(axis=1) - covered - partly  # missing or wrong
        total = np.where(bad * 2 >= mask.sum(axis=1), np.minimum(total, S.HALF_MISSING_CAP), total)
        total = np.where(n_wrong >= 2, np.minimum(total, S.TWO_WRONG_CAP),
                         np.where(n_wrong == 1, np.minimum(total, S.ONE_WRONG_CAP), total))
        no_ev = ((self.offtopic[rows] >= S.NO_EVIDENCE_OFFTOPIC) & (self.lex[rows] < S.NO_EVIDENCE_WORDS)
                 & (self.bigram[rows] < S.NO_EVIDENCE_WORDS))
        total = np.where(no_ev, np.minimum(total, S.NO_EVIDENCE_CAP), total)
        return np.where(self.empty[rows], 0.0, total)


GRID = np.round(np.arange(0.2, 1.5001, 0.05), 2)


def fit(table: Table, idx: np.ndarray, y10: np.ndarray, sets: np.ndarray) -> float:
    """The gamma of the grid with the highest mean Pearson r over the training sets in `idx`."""
    best = None
    for g in GRID:
        p = table.predict(float(g), idx)
        rs = [pearson(p[sets == s], y10[sets == s]) for s in np.unique(sets)]
        score = float(np.mean(rs))
        if best is None or score > best[0] + 1e-12:
            best = (score, float(g))
    return best[1]


def spec_of(gamma: float) -> dict:
    return {"model": "point-credit-2", "gamma": round(float(gamma), 4)}


# --------------------------------------------------------------------------- held-out runs through grade()

def measure(paths: list[Path], embedder, progress=None):
    """(rows, Table) for the sets in `paths`; each row gets `_set` (the file name)."""
    from interviewer.grading.offline import OfflineGrader

    grader = OfflineGrader(embedder)
    rows, analyses, flags = [], [], []
    for path in paths:
        for r in load_rows(path):
            r["_set"] = Path(path).name
            points, content, _kind = row_task(r)
            a, fl = grader.analyse(r["question"], points, r["answer"], content, r.get("lang", "zh"))
            rows.append(r)
            analyses.append(a)
            flags.append(fl)
        if progress:
            progress(Path(path).name, len(rows))
    return rows, Table(analyses, flags)


def grade_through(rows, idx, gamma: float, embedder, tmp: Path, tag: str) -> np.ndarray:
    """Totals of rows[idx] from an OfflineGrader loading a calibration file with this gamma."""
    from interviewer.grading.offline import OfflineGrader

    path = tmp / f"cal-{tag}.json"
    path.write_text(json.dumps(spec_of(gamma)), encoding="utf-8")
    grader = OfflineGrader(embedder, calibration_path=path)
    out = np.zeros(len(idx))
    for k, i in enumerate(idx):
        row = rows[i]
        points, content, kind = row_task(row)
        g = grader.grade(row["question"], points, row["answer"], kind, row.get("lang", "zh"), content=content)
        out[k] = g.total if g.status == "graded" and g.total is not None else 0.0
    return out


def report_block(rows, idx, totals) -> dict:
    part = [rows[i] for i in idx]
    scale = part[0]["max_score"]
    human = np.array([r["score"] for r in part])
    out = {"n": len(idx)} | metrics(np.asarray(totals) / 10 * scale, human, scale)
    return out | baseline_and_kinds(part, list(totals))


def run(paths: list[Path], embedder, loqo: str | None = None, log=None) -> dict:
    """The leave-one-dataset-out report (and leave-one-question-out on the set named `loqo`), plus the
    gamma fitted on everything (`full_gamma`, not held out)."""
    log = log or (lambda msg: print(msg, file=sys.stderr))
    rows, table = measure(paths, embedder, progress=lambda name, n: log(f"{name}: measured ({n} rows so far)"))
    names = [Path(p).name for p in paths]
    y10 = np.array([10 * r["score"] / r["max_score"] for r in rows])
    sets = np.array([r["_set"] for r in rows])
    questions = np.array([f"{r['_set']}|{r.get('card_id') or r['question']}" for r in rows])
    report: dict = {"leave_one_dataset_out": {}}
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        if len(names) > 1:
            for name in names:
                test = np.where(sets == name)[0]
                train = np.where(sets != name)[0]
                gamma = fit(table, train, y10[train], sets[train])
                totals = grade_through(rows, test, gamma, embedder, tmp, name)
                report["leave_one_dataset_out"][name] = (report_block(rows, test, totals)
                                                         | {"fitted_on": [d for d in names if d != name],
                                                            "gamma": gamma})
                log(f"held out {name}: gamma {gamma} fitted on the other sets")
        if loqo:
            part = np.where(sets == loqo)[0]
            totals = np.zeros(len(part))
            for qi, q in enumerate(np.unique(questions[part])):
                test_mask = questions[part] == q
                train = np.where(questions != q)[0]
                gamma = fit(table, train, y10[train], sets[train])
                totals[test_mask] = grade_through(rows, part[test_mask], gamma, embedder, tmp, f"q{qi}")
            report["leave_one_question_out"] = {loqo: report_block(rows, part, totals)}
    report["full_gamma"] = fit(table, np.arange(len(rows)), y10, sets)
    full = table.predict(report["full_gamma"])
    report["full_fit"] = {name: report_block(rows, np.where(sets == name)[0],
                                             np.round(full[sets == name], 1)) for name in names}
    return report


def format_table(report: dict) -> str:
    """The held-out table as text (one line per set), grader beside baseline."""
    lines = ["set                      n     grader r  rho    baseline r  rho    gamma  (fitted on)"]
    blocks = [("LODO", k, v) for k, v in report.get("leave_one_dataset_out", {}).items()]
    blocks += [("LOQO", k, v) for k, v in report.get("leave_one_question_out", {}).items()]
    for mode, name, b in blocks:
        base_rho = b.get("baseline_spearman")
        lines.append(f"{mode} {name:<20} {b['n']:>5}  {b['pearson']:.3f}   {b['spearman']:.3f}  "
                     f"{b['baseline_pearson']:.3f}      {'' if base_rho is None else f'{base_rho:.3f}'}  "
                     f"{b.get('gamma', '')}  {', '.join(b.get('fitted_on', [])) or 'other questions'}")
        for kind, d in b.get("by_kind", {}).items():
            lines.append(f"      {kind:<10} n={d['n']:<3} grader {d['grader_mean']:.2f}  human {d['human_mean']:.2f}")
    return "\n".join(lines)
