"""A post someone adds, as plain text: pasted text, `.txt`/`.md`, a saved `.html` page, or a `.pdf`.

A saved page keeps only its content: scripts, styles, navigation, headers, footers, sidebars,
forms and blocks whose class or id names comments, recommendations, login prompts or ads are
dropped, and what was dropped is returned so the person sees it before anything is stored.
A file that cannot be read raises PostError with the reason, named for the file.
"""

from __future__ import annotations

import io
import re
import unicodedata
from dataclasses import dataclass, field
from html.parser import HTMLParser

from interviewer.bank.corpus import CorpusError, _looks_binary, decode

MAX_POST_BYTES = 2 * 1024 * 1024
SUFFIXES = (".txt", ".md", ".html", ".htm", ".pdf")


class PostError(ValueError):
    """Why a post cannot be read (the message is shown as it is)."""


@dataclass
class PostText:
    text: str
    dropped: list[str] = field(default_factory=list)  # page chrome removed before extraction
    kind: str = "text"


# Elements that are never content, and class/id words that mark chrome blocks.
_SKIP_TAGS = {"script", "style", "noscript", "nav", "header", "footer", "aside", "form", "button", "iframe",
              "svg", "select", "template", "head"}
_CHROME_ATTR = re.compile(r"comment|recommend|related|sidebar|side-bar|footer|header|navbar|\bnav\b|login|"
                          r"advert|\bads?\b|banner|share|toolbar|breadcrumb|feed|hot-list|author-info",
                          re.IGNORECASE)
_BLOCK_TAGS = {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "pre", "section", "article",
               "blockquote", "ul", "ol", "table", "hr", "dt", "dd", "main"}
_VOID = {"br", "hr", "img", "input", "meta", "link", "area", "base", "col", "embed", "source", "track", "wbr"}


class _PageText(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.dropped: list[list[str]] = []
        self._skip = 0          # depth inside a dropped element
        self._stack: list[bool] = []  # for each open element: does it start a dropped block?

    def handle_starttag(self, tag, attrs):
        attr = " ".join(v or "" for k, v in attrs if k in ("class", "id", "role"))
        drop = tag in _SKIP_TAGS or bool(attr and _CHROME_ATTR.search(attr))
        if tag in _VOID:
            if tag == "br" and not self._skip:
                self.out.append("\n")
            return
        if drop and not self._skip and tag not in ("script", "style", "head", "template", "svg"):
            self.dropped.append([])
        self._stack.append(drop)
        if drop:
            self._skip += 1
        elif not self._skip and tag in _BLOCK_TAGS:
            self.out.append("\n")
            if tag == "li":
                self.out.append("- ")

    def handle_endtag(self, tag):
        if tag in _VOID or not self._stack:
            return
        drop = self._stack.pop()
        if drop:
            self._skip -= 1
        elif not self._skip and tag in _BLOCK_TAGS:
            self.out.append("\n")

    def handle_data(self, data):
        if self._skip:
            if self.dropped and self._stack and data.strip():
                self.dropped[-1].append(data.strip())
        else:
            self.out.append(data)


def html_to_text(html: str) -> PostText:
    parser = _PageText()
    parser.feed(html)
    parser.close()
    text = "".join(parser.out).replace("\xa0", " ")
    lines = [re.sub(r"[ \t]+", " ", ln).strip() for ln in text.split("\n")]
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
    dropped = [" ".join(block)[:200] for block in parser.dropped if block]
    return PostText(text=text, dropped=dropped, kind="html")


# PDF fonts often map CJK characters to their Kangxi-radical or compatibility look-alikes ("⾏" U+2F8F
# for "行"): back to the unified ideographs, or the questions would not match anything.
_RADICALS = re.compile("[\u2e80-\u2fdf\uf900-\ufaff]")


def pdf_to_text(data: bytes) -> PostText:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise PostError("the PDF is encrypted")
        pages = [page.extract_text() or "" for page in reader.pages]
    except PostError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as exc:
        raise PostError(f"not a readable PDF ({type(exc).__name__}: {exc})") from None
    text = _RADICALS.sub(lambda m: unicodedata.normalize("NFKC", m.group(0)), "\n".join(pages)).strip()
    if not text:
        raise PostError("the PDF has no text layer (a scanned image?)")
    return PostText(text=text, kind="pdf")


def read_post(name: str, data: bytes) -> PostText:
    """The text of an uploaded file (by its suffix) or of pasted text (name ''); PostError says why not."""
    if len(data) > MAX_POST_BYTES:
        raise PostError(f"too large: {len(data) / 2**20:.1f} MB (a post is at most {MAX_POST_BYTES // 2**20} MB)")
    if not data.strip():
        raise PostError("empty")
    suffix = ("." + name.rsplit(".", 1)[-1].lower()) if "." in name else ""
    if name and suffix not in SUFFIXES:
        raise PostError(f"unsupported file type '{suffix or name}' (use {', '.join(SUFFIXES)})")
    if suffix == ".pdf":
        if not data.startswith(b"%PDF"):
            raise PostError("not a PDF (no %PDF header)")
        return pdf_to_text(data)
    if _looks_binary(data):
        raise PostError("binary file, not text")
    try:
        text, _ = decode(data)
    except CorpusError as exc:
        raise PostError(str(exc)) from None
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if suffix in (".html", ".htm") or (not suffix and re.match(r"\s*(<!doctype html|<html)", text, re.I)):
        return html_to_text(text)
    return PostText(text=text)
