"""HTML and chat rendering for the app, with strict escaping.

Everything shown here comes from somewhere we do not control: the candidate's answers, question
text and notes scraped from 面经 posts, and model output. So every dynamic string goes through
`esc()` (HTML) or `chat_text()` (the Chatbot's Markdown) — nothing is ever interpolated raw.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from typing import Any

from interviewer.models import Grade, KeyPointStatus, QuestionCard, TokenUsage, Turn
from interviewer.service import criterion_name


def esc(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


# Markdown punctuation the Chatbot would interpret (emphasis, links, lists, headings, tables,
# code, LaTeX delimiters). Backslash-escaping them makes the renderer show them literally.
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~$=^])")


def chat_text(text: str) -> str:
    """Text -> Chatbot content that renders as exactly that text (no HTML, no Markdown).

    HTML metacharacters (& < >) become entities (shown literally by the Markdown renderer, never parsed
    as tags), Markdown punctuation is backslash-escaped, and leading indentation is made
    non-breaking so four spaces do not turn a line into a code block.
    """
    out_lines = []
    for line in (text or "").split("\n"):
        stripped = line.lstrip(" \t")
        indent = len(line) - len(stripped)
        # quote=False: quotes need no escaping outside an attribute, and an entity like &#x27;
        # would get its # escaped next and show as the entity's text.
        line = html.escape(stripped, quote=False)
        line = _MD_SPECIAL.sub(r"\\\1", line)
        out_lines.append("&nbsp;" * indent + line)
    return "\n".join(out_lines)


# --------------------------------------------------------------------------- labels

T = {
    "zh": {
        "total": "总分", "criteria": "评分维度", "key_points": "要点", "reference": "参考笔记",
        "source": "出处", "grader": "评分器", "fallback": "回退原因", "not_graded": "未评分",
        "answer": "你的回答", "truncated": "回答过长，已截断", "skipped": "已跳过",
        "summary": "点评", "correction": "更正", "no_notes": "（原文没有参考笔记）",
        "overall": "总体得分", "by_topic": "按主题", "by_criterion": "按评分维度",
        "strongest": "强项", "weakest": "弱项", "questions": "题目", "graded": "已评分",
        "regrade": "重新评分", "original": "原评分", "none": "无", "weight": "权重", "reason": "理由",
        "model_answer": "参考答案",
        "project": "项目题按回答的结构评分（情境、本人角色、设计取舍、量化结果），不核对项目事实。",
    },
    "en": {
        "total": "Total", "criteria": "Criteria", "key_points": "Key points", "reference": "Reference notes",
        "source": "Source", "grader": "Grader", "fallback": "fallback reason", "not_graded": "Not graded",
        "answer": "Your answer", "truncated": "answer too long, cut", "skipped": "skipped",
        "summary": "Summary", "correction": "Correction", "no_notes": "(the source has no notes)",
        "overall": "Overall", "by_topic": "By topic", "by_criterion": "By criterion",
        "strongest": "Strongest", "weakest": "Weakest", "questions": "Questions", "graded": "graded",
        "regrade": "Regrade", "original": "Original grade", "none": "none", "weight": "weight", "reason": "reason",
        "model_answer": "Model answer",
        "project": "Project questions are graded on the answer's structure (situation, your role, design "
                   "choices and trade-offs, measured results), not on facts about the project.",
    },
}

STATUS_LABEL = {
    "zh": {"covered": "已覆盖", "partly": "部分", "missing": "缺失", "wrong": "有误"},
    "en": {"covered": "covered", "partly": "partly", "missing": "missing", "wrong": "wrong"},
}


def _t(language: str) -> dict[str, str]:
    return T.get(language, T["zh"])


def grader_label(grade: Grade) -> str:
    """'offline' or the model name (and host), plus the fallback reason when there is one."""
    p = grade.provenance
    label = "offline" if p.grader == "offline" else (p.model or "llm")
    if p.grader == "llm" and p.endpoint_host:
        label += f" @ {p.endpoint_host}"
    label += f" · {p.grader_version} · {p.rubric_version}"
    return label


# --------------------------------------------------------------------------- chat

# The candidate's button presses are recorded as turns ("/skip"); the chat shows what they mean.
# Plain text, no emoji: the Space's and many desktops' fonts have no emoji glyphs (tofu boxes).
ACTION_LABEL = {
    "skip": {"zh": "（跳过这题）", "en": "(skip this question)"},
    "repeat": {"zh": "（请重复一下问题）", "en": "(please repeat the question)"},
    "end": {"zh": "（结束面试）", "en": "(end the interview)"},
}

def turns_to_messages(turns: Iterable[Turn], pending: str | None = None, language: str = "zh",
                      max_chars: int | None = None) -> list[dict]:
    """The state's turns as Chatbot messages; `pending` is the interviewer message being streamed."""
    t = _t(language)
    messages: list[dict] = []
    for turn in turns:
        if turn.role == "candidate" and turn.kind in ACTION_LABEL:
            label = ACTION_LABEL[turn.kind][language if language == "en" else "zh"]
            messages.append({"role": "user", "content": label})
        elif turn.role == "candidate":
            content = chat_text(turn.text)
            if turn.truncated:
                limit = f" ({max_chars})" if max_chars else ""
                content += f"\n\n**{esc(t['truncated'])}{limit}**"
            messages.append({"role": "user", "content": content})
        elif turn.role == "system" or turn.kind == "notice":
            messages.append({"role": "assistant", "content": "ⓘ " + chat_text(turn.text)})
        else:
            messages.append({"role": "assistant", "content": chat_text(turn.text)})
    if pending:
        messages.append({"role": "assistant", "content": chat_text(pending)})
    return messages


