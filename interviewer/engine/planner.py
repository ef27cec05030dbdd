"""Which questions an interview asks: topics round-robin, mixed difficulty, and with weak-spots
practice, low-mastery topics first and spaced repetition of badly answered cards."""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, Field

from interviewer.models import QuestionCard, SessionConfig


class CardHistory(BaseModel):
    last_score: float | None = None   # 0-10, None if never graded
    seen: int = 0                     # times asked before
    sessions_ago: int | None = None   # sessions since it was last asked (0 = the previous one)


class PlannerHistory(BaseModel):
    """Input of the weak-spots planner (built by interviewer/progress.py from past sessions)."""

    topics: dict[str, float] = Field(default_factory=dict)      # topic -> mastery 0..1
    cards: dict[str, CardHistory] = Field(default_factory=dict)  # card id -> what happened before


# A badly answered question (below this) comes back, but only after a growing gap of sessions.
REPEAT_BELOW = 6.0
UNKNOWN_MASTERY = 0.5


def _repeat_due(h: CardHistory) -> bool:
    """Spaced repetition: after the k-th miss wait 2**(k-1) sessions (1, 2, 4, 8 at most)."""
    if h.sessions_ago is None:
        return True
    return h.sessions_ago + 1 >= min(2 ** max(h.seen - 1, 0), 8)


def _tier(card: QuestionCard, history: PlannerHistory | None) -> int:
    """0 unseen, 1 badly answered and due again, 2 answered well before, 3 badly answered, not due."""
    if history is None:
        return 0
    h = history.cards.get(card.id)
    if h is None or h.seen == 0:
        return 0
    if h.last_score is not None and h.last_score < REPEAT_BELOW:
        return 1 if _repeat_due(h) else 3
    return 2


def _matches(card: QuestionCard, config: SessionConfig) -> bool:
    if config.topics and not set(card.topics) & set(config.topics):
        return False
    if config.sections and card.section not in config.sections:
        return False
    return True


def _group_of(card: QuestionCard, config: SessionConfig) -> str:
    if config.topics:
        return next(t for t in config.topics if t in card.topics)
    return card.topics[0] if card.topics else (card.section or "其他")


def plan_questions(cards: Sequence[QuestionCard], config: SessionConfig,
                   history: PlannerHistory | Mapping[str, Any] | None = None,
                   rng: random.Random | None = None) -> list[str]:
    """Pick config.n_questions card ids: no repeats, spread over the chosen topics round-robin,
    difficulty alternating where the cards allow, deterministic for a given rng / config.seed.

    With config.weak_spots and a history, low-mastery topics come first and get more questions,
    unseen cards before seen ones, and badly answered cards return only when spaced-repetition
    says they are due. With config.card_ids, exactly those cards (known ones, in that order).
    """
    if config.card_ids:
        known = {c.id for c in cards}
        return [cid for cid in dict.fromkeys(config.card_ids) if cid in known][:config.n_questions]
    rng = rng if rng is not None else random.Random(config.seed)
    hist: PlannerHistory | None = None
    if config.weak_spots and history is not None:
        hist = history if isinstance(history, PlannerHistory) else PlannerHistory.model_validate(history)

    pool = sorted((c for c in cards if _matches(c, config)), key=lambda c: c.id)  # input order never matters
    groups: dict[str, list[QuestionCard]] = defaultdict(list)
    for card in pool:
        groups[_group_of(card, config)].append(card)

    for name in groups:
        rng.shuffle(groups[name])
        groups[name].sort(key=lambda c: _tier(c, hist))  # stable: random order within a tier

    names = sorted(groups)
    rng.shuffle(names)
    if hist is not None:
        names.sort(key=lambda t: hist.topics.get(t, UNKNOWN_MASTERY))
        # Weak topics get an extra turn in each round: mastery < 0.5 appears twice per round.
        rounds = [t for t in names for _ in range(2 if hist.topics.get(t, UNKNOWN_MASTERY) < 0.5 else 1)]
    else:
        rounds = names

    plan: list[str] = []
    last_difficulty: int | None = None
    while len(plan) < config.n_questions and any(groups.values()):
        for name in rounds:
            queue = groups[name]
            if not queue or len(plan) >= config.n_questions:
                continue
            best_tier = _tier(queue[0], hist)
            # Mix difficulty: among the best tier, prefer a card unlike the previous pick.
            pick = next((c for c in queue if _tier(c, hist) == best_tier and c.difficulty != last_difficulty),
                        queue[0])
            queue.remove(pick)
            plan.append(pick.id)
            last_difficulty = pick.difficulty
    return plan
