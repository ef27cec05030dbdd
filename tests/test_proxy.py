"""The sticky proxy's routing (interviewer/proxy.py): one client, one replica; new clients in
turn; a client whose replica is down goes to one other replica, the same for all its requests.
(Through real replicas and real Gradio: tests/test_replicas.py.)"""

from __future__ import annotations

from interviewer.proxy import StickyProxy, _cookie


def proxy(n: int = 3) -> StickyProxy:
    return StickyProxy([f"http://127.0.0.1:{7861 + i}" for i in range(n)], retry_after=60)


def test_a_client_with_a_cookie_stays_on_its_replica():
    p = proxy()
    assert [p.order("r1")[0] for _ in range(5)] == ["r1"] * 5


def test_new_clients_take_the_replicas_in_turn():
    p = proxy()
    assert [p.order(None)[0] for _ in range(6)] == ["r0", "r1", "r2", "r0", "r1", "r2"]
    assert p.order("r9")[0] in p.replicas      # a cookie naming no replica counts as none


def test_a_client_of_a_replica_that_is_down_moves_to_one_other_replica():
    p = proxy()
    p.mark_down("r1")
    assert {p.order("r1")[0] for _ in range(5)} == {"r2"}   # the same one for every request
    assert "r1" not in [p.order(None)[0] for _ in range(6)]  # no new client is sent there
    assert p.order("r1")[-1] == "r1"                          # tried last: it may be back


def test_with_every_replica_down_all_are_still_tried():
    p = proxy(2)
    p.mark_down("r0")
    p.mark_down("r1")
    assert sorted(p.order("r0")) == ["r0", "r1"]


def test_the_cookie_is_read_among_others():
    headers = [("host", "x"), ("cookie", "a=1; mianshi-replica=r1; b=2")]
    assert _cookie(headers, "mianshi-replica") == "r1"
    assert _cookie([("cookie", "a=1")], "mianshi-replica") is None
