"""Decommission an edge site: take it out of the cloud, off its nodes and out of the lab.

Works whether the site is still in the description or already gone from it (an
"orphaned" stack): what the site was comes from its stack's recorded plans, never from
the description. Refused while servers run there, unless forced (which deletes them).
Then, each step safe to run again: the computes retired (``dcn.deploy.retire``), the
site's aggregate and availability zone, its network segments and their subnets, its
lab nodes and leaf router; the stack is marked ``removed`` with an event per step.
Secrets are deployment-wide (no site has its own), so none is deleted; the summary
says which the site's nodes held, for a rotation when its hardware is not trusted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from dcn import cloud, retire
from dcn.deploy import retire as retiring
from dcn.deploy import unreachable
from dcn.deploy.runner import StepEvent
from dcn.errors import DcnError
from dcn.hosts import connection_for
from dcn.lab import Lab
from dcn.model.description import physnet_of
from dcn.plan.serialize import plan_from_json
from dcn.plan.types import StackPlan
from dcn.state.records import GenerationStatus
from dcn.workspace import Workspace


@dataclass(slots=True)
class Decommissioned:
    site: str
    generation: int
    in_description: bool
    done: retire.Retired
    hosts: list[str]
    unreachable: list[str] = field(default_factory=list)
    lab_removed: list[str] = field(default_factory=list)
    already: bool = False


def _site_plan(ws: Workspace, site: str) -> tuple[int, StackPlan]:
    """The site's latest generation and the plan its nodes run (the deployed one)."""
    dep = ws.deployment
    latest = ws.store.latest_generation(dep.name, site)
    if latest is None:
        known = sorted(ws.store.status_rows(dep.name), key=lambda r: r.site)
        raise DcnError(
            f"no stack named {site} in the state store of {dep.name}",
            hint="stacks: " + (", ".join(r.site for r in known) or "none"),
        )
    if latest.kind != "edge":
        raise DcnError(
            f"{site} is the control plane: every edge depends on it",
            hint="decommission its edges first; removing the control plane is 'dcn lab down' "
            "for a lab",
        )
    record = ws.store.deployed_generations(dep.name).get(site) or latest
    return latest.number, plan_from_json(record.plan_json())


def decommission(
    ws: Workspace,
    site: str,
    force: bool,
    on_step: Callable[[StepEvent], None],
    say: Callable[[str], None],
) -> Decommissioned:
    """Take `site` out of the cloud for good (see the module's docstring)."""
    dep = ws.deployment
    number, plan = _site_plan(ws, site)
    in_description = dep.site(site) is not None
    hosts = [n.hostname for n in plan.nodes]
    latest = ws.store.latest_generation(dep.name, site)
    if latest is not None and latest.status is GenerationStatus.REMOVED:
        return Decommissioned(site, number, in_description, retire.Retired(), hosts, already=True)
    connection = connection_for(ws)
    with ws.store.lock(dep.name, f"dcn decommission {site}"):
        conn = cloud.admin_connection(ws)
        job = retiring.Retirement(site, list(plan.nodes), force)
        with cloud.api_errors(f"checking the servers of {site}"):
            retiring.check(
                conn,
                job,
                plan.az,
                f"{site} (AZ {plan.az})",
                f"add --force to 'dcn decommission {site}'",
            )
        ws.store.set_status(
            dep.name, site, number, GenerationStatus.REMOVING, "decommission started"
        )
        down = {d.split(" ", 1)[0] for d in unreachable(plan)}
        try:
            with cloud.api_errors(f"decommissioning {site}"):
                retiring.retire_nodes(
                    ws, connection, conn, job, on_step, say, [h for h in hosts if h not in down]
                )
                retire.delete_zone(conn, plan.az, job.done)
                physnets = {s.physnet for s in plan.network.provider_segments}
                for physnet in sorted(physnets | {physnet_of(site)}):
                    retire.delete_segments(conn, physnet, job.done)
        except DcnError as exc:
            ws.store.set_status(
                dep.name,
                site,
                number,
                GenerationStatus.FAILED,
                f"decommission stopped: {exc.message}",
            )
            raise DcnError(
                f"decommissioning {site} stopped: {exc.message}",
                hint=f"{exc.hint}; then run 'dcn decommission {site}' again (it resumes)",
            ) from None
        lab_removed = []
        if connection.lab:
            lab_removed = Lab(ws.state_dir, dep.name).remove_site(site, say)
        for line in job.done.lines():
            ws.store.add_event(dep.name, site, "decommission", line, generation=number)
        summary = f"decommissioned: {len(hosts)} nodes retired" + (
            f" ({len(job.unreachable)} not cleaned: unreachable)" if job.unreachable else ""
        )
        ws.store.set_status(dep.name, site, number, GenerationStatus.REMOVED, summary)
    return Decommissioned(
        site, number, in_description, job.done, hosts, job.unreachable, lab_removed
    )
