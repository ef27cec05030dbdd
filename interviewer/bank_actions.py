"""What the bank tab and the command line do with the question library for one owner: browse and
search what the owner sees, look at a card, add a post (preview first, then add), remove a post.

Reached as `services.bank_actions`; the owner comes in as an argument on every call. In admin mode
(settings.admin) browsing, search and removal cover everyone's cards; adding is always one's own.
"""

from __future__ import annotations

from pydantic import BaseModel

from interviewer.bank.library import AddResult, DocInfo, Found, Library, PostError, Preview  # noqa: F401
from interviewer.bank.readers import MAX_POST_BYTES  # noqa: F401
from interviewer.models import QuestionCard, QuestionKind

ORIGIN_LABELS = {
    "post": "来自原帖，未审核 · from the post, unreviewed",
    "model": "模型撰写，未审核 · model-written, unreviewed",
    "edited": "作者编辑，未审核 · edited by you, unreviewed",
    "": "",
}


class CardFilter(BaseModel):
    section: str | None = None
    topic: str | None = None
    company: str | None = None
    kind: str | None = None
    doc: str | None = None
    query: str = ""


class CardView(BaseModel):
    """Everything the card view shows."""

    card: QuestionCard
    doc_name: str
    owned: bool
    key_points_label: str
    seen: int = 0
    last_score: float | None = None


class BankActions:
    def __init__(self, services):
        self.s = services
        bank = services.bank
        if not isinstance(bank, Library):  # services built over a bare QuestionBank (tests)
            from interviewer.bank.library import post_store

            bank = Library(bank, post_store(services.settings, bank), services.embedder or bank._embedder)
        self.lib: Library = bank
        self._draft = None

    def scope(self, owner: str | None) -> str | None:
        """Whose added cards this owner browses: their own, or everyone's in admin mode."""
        if self.s.settings.admin:
            return None
        return owner or "\x00no-owner"

    # ------------------------------------------------------------------ browse
    def cards(self, owner: str | None, f: CardFilter | None = None, k: int = 50) -> list[QuestionCard]:
        f = f or CardFilter()
        scope = self.scope(owner)
        if f.query.strip():
            cards = [h.card for h in self.lib.search_for(f.query, scope, k=k)]
        else:
            cards = self.lib.visible_cards(scope)
        doc_ids = set(self.lib.doc_card_ids(f.doc, scope)) if f.doc else None
        return [c for c in cards
                if (not f.section or c.section == f.section) and (not f.topic or f.topic in c.topics)
                and (not f.company or (c.company or "") == f.company) and (not f.kind or c.kind.value == f.kind)
                and (doc_ids is None or c.id in doc_ids)]

    def facets(self, owner: str | None) -> dict[str, list[str]]:
        cards = self.lib.visible_cards(self.scope(owner))
        return {
            "section": list(dict.fromkeys(c.section for c in cards if c.section)),
            "topic": list(dict.fromkeys(t for c in cards for t in c.topics)),
            "company": sorted({c.company for c in cards if c.company}),
            "kind": [k.value for k in QuestionKind],
        }

    def docs(self, owner: str | None) -> list[DocInfo]:
        return self.lib.docs(self.scope(owner))

    def doc_card_ids(self, doc_id: str, owner: str | None) -> list[str]:
        return self.lib.doc_card_ids(doc_id, self.scope(owner))

    def visible_ids(self, card_ids: list[str], owner: str | None) -> list[str]:
        scope = self.scope(owner)
        return [cid for cid in card_ids if self.lib.visible(cid, scope) is not None]

    def view(self, card_id: str, owner: str | None) -> CardView | None:
        card = self.lib.visible(card_id, self.scope(owner))
        if card is None:
            return None
        seen, last = 0, None
        if owner and self.s.store is not None:
            try:
                h = self.s.history(owner).cards.get(card_id)
            except Exception:  # noqa: BLE001 - the card view works without the store
                h = None
            if h is not None:
                seen, last = h.seen, h.last_score
        return CardView(card=card, doc_name=card.doc, owned=bool(card.owner) and card.owner == owner,
                        key_points_label=ORIGIN_LABELS.get(card.key_points_origin, ""), seen=seen, last_score=last)

    # ------------------------------------------------------------------ add / remove
    def drafter(self):
        """With a model configured, the key-point drafter for questions without answer notes."""
        if self._draft is None and self.s.settings.use_llm:
            from interviewer.llm.draft import key_point_drafter

            self._draft = key_point_drafter(self.s.settings)
        return self._draft

    def preview(self, owner: str, data: bytes, name: str = "") -> Preview:
        return self.lib.preview(owner, data, name)

    def add(self, preview: Preview, owner: str, keep: list[int] | None = None,
            edits: dict[int, str] | None = None) -> AddResult:
        if preview.owner != owner:
            raise PostError("this preview belongs to another browser")
        return self.lib.add(preview, keep=keep, edits=edits, draft=self.drafter())

    def remove(self, doc_id: str, owner: str | None) -> int:
        return self.lib.remove(doc_id, self.scope(owner))

    def set_key_points(self, card_id: str, owner: str, text: str) -> QuestionCard:
        return self.lib.set_key_points(card_id, owner, text.splitlines())
