"""HTML of the bank tab: the card view, the list of documents, an add-post preview's summary and
the page chrome it dropped. Everything from a card or a post is escaped."""

from __future__ import annotations

from interviewer.ui.render import esc

BANK_CSS = """
#bank-cards{max-height:560px;overflow-y:auto}
#bank-card-view .ms-history{margin:6px 0;color:#0969da}
.ms-kp-origin{background:#fff8c5;color:#7d4e00}
#post-preview li.ms-chrome{color:#8c959f;text-decoration:line-through}
"""

KIND_LABELS = {"concept": "概念 concept", "project": "项目 project", "coding": "编程 coding",
               "system_design": "系统设计 system design"}


def card_label(card) -> str:
    """One line per card in the pick list."""
    where = " · ".join(x for x in (card.section, card.company or "", card.doc) if x)
    mine = "★ " if card.owner else ""
    return f"{mine}{card.question}  —  {where}"


def card_view_html(view) -> str:
    if view is None:
        return '<div class="ms-meta">选择一道题查看 · pick a card to view it</div>'
    c = view.card
    where = " · ".join(x for x in (f"{view.doc_name}, 第 {c.line} 行 line {c.line}", c.section, c.company or "")
                       if x)
    parts = [f'<div class="ms-card ms-bank-card" data-card-id="{esc(c.id)}">', f"<h4>{esc(c.question)}</h4>",
             f'<div class="ms-meta ms-source">出处 source: {esc(where)} · {esc(c.id)}</div>',
             f'<div class="ms-meta">{esc(", ".join(c.topics))} · {esc(KIND_LABELS.get(c.kind.value, c.kind.value))}'
             f' · 难度 difficulty {c.difficulty}</div>']
    if c.source_question and c.source_question != c.question:
        parts.append(f'<div class="ms-meta">原文 source wording: {esc(c.source_question)}</div>')
    if view.seen:
        score = "—" if view.last_score is None else f"{view.last_score:.1f}/10"
        parts.append(f'<div class="ms-history">你之前答过 {view.seen} 次，最近得分 {esc(score)} · '
                     f'you answered it {view.seen}× before, last score {esc(score)}</div>')
    else:
        parts.append('<div class="ms-history">你还没答过这道题 · you have not answered it yet</div>')
    if c.key_points:
        label = f' <span class="ms-badge ms-kp-origin">{esc(view.key_points_label)}</span>' if view.key_points_label \
            else ""
        items = "".join(f"<li>{esc(p)}</li>" for p in c.key_points)
        parts.append(f'<div class="ms-bank-kp"><b>要点 Key points</b>{label}<ul>{items}</ul></div>')
    else:
        parts.append('<div class="ms-warn ms-bank-kp">没有参考要点：这道题的回答会被记录，但不会评分 · no key points: '
                     'answers are recorded, not graded</div>')
    if c.correction:
        parts.append(f'<div class="ms-warn"><b>更正 Correction</b>: {esc(c.correction)}</div>')
    if c.misconceptions:
        items = "".join(f"<li>{esc(m.claim)}{(' — ' + esc(m.why)) if m.why else ''}</li>" for m in c.misconceptions)
        parts.append(f'<div class="ms-bank-misc"><b>常见误区 Misconceptions</b><ul>{items}</ul></div>')
    answer = c.answer_in("zh")
    if answer:
        parts.append(f'<details><summary><b>参考答案 Model answer</b></summary><div class="ms-notes">'
                     f'{esc(answer)}</div></details>')
    if c.source_notes.strip():
        parts.append(f'<details><summary><b>原帖笔记 Source notes</b></summary><div class="ms-notes">'
                     f'{esc(c.source_notes)}</div></details>')
    if c.also_at:
        parts.append(f'<div class="ms-meta">也出现在 also at: {esc(", ".join(c.also_at))}</div>')
    parts.append("</div>")
    return "".join(parts)


def docs_html(docs) -> str:
    rows = []
    for d in docs:
        whose = "你添加的 yours" if d.owner else "语料 corpus"
        links = f", {d.links} 条链接到已有题 linked" if d.links else ""
        rows.append(f'<li class="ms-doc" data-doc-id="{esc(d.id)}"><b>{esc(d.name)}</b> '
                    f'<span class="ms-meta">{esc(d.id)} · {d.cards} 题 cards{esc(links)} · {esc(whose)}</span></li>')
    return f'<ul class="ms-docs">{"".join(rows)}</ul>'


def preview_html(preview) -> str:
    """Summary of what the extractor found, the near-duplicates it will link, and the chrome it dropped."""
    dups = [f for f in preview.found if f.duplicate_of]
    head = (f'<div class="ms-meta">{esc(preview.name)} · 找到 {len(preview.found)} 道题 found'
            + (f' · 公司 company: {esc(preview.company)}' if preview.company else "") + "</div>")
    if preview.already_added:
        head += ('<div class="ms-warn">这篇已经添加过了，再添加不会新增任何题 · '
                 'already added: adding it again adds nothing</div>')
    dup_html = ""
    if dups:
        items = "".join(f'<li class="ms-dup">{esc(f.question)} → <b>{esc(f.duplicate_question)}</b> '
                        f'<span class="ms-meta">({esc(f.duplicate_of)})</span></li>' for f in dups)
        dup_html = f'<div><b>已有相同的题，将链接到已有题 · already in the bank, will link</b><ul>{items}</ul></div>'
    chrome = "".join(f'<li class="ms-chrome">{esc(x)}</li>' for x in preview.dropped)
    chrome_html = (f'<details open><summary><b>去掉的页面杂项 Page chrome dropped ({len(preview.dropped)})</b>'
                   f'</summary><ul>{chrome}</ul></details>') if preview.dropped else \
        '<div class="ms-meta">没有去掉页面杂项 · no page chrome dropped</div>'
    return head + dup_html + chrome_html


def status_html(text: str, ok: bool) -> str:
    color = "#1a7f37" if ok else "#cf222e"
    return (f'<div class="ms-post-status" data-ok="{str(ok).lower()}" style="color:{color};white-space:pre-line">'
            f'{esc(text)}</div>')
