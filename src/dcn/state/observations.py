"""What dcn observed of the running cloud: when each site was last seen, and drills."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from dcn.state.lookup import ensure_deployment, stack_id
from dcn.state.schema import Deployment, Drill, SiteSeen, Stack


def mark_seen(session: Session, deployment: str, stack: str, at: datetime) -> None:
    sid = stack_id(session, deployment, stack)
    row = session.get(SiteSeen, sid)
    if row is None:
        session.add(SiteSeen(stack_id=sid, at=at))
    else:
        row.at = at


def last_seen(session: Session, deployment: str, stack: str) -> datetime | None:
    sid = stack_id(session, deployment, stack)
    row = session.get(SiteSeen, sid)
    return row.at if row else None


def last_seen_all(session: Session, deployment: str) -> dict[str, datetime]:
    """Stack -> when it was last seen, for every stack seen (one query)."""
    rows = session.execute(
        select(Stack.name, SiteSeen.at)
        .join(SiteSeen, SiteSeen.stack_id == Stack.id)
        .join(Deployment, Stack.deployment_id == Deployment.id)
        .where(Deployment.name == deployment)
    )
    return {name: at for name, at in rows}


def add_drill(session: Session, deployment: str, scenario: str, ok: bool, report: dict) -> int:
    row = Drill(
        deployment_id=ensure_deployment(session, deployment),
        scenario=scenario,
        ok=ok,
        report=json.dumps(report, sort_keys=True),
    )
    session.add(row)
    session.flush()
    return row.id


def _drill(r: Drill) -> dict[str, Any]:
    return {
        "id": r.id,
        "scenario": r.scenario,
        "started": r.started_at,
        "ok": r.ok,
        "report": json.loads(r.report),
    }


def drills(session: Session, deployment: str, limit: int) -> list[dict[str, Any]]:
    did = ensure_deployment(session, deployment)
    rows = session.scalars(
        select(Drill).where(Drill.deployment_id == did).order_by(Drill.id.desc()).limit(limit)
    )
    return [_drill(r) for r in rows]


def drill(session: Session, deployment: str, drill_id: int) -> dict[str, Any] | None:
    """One drill of the deployment by id (None: there is no such drill of it)."""
    row = session.scalars(
        select(Drill)
        .join(Deployment, Drill.deployment_id == Deployment.id)
        .where(Deployment.name == deployment, Drill.id == drill_id)
    ).first()
    return _drill(row) if row else None
