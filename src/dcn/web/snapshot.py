"""The fleet as the web view shows it, computed once and served for a while.

A snapshot is every site's status row (`dcn.fleetstatus.status_data`, as `dcn status`
shows without --probe: the state store and the lab's manifest, no host asked), the
control plane API's counts per availability zone, and the lab's cut sites. A page is
served from the newest snapshot; one older than `max_age` is served once more while a
new one is computed in the background (so the live table catches up on its next
poll, and no page waits on 5,000 sites but the very first). The API is asked at most
every `api_every` seconds, in that background work, with a timeout.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from dcn.errors import DcnError
from dcn.fleetstatus import ZoneCounts, status_data, zone_counts
from dcn.lab import Lab
from dcn.lab.faults import cut_sites
from dcn.workspace import Workspace


@dataclass(frozen=True, slots=True)
class Snapshot:
    deployment: str
    #: status rows with computes_up, computes_down and servers (None: not known)
    rows: list[dict[str, Any]]
    at: datetime
    #: how long computing it took
    seconds: float
    #: sites whose uplink the lab has cut
    cut: frozenset[str] = frozenset()
    #: the API's counts were not had (why), or None
    api_error: str | None = None
    #: the workspace the snapshot was read with (its description and store)
    ws: Workspace | None = field(default=None, repr=False, compare=False)

    def row(self, site: str) -> dict[str, Any] | None:
        return next((r for r in self.rows if r["site"] == site), None)


def _cut(ws: Workspace) -> frozenset[str]:
    try:
        return frozenset(cut_sites(Lab(ws.state_dir, ws.deployment.name)))
    except (OSError, ValueError):
        return frozenset()


def build(ws: Workspace, counts: ZoneCounts | None) -> Snapshot:
    """One snapshot: the rows, with the API's counts joined on each site's AZ."""
    started = time.perf_counter()
    rows = status_data(ws)
    known = counts is not None and counts.error is None
    for row in rows:
        az = row["az"]
        row["computes_up"] = counts.computes_up.get(az, 0) if known and counts else None
        row["computes_down"] = counts.computes_down.get(az, 0) if known and counts else None
        row["servers"] = counts.servers.get(az, 0) if known and counts else None
    return Snapshot(
        deployment=ws.deployment.name,
        rows=rows,
        at=datetime.now(UTC),
        seconds=time.perf_counter() - started,
        cut=_cut(ws),
        api_error=counts.error if counts else "not asked yet",
        ws=ws,
    )


class FleetCache:
    """The newest snapshot, refreshed in the background when older than `max_age`."""

    def __init__(
        self,
        ws: Workspace,
        *,
        max_age: float = 2.0,
        api_every: float = 30.0,
        counts: Callable[[Workspace], ZoneCounts] | None = zone_counts,
    ) -> None:
        self._ws = ws
        self._min_age = max_age
        self.max_age = max_age
        self.api_every = api_every
        self._counts_fn = counts
        self._counts: ZoneCounts | None = None
        self._counts_at = 0.0
        self._snapshot: Snapshot | None = None
        self._lock = threading.Lock()
        self._refreshing = threading.Event()
        self._stopped = False
        #: why the newest refresh failed (None: it did not)
        self.problem: DcnError | None = None

    def get(self) -> Snapshot:
        """The newest snapshot; the first call computes it, later ones never wait."""
        snap = self._snapshot
        if snap is None:
            with self._lock:
                if self._snapshot is None:
                    # the API (up to its timeout) is asked by the refresh started next
                    self._snapshot = self._compute(ask_api=False)
                    self._start_refresh()
                return self._snapshot
        age = (datetime.now(UTC) - snap.at).total_seconds()
        if age > self.max_age:
            self._start_refresh()
        return snap

    def _start_refresh(self) -> None:
        if self._refreshing.is_set() or self._stopped:
            return
        self._refreshing.set()
        threading.Thread(target=self.refresh, name="dcn-serve-fleet", daemon=True).start()

    def fresh(self) -> Snapshot:
        """A snapshot computed now (tests; and a page asked with ?fresh)."""
        with self._lock:
            self._snapshot = self._compute()
            return self._snapshot

    def stop(self) -> None:
        self._stopped = True

    def refresh(self) -> None:
        """A new snapshot now. A problem (the description edited into an invalid one, the
        store unreadable) is kept in `problem` and shown by every page, and the last
        good snapshot stays: the view says what is wrong without going blank."""
        try:
            with self._lock:
                self._snapshot = self._compute()
            self.problem = None
        except DcnError as exc:
            self.problem = exc
        finally:
            self._refreshing.clear()

    def _compute(self, ask_api: bool = True) -> Snapshot:
        ws = self._ws
        if self._snapshot is not None:
            # the description may have changed since: read it again (cheap: the memo),
            # and parse its sites again only if it did
            ws = self._ws.reread()
            ws.fleet.adopt(self._ws.fleet)
            self._ws = ws
        if (
            ask_api
            and self._counts_fn is not None
            and (self._counts is None or time.monotonic() - self._counts_at > self.api_every)
        ):
            self._counts = self._counts_fn(ws)
            self._counts_at = time.monotonic()
        snap = build(ws, self._counts)
        # a big fleet is read less often: at most a third of the time goes to reading it
        self.max_age = max(self._min_age, 3 * snap.seconds)
        return snap
