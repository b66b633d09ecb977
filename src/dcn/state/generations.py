"""Generations: each recorded plan of a stack, numbered per stack, and its status.

Plan bodies are stored zlib-compressed and never read by the listing queries, so
looking at a 1,000-site fleet costs one small query, not 1,000 decompressions.
"""

from __future__ import annotations

import zlib
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any

from sqlalchemy import Row, Select, func, insert, select, update
from sqlalchemy.orm import Session, aliased

from dcn.errors import StateError
from dcn.plan.types import ExportVersion
from dcn.state.lookup import FEW, stack_id, sync_stacks
from dcn.state.records import GenerationRecord, GenerationStatus, NewGeneration, StatusRow
from dcn.state.schema import Deployment, Event, Generation, Stack, utcnow

#: zlib level for plan bodies: most of level 9's ratio on JSON at a fraction of its cost
_COMPRESSION = 3


def compress(plan_json: str) -> bytes:
    return zlib.compress(plan_json.encode(), _COMPRESSION)


def plan_text(session: Session, generation_id: int) -> str:
    blob = session.scalar(select(Generation.plan).where(Generation.id == generation_id))
    if blob is None:
        raise StateError(
            "a recorded plan is no longer in the state store",
            hint="another process removed it; re-run the command",
        )
    return zlib.decompress(blob).decode()


def check_batch(batch: Sequence[NewGeneration]) -> None:
    twice = sorted(n for n, c in Counter(g.stack for g in batch).items() if c > 1)
    if twice:
        raise StateError(
            f"one batch records stacks more than once: {', '.join(twice)}",
            hint="record each stack once per batch",
        )


def record(
    session: Session, dep: int, batch: Sequence[NewGeneration], blobs: Sequence[bytes]
) -> dict[str, int]:
    """Insert each plan as its stack's next generation (bulk); return stack -> number."""
    ids = sync_stacks(session, dep, [(g.stack, g.kind, g.az) for g in batch])
    mine = Stack.deployment_id == dep
    if len(batch) <= FEW:
        mine = mine & Stack.id.in_([ids[g.stack] for g in batch])
    last = dict(
        session.execute(
            select(Generation.stack_id, func.max(Generation.number))
            .join(Stack, Generation.stack_id == Stack.id)
            .where(mine)
            .group_by(Generation.stack_id)
        )
        .tuples()
        .all()
    )
    numbers = {g.stack: last.get(ids[g.stack], 0) + 1 for g in batch}
    now = utcnow()
    rows, events = [], []
    for g, blob in zip(batch, blobs, strict=True):
        consumed, status, number = g.consumed(), GenerationStatus(g.status), numbers[g.stack]
        rows.append(
            {
                "stack_id": ids[g.stack],
                "number": number,
                "status": status,
                "input_digest": g.input_digest,
                "plan_digest": g.plan_digest,
                "node_count": g.node_count,
                "plan": blob,
                "outputs_digest": g.outputs_digest,
                "consumed_export_stack": consumed.stack if consumed else None,
                "consumed_export_generation": consumed.generation if consumed else None,
                "consumed_export_digest": consumed.digest if consumed else None,
                "created_at": now,
                "updated_at": now,
            }
        )
        events.append(
            {
                "stack_id": ids[g.stack],
                "generation": number,
                "at": now,
                "kind": str(status),
                "message": f"generation {number} recorded: plan {g.plan_digest[:19]}, "
                f"{g.node_count} nodes",
            }
        )
    session.execute(insert(Generation), rows)
    session.execute(insert(Event), events)
    return numbers


def metadata_query(deployment: str) -> Select[Any]:
    """Generation metadata (no plan bodies) of the deployment's stacks."""
    return (
        select(
            Generation.id,
            Stack.name,
            Stack.kind,
            Stack.az,
            Generation.number,
            Generation.status,
            Generation.input_digest,
            Generation.plan_digest,
            Generation.node_count,
            Generation.outputs_digest,
            Generation.consumed_export_stack,
            Generation.consumed_export_generation,
            Generation.consumed_export_digest,
            Generation.run_id,
            Generation.created_at,
            Generation.updated_at,
        )
        .join(Stack, Generation.stack_id == Stack.id)
        .join(Deployment, Stack.deployment_id == Deployment.id)
        .where(Deployment.name == deployment)
    )


def _per_stack(table: type[Generation | Event], column: Any, deployment: str) -> Any:
    """Subquery (stack_id, value): max(`column`) of `table` per stack of `deployment`."""
    stack, dep = aliased(Stack), aliased(Deployment)
    return (
        select(table.stack_id, func.max(column).label("value"))
        .join(stack, table.stack_id == stack.id)
        .join(dep, stack.deployment_id == dep.id)
        .where(dep.name == deployment)
        .group_by(table.stack_id)
        .subquery()
    )


def latest_query(deployment: str) -> Select[Any]:
    """Like `metadata_query`, newest generation of each stack only."""
    newest = _per_stack(Generation, Generation.number, deployment)
    return metadata_query(deployment).join(
        newest,
        (newest.c.stack_id == Generation.stack_id) & (newest.c.value == Generation.number),
    )


