"""Raw, noisy, web-scraped 面经 text -> QuestionCards.

Heuristics on structure, not a list of known questions:

1. Page chrome is removed first: everything after a feed/comment/reference terminator
   (全部评论, 相关推荐, Reference, 原文链接 ...) and single chrome lines (点赞 回复 分享, 发布于 ...).
2. The text is split into sections at headers (一面, 二面面经, 三、..., (一)..., # ...) and at inline
   labels ("算法: ...", "手撕: ..."), which also open a 手撕 section.
3. Each section picks how its questions are marked: a numbered list (1. 2. 3. in sequence), else
   bullets (the first bullet glyph seen), else "plain" lines that read as questions, or narrative
   sentences ("面试官让我手撕一个 tokenizer").
4. A question's source notes are the lines after it up to the next question or section; an item
   written "question: answer" on one line is split at the first colon.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from interviewer.models import TOPICS, QuestionCard, QuestionKind

# Bump when the extraction rules change: part of the bank's content hash, so the index rebuilds.
EXTRACTOR_VERSION = "2"

_CJK = "\u4e00-\u9fff"

# A line at which the real content ends: comment sections, recommendation feeds, reference lists.
_TERMINATOR = re.compile(
    r"^(全部评论.*|精彩评论\s*\d*|相关推荐|热门推荐|猜你喜欢|推荐阅读|相关阅读|References?\s*[:：]?|"
    r"参考(文献|资料|链接)\s*[:：]?|原文链接\s*[:：].*|您需要登录.*|发表评论|评论区)$",
    re.IGNORECASE)
# Lines that are page chrome wherever they appear.
_CHROME_WORDS = r"(点赞|回复|分享|评论|收藏|举报|使用道具|支持|反对|关注|私信|打赏|转发|编辑|删除|置顶|赞|踩|\d+)"
_CHROME_LINE = re.compile(
    rf"^({_CHROME_WORDS}\s*)+$|发布于|发表于|显示全部楼层|阅读模式|上一主题|下一主题|^找文章|^精选问答|"
    r"请登录|登录后|立即登录|登录\s*[|/]\s*注册|免费注册|^Posted by\b|^\[TOC\]$|人在聊$|^来源\s*[:：]|"
    r"^浏览\s*\d+|^阅读\s*\d+|^更多$|^创作者周榜$|^高级模式$|^打印$",
    re.IGNORECASE)
# Image captions and bare footnote labels inside answer notes.
_NOTE_NOISE = re.compile(r"^(截屏|截图|屏幕快照|image|图片?\s*\d*$|参考\s*\d*$)", re.IGNORECASE)
# Short lines about the interview process, not about the question ("面完后约二面").
_PROCESS_NOISE = re.compile(r"面完|约[一二三四五终hH]?面|等通知|^oc|已oc|挂了|许愿|求offer|感谢面试官")

_NUMBERED = re.compile(r"^(\d{1,3})\s*(?:[\.．、]|[)）])(?!\d)\s*(\S.*)$")
_BULLET = re.compile(r"^([•●▪◦·]|[-*+](?=\s))\s*(\S.*)$")
_CN_HEADER = re.compile(r"^[一二三四五六七八九十]+\s*[、.．]\s*(\S.{0,29})$")
_PAREN_HEADER = re.compile(r"^[（(][一二三四五六七八九十\d]{1,3}[)）]\s*(\S.{0,29})$")
_MD_HEADER = re.compile(r"^#{1,6}\s+(\S.{0,40})$")
_ROUND_HEADER = re.compile(r"^((?:[一二三四五六七八终]|hr|HR|技术|交叉|主管)面)\S{0,6}\s*[:：]?$")
_BARE_HEADER = re.compile(r"^(手撕代码|手撕|八股文?|项目介绍|项目|算法题?|代码题|编程题)\s*[:：]?$")
_INLINE_LABEL = re.compile(r"^(算法题?|手撕代码|手撕|代码题|编程题|coding)\s*[:：]\s*(\S.*)$", re.IGNORECASE)

_QUESTION_CUE = re.compile(
    r"[?？]|吗$|什么|为什么|如何|怎么|怎样|哪些|区别|是否|了解|看过|作用|原理|优缺点|"
    r"^(问|说|讲|聊|介绍|谈谈|手撕|实现|写一?个?)")
_CODING_CUE = re.compile(
    r"链表|数组|子串|子序列|字符串|二叉树|排序|反转|hot\s*100|leetcode|lc\s*\d+|经典\s*150|动态规划|回溯|"
    r"贪心|双指针|滑动窗口|最长|最短|最大|最小|第\s*k|手撕|实现",
    re.IGNORECASE)
_CODE_LINE = re.compile(r"[=;{}]|^(def|class|import|from|return|print|for|while|if|elif|else)\b")
# "面试官让我手撕一个 tokenizer," -> the clause the interviewer asked for.
_NARRATIVE = re.compile(r"(?:让|要求|叫)我(?!们)(.+?)(?:[,，。;；!！]|$)|问了?我(?!们)(.+?)(?:[,，。;；!！]|$)")
_FILLER = re.compile(r"一个|一下|简单地?|详细地?|首先|然后|了(?=[\s" + _CJK + r"A-Za-z])")
_ASCII_PAREN = re.compile(r"\s*[(（][A-Za-z][A-Za-z0-9 \-&,.]*[)）]")

_COMPANY_JOIN = re.compile(r"参加了?\s*([" + _CJK + r"A-Za-z][" + _CJK + r"A-Za-z ]{1,15}?)"
                           r"(?:大模型|算法|后端|前端|开发|测试|产品|AI|的|岗位|公司|面试)")
_COMPANY_TITLE = re.compile(r"^(.{2,20}?)(?:初创|\d{2,4}\s*届|校招|社招|秋招|春招|暑期|日常|实习|算法岗?|大模型|后端|"
                            r"前端|开发|应用|岗位?|\s)*(?:面经|面筋|面试|[一二三四终]面)")
_COMPANY_ROLE = re.compile(r"(大模型|算法|后端|前端|开发|应用|岗位?|工程师|实习|面试|面经|的|\[.*?\]|【.*?】|\s)+$")
_NOT_COMPANY = re.compile(r"^(大模型|llms?|ai|算法|面经|面试|记录|最近|我的|分享|[一二三四终hH]面.*)?$", re.IGNORECASE)

_TOPIC_RULES: dict[str, str] = {
    "LLM基础": r"transformer|attention|注意力|norm\b|prenorm|postnorm|位置编码|rope|外推|pretrain|预训练|"
               r"scaling\s*law|encoder|decoder|tokenizer|\bmla\b|moe|梯度爆炸|梯度消失|稀疏化|剪枝",
    "微调": r"lora|p-?tuning|peft|微调|\bsft\b|adapter|qlora",
    "RLHF": r"rlhf|\bppo\b|\bdpo\b|grpo|\bkl\b|kl\s*散度|reward|奖励模型|强化学习|\br1\b",
    "RAG": r"\brag\b|检索|召回|精排|重排|rerank|chunk|splitter|知识库|向量库|vector\s*store",
    "Agent": r"agent|智能体|\bmcp\b|工具调用|function\s*call",
    "LangChain": r"langchain",
    "分布式训练": r"分布式|并行|zero|deepspeed|megatron|fsdp|\bddp\b|混合精度|多机|多卡|offload|框架",
    "推理优化": r"vllm|kv\s*cache|flash\s*attention|paged\s*attention|推理速度|推理优化|int8|fp16|量化|显存|"
               r"投机采样|speculative|生成时的参数|temperature|top-?[kp]",
    "PyTorch": r"torch|register|buffer|no_grad|squeeze|autograd|不记录梯度",
    "Python": r"python|\bgil\b|可变|装饰器|生成器|迭代器",
    "Redis": r"redis|zset|跳表|缓存击穿|缓存穿透|缓存雪崩",
    "MySQL": r"mysql|\bsql\b|慢查询|索引|事务|nl2sql",
    "后端架构": r"前后端|负载|消息队列|kafka|\bsse\b|websocket|k8s|docker|kubernetes|部署|高并发|架构|流式输出|敏感词",
    "算法": r"hot\s*100|leetcode|链表|数组|子串|第\s*k\s*个|排序|二叉树|动态规划",
    "项目": r"项目|实习",
}


_ASCII_B = r"(?:(?<![A-Za-z0-9])(?=[A-Za-z0-9])|(?<=[A-Za-z0-9])(?![A-Za-z0-9]))"


def _ascii_bounds(pattern: str) -> re.Pattern:
    # \b treats CJK as word characters, so "什么是rag" has no boundary before "rag": bound by ASCII only.
    return re.compile(pattern.replace(r"\b", _ASCII_B), re.IGNORECASE)


_TOPIC_RES = {t: _ascii_bounds(p) for t, p in _TOPIC_RULES.items()}
_SECTION_TOPIC = {"LangChain": "LangChain", "分布式训练": "分布式训练", "推理": "推理优化",
                  "手撕": "算法", "项目": "项目"}
assert set(_TOPIC_RULES) <= set(TOPICS) and set(_SECTION_TOPIC.values()) <= set(TOPICS)

_SYSTEM_DESIGN = re.compile(r"架构|部署|k8s|docker|kubernetes|负载|高并发|多表查询|系统设计|选型", re.IGNORECASE)
_PROJECT = re.compile(r"项目|实习|技术派|我用什么|自己设计")
_CODING = re.compile(r"手撕|hot\s*100|leetcode|伪代码|写代码|实现一个", re.IGNORECASE)
_EASY = re.compile(r"^什么是|是什么[?？]?$|了解[吗?？]*$|认识$|有哪些|看过吗|干嘛的|"
                   r"替代方案|如何使用|怎么使用|如何使用")
_HARD = re.compile(r"原理|底层|细节|三个阶段|全流程|具体怎么|推导|loss|源码|三种|计算逻辑|怎么初始化|初始化")


@dataclass
class _Item:
    kind: str            # header | label | numbered | bullet | plain | blank
    line: int            # 1-based
    text: str            # stripped text (marker removed for numbered/bullet)
    indent: int = 0
    number: int = 0
    glyph: str = ""
    section: str = ""


@dataclass
class _Question:
    text: str
    line: int
    section: str
    notes: list[str] = field(default_factory=list)
    inline: bool = False     # "question: answer" on one line
    indent: int = 0


def normalise_section(name: str) -> str:
    """'三、大模型(LLMs)LangChain' -> 'LangChain'; '(三)专业知识问答(八股)' -> '八股'; '二面面经' -> '二面'."""
    name = re.sub(r"^[一二三四五六七八九十]+\s*[、.．]\s*|"
                  r"^[（(][一二三四五六七八九十\d]{1,3}[)）]\s*|^#+\s*", "", name.strip())
    name = re.sub(r"[(（]\s*LLMs?\s*[)）]|大模型|LLMs?\b", "", name, flags=re.IGNORECASE).strip(" :：")
    m = re.match(r"^((?:[一二三四五六七八终]|hr|HR|技术|交叉|主管)面)", name)
    if m:
        return m.group(1)
    for key, canonical in (("手撕", "手撕"), ("代码题", "手撕"), ("编程题", "手撕"), ("八股", "八股"),
                           ("项目", "项目")):
        if key in name:
            return canonical
    if re.fullmatch(r"算法题?", name):
        return "手撕"
    return re.sub(r"\s+", " ", name).strip()


def _chrome_cut(lines: list[str]) -> int:
    for i, line in enumerate(lines):
        if _TERMINATOR.match(line.strip()):
            return i
    return len(lines)


def _classify(lines: list[str]) -> list[_Item]:
    items: list[_Item] = []
    for i, raw in enumerate(lines, start=1):
        text = raw.strip()
        indent = len(raw) - len(raw.lstrip())
        if not text:
            items.append(_Item("blank", i, ""))
            continue
        if _CHROME_LINE.search(text):
            continue
        m = _INLINE_LABEL.match(text)
        b = _BULLET.match(text)
        if not m and b:
            m = _INLINE_LABEL.match(b.group(2))
        if m:
            items.append(_Item("label", i, m.group(2).strip(), indent))
            continue
        header = None
        for rx in (_CN_HEADER, _PAREN_HEADER, _MD_HEADER):
            hm = rx.match(text)
            if hm and not re.search(r"[?？]$", hm.group(1)):
                header = hm.group(1)
                break
        if header is None and (_ROUND_HEADER.match(text) or _BARE_HEADER.match(text)):
            header = text
        if header is not None:
            items.append(_Item("header", i, normalise_section(header), indent))
            continue
        nm = _NUMBERED.match(text)
        if nm:
            items.append(_Item("numbered", i, nm.group(2).strip(), indent, number=int(nm.group(1))))
            continue
        if b:
            items.append(_Item("bullet", i, b.group(2).strip(), indent, glyph=b.group(1)))
            continue
        items.append(_Item("plain", i, text, indent))
    return items


def _clean_question(text: str) -> str:
    text = re.sub(r"\s+", " ", text).strip()
    # A footnote reference glued to the end ("外推能力3").
    text = re.sub(r"(?<=[" + _CJK + r"])[1-9]$", "", text)
    return text.strip()


def _split_inline(text: str) -> tuple[str, str] | None:
    """'项目具体解决问题:我介绍的项目是...' -> (question, answer); None when the line is only a question."""
    m = re.search(r"[:：]", text)
    if m and 2 <= m.start() <= 60 and len(text) - m.end() >= 15:
        return text[:m.start()], text[m.end():].strip()
    if len(text) > 80:
        m = re.search(r"[?？]", text)
        if m and m.start() <= 80:
            return text[:m.end()], text[m.end():].strip()
        # "torch squeeze 和 unsqueeze 干嘛的torch.squeeze..." : the answer restarts, unspaced, in ASCII.
        m = re.search(r"(?<=[的吗呢么])(?=[A-Za-z])", text)
        if m and m.start() <= 80:
            return text[:m.start()], text[m.start():].strip()
    return None


def _condense_narrative(clause: str) -> str:
    clause = _ASCII_PAREN.sub("", clause)
    clause = _FILLER.sub("", clause)
    clause = re.sub(r"\s+", " ", clause).strip()
    return clause


def _plain_question(item: _Item, section: str) -> tuple[str, bool] | None:
    """(question, narrative?) when a plain line in a section without list markers is a question."""
    text = item.text
    if _PROCESS_NOISE.search(text) and len(text) <= 20:
        return None
    if not re.search(f"[{_CJK}]", text):
        return None
    if len(text) <= 60 and not text.endswith(("。", ".", "!", "！")) and not _CODE_LINE.search(text):
        if _QUESTION_CUE.search(text) or (section == "手撕" and _CODING_CUE.search(text)):
            return text, False
    m = _NARRATIVE.search(text)
    if m:
        clause = _condense_narrative(m.group(1) or m.group(2) or "")
        if 2 <= len(clause) <= 60:
            return clause, True
    return None


def _sections(items: list[_Item]) -> list[tuple[str, list[_Item]]]:
    out: list[tuple[str, list[_Item]]] = [("", [])]
    for it in items:
        if it.kind == "header":
            out.append((it.text, []))
        elif it.kind == "label":
            out.append(("手撕", [it]))
        else:
            out[-1][1].append(it)
    return out


def _questions(items: list[_Item]) -> list[_Question]:
    questions: list[_Question] = []
    for section, body in _sections(items):
        numbered = [it for it in body if it.kind == "numbered"]
        # A numbered list counts when it starts at 1 and runs in sequence (answers may hold other numbers).
        seq: set[int] = set()
        expect = 1
        for it in numbered:
            if it.number == expect:
                seq.add(id(it))
                expect += 1
            elif it.number == 1:   # a second list in the same section
                seq.add(id(it))
                expect = 2
        bullets = [it for it in body if it.kind == "bullet"]
        mode = "numbered" if seq else "bullet" if bullets else "plain"
        glyph = bullets[0].glyph if bullets else ""
        current: _Question | None = None
        for it in body:
            q: _Question | None = None
            if it.kind == "label":
                q = _Question(_clean_question(it.text), it.line, section, indent=it.indent)
            elif (mode == "numbered" and id(it) in seq) or (mode == "bullet" and it.kind == "bullet"
                                                             and it.glyph == glyph):
                split = _split_inline(it.text)
                if split:
                    q = _Question(_clean_question(split[0]), it.line, section, [split[1]], inline=True,
                                  indent=it.indent)
                else:
                    q = _Question(_clean_question(it.text), it.line, section, indent=it.indent)
            elif mode == "plain" and it.kind == "plain":
                found = _plain_question(it, section)
                if found:
                    text, narrative = found
                    q = _Question(_clean_question(text), it.line, section,
                                  [it.text] if narrative else [], inline=narrative, indent=it.indent)
            if q is not None and q.text:
                questions.append(q)
                current = q
                continue
            if current is None or it.kind == "blank":
                if current is not None:
                    current.notes.append("")
                continue
            # An inline answer owns only its indented continuation lines (not page footers).
            if current.inline and (it.indent == 0 or it.indent < current.indent):
                current = None
                continue
            text = it.text
            if it.kind == "numbered":
                text = f"{it.number}. {text}"
            elif it.kind == "bullet":
                text = f"- {text}"
            if _NOTE_NOISE.match(text) or (_PROCESS_NOISE.search(text) and len(text) <= 20):
                continue
            # Keep code indentation inside notes.
            current.notes.append(lines_keep_indent(it) if it.kind == "plain" and it.indent else text)
    return questions


# The subject a paragraph opens with: a latin term of up to three words ("Flash Attention 是…").
_OPENING_TERM = re.compile(r"^\s*([A-Za-z][A-Za-z0-9\-]*(?:\s+[A-Za-z][A-Za-z0-9\-]*){0,2})")


def _squash(text: str) -> str:
    return re.sub(r"[\s\-_]+", "", text).lower()


def _return_stray_paragraphs(questions: list[_Question]) -> None:
    """Give back paragraphs that answer the previous question.

    Posts often answer a run of questions, then explain them again below the last one: in 003,
    "Flash Attention 是…" paragraphs follow the Paged Attention question. A paragraph that opens
    with a term the previous question names and this one does not moves to the previous one.
    """
    for prev, cur in zip(questions, questions[1:]):
        if prev.section != cur.section or cur.inline:
            continue
        paragraphs: list[list[str]] = [[]]
        for line in cur.notes:
            if line == "":
                paragraphs.append([])
            else:
                paragraphs[-1].append(line)
        keep: list[list[str]] = []
        moved: list[list[str]] = []
        for para in paragraphs:
            m = _OPENING_TERM.match(para[0]) if para else None
            term = _squash(m.group(1)) if m else ""
            if (keep and len(term) >= 4 and term in _squash(prev.text) and term not in _squash(cur.text)):
                moved.append(para)
            else:
                keep.append(para)
        if moved:
            prev.notes += [line for para in moved for line in ["", *para]]
            cur.notes = [line for i, para in enumerate(keep) for line in ([""] if i else []) + para]


def lines_keep_indent(item: _Item) -> str:
    return " " * item.indent + item.text


def _notes_text(notes: list[str]) -> str:
    text = "\n".join(notes)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip()


def detect_company(text: str) -> str | None:
    """The company named in the title or the opening sentences, if any."""
    head = [ln.strip() for ln in text.split("\n")[:15] if ln.strip() and not _CHROME_LINE.search(ln.strip())]
    for line in head[:6]:
        m = _COMPANY_JOIN.search(line)
        if m:
            name = _COMPANY_ROLE.sub("", m.group(1)).strip()
            if not _NOT_COMPANY.match(name):
                return name
    for line in head[:6]:
        if len(line) > 30:
            continue
        line = re.sub(r"^\s*[\[【][^\]】]*[\]】]\s*|^#+\s*", "", line)
        m = _COMPANY_TITLE.match(line)
        if m:
            name = _COMPANY_ROLE.sub("", m.group(1)).strip()
            if not _NOT_COMPANY.match(name):
                return name
    return None


def guess_topics(question: str, section: str, notes: str = "") -> list[str]:
    topics: list[str] = []
    if section in _SECTION_TOPIC:
        topics.append(_SECTION_TOPIC[section])
    for topic, rx in _TOPIC_RES.items():
        if rx.search(question) and topic not in topics:
            topics.append(topic)
    if not topics and notes:
        head = notes[:300]
        topics += [t for t, rx in _TOPIC_RES.items() if rx.search(head)][:1]
    return topics[:3] or ["LLM基础"]


def guess_kind(question: str, section: str) -> QuestionKind:
    if section == "手撕" or _CODING.search(question):
        return QuestionKind.coding
    if _SYSTEM_DESIGN.search(question):
        return QuestionKind.system_design
    if section == "项目" or _PROJECT.search(question):
        return QuestionKind.project
    return QuestionKind.concept


def guess_difficulty(question: str, kind: QuestionKind) -> int:
    if _HARD.search(question):
        return 3
    if _EASY.search(question) and kind == QuestionKind.concept:
        return 1
    return 2


def dropped_chrome(text: str, limit: int = 40) -> list[str]:
    """The page chrome extract_cards drops from a text: chrome lines, and what follows a terminator
    (comments, a recommendation feed), so a person can see it before anything is stored."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    cut = _chrome_cut(lines)
    out = [ln.strip() for ln in lines[:cut] if ln.strip() and _CHROME_LINE.search(ln.strip())]
    tail = [ln.strip() for ln in lines[cut:] if ln.strip()]
    if tail:
        out.append(f"{tail[0]} … ({len(tail)} lines from here on)")
    return out[:limit]


def extract_cards(text: str, doc: str) -> list[QuestionCard]:
    """All question cards of one document, in document order (positions from 1)."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    lines = lines[:_chrome_cut(lines)]
    company = detect_company("\n".join(lines))
    stem = Path(doc).stem
    cards: list[QuestionCard] = []
    questions = _questions(_classify(lines))
    _return_stray_paragraphs(questions)
    for pos, q in enumerate(questions, start=1):
        notes = _notes_text(q.notes)
        kind = guess_kind(q.text, q.section)
        cards.append(QuestionCard(
            id=f"{stem}:{pos:03d}", question=q.text, doc=doc, position=pos, line=q.line,
            section=q.section, company=company, topics=guess_topics(q.text, q.section, notes), kind=kind,
            difficulty=guess_difficulty(q.text, kind), source_notes=notes))
    return cards