def notice_message(text: str) -> dict:
    """A message from the app to this tab (not a turn of the transcript)."""
    return {"role": "assistant", "content": "ⓘ " + chat_text(text)}


# --------------------------------------------------------------------------- grade cards

CARD_CSS = """
.ms-card{border:1px solid #d0d7de;border-radius:10px;padding:12px 14px;margin:0 0 12px 0;
  background:var(--block-background-fill,#fff);overflow-wrap:anywhere;word-break:break-word}
.ms-card h4{margin:0 0 6px 0;font-size:15px;line-height:1.4}
.ms-total{font-size:22px;font-weight:700;color:#1f6feb}
.ms-total small{font-size:13px;color:#57606a;font-weight:400}
.ms-ng{color:#9a6700;font-weight:600}
.ms-card table{border-collapse:collapse !important;width:100%;margin:6px 0;font-size:13px;border:none !important}
.ms-card td,.ms-card th{border:none !important;border-top:1px solid #eaeef2 !important;padding:4px 6px !important;
  text-align:left;vertical-align:top;background:none !important}
.ms-card td.ms-num,.ms-card th.ms-num{white-space:nowrap;width:1%}
.ms-card ul{margin:4px 0 4px 0;padding:0;font-size:13px;list-style:none}
.ms-card li.ms-kp{margin:3px 0}
.ms-badge{display:inline-block;border-radius:4px;padding:0 5px;font-size:12px;font-weight:600;margin-right:4px}
.ms-kp-covered{background:#dafbe1;color:#1a7f37}.ms-kp-partly{background:#fff8c5;color:#7d4e00}
.ms-kp-missing{background:#eaeef2;color:#424a53}.ms-kp-wrong{background:#ffebe9;color:#cf222e}
.ms-answer{white-space:pre-wrap;background:#f6f8fa;border-radius:6px;padding:6px 8px;font-size:13px;
  max-height:220px;overflow:auto;font-family:inherit}
.ms-notes{white-space:pre-wrap;font-size:12.5px;color:#424a53;max-height:200px;overflow:auto;
  background:#fbfbfc;border-left:3px solid #d0d7de;padding:4px 8px}
.ms-meta{font-size:12px;color:#57606a}
.ms-warn{color:#9a6700;font-size:12.5px}
.ms-bar{display:flex;align-items:center;gap:8px;font-size:13px;margin:3px 0}
.ms-bar .lbl{width:9em;flex:none;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
.ms-bar .track{flex:1;background:#eaeef2;border-radius:4px;height:14px;min-width:60px}
.ms-bar .fill{background:#1f6feb;border-radius:4px;height:14px}
.ms-bar .val{width:3em;text-align:right;flex:none}
.ms-pair{display:grid;grid-template-columns:1fr 1fr;gap:10px;margin-top:10px}
@media (max-width:900px){.ms-pair{grid-template-columns:1fr}}
.ms-turn{margin:4px 0;font-size:13.5px;white-space:pre-wrap;overflow-wrap:anywhere}
.ms-turn b{font-weight:600}
"""


