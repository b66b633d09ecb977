"""A recorded rollout's figures: per site where it stands, and the totals (sites per
minute, waves, failures). Pure: from the record the state store hands back.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from dcn.state.rollouts import RolloutRecord, RolloutSiteRecord, RolloutStatus, SiteResult

FAILED = (SiteResult.FAILED, SiteResult.GATE_FAILED)


@dataclass(frozen=True, slots=True)
class Totals:
    sites: int
    ok: int
    #: failed deploys and failed gates
    failed: int
    gate_failed: int
    not_started: int
    #: no result: not reached yet, under way, or cut short by an interruption
    pending: int
    #: waves planned, and waves that started
    waves: int
    waves_run: int
    #: time spent in waves (each run of a wave from its start to its last site's
    #: result: the pause before a resume is not counted)
    seconds: float
    #: sites with a result (ok or failed) per minute of that time
    sites_per_minute: float | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def line(self) -> str:
        rate = (
            f"{self.sites_per_minute:.1f} sites/min over {self.seconds:.0f}s"
            if self.sites_per_minute is not None
            else "no site finished"
        )
        parts = [f"{self.ok} ok", f"{self.failed} failed"]
        if self.gate_failed:
            parts[-1] += f" ({self.gate_failed} at the gate)"
        if self.not_started:
            parts.append(f"{self.not_started} not started")
        if self.pending:
            parts.append(f"{self.pending} without a result")
        return (
            f"{self.sites} sites: {', '.join(parts)}; "
            f"{self.waves_run} of {self.waves} waves; {rate}"
        )


def totals(record: RolloutRecord) -> Totals:
    sites = record.sites
    spans: dict[tuple[int, datetime], datetime] = {}
    for s in sites:
        if s.started_at is not None and s.finished_at is not None:
            key = (s.wave, s.started_at)
            spans[key] = max(spans.get(key, s.finished_at), s.finished_at)
    seconds = sum((end - start).total_seconds() for (_, start), end in spans.items())
    finished = sum(1 for s in sites if s.result in (SiteResult.OK, *FAILED))
    return Totals(
        sites=len(sites),
        ok=sum(1 for s in sites if s.result is SiteResult.OK),
        failed=sum(1 for s in sites if s.result in FAILED),
        gate_failed=sum(1 for s in sites if s.result is SiteResult.GATE_FAILED),
        not_started=sum(1 for s in sites if s.result is SiteResult.NOT_STARTED),
        pending=sum(1 for s in sites if s.result is None),
        waves=len({s.wave for s in sites}),
        waves_run=len({s.wave for s in sites if s.started_at is not None}),
        seconds=round(seconds, 1),
        sites_per_minute=round(finished / seconds * 60, 2) if finished and seconds > 0 else None,
    )


def site_state(record: RolloutRecord, site: RolloutSiteRecord) -> str:
    """The site's result, or where it stands without one."""
    if site.result is not None:
        return site.result.value
    running = record.status is RolloutStatus.RUNNING
    if site.started_at is None:
        return "waiting" if running else "not reached"
    return "in progress" if running else "interrupted"


def next_command(record: RolloutRecord) -> str:
    """What to run next: resume what is left, or redeploy the failed sites."""
    if record.status in (RolloutStatus.STOPPED, RolloutStatus.INTERRUPTED) and record.remaining():
        return "dcn rollout --resume"
    failed = [s.site for s in record.sites if s.result in FAILED]
    return f"dcn rollout {' '.join(failed)}" if failed else ""


def as_dict(record: RolloutRecord) -> dict[str, Any]:
    """The rollout for --format json."""
    return {
        "id": record.id,
        "deployment": record.deployment,
        "status": record.status.value,
        "started": record.started_at,
        "finished": record.finished_at,
        "options": record.options,
        "sites": [
            {
                "site": s.site,
                "wave": s.wave,
                "generation_before": s.generation_before,
                "generation_after": s.generation_after,
                "started": s.started_at,
                "finished": s.finished_at,
                "seconds": s.seconds,
                "result": site_state(record, s),
                "message": s.message,
            }
            for s in record.sites
        ],
        "totals": totals(record).as_dict(),
        "next": next_command(record),
    }
