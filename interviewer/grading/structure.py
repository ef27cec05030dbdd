"""Project questions: whether an answer tells the parts of a project story.

A project card's key points name the parts an interviewer listens for ("情境: …", "角色: …",
"设计选择: …", "结果: …", "难点与反思: …"). Their wording says what to tell, not what the candidate's
project was, so similarity to them measures little. Each part is recognised instead by the cues a
person uses to tell it: "我负责" for the role, a baseline and a number for the results. These
rules were written from how project answers are told; no human-scored project answers exist to
measure them against (docs/grading.md says so).
"""

from __future__ import annotations

import re

# The part a key point asks for, by its label.
_LABEL = re.compile(r"^\s*(情境|背景|目标|角色|设计选择与取舍|设计选择|设计|结果|难点与反思|难点|反思)\s*[:：]")
_PART = {"情境": "situation", "背景": "situation", "目标": "situation", "角色": "role",
         "设计选择与取舍": "design", "设计选择": "design", "设计": "design", "结果": "results",
         "难点与反思": "reflection", "难点": "reflection", "反思": "reflection"}

# Distinct cues per part: three make the part fully told; one or two, partly or mostly told.
CUES: dict[str, tuple[str, ...]] = {
    "situation": (r"背景", r"场景", r"痛点", r"需求", r"目标是|目的是|为了", r"用户|业务|客户",
                  r"\bbackground\b|\bgoal\b|\bproblem\b|\busers?\b"),
    "role": (r"我负责|由我负责|我主要", r"我(设计|实现|搭建|写|做|带|牵头|主导)", r"我的(角色|工作|部分)",
             r"团队|同事|组里|和.{0,6}一起", r"\bI (was responsible|built|designed|led|owned|wrote|implemented)\b",
             r"\bmy (role|part)\b"),
    "design": (r"方案", r"选型|选了|选择了|最后用", r"对比|比较过?|试过", r"取舍|权衡|trade-?off",
               r"而不是|没有选|放弃了", r"因为|原因是|\bbecause\b", r"\binstead of\b|\bchose\b|\bcompared\b"),
    "results": (r"\d+(\.\d+)?\s*(%|ms|毫秒|秒|倍|x\b|qps|QPS)", r"从\s*[\d.]+\s*(%?\s*)(提|降|到|涨|减)",
                r"提升|提高|降低|下降|减少|节省", r"recall|准确率|召回|延迟|时延|吞吐|QPS|成本|指标",
                r"基线|baseline|对照|A/?B"),
    "reflection": (r"不足|缺点|局限", r"改进|优化方向|下一步|以后会|如果重来", r"难点|踩坑|问题是|遇到",
                   r"\bnext time\b|\blimitation|\bimprove"),
}
_COMPILED = {part: tuple(re.compile(c, re.IGNORECASE) for c in cues) for part, cues in CUES.items()}


def part_of(point: str) -> str | None:
    """The story part a key point asks for, or None for a point about facts."""
    m = _LABEL.match(point)
    return _PART[m.group(1)] if m else None


def told(part: str, answer: str) -> tuple[float, str]:
    """(evidence 0-1, the cue words found) that the answer tells this part of the story."""
    found = [m.group(0) for rx in _COMPILED[part] if (m := rx.search(answer))]
    return min(1.0, len(found) / 3.0), "、".join(found[:3])
