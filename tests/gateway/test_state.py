"""The gateway's per-account rolling state against a brute-force reference."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from distillguard.gateway.state import AccountState, StateTable


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=400), min_size=1, max_size=120))
def test_requests_in_the_last_minute_match_a_brute_force_count(gaps: list[int]) -> None:
    """Requests at non-decreasing seconds: the count is those within the last 60 s."""
    state = AccountState()
    seen: list[int] = []
    sec = 1_700_000_000
    for gap in gaps:
        sec += gap // 4 if gap < 300 else gap * 10  # many in one second, some long pauses
        seen.append(sec)
        assert state.count(sec) == sum(1 for s in seen if s > sec - 60)
    assert state.total == len(gaps)


def test_a_clock_step_back_counts_in_the_current_window() -> None:
    state = AccountState()
    assert state.count(100) == 1
    assert state.count(99) == 2  # NTP stepped back: still inside the window
    assert state.count(159) == 3
    assert state.count(160) == 2  # second 100's two requests have left the window


def test_observe_reports_rate_total_and_template_share() -> None:
    table = StateTable(max_accounts=2)
    a = table.observe("acct_a", "Summarise this: one", 1000.0)
    assert a["requests_1m"] == 1.0 and a["requests"] == 1.0
    b = table.observe("acct_a", "Summarise this: two", 1001.0)
    assert b["requests_1m"] == 2.0 and b["requests"] == 2.0
    assert 0.0 < b["top_template_share"] <= 1.0
    table.observe("acct_b", None, 1002.0)
    table.observe("acct_c", None, 1003.0)  # beyond max_accounts: acct_a (LRU) is dropped
    assert table.observe("acct_a", None, 1004.0)["requests"] == 1.0
