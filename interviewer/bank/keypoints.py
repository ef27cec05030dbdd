"""Reference text or source notes -> a short list of key points.

Used for card notes without reviewed key points and for the references of the grading
benchmarks, so the offline grader sees the same kind of input in the app and in evaluation.

The split is structural first (blank lines, numbered or bulleted items, circled numbers),
then by sentence ends. Tiny fragments ("顺序表：", "Possible Differences :") carry no
checkable content on their own, so they are merged into a neighbour instead of becoming a
point a candidate could never "cover".
"""

from __future__ import annotations

import re

from interviewer.text import CJK_CHAR, text_units

# A point shorter than this (in "units": CJK chars count 1, latin words count 2) is merged.
MIN_UNITS = 6
# More points than this makes per-point verdicts noisy and the grade page unreadable;
# beyond it neighbouring points are merged pairwise until the list fits.
MAX_POINTS = 12
# A single point longer than this is split again at clause level (，/,) if possible.
MAX_POINT_CHARS = 160

_ITEM_MARK = re.compile(
    r"""^\s*(?:
        [①②③④⑤⑥⑦⑧⑨⑩⑪⑫⑬⑭⑮⑯⑰⑱⑲⑳]            # circled numbers
      | [（(]?\d{1,2}\s*[)）.、．:：](?!\d)     # 1.  1)  (1)  1、  1：  (not 1.5)
      | [（(]?[一二三四五六七八九十]{1,2}[)）、．.]  # 一、 (二)
      | [•·●▪◦‣○]\s*                           # • item (no space needed)
      | [-*+]\s*(?=[^\W\d])                     # - item, -Item, * item (not -1)
      | [a-zA-Z][).]\s                          # a) b.
    )\s*""",
    re.VERBOSE,
)
# Inline markers: "顺序表：①...；②..." -> split before each circled number / (n).
_INLINE_MARK = re.compile(r"(?=[①②③④⑤⑥⑦⑧⑨⑩⑪⑫⑬⑭⑮⑯⑰⑱⑲⑳])|(?<=[。；;：:])\s*(?=[（(]\d{1,2}[)）])")
# Sentence ends: CJK full stop/semicolon/!/?, and latin ones followed by a space.
_SENTENCE_END = re.compile(r"(?<=[。；！？!?])|(?<=[.;])\s+(?=[A-Z\u4e00-\u9fff(（\"'])")
_CLAUSE_END = re.compile(r"(?<=[，,])")
# A sentence opening with a pronoun or connective continues the previous sentence's point.
_CONTINUATION = re.compile(r"^(这种|这样|这些|这个|这|它们|它|其|该|此|因此|所以|从而|"
                           r"(it|this|these|they|thus|therefore|hence)\b)",
                           re.IGNORECASE)


def _units(text: str) -> int:
    return text_units(text, latin_weight=2)


def _clean(text: str) -> str:
    text = _ITEM_MARK.sub("", text.strip())
    text = re.sub(r"\s+", " ", text)
    return text.strip(" \t;；,，、")


def _split_long(piece: str) -> list[str]:
    if len(piece) <= MAX_POINT_CHARS:
        return [piece]
    parts, cur = [], ""
    for clause in _CLAUSE_END.split(piece):
        if cur and len(cur) + len(clause) > MAX_POINT_CHARS:
            parts.append(cur)
            cur = ""
        cur += clause
    if cur:
        parts.append(cur)
    return parts


def _pieces(text: str) -> list[str]:
    out: list[str] = []
    for block in re.split(r"\n\s*\n", text):
        for line in block.splitlines():
            if not line.strip():
                continue
            for item in _INLINE_MARK.split(line):
                sentences: list[str] = []
                for sentence in _SENTENCE_END.split(item):
                    sentence = sentence.strip()
                    # "这种方法帮助……" / "It also ..." continues the previous sentence's point.
                    if (sentences and _CONTINUATION.match(sentence)
                            and len(sentences[-1]) + len(sentence) <= MAX_POINT_CHARS):
                        sentences[-1] = f"{sentences[-1]}{'' if CJK_CHAR.match(sentence) else ' '}{sentence}"
                    else:
                        sentences.append(sentence)
                for sentence in sentences:
                    for piece in _split_long(sentence):
                        cleaned = _clean(piece)
                        if cleaned and re.search(r"\w", cleaned):
                            out.append(cleaned)
    return out


def _merge_tiny(pieces: list[str]) -> list[str]:
    merged: list[str] = []
    carry = ""
    for piece in pieces:
        piece = f"{carry} {piece}".strip() if carry else piece
        carry = ""
        if _units(piece) < MIN_UNITS or piece.endswith((":", "：")):
            # A heading such as "链表：" or "常见的参数包括：" belongs to what follows it.
            carry = piece
            continue
        merged.append(piece)
    if carry:
        if merged:
            merged[-1] = f"{merged[-1]} {carry}"
        else:
            merged.append(carry)
    return merged


def _dedupe(points: list[str]) -> list[str]:
    seen: set[str] = set()
    out = []
    for p in points:
        key = re.sub(r"\W+", "", p.lower())
        if key and key not in seen:
            seen.add(key)
            out.append(p)
    return out


def _cap(points: list[str], limit: int) -> list[str]:
    # Merge the adjacent pair with the smallest combined length until the list fits,
    # so no content is dropped and points stay in reading order.
    points = list(points)
    while len(points) > limit:
        best = min(range(len(points) - 1), key=lambda i: len(points[i]) + len(points[i + 1]))
        points[best:best + 2] = [f"{points[best]} {points[best + 1]}"]
    return points


def split_points(text: str, max_points: int = MAX_POINTS) -> list[str]:
    """Split reference text / source notes into key points (never more than max_points)."""
    if not text or not text.strip():
        return []
    points = _dedupe(_merge_tiny(_pieces(text)))
    return _cap(points, max(1, max_points))
