"""Deploy sites: each site's stack plan delivered to its nodes by Ansible.

Order and failure domains: the control plane first (edges consume its outputs), then
the edge sites, up to ``parallel`` at once, each on its own: a failed site does not
stop the others, and the summary says which failed, why and what to run next.

Nothing touches a host before every check passed: the sites' hosts answer on SSH, the
control plane is deployed when an edge needs it, and an edge consumes the control
plane's current outputs. Every site's generation moves planned -> deploying ->
deployed | failed in the state store, with one event per host; an interrupted run
leaves "deploying" or "failed" behind and the next run converges from there.
"""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import netaddr

from dcn.deploy import addresses, applied, bundle, networks, retire, runner, runs
from dcn.errors import DcnError
from dcn.hosts import connection_for
from dcn.lab import Connection
from dcn.lab.prereqs import DEFAULT_VENV, venv_stamp
from dcn.nextsteps import StaleEdges
from dcn.node import source
from dcn.plan.engine import SitePlanResult
from dcn.plan.serialize import plan_from_json
from dcn.plan.types import NodePlan, StackPlan
from dcn.services.catalog import generate
from dcn.state.records import GenerationStatus
from dcn.workspace import Workspace

SSH_PORT = 22
REACH_TIMEOUT = 3.0
REGISTER_TIMEOUT = 180


@dataclass(slots=True)
class SiteOutcome:
    site: str
    ok: bool
    generation: int
    changed: int = 0
    message: str = ""
    next_command: str = ""
    seconds: float = 0.0
    hosts: dict[str, runner.HostResult] = field(default_factory=dict)


OnStep = Callable[[str, runner.StepEvent], None]


def ssh_address(node: NodePlan) -> str:
    address = node.ssh_address
    if address is None:
        raise DcnError(
            f"node {node.hostname} has no ctlplane address and no ansible_host",
            hint="give its site a ctlplane subnet, or the node an ansible_host",
        )
    return address


def ssh_problem(node: NodePlan) -> str | None:
    """Why the node's SSH port does not answer (None: it answers)."""
    try:
        with socket.create_connection((ssh_address(node), SSH_PORT), REACH_TIMEOUT):
            return None
    except OSError as exc:
        return f"{node.hostname} ({ssh_address(node)}: {exc.strerror or exc})"


def unreachable(plan: StackPlan) -> list[str]:
    """Nodes whose SSH port does not answer (checked in parallel, bounded)."""
    with ThreadPoolExecutor(max_workers=min(16, len(plan.nodes) or 1)) as pool:
        return [r for r in pool.map(ssh_problem, plan.nodes) if r]


def working_controller(plan: StackPlan) -> NodePlan | None:
    """The controller that runs the control plane's one-off work for others (an
    edge's registration): the first; on a clustered control plane the first whose
    SSH answers, so that edges deploy while a controller is lost."""
    first = plan.api_node()
    if not plan.clustered or first is None or ssh_problem(first) is None:
        return first
    return next((n for n in plan.controllers()[1:] if ssh_problem(n) is None), first)


