"""Rollouts in the state store: each `dcn rollout`, its options, and one row per site
with its wave, generations, time and result, written as each site finishes so that a
killed rollout loses nothing and `dcn rollout --resume` knows what is left.

A rollout row names the process that runs it (pid, host, token). One that says
"running" while that process is gone was interrupted: it is shown so, and marked so
when the next rollout starts or resumes. Only one rollout of a deployment runs at once.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from dcn.errors import DcnError, StateError
from dcn.state.lock import process_alive
from dcn.state.lookup import deployment_id, ensure_deployment
from dcn.state.schema import Rollout, RolloutSite, utcnow

#: tokens of the rollouts this process runs
_OURS: set[str] = set()


class RolloutStatus(StrEnum):
    RUNNING = "running"
    DONE = "done"
    STOPPED = "stopped"
    INTERRUPTED = "interrupted"


class SiteResult(StrEnum):
    OK = "ok"
    FAILED = "failed"
    GATE_FAILED = "gate-failed"
    NOT_STARTED = "not-started"


@dataclass(frozen=True, slots=True)
class RolloutSiteRecord:
    site: str
    wave: int
    generation_before: int | None
    generation_after: int | None
    started_at: datetime | None
    finished_at: datetime | None
    seconds: float | None
    #: None: no result yet (not reached, or its wave was under way when it stopped)
    result: SiteResult | None
    message: str

    @property
    def remaining(self) -> bool:
        """Still to deploy when the rollout is resumed."""
        return self.result in (None, SiteResult.NOT_STARTED)


@dataclass(frozen=True, slots=True)
class RolloutRecord:
    id: int
    deployment: str
    started_at: datetime
    finished_at: datetime | None
    options: dict[str, Any]
    status: RolloutStatus
    #: who runs (or ran) it: "pid N on HOST"
    holder: str
    sites: tuple[RolloutSiteRecord, ...]

    def remaining(self) -> list[RolloutSiteRecord]:
        return [s for s in self.sites if s.remaining]


@dataclass(frozen=True, slots=True)
class RolloutSummary:
    """A rollout in a list: its sites counted by result, not listed."""

    id: int
    started_at: datetime
    finished_at: datetime | None
    options: dict[str, Any]
    status: RolloutStatus
    holder: str
    waves: int
    sites: int
    #: result -> sites ("" for those without a result yet)
    results: dict[str, int]


def _abandoned(row: Rollout) -> bool:
    """The process that runs it is certainly gone (same host, not running; or this
    process's pid without this process's token)."""
    if row.host != socket.gethostname():
        return False
    if row.pid == os.getpid():
        return row.token not in _OURS
    return not process_alive(row.pid)


def _status(row: Rollout) -> RolloutStatus:
    status = RolloutStatus(row.status)
    if status is RolloutStatus.RUNNING and _abandoned(row):
        return RolloutStatus.INTERRUPTED
    return status


def _holder(row: Rollout) -> str:
    return f"pid {row.pid} on {row.host}"


def _settle(session: Session, dep: int) -> None:
    """Mark running rollouts whose process is gone interrupted; refuse while one runs."""
    running = session.scalars(
        select(Rollout).where(Rollout.deployment_id == dep, Rollout.status == "running")
    )
    for row in running:
        if _status(row) is RolloutStatus.INTERRUPTED:
            row.status = RolloutStatus.INTERRUPTED.value
            continue
        raise StateError(
            f"rollout {row.id} is running ({_holder(row)}, since "
            f"{row.started_at:%Y-%m-%d %H:%M:%S} UTC)",
            hint="wait for it to finish ('dcn rollout show' follows it); one rollout "
            "of a deployment runs at once",
        )


def _take(row: Rollout) -> None:
    token = secrets.token_hex(16)
    row.status = RolloutStatus.RUNNING.value
    row.pid, row.host, row.token = os.getpid(), socket.gethostname(), token
    row.finished_at = None
    _OURS.add(token)


def start(
    session: Session, deployment: str, options: Mapping[str, Any], waves: Sequence[Sequence[str]]
) -> int:
    """A new running rollout of this process with every site in its wave (1, 2, ...)."""
    dep = ensure_deployment(session, deployment)
    _settle(session, dep)
    row = Rollout(deployment_id=dep, options=json.dumps(dict(options), sort_keys=True))
    _take(row)
    session.add(row)
    session.flush()
    session.add_all(
        RolloutSite(rollout_id=row.id, site=site, wave=number, message="")
        for number, sites in enumerate(waves, 1)
        for site in sites
    )
    return row.id


def check_resumable(deployment: str, record: RolloutRecord | None) -> None:
    """Refuse to resume unless the latest rollout (`record`) has sites left and its
    process is gone."""
    if record is None:
        raise DcnError(
            f"there is no rollout of {deployment} to resume",
            hint="start one: dcn rollout [SITE...]",
        )
    if record.status is RolloutStatus.RUNNING:
        raise StateError(
            f"rollout {record.id} is running ({record.holder})",
            hint="wait for it to finish ('dcn rollout show' follows it); one rollout "
            "of a deployment runs at once",
        )
    if record.status is RolloutStatus.DONE or not record.remaining():
        raise DcnError(
            f"there is no unfinished rollout of {deployment}: the latest, rollout "
            f"{record.id}, is {record.status} with no site left",
            hint="'dcn rollout show' reports it; 'dcn rollout' starts a new one "
            "(every edge that still needs a deploy)",
        )


def claim(session: Session, deployment: str) -> int:
    """The latest rollout, taken over by this process to continue its remaining sites."""
    record = get(session, deployment, None)
    check_resumable(deployment, record)
    assert record is not None
    dep = deployment_id(session, deployment)
    assert dep is not None
    _settle(session, dep)  # it, and any other left running, is interrupted
    row = session.get(Rollout, record.id)
    assert row is not None
    _take(row)
    return row.id


def wave_started(
    session: Session,
    rollout_id: int,
    wave: int,
    sites: Sequence[str],
    before: Mapping[str, int | None],
    at: datetime,
) -> None:
    for site in sites:
        session.execute(
            update(RolloutSite)
            .where(RolloutSite.rollout_id == rollout_id, RolloutSite.site == site)
            .values(
                wave=wave,
                started_at=at,
                finished_at=None,
                generation_before=before.get(site),
                generation_after=None,
                seconds=None,
                result=None,
                message="",
            )
        )


def site_update(
    session: Session,
    rollout_id: int,
    site: str,
    *,
    result: SiteResult | None,
    message: str,
    generation_after: int | None = None,
    seconds: float | None = None,
) -> None:
    """A site's deploy outcome (result None: deployed, its wave's gate still to come) or
    its result."""
    values: dict[str, Any] = {"message": message, "result": result.value if result else None}
    if generation_after is not None:
        values["generation_after"] = generation_after
    if seconds is not None:
        values["seconds"] = seconds
    if result is not None:
        values["finished_at"] = utcnow()
    session.execute(
        update(RolloutSite)
        .where(RolloutSite.rollout_id == rollout_id, RolloutSite.site == site)
        .values(**values)
    )


def finish(session: Session, rollout_id: int, status: RolloutStatus, not_started: str) -> None:
    """The rollout's end. Stopped: the sites it did not reach are "not started"."""
    row = session.get(Rollout, rollout_id)
    if row is None:
        raise StateError(f"no rollout {rollout_id} in the state store", hint="re-run the command")
    row.status = status.value
    row.finished_at = utcnow()
    _OURS.discard(row.token)
    if status is RolloutStatus.STOPPED:  # between waves: no site is under way
        session.execute(
            update(RolloutSite)
            .where(RolloutSite.rollout_id == rollout_id, RolloutSite.result.is_(None))
            .values(result=SiteResult.NOT_STARTED.value, message=not_started)
        )


