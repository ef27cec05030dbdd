"""Question bank benchmark: retrieval quality on the labelled set and speed on the real corpus and on
a generated 10,000-card bank.

    uv run --frozen python -m interviewer.bench.bank_bench [--cards 10000] [--queries 200]

Prints top-1 and MRR for dense, keyword and fused retrieval, ingest throughput and query latency
(p50/p95), with the machine's core count and the date. Everything runs in a temporary data dir.
"""

from __future__ import annotations

import argparse
import datetime
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from interviewer.bank.bank import QuestionBank
from interviewer.bank.embedding import Embedder
from interviewer.bench.retrieval_set import RETRIEVAL_SET
from interviewer.config import REPO_ROOT, Settings

TERMS = ["LoRA", "QLoRA", "P-Tuning", "RLHF", "PPO", "DPO", "GRPO", "KV cache", "vLLM", "FlashAttention",
         "PagedAttention", "ZeRO", "DeepSpeed", "Megatron", "FSDP", "混合精度", "张量并行", "流水线并行",
         "数据并行", "RoPE", "ALiBi", "LayerNorm", "RMSNorm", "MoE", "MLA", "GQA", "投机采样", "量化", "剪枝",
         "蒸馏", "RAG", "重排序", "向量数据库", "BM25", "Agent", "MCP", "LangChain", "Redis", "zset", "跳表",
         "MySQL 索引", "B+ 树", "事务隔离", "消息队列", "Kafka", "WebSocket", "SSE", "Docker", "Kubernetes",
         "负载均衡", "限流", "熔断", "一致性哈希", "分布式锁", "Python GIL", "装饰器", "生成器", "asyncio",
         "PyTorch autograd", "register_buffer", "no_grad", "DataLoader", "梯度累积", "梯度裁剪", "学习率预热",
         "AdamW", "交叉熵", "KL 散度", "困惑度", "BLEU", "tokenizer", "BPE", "WordPiece", "位置编码", "外推",
         "长上下文", "Scaling Law", "指令微调", "奖励模型", "拒绝采样"]
ASPECTS = ["的原理是什么", "有哪些优缺点", "和同类方法的区别", "在项目里怎么用的", "的实现细节", "的常见问题和解决办法",
           "为什么有效", "的计算复杂度", "怎么调参", "的显存开销", "的适用场景", "如何评估效果", "的底层数据结构",
           "出问题时怎么排查", "的工程实践", "面试常问点"]
CONTEXTS = ["", "在高并发场景下", "在推理阶段", "在训练阶段", "在多机多卡时", "在长文本场景", "在线上服务中",
            "在小显存机器上", "在 RAG 系统里", "在 Agent 框架中", "对于 7B 模型", "对于百亿参数模型"]


def pct(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q / 100 * (len(values) - 1))))]


def quality(bank, k=20):
    out = {}
    for mode in ("dense", "keyword", "fused"):
        top1 = mrr = 0.0
        for q, want in RETRIEVAL_SET.items():
            ids = [h.card.id for h in bank.search(q, k=k, mode=mode)]
            if ids and ids[0] == want:
                top1 += 1
            if want in ids:
                mrr += 1 / (ids.index(want) + 1)
        out[mode] = (top1 / len(RETRIEVAL_SET), mrr / len(RETRIEVAL_SET))
    return out


def latency(bank, queries, mode="fused", k=5):
    times = []
    for q in queries:
        t = time.perf_counter()
        bank.search(q, k=k, mode=mode)
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times), pct(times, 95)


