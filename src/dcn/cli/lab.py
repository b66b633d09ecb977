"""`dcn lab ...`: the local lab the deployment runs on: full Debian hosts on routed leaves."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from dcn.cli import render
from dcn.errors import DcnError
from dcn.lab import Lab, fullhost
from dcn.lab.prereqs import FULLHOST_PACKAGES, install_packages
from dcn.workspace import Workspace

app = typer.Typer(
    help="The local lab: sites on routed leaves, each node a full Debian host "
    "(a systemd-nspawn container in its own network namespace)."
)


def _lab(ws: Workspace) -> Lab:
    return Lab(ws.state_dir, ws.deployment.name)


def _say(message: str) -> None:
    render.out.print(f"[dim]lab:[/] {render.escape(message)}")


@app.command("prereqs")
def prereqs(ctx: typer.Context) -> None:
    """Install what the lab needs, idempotently: the machine's packages (mmdebstrap,
    systemd-container) and the node image (OpenStack goes to the nodes, not here)."""
    from dcn.deploy.prepared import node_image

    fullhost.kind_from_env()
    installed = install_packages(_say, FULLHOST_PACKAGES)
    render.out.print(f"node image: {node_image(_say)}")
    render.out.print("machine packages: " + ("installed" if installed else "in place"))


@app.command("up")
def up(
    ctx: typer.Context,
    skip_prereqs: Annotated[bool, typer.Option(help="do not check the prerequisites")] = False,
) -> None:
    """Build the lab from the description: the fabric, then each node booted from the
    node image."""
    from dcn.deploy.prepared import node_image

    ws: Workspace = ctx.obj
    lab = _lab(ws)
    # before installing or building anything: a retired kind of node is refused here
    fullhost.kind_from_env()
    lab.checked_manifest()
    if not skip_prereqs:
        install_packages(_say, FULLHOST_PACKAGES)
    image = node_image(_say)
    plans = [r.plan for r in ws.plan()]
    plans.sort(key=lambda p: p.kind != "control-plane")
    topo = lab.up(plans, _say, image)
    render.out.print(f"lab up: {len(topo.nodes)} nodes in {len(topo.leaves)} sites")


@app.command("down")
def down(ctx: typer.Context) -> None:
    """Stop every lab process and remove exactly what `lab up` created (its manifest says
    what: this works even when the description no longer validates)."""
    ws: Workspace = ctx.obj
    removed = Lab(ws.state_dir, "").down(_say)
    render.out.print(f"lab down: {len(removed)} namespaces removed" if removed else "no lab is up")


@app.command("status")
def status(
    ctx: typer.Context,
    fmt: Annotated[str, typer.Option("--format", help="text or json")] = "text",
) -> None:
    """Each lab node: site, address, namespace, sshd (the node runs), processes."""
    rows = _lab(ctx.obj).status()
    if fmt == "json":
        render.print_json(rows)
        return
    if not rows:
        render.out.print("no lab is up")
        return
    table = render.Table("node", "site", "address", "netns", "sshd", "processes", "uplink")
    for r in rows:
        table.add_row(
            r["node"],
            r["site"],
            r["address"],
            _yes(r["netns"]),
            _yes(r["sshd"]),
            str(r["processes"]),
            "[red]cut[/]" if r["uplink"] == "cut" else "up",
        )
    render.out.print(table)


def _yes(value: bool) -> str:
    return "[green]yes[/]" if value else "[red]no[/]"


@app.command("cut")
def cut(ctx: typer.Context, site: Annotated[str, typer.Argument(help="site to cut off")]) -> None:
    """Cut a site's uplink to the spine (the site keeps running, isolated)."""
    from dcn.lab.faults import set_uplink

    changed = set_uplink(_lab(ctx.obj), site, up=False)
    render.out.print(f"{site}: uplink cut" if changed else f"{site}: already cut")


@app.command("heal")
def heal(ctx: typer.Context, site: Annotated[str, typer.Argument(help="site to heal")]) -> None:
    """Restore a site's uplink to the spine."""
    from dcn.lab.faults import set_uplink

    changed = set_uplink(_lab(ctx.obj), site, up=True)
    render.out.print(f"{site}: uplink restored" if changed else f"{site}: was not cut")