def _score(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"


def grade_block_html(grade: Grade, language: str = "zh", heading: str | None = None) -> str:
    """Total, criteria with reasons, key-point verdicts and the grader label of one grade."""
    t = _t(language)
    parts = []
    if heading:
        parts.append(f'<div class="ms-meta"><b>{esc(heading)}</b></div>')
    if grade.status == "graded":
        parts.append(f'<div class="ms-total" data-total="{esc(_score(grade.total))}">{esc(t["total"])} '
                     f'{esc(_score(grade.total))}<small> / 10</small></div>')
    else:
        parts.append(f'<div class="ms-ng">{esc(t["not_graded"])}: {esc(grade.not_graded_reason or "")}</div>')
    if grade.criteria:
        rows = "".join(
            f'<tr class="ms-criterion"><td class="ms-num">{esc(criterion_name(c.criterion, language))}</td>'
            f'<td class="ms-num">{esc(_score(c.score))}</td><td class="ms-num">×{esc(f"{c.weight:g}")}</td>'
            f'<td>{esc(c.reason)}</td></tr>'
            for c in grade.criteria)
        parts.append(f'<table><tr><th class="ms-num">{esc(t["criteria"])}</th><th class="ms-num">/10</th>'
                     f'<th class="ms-num">{esc(t["weight"])}</th><th>{esc(t["reason"])}</th></tr>{rows}</table>')
    if grade.key_points:
        labels = STATUS_LABEL.get(language, STATUS_LABEL["zh"])
        items = []
        for v in grade.key_points:
            status = KeyPointStatus(v.status).value
            # Evidence is the answer's words that support a verdict; a missing point has none.
            evidence = (f' <span class="ms-meta">— “{esc(v.evidence)}”</span>'
                        if v.evidence and status != "missing" else "")
            items.append(f'<li class="ms-kp" data-status="{status}"><span class="ms-badge ms-kp-{status}">'
                         f'{esc(labels[status])}</span> {esc(v.point)}{evidence}</li>')
        parts.append(f'<div><b>{esc(t["key_points"])}</b><ul>{"".join(items)}</ul></div>')
    if grade.summary:
        parts.append(f'<div><b>{esc(t["summary"])}</b>: {esc(grade.summary)}</div>')
    label = f'{esc(t["grader"])}: <span class="ms-grader">{esc(grader_label(grade))}</span>'
    if grade.provenance.fallback_reason:
        label += f' <span class="ms-warn">({esc(t["fallback"])}: {esc(grade.provenance.fallback_reason)})</span>'
    parts.append(f'<div class="ms-meta">{label}</div>')
    return "".join(parts)


def model_answer_html(grade: Grade | None, language: str = "zh") -> str:
    """The model answer that came with a grade: shown only once the question is graded."""
    if grade is None or not grade.model_answer:
        return ""
    t = _t(language)
    return (f'<details class="ms-model-answer" open><summary><b>{esc(t["model_answer"])}</b></summary>'
            f'<div class="ms-notes">{esc(grade.model_answer)}</div></details>')


def source_html(card: QuestionCard | None, language: str = "zh") -> str:
    if card is None:
        return ""
    t = _t(language)
    where = " · ".join(x for x in (card.doc, card.section, card.company or "") if x)
    notes = card.source_notes.strip()
    notes_html = (f'<div class="ms-notes">{esc(notes)}</div>' if notes
                  else f'<div class="ms-meta">{esc(t["no_notes"])}</div>')
    correction = (f'<div class="ms-warn"><b>{esc(t["correction"])}</b>: {esc(card.correction)}</div>'
                  if card.correction else "")
    return (f'<details><summary><b>{esc(t["reference"])}</b> <span class="ms-meta">{esc(t["source"])}: '
            f'<span class="ms-source">{esc(where)}</span></span></summary>{notes_html}{correction}</details>')


# Key points of a card someone added are not reviewed: every place that shows them says where they come from.
KEY_POINTS_ORIGIN = {
    "post": "参考要点来自原帖，未审核 · key points from the post, unreviewed",
    "model": "参考要点由模型撰写，未审核 · key points model-written, unreviewed",
    "edited": "参考要点由你编辑，未审核 · key points edited by you, unreviewed",
}


def grade_card_html(question_id: str, asked: str, answers: list[str], grade: Grade | None,
                    card: QuestionCard | None, language: str = "zh", skipped: bool = False,
                    truncated: bool = False, history: list[tuple[str, Grade]] | None = None,
                    index: int | None = None) -> str:
    """One question's card: the question, the answer as text, the grade(s) and the reference.

    `history` (the review tab) is every grade of the question, oldest first, each with a heading
    saying which it is and when: they are shown side by side, so a regrade never hides the original.
    """
    t = _t(language)
    number = f"Q{index}. " if index is not None else ""
    out = [f'<div class="ms-card" data-question-id="{esc(question_id)}">',
           f'<h4>{esc(number)}{esc(asked)}</h4>']
    if skipped:
        out.append(f'<div class="ms-meta">{esc(t["skipped"])}</div>')
    if answers:
        joined = "\n\n".join(answers)
        notice = f'<div class="ms-warn">{esc(t["truncated"])}</div>' if truncated else ""
        out.append(f'<div class="ms-meta">{esc(t["answer"])}</div><pre class="ms-answer">{esc(joined)}</pre>{notice}')
    if history and len(history) > 1:
        blocks = [f'<div class="ms-grade-version">{grade_block_html(g, language, heading=h)}</div>'
                  for h, g in history]
        out.append(f'<div class="ms-pair">{"".join(blocks)}</div>')
    elif grade is not None:
        out.append(grade_block_html(grade, language))
    if card is not None and card.key_points_origin and (grade is not None or history):
        out.append(f'<div class="ms-meta ms-kp-origin">{esc(KEY_POINTS_ORIGIN.get(card.key_points_origin, ""))}</div>')
    if card is not None and card.kind == "project" and (grade is not None or history):
        out.append(f'<div class="ms-meta ms-project-note">{esc(t["project"])}</div>')
    out.append(model_answer_html(grade or (history[-1][1] if history else None), language))
    out.append(source_html(card, language))
    out.append("</div>")
    return "".join(out)


# --------------------------------------------------------------------------- report

def pending_card_html(question_id: str, asked: str, language: str = "zh", index: int | None = None) -> str:
    """The place of a grade that is being worked on in the background."""
    label = "评分中…" if language == "zh" else "grading…"
    head = f"第 {index} 题" if language == "zh" and index else f"Question {index}" if index else ""
    return (f'<div class="ms-card ms-pending" data-question="{esc(question_id)}"><b>{esc(head)}</b> '
            f'<span class="ms-meta">{esc(label)}</span><div class="ms-meta">{esc(chat_text(asked))}</div></div>')


def report_pending_html(pending: int, language: str = "zh") -> str:
    """The report's place while answers are still being graded: no total until every grade is in."""
    text = (f"正在评分 {pending} 个回答…… 报告在全部评分完成后显示。" if language == "zh"
            else f"grading {pending} answer{'s' if pending != 1 else ''}… the report follows when every grade is in.")
    return f'<div class="ms-card ms-report ms-report-pending">{esc(text)}</div>'


def bars_html(values: dict[str, float], css_class: str, language: str = "zh") -> str:
    if not values:
        return f'<div class="ms-meta">{esc(_t(language)["none"])}</div>'
    rows = []
    for label, value in values.items():
        pct = max(0.0, min(100.0, float(value) * 10))
        rows.append(f'<div class="ms-bar {esc(css_class)}" data-label="{esc(label)}" data-value="{value:.1f}">'
                    f'<span class="lbl" title="{esc(label)}">{esc(label)}</span>'
                    f'<span class="track"><span class="fill" style="display:block;width:{pct:.0f}%"></span></span>'
                    f'<span class="val">{value:.1f}</span></div>')
    return "".join(rows)


def report_html(report: Any, language: str = "zh") -> str:
    """The final report: overall score, HTML bar charts by topic and criterion, strong/weak points."""
    t = _t(language)
    by_criterion = {criterion_name(k, language): v for k, v in (report.by_criterion or {}).items()}
    strongest = "".join(f"<li>{esc(s)}</li>" for s in report.strongest) or f"<li>{esc(t['none'])}</li>"
    weakest = "".join(f"<li>{esc(s)}</li>" for s in report.weakest) or f"<li>{esc(t['none'])}</li>"
    return (
        '<div class="ms-card ms-report">'
        f'<div class="ms-total ms-overall">{esc(t["overall"])} {esc(_score(report.overall))}<small> / 10</small></div>'
        f'<div class="ms-meta">{esc(t["graded"])}: {report.graded} · {esc(t["not_graded"])}: {report.not_graded}'
        f' · {esc(t["skipped"])}: {report.skipped}</div>'
        f'<div class="ms-pair"><div><b>{esc(t["by_topic"])}</b>{bars_html(report.by_topic, "ms-topic", language)}</div>'
        f'<div><b>{esc(t["by_criterion"])}</b>{bars_html(by_criterion, "ms-crit", language)}</div></div>'
        f'<div class="ms-pair"><div><b>{esc(t["strongest"])}</b><ul class="ms-strong">{strongest}</ul></div>'
        f'<div><b>{esc(t["weakest"])}</b><ul class="ms-weak">{weakest}</ul></div></div>'
        + usage_html(getattr(report, "usage", None), getattr(report, "price_per_mtok", None), language)
        + '</div>'
    )


def usage_html(usage: Any, price_per_mtok: tuple[float, float] | None, language: str = "zh") -> str:
    """The session's model tokens (and cost, with prices set) as one line; "" when no model was used."""
    if usage is None:
        return ""
    usage = usage if isinstance(usage, TokenUsage) else TokenUsage.model_validate(usage)
    line = usage.line(price_per_mtok, language)
    return f'<div class="ms-meta ms-usage">{esc(line)}</div>' if line else ""


def transcript_html(turns: Iterable[Turn], language: str = "zh") -> str:
    """A past session's turns as escaped text lines (the review tab)."""
    who = {"interviewer": "面试官" if language == "zh" else "Interviewer",
           "candidate": "候选人" if language == "zh" else "Candidate",
           "system": "ⓘ"}
    rows = []
    for turn in turns:
        cut = f' <span class="ms-warn">({esc(_t(language)["truncated"])})</span>' if turn.truncated else ""
        rows.append(f'<div class="ms-turn ms-turn-{esc(turn.role)}"><b>{esc(who.get(turn.role, turn.role))}</b>: '
                    f'{esc(turn.text)}{cut}</div>')
    return "".join(rows)


def check_html(result: Any) -> str:
    """The model check (service.check_model) as one line under the status line."""
    css = "ms-check-ok" if result.ok else "ms-check-failed"
    return (f'<div class="{css}" id="check-model-result">'
            + " · ".join(esc(line) for line in result.lines()) + "</div>")
