"""Labelled retrieval queries: each is written in other words than its question (paraphrase, another
language or mixed), mapped to the card id it must find. Used by tests/test_bank.py and
interviewer/bench/bank_bench.py."""

from __future__ import annotations

A = "000_f1b1afb021c88bc1"
B = "001_d9b2635feb76d0f0"
C = "002_ff9c8f03c75111e3"
D = "003_d5fcd24e30ada98c"

RETRIEVAL_SET: dict[str, str] = {
    # 000: Simplex AI
    "internship knowledge base design": f"{A}:001",
    "前端和后端是不是你独立完成的": f"{A}:002",
    "用 Redis 保存用户标签的方案": f"{A}:003",
    "how did you filter and replace banned words": f"{A}:004",
    "cache penetration, breakdown and avalanche": f"{A}:007",
    "MQ 在项目里的用途": f"{A}:008",
    "SQL 执行很慢如何排查优化": f"{A}:009",
    "Redis 有序集合的内部实现": f"{A}:010",
    "流式返回为什么选 WebSocket 而不是 Server-Sent Events": f"{A}:012",
    "longest substring without repeating characters": f"{A}:013",
    "反转链表中指定区间的节点": f"{A}:014",
    "rerank 重排序模型的必要性": f"{A}:018",
    "编码器和解码器的参数怎么初始化": f"{A}:020",
    "single agent vs multi-agent systems": f"{A}:022",
    "Model Context Protocol 有什么优势": f"{A}:023",
    # 001: 阿里饿了么
    "LoRA 的 B 矩阵为什么初始化为 0": f"{B}:001",
    "LayerNorm 放在残差之前还是之后有什么差别": f"{B}:002",
    "QAT 和 PTQ 两种量化方式": f"{B}:003",
    "model pruning and sparsity": f"{B}:004",
    "why relative positional embeddings": f"{B}:005",
    "如何让模型处理比训练时更长的上下文": f"{B}:006",
    "预训练目标 MLM 和 CLM": f"{B}:007",
    "find the kth largest number in an array": f"{B}:008",
    "基于人类反馈的强化学习的损失函数": f"{B}:009",
    "模型规模、数据量与性能之间的幂律关系": f"{B}:010",
    # 002: 智谱
    "implement a tokenizer from scratch": f"{C}:001",
    "用伪代码写检索增强生成的流程": f"{C}:002",
    "你的项目解决了什么痛点": f"{C}:003",
    "text-to-SQL 遇到多表 join 怎么处理": f"{C}:005",
    "容器化与 Kubernetes 编排在部署中的角色": f"{C}:006",
    "PPO、DPO 和 GRPO 的目标函数有何不同": f"{C}:007",
    "KL divergence estimators": f"{C}:008",
    "LoRA 与 P-Tuning v2 对比": f"{C}:009",
    "R1 的训练流程和多头潜在注意力": f"{C}:010",
    "exploding and vanishing gradients remedies": f"{C}:011",
    "nn.Module 里 register_buffer 与 register_parameter 的不同": f"{C}:012",
    "PyTorch 推理时关闭 autograd": f"{C}:013",
    "增加或删除大小为1的维度的张量函数": f"{C}:014",
    "Python mutable vs immutable objects when deleting": f"{C}:015",
    "multi-node vs single-node multi-GPU training": f"{C}:016",
    # 003: LangChain / 分布式训练 / 推理
    "LangChain 的缺点和痛点": f"{D}:009",
    "alternatives to LangChain": f"{D}:010",
    "LangChain few-shot 示例选择器": f"{D}:013",
    "LangChain 如何保存对话聊天记录": f"{D}:016",
    "LangChain 中文本向量化与向量数据库": f"{D}:021",
    "DP、TP、PP 三种并行方式对比": f"{D}:024",
    "FlashAttention 为什么快": f"{D}:025",
    "KV cache 分页管理": f"{D}:026",
    "ZeRO stage 1/2/3 分别切分什么": f"{D}:028",
    "FP16 与 FP32 混合训练的好处和风险": f"{D}:029",
    "NVIDIA 的模型并行训练库": f"{D}:031",
    "推理时 GPU 显存占用高且不释放的原因": f"{D}:033",
    "大模型跑在 CPU 上比 GPU 慢多少": f"{D}:034",
    "INT8 quantized inference vs half precision speed": f"{D}:035",
    "temperature top-p top-k 解码参数设置": f"{D}:037",
    "大模型输出安全过滤 防止有害内容": f"{D}:039",
}