def get(session: Session, deployment: str, rollout_id: int | None) -> RolloutRecord | None:
    """One rollout (None: the latest) with its sites by wave and name."""
    dep = deployment_id(session, deployment)
    if dep is None:
        return None
    query = select(Rollout).where(Rollout.deployment_id == dep)
    if rollout_id is not None:
        query = query.where(Rollout.id == rollout_id)
    row = session.scalars(query.order_by(Rollout.id.desc())).first()
    if row is None:
        return None
    sites = session.scalars(
        select(RolloutSite)
        .where(RolloutSite.rollout_id == row.id)
        .order_by(RolloutSite.wave, RolloutSite.site)
    )
    return RolloutRecord(
        id=row.id,
        deployment=deployment,
        started_at=row.started_at,
        finished_at=row.finished_at,
        options=json.loads(row.options),
        status=_status(row),
        holder=_holder(row),
        sites=tuple(
            RolloutSiteRecord(
                site=s.site,
                wave=s.wave,
                generation_before=s.generation_before,
                generation_after=s.generation_after,
                started_at=s.started_at,
                finished_at=s.finished_at,
                seconds=s.seconds,
                result=SiteResult(s.result) if s.result else None,
                message=s.message,
            )
            for s in sites
        ),
    )


def summaries(session: Session, deployment: str, limit: int) -> list[RolloutSummary]:
    """The newest `limit` rollouts, each with its sites counted by result (one query for
    the counts of all of them)."""
    dep = deployment_id(session, deployment)
    if dep is None:
        return []
    rows = list(
        session.scalars(
            select(Rollout)
            .where(Rollout.deployment_id == dep)
            .order_by(Rollout.id.desc())
            .limit(limit)
        )
    )
    counts: dict[int, dict[str, int]] = {r.id: {} for r in rows}
    waves: dict[int, int] = {}
    found = session.execute(
        select(
            RolloutSite.rollout_id,
            RolloutSite.result,
            func.count(),
            func.max(RolloutSite.wave),
        )
        .where(RolloutSite.rollout_id.in_(list(counts)))
        .group_by(RolloutSite.rollout_id, RolloutSite.result)
    )
    for rollout_id, result, count, last_wave in found:
        counts[rollout_id][result or ""] = count
        waves[rollout_id] = max(waves.get(rollout_id, 0), last_wave or 0)
    return [
        RolloutSummary(
            id=r.id,
            started_at=r.started_at,
            finished_at=r.finished_at,
            options=json.loads(r.options),
            status=_status(r),
            holder=_holder(r),
            waves=waves.get(r.id, 0),
            sites=sum(counts[r.id].values()),
            results=counts[r.id],
        )
        for r in rows
    ]
