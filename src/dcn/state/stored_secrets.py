"""Secret rows: generated once, imported from another tool's export, rotated, read for
delivery. Values are sealed (`dcn.state.sealing`) before they reach a row and opened
only here.

Values leave this module only as return values; no message here ever contains one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from dcn.errors import StateError
from dcn.state.lookup import deployment_id, ensure_deployment
from dcn.state.schema import Deployment, Secret, utcnow
from dcn.state.sealing import SecretBox


def checked(name: str, value: object) -> str:
    if not isinstance(value, str) or not value:
        raise StateError(
            f"secret {name} has no value (an empty or non-text value was given)",
            hint="this is a bug in the secret generator, or the imported export lacks it",
        )
    return value


def values(session: Session, deployment: str, box: SecretBox) -> dict[str, str]:
    dep = deployment_id(session, deployment)
    rows = session.execute(
        select(Secret.name, Secret.value).where(Secret.deployment_id == dep).order_by(Secret.name)
    )
    return {name: box.open(deployment, name, sealed) for name, sealed in rows.tuples()}


def names(session: Session, deployment: str) -> list[str]:
    query = (
        select(Secret.name)
        .join(Deployment, Secret.deployment_id == Deployment.id)
        .where(Deployment.name == deployment)
        .order_by(Secret.name)
    )
    return list(session.scalars(query))


def imported_names(session: Session, deployment: str) -> list[str]:
    query = (
        select(Secret.name)
        .join(Deployment, Secret.deployment_id == Deployment.id)
        .where(Deployment.name == deployment, Secret.imported.is_(True))
        .order_by(Secret.name)
    )
    return list(session.scalars(query))


def ensure(
    session: Session,
    deployment: str,
    wanted: Sequence[str],
    generate: Callable[[str], str],
    box: SecretBox,
) -> dict[str, str]:
    """Values of `wanted`, generating and inserting the missing ones."""
    dep = ensure_deployment(session, deployment)
    have = values(session, deployment, box)
    new = {n: checked(n, generate(n)) for n in wanted if n not in have}
    if new:
        now = utcnow()
        session.execute(
            insert(Secret),
            [
                {
                    "deployment_id": dep,
                    "name": n,
                    "value": box.seal(deployment, n, v),
                    "created_at": now,
                }
                for n, v in new.items()
            ],
        )
    have.update(new)
    return {n: have[n] for n in wanted}


def import_values(
    session: Session, deployment: str, given: Mapping[str, str], box: SecretBox
) -> list[str]:
    """Add or replace secrets with `given` (marked imported); return the names that changed."""
    dep = ensure_deployment(session, deployment)
    rows = {r.name: r for r in session.scalars(select(Secret).where(Secret.deployment_id == dep))}
    changed = []
    for name, value in sorted(given.items()):
        value = checked(name, value)
        row = rows.get(name)
        if row is None:
            sealed = box.seal(deployment, name, value)
            session.add(
                Secret(
                    deployment_id=dep, name=name, value=sealed, imported=True, created_at=utcnow()
                )
            )
        elif box.open(deployment, name, row.value) != value:
            row.value, row.imported = box.seal(deployment, name, value), True
        else:
            row.imported = True
            continue
        changed.append(name)
    return changed


def rotate(
    session: Session,
    deployment: str,
    wanted: Sequence[str],
    generate: Callable[[str], str],
    box: SecretBox,
) -> list[str]:
    """Replace stored secrets `wanted` with fresh values; imported ones are refused."""
    dep = deployment_id(session, deployment)
    rows = {
        r.name: r
        for r in session.scalars(
            select(Secret).where(Secret.deployment_id == dep, Secret.name.in_(list(wanted)))
        )
    }
    missing = [n for n in wanted if n not in rows]
    if missing:
        raise StateError(
            f"not stored yet, so nothing to rotate: {', '.join(missing)}",
            hint="a secret is generated when a plan first needs it; see: dcn secrets list",
        )
    imported = [n for n in wanted if rows[n].imported]
    if imported:
        raise StateError(
            f"imported from the control plane's export, so not rotated here: {', '.join(imported)}",
            hint="rotate them in the tool that deployed the control plane, write a new "
            "export, and re-plan the edges with it",
        )
    for name in wanted:
        rows[name].value = box.seal(deployment, name, checked(name, generate(name)))
    return list(wanted)
