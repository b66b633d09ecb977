"""`dcn deploy`, `dcn smoke`, `dcn servers`: commands that act on hosts and the cloud."""

from __future__ import annotations

import atexit
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Annotated, Any

import typer
from rich.live import Live
from rich.table import Table

from dcn.cli import render
from dcn.deploy import Deployer, SiteOutcome
from dcn.deploy.runner import StepEvent
from dcn.errors import DcnError
from dcn.nextsteps import StaleEdges
from dcn.workspace import Workspace

_print_lock = threading.Lock()
_STYLE = {"changed": "yellow", "failed": "bold red", "unreachable": "bold red", "ok": "dim"}
#: a task's result (a "started" event is not one)
_DONE = ("ok", "changed", "failed", "unreachable", "skipped")
#: without a terminal: one line per site running Ansible this often
HEARTBEAT = 10.0
#: the terminal's live view: at most this many hosts, each kept this long after its last
#: event
LIVE_ROWS = 20
LIVE_LINGER = 30.0


@dataclass(slots=True)
class _Host:
    """One host's progress in one site's playbooks."""

    done: int = 0
    changed: int = 0
    failed: int = 0
    #: the task running there now
    current: str | None = None
    #: when its last event came (time.monotonic)
    seen: float = 0.0


class Progress:
    """Per-host progress while Ansible runs, called from every site's thread.

    Every changed or failed step is a line (every step with ``verbose``). On a terminal
    a live view below them shows each host: tasks done, changed, failed, the task
    running now. Elsewhere (CI, a pipe) a heartbeat line per site running Ansible comes
    every `heartbeat` seconds, so that a long task (a virtualenv, a schema sync) is not
    silence."""

    def __init__(
        self,
        verbose: bool,
        live: bool = False,
        heartbeat: float | None = HEARTBEAT,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.verbose = verbose
        self.hosts: dict[tuple[str, str], _Host] = {}
        self._clock = clock
        self._lock = threading.Lock()
        self._live: Live | None = None
        self._want_live = live
        self._heartbeat = heartbeat
        self._ticker: threading.Thread | None = None
        self._stop = threading.Event()
        self._starting = threading.Lock()

    def __call__(self, site: str, e: StepEvent) -> None:
        with self._lock:
            host = self.hosts.setdefault((site, e.host), _Host())
            host.seen = self._clock()
            if e.outcome == "started":
                host.current = e.task
            elif e.outcome in _DONE:
                host.current = None
                host.done += 1
                host.changed += e.outcome == "changed"
                host.failed += e.outcome in ("failed", "unreachable")
        self._start()
        if e.outcome in ("skipped", "started") or (e.outcome == "ok" and not self.verbose):
            return
        style = _STYLE.get(e.outcome, "")
        msg = f" {render.escape(e.message)}" if e.message else ""
        with _print_lock:
            render.out.print(
                f"[bold]{site}[/] {render.escape(e.host)} {render.escape(e.task)}: "
                f"[{style}]{e.outcome}[/]{msg}"
            )

    def _start(self) -> None:
        """The live view or the heartbeat, once the first event came."""
        with self._starting:
            if self._stop.is_set() or self._live or self._ticker:
                return
            _running.append(self)
            if self._want_live:
                live = Live(
                    get_renderable=self.view,
                    console=render.out,
                    refresh_per_second=4,
                    transient=True,
                )
                live.start()
                self._live = live
            elif self._heartbeat:
                self._ticker = threading.Thread(target=self._beat_every, daemon=True)
                self._ticker.start()

    def _beat_every(self) -> None:
        while not self._stop.wait(self._heartbeat):
            self.beat()

    def heartbeat_lines(self) -> list[str]:
        """One line per site with a task running (or an event this second)."""
        now = self._clock()
        sites: dict[str, list[_Host]] = {}
        with self._lock:
            for (site, _), host in self.hosts.items():
                sites.setdefault(site, []).append(replace(host))
        lines = []
        for site, hosts in sites.items():
            running = [h for h in hosts if h.current is not None]
            if not running and max(h.seen for h in hosts) < now - 1.0:
                continue
            done = sum(h.done for h in hosts)
            counts = [
                f"{n} {what}"
                for n, what in (
                    (sum(h.changed for h in hosts), "changed"),
                    (sum(h.failed for h in hosts), "failed"),
                )
                if n
            ]
            line = f"{site}: {len(hosts)} host{'s' * (len(hosts) != 1)}, {done} tasks done"
            line += f" ({', '.join(counts)})" if counts else ""
            if running:
                line += f", now: {max(running, key=lambda h: h.seen).current}"
            lines.append(line)
        return lines

    def beat(self) -> None:
        lines = self.heartbeat_lines()
        with _print_lock:
            for line in lines:
                render.out.print(render.escape(line))

    def view(self) -> Table:
        """The live view: the hosts with a task running or an event lately."""
        now = self._clock()
        with self._lock:
            rows = [
                (site, name, replace(h))
                for (site, name), h in self.hosts.items()
                if h.current is not None or now - h.seen < LIVE_LINGER
            ]
        rows.sort(key=lambda r: r[2].seen, reverse=True)
        shown, more = sorted(rows[:LIVE_ROWS], key=lambda r: r[:2]), len(rows) - LIVE_ROWS
        table = Table.grid(padding=(0, 2))
        for site, name, h in shown:
            table.add_row(
                f"[bold]{render.escape(site)}[/] {render.escape(name)}",
                f"{h.done} tasks done",
                f"[yellow]{h.changed} changed[/]" if h.changed else "0 changed",
                f"[bold red]{h.failed} failed[/]" if h.failed else "0 failed",
                f"now: {render.escape(h.current)}" if h.current else "[dim]between tasks[/]",
            )
        if more > 0:
            table.add_row(f"[dim]... and {more} more hosts[/]")
        return table

    def close(self) -> None:
        """Stop the live view (its last state is left off: the summary follows) and the
        heartbeat."""
        with self._starting:
            self._stop.set()
            live, self._live = self._live, None
        if live is not None:
            live.stop()


#: progress views started in this process: stopped before the summary, or at exit
_running: list[Progress] = []


def _stop_progress() -> None:
    while _running:
        _running.pop().close()


atexit.register(_stop_progress)


def progress(verbose: bool) -> Progress:
    """What a command that runs playbooks gives them as `on_step(site, event)`."""
    console = render.out
    return Progress(verbose, live=console.is_terminal and not console.is_dumb_terminal)


def _summary(
    outcomes: list[SiteOutcome], stale: StaleEdges | None = None, now: bool = True
) -> None:
    _stop_progress()
    table = render.Table("site", "generation", "result", "changes", "time", "next")
    for o in outcomes:
        # the message says what was done: changes, nodes the check found unchanged
        result = "[green]deployed[/]" if o.ok else "[bold red]failed[/]"
        if o.message:
            result += f": {render.escape(o.message)}"
        took = f"{o.seconds:.1f}s" if o.seconds < 10 else f"{o.seconds:.0f}s"
        table.add_row(o.site, str(o.generation), result, str(o.changed), took, o.next_command)
    render.out.print(table)
    if stale:
        render.out.print(f"[yellow]{render.escape(stale.line(now))}[/]")


def register(app: typer.Typer) -> None:
    @app.command()
    def deploy(
        ctx: typer.Context,
        sites: Annotated[list[str], typer.Argument(help="sites to deploy (control plane first)")],
        parallel: Annotated[int, typer.Option(help="edge sites deployed at once")] = 2,
        verbose: Annotated[
            bool, typer.Option("-v", "--verbose", help="show unchanged steps")
        ] = False,
        force: Annotated[
            bool,
            typer.Option(
                "--force",
                help="a site scaled in: delete the servers on the computes leaving it, and "
                "retire computes that do not answer from the cloud only",
            ),
        ] = False,
        full: Annotated[
            bool,
            typer.Option(
                "--full",
                help="run Ansible on every node, without first asking the nodes whether "
                "they already hold what is planned",
            ),
        ] = False,
    ) -> None:
        """Deploy sites through Ansible: each site's plan onto its nodes, edges in parallel.
        Computes a site's plan no longer has are retired first (servers refused unless
        --force; compute services, resource providers, aggregate membership removed)."""
        ws: Workspace = ctx.obj
        deployer = Deployer(ws, progress(verbose))
        deployer.say = lambda message: render.out.print(render.escape(message))
        deployer.full = full
        outcomes = deployer.run(sites, parallel, force=force)
        cp = ws.deployment.control_plane
        _summary(outcomes, deployer.stale_edges, now=bool(cp and cp.name in sites))
        failed = [o for o in outcomes if not o.ok]
        if failed:
            render.err.print(
                "[bold red]failed:[/] "
                + ", ".join(o.site for o in failed)
                + "; the other sites are deployed. Fix the cause and run: "
                + "; ".join(dict.fromkeys(o.next_command for o in failed if o.next_command))
            )
            raise typer.Exit(1)

    @app.command()
    def smoke(
        ctx: typer.Context,
        zones: Annotated[
            list[str] | None, typer.Argument(help="availability zones (default: every edge)")
        ] = None,
        guests: Annotated[
            bool, typer.Option(help="in the lab: attach a guest to each server and check it")
        ] = True,
    ) -> None:
        """Boot one server in each edge availability zone (on the site's segment of the
        workload network) and show where each runs; in the lab, give each a guest and
        show what it sees: its DHCP lease, its site's gateway, metadata, config drive."""
        from dcn.cloud import boot_in_zones

        ws: Workspace = ctx.obj
        wanted = zones or [s.az for s in ws.deployment.edges]
        if not wanted:
            raise DcnError("the description has no edge site", hint="add an edge site")
        places = boot_in_zones(ws, wanted)
        _servers_table(places)
        if guests:
            _guests(ws, places)

    @app.command("health")
    def health(
        ctx: typer.Context,
        sites: Annotated[list[str] | None, typer.Argument(help="sites (default: all)")] = None,
        fmt: Annotated[str, typer.Option("--format", help="text or json")] = "text",
    ) -> None:
        """Live view per site: control-plane endpoints from the site's nodes (RTT),
        compute services, servers; an unreachable site shows when it was last seen."""
        _health(ctx.obj, sites, fmt == "json")

    @app.command()
    def recover(
        ctx: typer.Context,
        site: Annotated[str, typer.Argument(help="the control plane (a clustered one)")],
        fmt: Annotated[str, typer.Option("--format", help="text or json")] = "text",
    ) -> None:
        """Bring a clustered control plane's Galera back after its members stopped (a
        power loss): from the most advanced node (grastate.dat, --wsrep-recover), never
        an arbitrary one; members that are stopped while a primary component runs just
        join it. Starts stopped brokers too, and reports what it found and did."""
        from dcn import cluster
        from dcn.hosts import connection_for

        ws: Workspace = ctx.obj
        cp = ws.deployment.control_plane
        if cp is None or cp.name != site:
            raise DcnError(
                f"{site} is not the control plane of {ws.deployment.name}",
                hint=f"run 'dcn recover {cp.name}'" if cp else "recover is for the control plane",
            )
        # what runs on the hosts: the deployed generation, not one merely planned since
        record = ws.store.deployed_generations(ws.deployment.name).get(site)
        if record is None:
            raise DcnError(f"{site} was never deployed", hint=f"run 'dcn deploy {site}'")
        from dcn.plan.serialize import plan_from_json

        plan = plan_from_json(record.plan_json())
        say = (lambda _text: None) if fmt == "json" else render.out.print
        result = cluster.recover(connection_for(ws), plan, lambda t: say(render.escape(t)))
        if fmt == "json":
            render.print_json(result.as_dict())
        elif result.whole:
            did = "; ".join(result.actions) or "nothing to do"
            render.out.print(f"[green]{site}: Galera is whole[/] ({render.escape(did)})")
        if not result.whole:
            raise DcnError(
                f"{site}: Galera is not whole after recovery",
                hint=f"'dcn health {site}' shows each controller; "
                "'journalctl -u mariadb' on them says why",
            )

    @app.command()
    def servers(ctx: typer.Context) -> None:
        """Every server of the cloud: status, availability zone, host and site."""
        from dcn.cloud import list_servers

        _servers_table(list_servers(ctx.obj))


def _guests(ws: Workspace, places: list) -> None:  # list[ServerPlace]
    """Attach a lab guest to every smoke server with a port, check what it sees."""
    from dcn.cloud import admin_connection
    from dcn.lab import Lab
    from dcn.workloads import attach, check

    if not Lab(ws.state_dir, ws.deployment.name).nodes():
        render.out.print("[dim]no lab: servers have no guest to check[/]")
        return
    conn = admin_connection(ws)
    table = render.Table(
        "server", "host", "port address", "DHCP", "gateway", "metadata", "config drive"
    )
    bad = []
    for place in places:
        if not place.networked:
            continue
        workload, lease = attach(ws, place.name, conn)
        r = check(ws, workload, lease, conn)
        bad += [] if r.ok else [r.server]
        dhcp = r.dhcp_ip or "none"
        table.add_row(
            r.server,
            r.host,
            r.fixed_ip,
            (f"[green]{dhcp}[/]" if r.dhcp_ip == r.fixed_ip else f"[red]{dhcp}[/]")
            + f" {r.dhcp_seconds:.1f}s",
            "-" if r.gateway is None else _replies(r.gateway, r.gateway_replies),
            r.metadata if r.metadata in ("ok", "n/a") else f"[red]{render.escape(r.metadata)}[/]",
            "yes" if r.config_drive else "no",
        )
    render.out.print(table)
    if bad:
        raise DcnError(
            f"guests of {', '.join(bad)} did not get what their site promises",
            hint="'dcn lab workload exec SERVER -- ip addr' looks inside; 'dcn health'",
        )


def _replies(gateway: str, replies: int) -> str:
    from dcn.workloads import PINGS

    style = "green" if replies else "red"
    return f"[{style}]{gateway} {replies}/{PINGS}[/]"


def _servers_table(places: list) -> None:  # list[ServerPlace]
    table = render.Table("server", "status", "zone", "host", "site")
    for p in places:
        style = "green" if p.status == "ACTIVE" else "red"
        table.add_row(p.name, f"[{style}]{p.status}[/]", p.az, p.host, p.site)
    render.out.print(table)


def _ago(iso: str | None) -> str:
    if not iso:
        return "never"
    from datetime import UTC, datetime

    seconds = (datetime.now(UTC) - datetime.fromisoformat(iso)).total_seconds()
    return f"{seconds:.0f}s ago" if seconds < 120 else f"{seconds / 60:.0f} min ago"


def _cluster_table(health: Any) -> None:  # SiteHealth
    """The control plane's clusters, a row per controller."""
    table = render.Table("controller", "Galera", "RabbitMQ", "OVN databases", "VIPs held")
    holders: dict[str, int] = {}
    for row in health.cluster:
        for vip in row.vips:
            holders[vip] = holders.get(vip, 0) + 1
    for row in health.cluster:
        table.add_row(
            row.node,
            render.escape(row.galera) if row.galera_ok else f"[red]{render.escape(row.galera)}[/]",
            render.escape(row.rabbitmq)
            if row.rabbitmq_ok
            else f"[red]{render.escape(row.rabbitmq)}[/]",
            render.escape(row.ovn) if row.ovn_ok else f"[red]{render.escape(row.ovn)}[/]",
            ", ".join(
                vip if holders[vip] == 1 else f"[red]{vip} (also elsewhere)[/]" for vip in row.vips
            )
            or "-",
        )
    render.out.print(f"{health.site}: cluster of {len(health.cluster)} controllers")
    render.out.print(table)
    if not any(row.vips for row in health.cluster):
        render.out.print("[red]no controller holds the VIPs[/]: the APIs are unreachable")


def _health(ws: Workspace, sites: list[str] | None, as_json: bool) -> None:
    from dcn.health import check

    results = check(ws, sites or None)
    if as_json:
        render.print_json([r.as_dict() for r in results])
        return
    table = render.Table(
        "site", "AZ", "reach", "endpoints from the site's nodes (max RTT)", "computes", "servers"
    )
    for r in results:
        if not r.reachable:
            reach = f"[red]unreachable[/] (last seen {_ago(r.last_seen)})"
            endpoints = "-"
        else:
            reach = "[green]ok[/]"
            endpoints = ", ".join(
                (
                    f"{n} {e.max_ms:.1f}ms"
                    if e.reachable_from == e.nodes and e.max_ms is not None
                    else f"[red]{n} {e.reachable_from}/{e.nodes}[/] {e.error or ''}"
                )
                for n, e in r.endpoints.items()
            )
        computes = ", ".join(
            f"{h.split('-')[-1] if len(r.computes) > 3 else h} "
            + ("[green]up[/]" if s == "up" else f"[red]{s}[/]")
            for h, s in sorted(r.computes.items())
        ) or ("[red]" + r.api_error + "[/]" if r.api_error else "-")
        site = f"{r.site} [bold yellow](orphaned)[/]" if r.orphaned else r.site
        table.add_row(
            site, r.az, reach, endpoints, computes, "-" if r.servers is None else str(r.servers)
        )
    render.out.print(table)
    for r in results:
        if r.cluster:
            _cluster_table(r)
    for r in results:
        if r.orphaned:  # never hidden: its hosts may still run
            render.out.print(
                f"[yellow]{r.site} is orphaned[/] ({render.escape(r.orphaned)}): "
                f"run '{render.escape(r.next or '')}'"
            )