@app.command("service")
def service(
    ctx: typer.Context,
    node: Annotated[str, typer.Argument(help="lab node hostname")],
    action: Annotated[str, typer.Argument(help="stop (held), start, or kill (restarted)")],
    name: Annotated[str, typer.Argument(help="process name, e.g. nova-compute, mariadb")],
) -> None:
    """Stop, start or kill one supervised process on one node."""
    from dcn.lab.faults import service as control

    control(_lab(ctx.obj), node, action, name)
    render.out.print(f"{node}: {action} {name}: done")


@app.command("node")
def node_(
    ctx: typer.Context,
    action: Annotated[str, typer.Argument(help="stop (like a power loss), start, or reboot")],
    node: Annotated[str, typer.Argument(help="lab node hostname")],
) -> None:
    """Stop a full-host node like a host losing power, start it, or reboot it."""
    if action not in ("stop", "start", "reboot"):
        raise DcnError(f"unknown node action {action!r}", hint="use stop, start or reboot")
    state = _lab(ctx.obj).node_action(node, action)
    render.out.print(f"{node}: {state}")


@app.command("exec", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def exec_(
    ctx: typer.Context,
    node: Annotated[str, typer.Argument(help="lab node hostname")],
) -> None:
    """Run a command inside a lab node (its network, mounts and hostname)."""
    argv = _lab(ctx.obj).exec_argv(node, ctx.args or ["/bin/bash"])
    os.execvp(argv[0], argv)


workload_app = typer.Typer(
    help="Guests for servers: nova's fake driver boots none, so the lab gives a server "
    "a network namespace on its compute, plugged into its port."
)
app.add_typer(workload_app, name="workload")


@workload_app.command("attach")
def workload_attach(
    ctx: typer.Context,
    servers: Annotated[list[str], typer.Argument(help="server names or ids")],
) -> None:
    """Plug a guest into each server's port on its compute and ask DHCP for its address."""
    from dcn.cloud import admin_connection
    from dcn.workloads import attach

    ws: Workspace = ctx.obj
    conn = admin_connection(ws)
    table = render.Table("server", "node", "port address", "DHCP address", "lease")
    failed = []
    for server in servers:
        w, lease = attach(ws, server, conn)
        good = lease.address == w.fixed_ip
        failed += [] if good else [w.name]
        shown = lease.address or "none"
        table.add_row(
            w.name,
            w.node,
            w.fixed_ip,
            f"[green]{shown}[/]" if good else f"[red]{shown}[/]",
            f"{lease.seconds:.1f}s",
        )
    render.out.print(table)
    if failed:
        raise DcnError(
            f"DHCP did not give {', '.join(failed)} its port's address",
            hint="'dcn lab exec NODE ovn-sbctl ...' / the compute's ovn-controller log",
        )


@workload_app.command(
    "exec", context_settings={"allow_extra_args": True, "ignore_unknown_options": True}
)
def workload_exec(
    ctx: typer.Context,
    server: Annotated[str, typer.Argument(help="server name or id")],
) -> None:
    """Run a command inside a server's guest (after '--')."""
    lab = _lab(ctx.obj)
    argv = lab.workload_argv(lab.workload(server), ctx.args or ["/bin/sh"])
    os.execvp(argv[0], argv)


@workload_app.command("detach")
def workload_detach(
    ctx: typer.Context,
    servers: Annotated[list[str], typer.Argument(help="server names or ids")],
) -> None:
    """Unplug and remove servers' guests."""
    lab = _lab(ctx.obj)
    for server in servers:
        w = lab.workload(server)
        lab.detach(w)
        render.out.print(f"{w.name}: detached from {w.node}")


@workload_app.command("list")
def workload_list(ctx: typer.Context) -> None:
    """The attached guests."""
    table = render.Table("server", "node", "address", "namespace")
    for w in _lab(ctx.obj).workloads().values():
        table.add_row(w.name, w.node, w.fixed_ip, w.netns)
    render.out.print(table)
