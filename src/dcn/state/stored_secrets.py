"""Secret rows: generated once, imported from another tool's export, read for delivery.

Values leave this module only as return values; no message here ever contains one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from dcn.errors import StateError
from dcn.state.lookup import deployment_id, ensure_deployment
from dcn.state.schema import Deployment, Secret, utcnow


def checked(name: str, value: object) -> str:
    if not isinstance(value, str) or not value:
        raise StateError(
            f"secret {name} has no value (an empty or non-text value was given)",
            hint="this is a bug in the secret generator, or the imported export lacks it",
        )
    return value


def values(session: Session, deployment: str) -> dict[str, str]:
    dep = deployment_id(session, deployment)
    rows = session.execute(
        select(Secret.name, Secret.value).where(Secret.deployment_id == dep).order_by(Secret.name)
    )
    return dict(rows.tuples().all())


def names(session: Session, deployment: str) -> list[str]:
    query = (
        select(Secret.name)
        .join(Deployment, Secret.deployment_id == Deployment.id)
        .where(Deployment.name == deployment)
        .order_by(Secret.name)
    )
    return list(session.scalars(query))


def ensure(
    session: Session, deployment: str, wanted: Sequence[str], generate: Callable[[str], str]
) -> dict[str, str]:
    """Values of `wanted`, generating and inserting the missing ones."""
    dep = ensure_deployment(session, deployment)
    have = values(session, deployment)
    new = {n: checked(n, generate(n)) for n in wanted if n not in have}
    if new:
        now = utcnow()
        session.execute(
            insert(Secret),
            [
                {"deployment_id": dep, "name": n, "value": v, "created_at": now}
                for n, v in new.items()
            ],
        )
    have.update(new)
    return {n: have[n] for n in wanted}


def import_values(session: Session, deployment: str, given: Mapping[str, str]) -> list[str]:
    """Add or replace secrets with `given`; return the names that changed."""
    dep = ensure_deployment(session, deployment)
    rows = {r.name: r for r in session.scalars(select(Secret).where(Secret.deployment_id == dep))}
    changed = []
    for name, value in sorted(given.items()):
        value = checked(name, value)
        row = rows.get(name)
        if row is None:
            session.add(Secret(deployment_id=dep, name=name, value=value, created_at=utcnow()))
        elif row.value != value:
            row.value = value
        else:
            continue
        changed.append(name)
    return changed