def deployed_query(deployment: str) -> Select[Any]:
    """Like `metadata_query`, the newest *deployed* generation of each stack only: what
    runs on its nodes (a newer generation may be planned, failed or deploying)."""
    stack, dep = aliased(Stack), aliased(Deployment)
    newest = (
        select(Generation.stack_id, func.max(Generation.number).label("value"))
        .join(stack, Generation.stack_id == stack.id)
        .join(dep, stack.deployment_id == dep.id)
        .where(dep.name == deployment, Generation.status == GenerationStatus.DEPLOYED)
        .group_by(Generation.stack_id)
        .subquery()
    )
    return metadata_query(deployment).join(
        newest,
        (newest.c.stack_id == Generation.stack_id) & (newest.c.value == Generation.number),
    )


def heads_query(deployment: str) -> Select[Any]:
    """(id, stack, number, input digest, plan digest) of each stack's newest generation:
    what planning compares, without the columns it does not need."""
    newest = _per_stack(Generation, Generation.number, deployment)
    return (
        select(
            Generation.id,
            Stack.name,
            Generation.number,
            Generation.input_digest,
            Generation.plan_digest,
        )
        .join(Stack, Generation.stack_id == Stack.id)
        .join(
            newest,
            (newest.c.stack_id == Generation.stack_id) & (newest.c.value == Generation.number),
        )
    )


def stack_query(deployment: str, stack: str, number: int | None) -> Select[Any]:
    """Generation `number` of one stack, or its newest when `number` is None."""
    if number is None:
        return latest_query(deployment).where(Stack.name == stack)
    return metadata_query(deployment).where(Stack.name == stack, Generation.number == number)


def _consumed(row: Row[Any]) -> ExportVersion | None:
    if row.consumed_export_stack is None:
        return None
    return ExportVersion(
        row.consumed_export_stack, row.consumed_export_generation, row.consumed_export_digest
    )


def to_record(row: Row[Any], load_plan: Callable[[int], str]) -> GenerationRecord:
    """A snapshot of a `metadata_query` row; its plan is read by `load_plan(id)` on demand."""
    return GenerationRecord(
        stack=row.name,
        kind=row.kind,
        az=row.az,
        number=row.number,
        status=GenerationStatus(row.status),
        input_digest=row.input_digest,
        plan_digest=row.plan_digest,
        node_count=row.node_count,
        outputs_digest=row.outputs_digest,
        consumed_export=_consumed(row),
        run_id=row.run_id,
        created_at=row.created_at,
        updated_at=row.updated_at,
        _plan_loader=partial(load_plan, row.id),
    )


def set_status(
    session: Session,
    deployment: str,
    stack: str,
    number: int,
    status: GenerationStatus,
    message: str,
    host: str | None,
    run_id: str | None,
) -> None:
    """Move one generation to `status` and append an event saying so."""
    sid = stack_id(session, deployment, stack)
    now = utcnow()
    values: dict[str, Any] = {"status": status, "updated_at": now}
    if run_id is not None:
        values["run_id"] = run_id
    done = session.execute(
        update(Generation)
        .where(Generation.stack_id == sid, Generation.number == number)
        .values(**values)
    )
    if done.rowcount != 1:  # type: ignore[attr-defined]
        raise StateError(
            f"stack {stack} of deployment {deployment} has no generation {number}",
            hint="see the recorded generations with: dcn status",
        )
    text = f"generation {number} {status}" + (f": {message}" if message else "")
    session.add(
        Event(stack_id=sid, generation=number, at=now, kind=str(status), host=host, message=text)
    )


def status_rows(session: Session, deployment: str) -> list[StatusRow]:
    """One row per stack with a generation: its newest one, staleness, last event time.

    An edge is stale when the outputs digest it consumed differs from the newest
    generation of the stack it consumed them from (when that stack is recorded here).
    """
    last_event = _per_stack(Event, Event.at, deployment)
    query = (
        latest_query(deployment)
        .add_columns(last_event.c.value.label("last_event_at"))
        .outerjoin(last_event, last_event.c.stack_id == Stack.id)
        .order_by(Stack.name)
    )
    rows = session.execute(query).all()
    outputs = {r.name: r.outputs_digest for r in rows if r.outputs_digest}
    result = []
    for r in rows:
        consumed = _consumed(r)
        current = outputs.get(consumed.stack) if consumed else None
        result.append(
            StatusRow(
                site=r.name,
                kind=r.kind,
                az=r.az,
                nodes=r.node_count,
                status=GenerationStatus(r.status),
                generation=r.number,
                consumed=consumed,
                stale=bool(consumed and current and consumed.digest != current),
                updated_at=r.updated_at,
                last_event_at=r.last_event_at,
            )
        )
    return result


def refresh_input_digests(
    session: Session, dep: int, digests: Mapping[str, tuple[int, str]]
) -> None:
    """Give generations the input digest that planned them again to the same content.

    New inputs (a dcn upgrade, a deployment-wide change that does not reach a site)
    can yield a byte-identical plan: no generation is recorded, but unless the digest
    moves on, every later plan would re-plan the site to find the same again.
    """
    ids = dict(
        session.execute(select(Stack.name, Stack.id).where(Stack.deployment_id == dep))
        .tuples()
        .all()
    )
    for stack, (number, digest) in digests.items():
        session.execute(
            update(Generation)
            .where(Generation.stack_id == ids[stack], Generation.number == number)
            .values(input_digest=digest)
        )