class Deployer:
    def __init__(self, ws: Workspace, on_step: OnStep, connection: Connection | None = None):
        self.ws = ws
        self.on_step = on_step
        self.dep = ws.deployment
        self.connection = connection or connection_for(ws)
        #: set on Ctrl-C: ansible-runner stops the runs of the other sites' threads
        self.cancel = threading.Event()
        #: after a run: edges whose nodes run with outputs the control plane no longer
        #: publishes (for the summary; a control-plane deploy that changed them makes them)
        self.stale_edges: StaleEdges | None = None
        #: site -> its computes leaving the cloud in this run (a scale-in)
        self.removals: dict[str, retire.Retirement] = {}
        #: what the run says besides the steps (a scale-in's progress)
        self.say: Callable[[str], None] = lambda _message: None
        #: Ansible on every node, without asking the nodes what differs (``--full``)
        self.full = False

    def _check_lab_addresses(self, plan: StackPlan) -> list[str]:
        """In the lab, every node must be reached inside the lab's own subnets."""
        if not self.connection.lab:
            return []
        leaves = [netaddr.IPNetwork(s.cidr) for s in plan.network.subnets.values()]
        return [
            f"{n.hostname}: {ssh_address(n)} is outside the site's lab subnets"
            for n in plan.nodes
            if not any(netaddr.IPAddress(ssh_address(n)) in leaf for leaf in leaves)
        ]

    # -- checks before any host is touched -----------------------------------------

    def _check_sites(self, sites: Sequence[str]) -> list[str]:
        known = {s.name for s in self.dep.sites}
        unknown = [s for s in sites if s not in known]
        if unknown:
            raise DcnError(
                f"no site named {', '.join(unknown)} in {self.ws.file}",
                hint="sites: " + ", ".join(sorted(known)),
            )
        cp = self.dep.control_plane
        ordered = [s for s in sites if cp and s == cp.name]
        return ordered + [s for s in dict.fromkeys(sites) if not (cp and s == cp.name)]

    def _control_plane_deployed(self, edge: SitePlanResult, deploying_cp: bool) -> str | None:
        """Why an edge can't be deployed against the control plane now (None: it can)."""
        cp = self.dep.control_plane
        if cp is None or self.dep.control_plane_export is not None:
            return None  # outputs come from an imported export
        if deploying_cp:
            return None  # deployed first in this run; checked again before the edges
        record = self.ws.store.latest_generation(self.dep.name, cp.name)
        if record is None or record.status != GenerationStatus.DEPLOYED:
            state = record.status if record else "not planned"
            return (
                f"the control plane {cp.name} is not deployed ({state}); "
                f"run 'dcn deploy {cp.name}' first"
            )
        consumed = edge.plan.consumed_export
        if consumed and record.outputs_digest and consumed.digest != record.outputs_digest:
            return (
                f"{edge.site} would consume {consumed}, not the outputs of the control "
                f"plane's deployed generation {record.number}; run 'dcn deploy {cp.name}'"
            )
        return None

    def _check_export_age(self) -> None:
        ref = self.dep.control_plane_export
        cp = self.dep.control_plane
        if ref is None or cp is None:
            return
        source_version = self.ws.control_plane_source()
        record = self.ws.store.latest_generation(self.dep.name, cp.name)
        if (
            source_version
            and record
            and source_version.version.stack == cp.name
            and source_version.version.generation < record.number
        ):
            raise DcnError(
                f"the export {ref} holds {cp.name} generation "
                f"{source_version.version.generation}, older than its current "
                f"generation {record.number}",
                hint=f"write a new one: dcn export {cp.name} -o {ref} --force",
            )

    # -- the run -------------------------------------------------------------------

    def _check_removals(self, results: dict[str, SitePlanResult], force: bool) -> list[str]:
        """Computes a site's new plan drops: refused while servers run on them (unless
        `force`), before any host is touched; kept in `removals` for the run."""
        from dcn import cloud

        deployed = self.ws.store.deployed_generations(self.dep.name)
        problems = []
        conn = None
        for name, result in results.items():
            record = deployed.get(name)
            before = plan_from_json(record.plan_json()) if record else None
            gone = retire.removed_nodes(before, result.plan)
            if not gone:
                continue
            retire.refuse_controllers(name, gone)
            job = retire.Retirement(name, gone, force)
            if conn is None:
                conn = cloud.admin_connection(self.ws)
            with cloud.api_errors(f"checking the servers on {name}'s computes being removed"):
                try:
                    retire.check(
                        conn,
                        job,
                        None,
                        f"{name}'s computes being removed ({', '.join(job.hosts)})",
                        f"add --force to 'dcn deploy {name}'",
                    )
                except DcnError as exc:
                    problems.append(f"{exc.message} ({exc.hint})")
                    continue
            self.removals[name] = job
        return problems

    def _check_cluster_size(self, plan: StackPlan) -> list[str]:
        """A deployed control plane keeps its number of controllers: going from one to
        three turns a MariaDB server into a Galera cluster, classic queues into quorum
        queues (every client of the broker at once, edges too) and OVN's databases
        into a RAFT cluster; none of that is done in place yet (docs/operate.md)."""
        if plan.kind != "control-plane":
            return []
        deployed = self.ws.store.deployed_generations(self.dep.name).get(plan.site)
        if deployed is None:
            return []
        before = len(plan_from_json(deployed.plan_json()).controllers())
        now = len(plan.controllers())
        if before == now:
            return []
        return [
            f"{plan.site}: the deployed control plane has {before} controller(s), the "
            f"description {now} (ha_size); dcn does not change a running control plane's "
            f"cluster size: set ha_size and the Controller count back to {before}, or move "
            "to a new control plane as docs/operate.md ('Changing ha_size') describes"
        ]

    def run(
        self, sites: Sequence[str], parallel: int = 2, force: bool = False
    ) -> list[SiteOutcome]:
        ordered = self._check_sites(sites)
        self._check_export_age()
        cp = self.dep.control_plane
        with self.ws.store.lock(self.dep.name, f"dcn deploy {' '.join(ordered)}"):
            # under the lock no other deploy of this state starts: runs without an owner
            # record are dead too (every command sweeps those of dead owners)
            runs.sweep(self.ws.state_dir, unowned=True)
            deploying_cp = bool(cp and cp.name in ordered)
            # edges are planned from the control plane's latest plan: plan it too
            managed_cp = cp is not None and self.dep.control_plane_export is None
            to_plan = ordered if deploying_cp or not managed_cp else [cp.name, *ordered]
            results = {r.site: r for r in self.ws.planner().plan(to_plan, record=True)}
            problems = []
            for name in ordered:
                result = results[name]
                if result.plan.kind == "edge":
                    why = self._control_plane_deployed(result, deploying_cp)
                    if why:
                        problems.append(why)
                problems += self._check_cluster_size(result.plan)
                outside = self._check_lab_addresses(result.plan)
                if outside:
                    problems += outside
                    continue
                down = unreachable(result.plan)
                if down:
                    problems.append(
                        f"{name}: hosts unreachable over SSH: {', '.join(down)}; "
                        "bring them up ('dcn lab up' for the lab) and run again"
                    )
                else:
                    problems += addresses.problems(
                        self.connection, result.plan, self.connection.lab
                    )
            problems += self._check_removals({s: results[s] for s in ordered}, force)
            if problems:
                raise DcnError(
                    "nothing was deployed:\n  " + "\n  ".join(problems),
                    hint="fix the above; no host was touched",
                )
            outcomes = []
            if deploying_cp and cp:
                outcomes.append(self._deploy(results[cp.name]))
                if not outcomes[-1].ok:
                    skipped = [s for s in ordered if s != cp.name]
                    for s in skipped:
                        outcomes.append(
                            SiteOutcome(
                                s,
                                False,
                                results[s].generation,
                                message="not started: the control plane failed",
                                next_command=f"dcn deploy {s}",
                            )
                        )
                    return outcomes
                # edges planned against the control plane's new outputs
                edges = [s for s in ordered if s != cp.name]
                if edges:
                    results.update({r.site: r for r in self.ws.planner().plan(edges)})
            edges = [results[s] for s in ordered if not (cp and s == cp.name)]
            with ThreadPoolExecutor(max_workers=max(1, parallel)) as pool:
                try:
                    outcomes += list(pool.map(self._deploy_site, edges))
                except KeyboardInterrupt:
                    # ansible-playbook runs in a session of its own: Ctrl-C does not reach
                    # it; cancelling makes ansible-runner stop it, and each site's thread
                    # then records its generation as failed
                    self.cancel.set()
                    raise
            self._note_stale_edges(outcomes, deploying_cp)
            return outcomes

    def _note_stale_edges(self, outcomes: list[SiteOutcome], deploying_cp: bool) -> None:
        """Summary data only: which edges now need a deploy, on the control plane's row."""
        self.stale_edges = self.ws.stale_edges()
        if self.stale_edges and deploying_cp and outcomes and outcomes[0].ok:
            outcomes[0].next_command = self.stale_edges.short_command()

    def _deploy_site(self, result: SitePlanResult) -> SiteOutcome:
        """An edge's deploy; its computes leaving the cloud are retired first, so that a
        failed retirement keeps the deployed generation that still lists them (the next
        run retires them again)."""
        job = self.removals.get(result.site)
        if job is None:
            return self._deploy(result)
        from dcn import cloud

        site, number = result.site, result.generation
        try:
            with cloud.api_errors(f"retiring {site}'s computes"):
                reachable = {n.hostname for n in job.nodes} - {
                    d.split(" ", 1)[0] for d in unreachable(_only(result.plan, job.nodes))
                }
                retire.retire_nodes(
                    self.ws,
                    self.connection,
                    cloud.admin_connection(self.ws),
                    job,
                    lambda e: self.on_step(site, e),
                    self.say,
                    sorted(reachable),
                )
        except DcnError as exc:
            message = f"retiring {', '.join(job.hosts)} failed: {exc.message} ({exc.hint})"
            self.ws.store.set_status(self.dep.name, site, number, GenerationStatus.FAILED, message)
            return SiteOutcome(
                site, False, number, message=message, next_command=f"dcn deploy {site}"
            )
        for line in job.done.lines():
            self.ws.store.add_event(self.dep.name, site, "retire", line, generation=number)
        outcome = self._deploy(result)
        retired = f"retired {', '.join(job.hosts)}"
        if job.unreachable:
            retired += f" (not cleaned, unreachable: {', '.join(job.unreachable)})"
        outcome.message = f"{retired}; {outcome.message}"
        return outcome

    def _control_plane_group(self) -> dict[str, dict[str, str]]:
        cp = self.dep.control_plane
        if cp is None or self.dep.control_plane_export is not None:
            return {}
        record = self.ws.store.latest_generation(self.dep.name, cp.name)
        if record is None:
            return {}
        node = working_controller(plan_from_json(record.plan_json()))
        return {node.hostname: {"ansible_host": ssh_address(node)}} if node else {}

    def _deploy(self, result: SitePlanResult) -> SiteOutcome:
        plan, number, site = result.plan, result.generation, result.site
        store, dep = self.ws.store, self.dep.name
        started = time.monotonic()
        run_id = uuid.uuid4().hex
        secrets = store.ensure_secrets(dep, plan.secrets, generate)
        store.set_status(
            dep, site, number, GenerationStatus.DEPLOYING, "deploy started", run_id=run_id
        )
        run_dir = runs.run_dir(self.ws.state_dir, site, number, run_id)
        run_dir.mkdir(parents=True, mode=0o700)
        outcome = SiteOutcome(site, False, number)
        release = venv_stamp()
        # every playbook's variables carry the stamp its successful run leaves, and the
        # nodes are asked whether they hold it (and what they should): where they do,
        # Ansible is left out (dcn.deploy.applied)
        check = applied.SiteCheck()
        host_vars = {}
        for n in plan.nodes:
            values = bundle.node_vars(n, secrets, release)
            host_vars[n.hostname] = applied.stamped(values, applied.STAMP)
            check.node(n.hostname, ssh_address(n), host_vars[n.hostname])
        groups: dict[str, dict[str, dict[str, str]]] = {}
        register = plan.kind == "edge" and self._control_plane_group()
        register_extra = networks_extra = None
        if register:
            groups["control_plane"] = register
            holder, holder_vars = next(iter(register.items()))
            register_extra = applied.stamped(
                {
                    "dcn_node_home": bundle.NODE_HOME,
                    "dcn_register_script": source("edge_register.py"),
                    "dcn_venv": str(DEFAULT_VENV),
                    "dcn_cloud": dep,
                    "dcn_az": plan.az,
                    "dcn_site_hosts": [n.hostname for n in plan.nodes],
                    "dcn_register_timeout": REGISTER_TIMEOUT,
                },
                applied.stamp_path(f"register-{site}"),
            )
            check.follower("register.yml", holder, holder_vars["ansible_host"], register_extra)
        # the control plane's deploy ends with the workload networks and flavors
        api = plan.api_node() if plan.kind == "control-plane" else None
        if api is not None:
            groups["control_plane"] = {api.hostname: {"ansible_host": ssh_address(api)}}
            networks_extra = applied.stamped(
                {
                    "dcn_node_home": bundle.NODE_HOME,
                    "dcn_networks_script": source("workload_networks.py"),
                    "dcn_venv": str(DEFAULT_VENV),
                    "dcn_cloud": dep,
                    "dcn_networks_spec": networks.spec(self.dep),
                },
                applied.stamp_path("networks"),
            )
            check.follower("networks.yml", api.hostname, ssh_address(api), networks_extra)
        decision = check.everything()
        try:
            if not self.full:
                decision = check.run(self.connection)
            self.say(decision.line(site))
            apply = [n for n in plan.nodes if n.hostname in decision.apply]
            groups["site"] = {n.hostname: {"ansible_host": ssh_address(n)} for n in apply}
            inventory_vars = {n.hostname: host_vars[n.hostname] for n in apply}
            if register_extra:
                inventory_vars[holder] = register_extra
            runner.write_inventory(run_dir, groups, inventory_vars)
            step = lambda e: self.on_step(site, e)  # noqa: E731
            res = runner.RunResult("successful")
            # an edge's registration runs in the same ansible-playbook as its nodes'
            # deploy (one start fewer per site), with its variables as the holder's
            # host variables; register.yml runs only if every node was deployed
            playbooks = ["site.yml"] if apply else []
            if register_extra and decision.runs("register.yml"):
                playbooks.append("register.yml")
            if playbooks:
                # all site.yml applies is in the host variables, which the stamp's digest
                # covers (add any extra one that changes what is applied to the digest
                # too); a clustered control plane's nodes go one at a time (site.yml)
                order = {"dcn_serial": 1} if plan.clustered else {}
                res = runner.run_playbook(
                    run_dir, playbooks, self.connection, order, step, len(apply) + 1, self.cancel
                )
            if res.succeeded and networks_extra and decision.runs("networks.yml"):
                ensured = runner.run_playbook(
                    run_dir, "networks.yml", self.connection, networks_extra, step, 1, self.cancel
                )
                res.absorb(ensured)
        except KeyboardInterrupt:
            store.set_status(
                dep,
                site,
                number,
                GenerationStatus.FAILED,
                f"interrupted; run 'dcn deploy {site}' to converge",
                run_id=run_id,
            )
            raise
        finally:
            runner.clean(run_dir)
        outcome.hosts = res.hosts
        outcome.changed = res.changed
        outcome.seconds = time.monotonic() - started
        for host, hr in sorted(res.hosts.items()):
            store.add_event(
                dep,
                site,
                "host",
                f"ok={hr.ok} changed={hr.changed} failed={hr.failed} "
                f"unreachable={hr.unreachable}" + (f": {hr.failure}" if hr.failure else ""),
                generation=number,
                host=host,
            )
        for host in decision.unchanged:
            store.add_event(
                dep,
                site,
                "host",
                "unchanged (checked): Ansible left it out",
                generation=number,
                host=host,
            )
        if res.succeeded:
            outcome.ok = True
            outcome.message = (
                f"{outcome.changed} changes" if outcome.changed else "no changes on any host"
            )
            if decision.note():
                outcome.message += f"; {decision.note()}"
            store.set_status(
                dep, site, number, GenerationStatus.DEPLOYED, outcome.message, run_id=run_id
            )
        else:
            failures = [f"{h}: {r.failure}" for h, r in sorted(res.hosts.items()) if r.failure]
            outcome.message = "; ".join(failures) or f"ansible run {res.status}"
            outcome.next_command = f"dcn deploy {site}"
            store.set_status(
                dep, site, number, GenerationStatus.FAILED, outcome.message, run_id=run_id
            )
        return outcome


def _only(plan: StackPlan, nodes: Sequence[NodePlan]) -> StackPlan:
    """The plan with just these nodes (to probe nodes that left the plan)."""
    import dataclasses

    return dataclasses.replace(plan, nodes=tuple(nodes))
