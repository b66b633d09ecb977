"""Retire nodes leaving the cloud: a site scaled in, or a whole site decommissioned.

In this order, each step safe to run again after a failure: servers on the nodes
(refused unless forced, then deleted), their compute services disabled, the nodes'
units stopped and dcn's files deleted (``retire.yml``), the control plane forgetting
the hosts (``dcn.retire``), and the lab's machines removed. Nodes that do not answer
are only retired from the cloud, and only when forced (a node that died for good).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from dcn import retire
from dcn.deploy import runner
from dcn.deploy.bundle import NODE_HOME, NODE_PYTHON, UNITCTL
from dcn.errors import DcnError
from dcn.lab import Connection, Lab
from dcn.plan.types import NodePlan, StackPlan
from dcn.workspace import Workspace

OnStep = Callable[[runner.StepEvent], None]
Say = Callable[[str], None]


def removed_nodes(deployed: StackPlan | None, planned: StackPlan) -> list[NodePlan]:
    """Nodes the site's deployed plan has and its new plan does not (a scale-in)."""
    if deployed is None:
        return []
    keep = {n.hostname for n in planned.nodes}
    return [n for n in deployed.nodes if n.hostname not in keep]


def refuse_controllers(site: str, nodes: Sequence[NodePlan]) -> None:
    """Only computes leave a site; a control plane's nodes are not removed by a deploy."""
    others = [n.hostname for n in nodes if "nova_compute" not in n.services]
    if others:
        raise DcnError(
            f"{site}: the plan removes nodes that are not computes: {', '.join(others)}",
            hint="dcn removes computes only; put the nodes back in the description",
        )


@dataclass(slots=True)
class Retirement:
    """Nodes of one site to retire, what the cloud has on them, and the outcome."""

    site: str
    nodes: list[NodePlan]
    force: bool
    #: servers found on the nodes when checked (the refusal names them)
    servers: list[retire.ServerOnHost] = field(default_factory=list)
    done: retire.Retired = field(default_factory=retire.Retired)
    #: nodes that did not answer: retired from the cloud only
    unreachable: list[str] = field(default_factory=list)

    @property
    def hosts(self) -> list[str]:
        return [n.hostname for n in self.nodes]


def check(cloud: Any, job: Retirement, az: str | None, what: str, force_hint: str) -> None:
    """Before anything changes: refuse while servers run there, unless forced."""
    job.servers = retire.servers_on(cloud, job.hosts, az)
    if job.servers and not job.force:
        raise retire.refusal(job.servers, what, force_hint)


def retire_nodes(
    ws: Workspace,
    connection: Connection,
    cloud: Any,
    job: Retirement,
    on_step: OnStep,
    say: Say,
    reachable: Sequence[str],
) -> None:
    """Retire the job's nodes (checked already): servers, services, nodes, cloud, lab."""
    if job.servers:
        retire.delete_servers(cloud, job.servers, job.done)
    retire.disable_computes(cloud, job.hosts)
    job.unreachable = [h for h in job.hosts if h not in reachable]
    if job.unreachable and not job.force:
        raise DcnError(
            f"{job.site}: nodes do not answer on SSH: {', '.join(job.unreachable)}",
            hint="bring them up and run again, or add --force to retire them from the "
            "cloud without cleaning them (their files keep the secrets they held)",
        )
    stopping = [n for n in job.nodes if n.hostname in reachable]
    if stopping:
        _stop_nodes(ws, connection, job.site, stopping, on_step)
    retire.forget_computes(cloud, job.hosts, job.done)
    if connection.lab:
        Lab(ws.state_dir, ws.deployment.name).remove_nodes(job.hosts, say)


def _stop_nodes(
    ws: Workspace, connection: Connection, site: str, nodes: Sequence[NodePlan], on_step: OnStep
) -> None:
    """retire.yml on the nodes: units stopped and removed, dcn's files deleted."""
    from dcn.deploy import ssh_address

    run_dir = ws.state_dir / "runs" / f"{site}-retire-{uuid.uuid4().hex[:8]}"
    run_dir.mkdir(parents=True, mode=0o700)
    groups = {"retiring": {n.hostname: {"ansible_host": ssh_address(n)} for n in nodes}}
    host_vars = {n.hostname: {"dcn_retire_files": sorted(n.files)} for n in nodes}
    extra = {"dcn_node_python": NODE_PYTHON, "dcn_unitctl": UNITCTL, "dcn_node_home": NODE_HOME}
    try:
        runner.write_inventory(run_dir, groups, host_vars)
        result = runner.run_playbook(
            run_dir, "retire.yml", connection, extra, on_step, max(1, len(nodes))
        )
    finally:
        runner.clean(run_dir)
    if not result.succeeded:
        failures = [f"{h}: {r.failure}" for h, r in sorted(result.hosts.items()) if r.failure]
        raise DcnError(
            f"{site}: stopping the retired nodes failed: " + ("; ".join(failures) or result.status),
            hint="fix the above and run the same command again (it resumes where it stopped)",
        )
