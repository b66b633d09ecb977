"""`dcn secrets rotate`: new values for stored secrets, and the stacks that must redeploy.

A plan holds secret references, not values, so rotating changes no plan: the stacks
whose newest plan references a rotated secret are marked in the state store until
their next successful deploy (shown by `dcn status`). Secrets imported from an
external control plane's export belong to the tool that deployed it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from dcn.errors import DcnError
from dcn.services.catalog import NOT_ROTATED, generate, kind
from dcn.workspace import Workspace


@dataclass(frozen=True, slots=True)
class Rotation:
    rotated: tuple[str, ...]
    #: stacks marked for redeploy, in description order
    stacks: tuple[str, ...]
    #: secret -> why it was left as it is (with --site only)
    skipped: dict[str, str]


def _wanted(
    ws: Workspace, names: Sequence[str], site: str | None
) -> tuple[list[str], dict[str, str]]:
    """The secrets to rotate and, for --site, those left alone with why."""
    if bool(names) == bool(site):
        raise DcnError(
            "name the secrets to rotate, or one site with --site (not both)",
            hint="dcn secrets rotate NovaPassword PlacementPassword, or "
            "dcn secrets rotate --site SITE; see the names with: dcn secrets list",
        )
    store, dep = ws.store, ws.deployment.name
    ws.control_plane_source()  # (re)imports an external control plane's secrets
    imported = set(store.imported_secret_names(dep))
    stored = set(store.secret_names(dep))
    if site is None:
        for name in names:
            kind(name)  # a clear error for a name no service uses
        refused = {n: NOT_ROTATED[n] for n in names if n in NOT_ROTATED}
        if refused:
            raise DcnError(
                "not rotated by dcn: " + "; ".join(f"{n}: {why}" for n, why in refused.items()),
                hint="see docs/operate.md, 'Rotating secrets', for how to change them by hand",
            )
        return list(dict.fromkeys(names)), {}
    skipped: dict[str, str] = {}
    wanted = []
    for name in ws.site_secret_names(site):
        if name in NOT_ROTATED:
            skipped[name] = NOT_ROTATED[name]
        elif name in imported:
            skipped[name] = "imported from the control plane's export: rotate it there"
        elif name not in stored:
            skipped[name] = "not generated yet (no plan needed it)"
        else:
            wanted.append(name)
    if not wanted:
        raise DcnError(
            f"{site} receives no secret dcn can rotate",
            hint="; ".join(f"{n}: {why}" for n, why in skipped.items()),
        )
    return wanted, skipped


def rotate(ws: Workspace, names: Sequence[str] = (), site: str | None = None) -> Rotation:
    """Rotate under the deployment's lock, so no deploy reads secrets half-way."""
    dep = ws.deployment
    with ws.store.lock(dep.name, "dcn secrets rotate"):
        wanted, skipped = _wanted(ws, names, site)
        plans, rotated = ws.recorded_plans(), set(wanted)
        affected = [
            s.name for s in dep.sites if s.name in plans and rotated & set(plans[s.name].secrets)
        ]
        done = ws.store.rotate_secrets(dep.name, wanted, generate, affected)
    return Rotation(tuple(done), tuple(affected), skipped)
