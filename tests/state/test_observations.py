"""Health's last-seen times and drill reports, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from dcn.state import Store
from tests.state.helpers import record


def test_last_seen_is_kept_per_site_and_updated(store: Store) -> None:
    record(store, "dcn0")
    record(store, "dcn1")
    assert store.last_seen("lab", "dcn0") is None
    first = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    store.mark_seen("lab", "dcn0", first)
    store.mark_seen("lab", "dcn0", first + timedelta(seconds=42))
    assert store.last_seen("lab", "dcn0") == first + timedelta(seconds=42)
    assert store.last_seen("lab", "dcn1") is None
    assert store.last_seen_all("lab") == {"dcn0": first + timedelta(seconds=42)}
    assert store.last_seen_all("other") == {}


def test_drills_are_stored_newest_first_with_their_reports(store: Store) -> None:
    report = {
        "scenario": "edge-site-loss",
        "figures": {"computes_up_after_heal": 13.5, "compute_marked_down_after": None},
        "claims": [{"claim": "reconnect", "held": True, "evidence": "up 13.5s after heal"}],
    }
    a = store.add_drill("lab", "edge-site-loss", True, report)
    b = store.add_drill("lab", "db-outage", False, {**report, "scenario": "db-outage"})
    drills = store.drills("lab")
    assert [d["id"] for d in drills] == [b, a]
    assert drills[1]["report"] == report
    assert drills[0]["ok"] is False and drills[1]["ok"] is True
    assert store.drills("other") == []
