"""The per-stack event log and the record of written exports."""

from __future__ import annotations

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from dcn.state.lookup import ensure_deployment, stack_id
from dcn.state.records import EventRecord, ExportRecord
from dcn.state.schema import Deployment, Event, Export, Stack, utcnow


def add_event(
    session: Session,
    deployment: str,
    stack: str,
    kind: str,
    message: str,
    generation: int | None,
    host: str | None,
) -> None:
    sid = stack_id(session, deployment, stack)
    session.add(
        Event(
            stack_id=sid, generation=generation, at=utcnow(), kind=kind, host=host, message=message
        )
    )


def events(session: Session, deployment: str, stack: str | None, limit: int) -> list[EventRecord]:
    """The last `limit` events (of one stack, or of all), oldest first."""
    query = (
        select(Stack.name, Event.generation, Event.at, Event.kind, Event.host, Event.message)
        .join(Stack, Event.stack_id == Stack.id)
        .join(Deployment, Stack.deployment_id == Deployment.id)
        .where(Deployment.name == deployment)
        .order_by(Event.id.desc())
        .limit(limit)
    )
    if stack is not None:
        query = query.where(Stack.name == stack)
    rows = session.execute(query).all()
    return [EventRecord(*r) for r in reversed(rows)]


def record_export(
    session: Session,
    deployment: str,
    stack: str,
    generation: int,
    digest: str,
    path: str,
    scope: str,
) -> None:
    """Remember an export, and log it on the exported stack when it is recorded here."""
    dep = ensure_deployment(session, deployment)
    now = utcnow()
    session.add(
        Export(
            deployment_id=dep,
            stack=stack,
            generation=generation,
            digest=digest,
            path=path,
            scope=scope,
            created_at=now,
        )
    )
    sid = session.scalar(select(Stack.id).where(Stack.deployment_id == dep, Stack.name == stack))
    if sid is not None:
        message = f"{scope} export of generation {generation} ({digest[:19]}) written to {path}"
        session.add(
            Event(stack_id=sid, generation=generation, at=now, kind="exported", message=message)
        )


def _exports_query(deployment: str, stack: str) -> Select:
    """The stack's exports, newest first, as `ExportRecord` fields."""
    return (
        select(
            Export.stack,
            Export.generation,
            Export.digest,
            Export.path,
            Export.scope,
            Export.created_at,
        )
        .join(Deployment, Export.deployment_id == Deployment.id)
        .where(Deployment.name == deployment, Export.stack == stack)
        .order_by(Export.id.desc())
    )


def latest_export(session: Session, deployment: str, stack: str) -> ExportRecord | None:
    row = session.execute(_exports_query(deployment, stack).limit(1)).first()
    return ExportRecord(*row) if row else None


def exports(session: Session, deployment: str, stack: str) -> list[ExportRecord]:
    """The newest export written to each path, newest first (a path written again with
    --force holds only its last export)."""
    newest: dict[str, ExportRecord] = {}
    for row in session.execute(_exports_query(deployment, stack)):
        newest.setdefault(row.path, ExportRecord(*row))
    return list(newest.values())
