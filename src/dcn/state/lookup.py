"""Finding (and creating) the deployment and stack rows other rows hang from."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from dcn.errors import StateError
from dcn.state.schema import Deployment, Stack

#: up to this many stacks are looked up by name; more, by reading all of the deployment's
FEW = 200


def deployment_id(session: Session, name: str) -> int | None:
    return session.scalar(select(Deployment.id).where(Deployment.name == name))


def ensure_deployment(session: Session, name: str) -> int:
    found = deployment_id(session, name)
    if found is not None:
        return found
    row = Deployment(name=name)
    session.add(row)
    session.flush()
    return row.id


def stack_id(session: Session, deployment: str, stack: str) -> int:
    """The stack's id, or an error saying the stack must be planned first."""
    found = session.scalar(
        select(Stack.id)
        .join(Deployment, Stack.deployment_id == Deployment.id)
        .where(Deployment.name == deployment, Stack.name == stack)
    )
    if found is None:
        raise StateError(
            f"deployment {deployment} has no stack {stack} in the state store",
            hint=f"plan it first: dcn plan {stack}",
        )
    return found


def sync_stacks(
    session: Session, dep: int, stacks: Sequence[tuple[str, str, str]]
) -> dict[str, int]:
    """Create missing (name, kind, az) stacks, follow kind/AZ changes; return name -> id
    (of these stacks; of every stack of the deployment when they are many)."""
    mine = Stack.deployment_id == dep
    if len(stacks) <= FEW:  # one site re-planned in a fleet: its rows, not the fleet's
        mine = mine & Stack.name.in_([name for name, _, _ in stacks])
    have = {s.name: s for s in session.scalars(select(Stack).where(mine))}
    new = [
        {"deployment_id": dep, "name": name, "kind": kind, "az": az}
        for name, kind, az in stacks
        if name not in have
    ]
    if new:
        session.execute(insert(Stack), new)
    for name, kind, az in stacks:
        row = have.get(name)
        if row is not None and (row.kind, row.az) != (kind, az):
            row.kind, row.az = kind, az
    session.flush()
    rows = session.execute(select(Stack.name, Stack.id).where(mine))
    return dict(rows.tuples().all())
