"""A short load test in CI: 8 candidates at once, 2 questions each, through the Gradio API of the
real app, then the store is checked turn by turn. No latency assertion (the benchmark prints those:
`python -m interviewer bench`)."""

from __future__ import annotations

import pytest

from interviewer.bench.common import copy_built_bank
from interviewer.bench.load import Candidate, run_load, verify_store
from interviewer.testing.app_server import AppServer

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(tmp_path_factory, bank, bank_settings):
    data = tmp_path_factory.mktemp("load")
    copy_built_bank(bank_settings.data_dir, data)
    with AppServer(data) as srv:
        yield srv


def test_eight_candidates_at_once_lose_and_cross_nothing(server):
    result = run_load(server.url, server.data_dir / "mianshi.sqlite3", candidates=8, questions=2,
                      followups=True, time_limit=150)
    assert result.errors == []
    assert result.problems == []
    assert result.turns >= 8 * 2                       # at least one answer per question per candidate
    assert len(result.start_latencies) == 8


def test_the_store_check_catches_a_crossed_and_a_lost_turn(server):
    """The checker itself: a candidate whose recorded answers are not what it sent is reported."""
    result = run_load(server.url, server.data_dir / "mianshi.sqlite3", candidates=2, questions=1,
                      followups=False, time_limit=60)
    assert result.errors == [] and result.problems == []
    from interviewer.bench import load

    cands = load._last_candidates
    a, b = cands
    swapped = [Candidate(token=a.token, browser=a.browser, session_id=b.session_id, plan=b.plan, sent=b.sent,
                         finished=True)]
    assert any("owned by" in p for p in verify_store(server.data_dir / "mianshi.sqlite3", swapped))
    lost = Candidate(token=a.token, browser=a.browser, session_id=a.session_id, plan=a.plan,
                     sent=a.sent + [f"[{a.token}#9] never stored"], finished=True)
    assert any("stored answers" in p for p in verify_store(server.data_dir / "mianshi.sqlite3", [lost]))
    crossed = Candidate(token=b.token, browser=a.browser, session_id=a.session_id, plan=a.plan, sent=a.sent,
                        finished=True)
    problems = verify_store(server.data_dir / "mianshi.sqlite3", [crossed, a])
    assert any("holds" in p for p in problems)
