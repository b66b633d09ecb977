"""The fleet snapshot: served while a newer one is read, a description re-read but
parsed again only when it changed, the API asked in the background only."""

from __future__ import annotations

import time
from pathlib import Path

from dcn.fleetstatus import ZoneCounts
from dcn.web.snapshot import FleetCache, build
from dcn.workspace import Workspace


def test_an_unchanged_description_is_not_parsed_again(filled: Workspace) -> None:
    filled.deployment  # noqa: B018 - parsed
    again = filled.reread()
    assert again.store is filled.store  # one open store
    assert again.fleet.adopt(filled.fleet)
    assert again.deployment is filled.deployment
    desc = Path(filled.file)
    desc.write_text(
        desc.read_text().replace("DistributedCompute: {count: 1}", "DistributedCompute: {count: 2}")
    )
    changed = filled.reread()
    assert not changed.fleet.adopt(filled.fleet)
    assert changed.deployment is not filled.deployment


def test_a_stale_snapshot_is_served_while_a_new_one_is_read(filled: Workspace) -> None:
    asked: list[float] = []

    def counts(ws: Workspace) -> ZoneCounts:
        asked.append(time.monotonic())
        return ZoneCounts({"dcn0": 1}, {"dcn0": 0}, {"dcn0": 3})

    cache = FleetCache(filled, max_age=0.0, counts=counts)
    first = cache.get()
    assert first.api_error == "not asked yet"  # the first read never waits on the API
    deadline = time.monotonic() + 10
    while cache.get() is first and time.monotonic() < deadline:
        time.sleep(0.05)
    newer = cache.get()
    assert newer is not first and newer.at >= first.at
    while newer.row("dcn0")["servers"] is None and time.monotonic() < deadline:
        time.sleep(0.05)
        newer = cache.get()
    row = newer.row("dcn0")
    assert (row["computes_up"], row["computes_down"], row["servers"]) == (1, 0, 3)
    assert newer.row("dcn1")["servers"] == 0  # asked, none there
    assert len(asked) == 1  # at most every api_every seconds
    cache.stop()


def test_unknown_counts_are_none_not_zero(filled: Workspace) -> None:
    snap = build(filled, ZoneCounts(error="control plane API unreachable (Timeout)"))
    assert snap.api_error == "control plane API unreachable (Timeout)"
    assert all(r["servers"] is None and r["computes_up"] is None for r in snap.rows)