def generate_corpus(directory: Path, n_cards: int, per_doc: int = 1000, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    combos = [(c, t, a) for c in CONTEXTS for t in TERMS for a in ASPECTS]
    rng.shuffle(combos)
    if n_cards > len(combos):
        raise SystemExit(f"at most {len(combos)} distinct generated cards")
    questions = [f"{c}{'，' if c else ''}{t}{a}" for c, t, a in combos[:n_cards]]
    for d in range(0, n_cards, per_doc):
        chunk = questions[d:d + per_doc]
        body = "\n".join(f"{i}. {q}" for i, q in enumerate(chunk, 1))
        (directory / f"gen_{d // per_doc:03d}.txt").write_text(f"生成的面经 {d // per_doc}\n\n一面\n{body}\n",
                                                               encoding="utf-8")
    return questions


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cards", type=int, default=10_000)
    ap.add_argument("--queries", type=int, default=200)
    args = ap.parse_args()
    print(f"bank_bench  {datetime.datetime.now().isoformat(timespec='seconds')}  cores={os.cpu_count()}  "
          f"python {sys.version.split()[0]}")
    embedder = Embedder()
    embedder.encode(["warm up"])  # model load is not ingest throughput
    tmp = Path(tempfile.mkdtemp(prefix="bank-bench-"))
    try:
        # ---------------------------------------------------------------- real corpus
        s = Settings.from_env({"MIANSHI_DATA_DIR": str(tmp / "real"), "MIANSHI_CORPUS_DIR": str(REPO_ROOT / "corpus")})
        t = time.perf_counter()
        bank = QuestionBank.open(s, embedder=embedder, rebuild=True)
        dt = time.perf_counter() - t
        r = bank.report
        print(f"\n[real corpus] {r.documents} docs, {r.cards} cards: ingest {dt:.2f} s "
              f"({r.cards / dt:.1f} cards/s, {r.documents / dt:.2f} docs/s)")
        t = time.perf_counter()
        bank = QuestionBank.open(s, embedder=embedder)
        print(f"  reopen (no rebuild): {(time.perf_counter() - t) * 1000:.0f} ms, rebuilt={bank.report.rebuilt}")
        print(f"  labelled set: {len(RETRIEVAL_SET)} paraphrase queries")
        for mode, (top1, mrr) in quality(bank).items():
            print(f"  {mode:<8} top-1 {top1:.3f}  MRR {mrr:.3f}")
        qs = list(RETRIEVAL_SET)
        for mode in ("fused", "dense", "keyword"):
            embedder._cache.clear()
            p50, p95 = latency(bank, qs, mode)
            print(f"  query latency {mode:<8} (query embedding included): p50 {p50:.1f} ms  p95 {p95:.1f} ms")
        p50, p95 = latency(bank, qs, "fused")  # second pass: query vectors cached
        print(f"  query latency fused    (query vector cached):       p50 {p50:.1f} ms  p95 {p95:.1f} ms")

        # ---------------------------------------------------------------- generated bank
        gen = tmp / "gen-corpus"
        gen.mkdir()
        questions = generate_corpus(gen, args.cards)
        s = Settings.from_env({"MIANSHI_DATA_DIR": str(tmp / "gen"), "MIANSHI_CORPUS_DIR": str(gen)})
        t = time.perf_counter()
        big = QuestionBank.open(s, embedder=embedder, rebuild=True, progress=True)
        dt = time.perf_counter() - t
        r = big.report
        print(f"\n[generated] {r.documents} docs, {r.cards} cards: ingest {dt:.1f} s "
              f"({r.cards / dt:.0f} cards/s, {r.documents / dt:.2f} docs/s)")
        t = time.perf_counter()
        big = QuestionBank.open(s, embedder=embedder)
        print(f"  reopen (no rebuild): {(time.perf_counter() - t) * 1000:.0f} ms")
        rng = random.Random(11)
        # Queries reworded from generated questions (not exact texts, so not cached embeddings).
        queries = [q.replace("是什么", "").replace("有哪些", "") + " 请解释"
                   for q in rng.sample(questions, args.queries)]
        big.search("warm up chroma", k=5)
        embedder._cache.clear()
        for mode in ("fused", "dense", "keyword"):
            embedder._cache.clear()
            p50, p95 = latency(big, queries, mode)
            print(f"  query latency {mode:<8} (query embedding included): p50 {p50:.1f} ms  p95 {p95:.1f} ms")
        p50, p95 = latency(big, queries, "fused")
        print(f"  query latency fused    (query vector cached):       p50 {p50:.1f} ms  p95 {p95:.1f} ms")
        p50, p95 = latency(big, queries, "keyword")
        print(f"  query latency keyword  (BM25 only, {r.cards} docs):   p50 {p50:.2f} ms  p95 {p95:.2f} ms")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
