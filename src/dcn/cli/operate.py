"""`dcn deploy`, `dcn smoke`, `dcn servers`: commands that act on hosts and the cloud."""

from __future__ import annotations

import threading
from typing import Annotated

import typer

from dcn.cli import render
from dcn.deploy import Deployer, SiteOutcome
from dcn.deploy.runner import StepEvent
from dcn.errors import DcnError
from dcn.workspace import Workspace

_print_lock = threading.Lock()
_STYLE = {"changed": "yellow", "failed": "bold red", "unreachable": "bold red", "ok": "dim"}


def _progress(verbose: bool):
    def on_step(site: str, e: StepEvent) -> None:
        if e.outcome == "skipped" or (e.outcome == "ok" and not verbose):
            return
        style = _STYLE.get(e.outcome, "")
        msg = f" {render.escape(e.message)}" if e.message else ""
        with _print_lock:
            render.out.print(
                f"[bold]{site}[/] {render.escape(e.host)} {render.escape(e.task)}: "
                f"[{style}]{e.outcome}[/]{msg}"
            )

    return on_step


def _summary(outcomes: list[SiteOutcome]) -> None:
    table = render.Table("site", "generation", "result", "changes", "time", "next")
    for o in outcomes:
        result = (
            "[green]deployed[/]" if o.ok else f"[bold red]failed[/]: {render.escape(o.message)}"
        )
        if o.ok and o.message:
            result += f" ({o.message})"
        table.add_row(
            o.site, str(o.generation), result, str(o.changed), f"{o.seconds:.0f}s", o.next_command
        )
    render.out.print(table)


def register(app: typer.Typer) -> None:
    @app.command()
    def deploy(
        ctx: typer.Context,
        sites: Annotated[list[str], typer.Argument(help="sites to deploy (control plane first)")],
        parallel: Annotated[int, typer.Option(help="edge sites deployed at once")] = 2,
        verbose: Annotated[
            bool, typer.Option("-v", "--verbose", help="show unchanged steps")
        ] = False,
    ) -> None:
        """Deploy sites through Ansible: each site's plan onto its nodes, edges in parallel."""
        ws: Workspace = ctx.obj
        outcomes = Deployer(ws, _progress(verbose)).run(sites, parallel)
        _summary(outcomes)
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
    ) -> None:
        """Boot one server in each edge availability zone and show where each runs."""
        from dcn.cloud import boot_in_zones

        ws: Workspace = ctx.obj
        wanted = zones or [s.az for s in ws.deployment.edges]
        if not wanted:
            raise DcnError("the description has no edge site", hint="add an edge site")
        _servers_table(boot_in_zones(ws, wanted))

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
    def servers(ctx: typer.Context) -> None:
        """Every server of the cloud: status, availability zone, host and site."""
        from dcn.cloud import list_servers

        _servers_table(list_servers(ctx.obj))


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
        table.add_row(
            r.site, r.az, reach, endpoints, computes, "-" if r.servers is None else str(r.servers)
        )
    render.out.print(table)
