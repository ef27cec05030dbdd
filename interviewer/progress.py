"""Progress over sessions: per-topic mastery, a per-topic time series, and the planner's input.

Only current grades count (a regrade replaces what it regraded), and only graded questions
(a "not graded" answer says nothing about mastery). Topics of a question come, in this order,
from the ``card_topics`` lookup (the bank as it is now), the topics stored with the grade, or
the session's chosen topics when it had exactly one; a question with none of these is left out
of the per-topic figures, since it cannot be attributed to a topic.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime
from typing import Any

from pydantic import BaseModel, Field

from interviewer.engine.session import CardHistory, PlannerHistory
from interviewer.models import utcnow
from interviewer.store import TranscriptStore
from interviewer.store.records import CardTopics, resolve_topics

# Mastery halves its weight for a session this many days older: last week's answers matter
# more than last quarter's, but old ones still count when nothing newer exists.
HALF_LIFE_DAYS = 14.0



class TopicMastery(BaseModel):
    topic: str
    mastery: float = Field(ge=0, le=1, description="recency-weighted mean of totals / 10")
    mean_score: float = Field(ge=0, le=10, description="plain mean of the totals, 0-10")
    n_graded: int
    n_sessions: int
    last_seen: datetime


class SeriesPoint(BaseModel):
    day: date
    topic: str
    mean_score: float = Field(ge=0, le=10)
    n: int


def _resolve_topics(row: dict[str, Any], card_topics: CardTopics | None) -> list[str]:
    single = row["config_topics"] if len(row["config_topics"]) == 1 else []
    return resolve_topics(row["question_id"], card_topics, lambda: row["topics"], lambda: single)


def _aware(dt: datetime) -> datetime:
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)


def topic_mastery(store: TranscriptStore, owner: str | None = None, *, card_topics: CardTopics | None = None,
                  now: datetime | None = None, half_life_days: float = HALF_LIFE_DAYS) -> dict[str, TopicMastery]:
    """Per topic: recency-weighted mastery (0-1) with counts. ``owner=None``: everyone."""
    now = _aware(now or utcnow())
    acc: dict[str, dict[str, Any]] = defaultdict(lambda: {"w": 0.0, "ws": 0.0, "scores": [], "sessions": set(),
                                                          "last": None})
    for row in store.graded_rows(owner):
        age_days = max((now - _aware(row["session_at"])).total_seconds() / 86400, 0.0)
        weight = 0.5 ** (age_days / half_life_days)
        for topic in _resolve_topics(row, card_topics):
            a = acc[topic]
            a["w"] += weight
            a["ws"] += weight * row["total"] / 10
            a["scores"].append(row["total"])
            a["sessions"].add(row["session_id"])
            a["last"] = max(filter(None, (a["last"], row["session_at"])))
    return {
        topic: TopicMastery(topic=topic, mastery=round(a["ws"] / a["w"], 3) if a["w"] > 0 else
                            round(sum(a["scores"]) / len(a["scores"]) / 10, 3),
                            mean_score=round(sum(a["scores"]) / len(a["scores"]), 2),
                            n_graded=len(a["scores"]), n_sessions=len(a["sessions"]), last_seen=a["last"])
        for topic, a in sorted(acc.items())
    }


def mastery(store: TranscriptStore, owner: str | None = None, *, card_topics: CardTopics | None = None,
            now: datetime | None = None) -> dict[str, float]:
    """Per topic, the recency-weighted mastery on the 0-10 score scale: for a bar chart."""
    return {t: round(m.mastery * 10, 1)
            for t, m in topic_mastery(store, owner, card_topics=card_topics, now=now).items()}


def topic_series(store: TranscriptStore, owner: str | None = None, *,
                 card_topics: CardTopics | None = None) -> dict[str, list[SeriesPoint]]:
    """Per topic, by session day (UTC): the mean total of that day's graded questions, oldest first."""
    buckets: dict[tuple[str, date], list[float]] = defaultdict(list)
    for row in store.graded_rows(owner):
        day = _aware(row["session_at"]).astimezone(UTC).date()
        for topic in _resolve_topics(row, card_topics):
            buckets[(topic, day)].append(row["total"])
    out: dict[str, list[SeriesPoint]] = defaultdict(list)
    for (topic, day), scores in sorted(buckets.items()):
        out[topic].append(SeriesPoint(day=day, topic=topic, mean_score=round(sum(scores) / len(scores), 2),
                                      n=len(scores)))
    return dict(out)


def series_rows(store: TranscriptStore, owner: str | None = None, *,
                card_topics: CardTopics | None = None) -> list[dict[str, Any]]:
    """The series as flat rows {date, topic, score, n}: ready for a pandas DataFrame / gr.LinePlot."""
    return [{"date": p.day.isoformat(), "topic": p.topic, "score": p.mean_score, "n": p.n}
            for points in topic_series(store, owner, card_topics=card_topics).values() for p in points]


def history_for_planner(store: TranscriptStore, owner: str, *, card_topics: CardTopics | None = None,
                        now: datetime | None = None) -> PlannerHistory:
    """What the weak-spots planner needs from this owner's past sessions.

    topics: mastery 0-1 per topic. cards: per card asked before, ``seen`` (sessions it was asked
    in), ``last_score`` (its latest current grade, 0-10, None if never graded) and
    ``sessions_ago`` (0 = asked in the owner's most recent session that asked anything).
    """
    asked = store.asked_rows(owner)
    graded = store.graded_rows(owner)
    # A graded question was asked, even if its question turn is missing (an imported session).
    seen_in: dict[str, set[str]] = defaultdict(set)
    session_at: dict[str, datetime] = {}
    for row in asked + graded:
        seen_in[row["question_id"]].add(row["session_id"])
        session_at[row["session_id"]] = _aware(row["session_at"])
    newest_first = sorted(session_at, key=lambda s: (session_at[s], s), reverse=True)
    rank = {sid: i for i, sid in enumerate(newest_first)}

    last_score: dict[str, float] = {}
    for row in sorted(graded, key=lambda r: (_aware(r["session_at"]), _aware(r["graded_at"]))):
        last_score[row["question_id"]] = row["total"]  # later rows overwrite: the latest wins

    cards = {cid: CardHistory(seen=len(sids), last_score=last_score.get(cid),
                              sessions_ago=min(rank[s] for s in sids))
             for cid, sids in seen_in.items()}
    mastery = topic_mastery(store, owner, card_topics=card_topics, now=now)
    return PlannerHistory(topics={t: m.mastery for t, m in mastery.items()}, cards=cards)
