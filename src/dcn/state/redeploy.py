"""Redeploy marks: stacks whose delivered files are out of date until their next deploy.

Rotating a secret changes no plan (plans hold references, not values), so nothing
else would tell the operator that the nodes still run with the old value. A mark
names the rotated secrets and stays until a deploy of the stack succeeds.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from dcn.state.lookup import stack_id
from dcn.state.schema import Deployment, RedeployMark, Stack, utcnow

_PREFIX = "secrets rotated: "


def mark(session: Session, deployment: str, stacks: Iterable[str], secrets: Iterable[str]) -> None:
    """Mark `stacks` for redeploy because `secrets` changed (names merge into a mark)."""
    rotated = set(secrets)
    for stack in stacks:
        sid = stack_id(session, deployment, stack)
        row = session.get(RedeployMark, sid)
        if row is None:
            names = sorted(rotated)
            session.add(RedeployMark(stack_id=sid, reason=_PREFIX + ", ".join(names)))
        else:
            before = row.reason.removeprefix(_PREFIX).split(", ")
            row.reason = _PREFIX + ", ".join(sorted(rotated | {n for n in before if n}))
            row.since = utcnow()


def clear(session: Session, deployment: str, stack: str) -> None:
    """The stack was deployed: its nodes have the current values."""
    sid = stack_id(session, deployment, stack)
    session.execute(delete(RedeployMark).where(RedeployMark.stack_id == sid))


def marks(session: Session, deployment: str) -> dict[str, str]:
    """Stack -> why it needs a redeploy."""
    rows = session.execute(
        select(Stack.name, RedeployMark.reason)
        .join(RedeployMark, RedeployMark.stack_id == Stack.id)
        .join(Deployment, Stack.deployment_id == Deployment.id)
        .where(Deployment.name == deployment)
        .order_by(Stack.name)
    )
    return dict(rows.tuples().all())
