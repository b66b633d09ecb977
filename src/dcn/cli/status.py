"""`dcn status` and `dcn secrets list`: fleet views from the state store.

The rows come from `dcn.fleetstatus` (shared with `dcn serve`); this module only draws
them.
"""

from __future__ import annotations

from rich.table import Table

from dcn.cli import render
from dcn.fleetstatus import status_data
from dcn.nextsteps import deploy_command, name_list
from dcn.workspace import Workspace

_REACH_STYLE = {True: "green", False: "red", None: "dim"}


def show_status(ws: Workspace, as_json: bool, probe: bool = False) -> None:
    data = status_data(ws, probe)
    exports = ws.stale_exports()
    if as_json:
        render.print_json(data)
        return
    table = Table(title=f"deployment {ws.deployment.name}", title_justify="left")
    columns = ("site", "kind", "AZ", "nodes", "status", "gen", "consumed export", "stale")
    for col in (*columns, "reach", "next"):
        table.add_column(col)
    for row in data:
        stale = "[red]STALE[/]" if row["stale"] else ("no" if row["kind"] == "edge" else "")
        status = render.escape(row["status_text"])
        if row["status"] in ("interrupted", "orphaned"):
            status = f"[bold red]{status}[/]"
        status += " [yellow](redeploy)[/]" if row["redeploy"] else ""
        table.add_row(
            row["site"],
            row["kind"],
            row["az"],
            str(row["nodes"]),
            status,
            str(row["generation"] or "-"),
            row["export"] or "",
            stale,
            f"[{_REACH_STYLE[row['reachable']]}]{render.escape(row['reach'])}[/]",
            render.escape(row["next"] or ""),
        )
    render.out.print(table)
    redeploy = [r for r in data if r["redeploy"]]
    if redeploy:
        sites = [r["site"] for r in redeploy]
        reasons = sorted({r["redeploy"] for r in redeploy})
        render.out.print(
            f"{len(sites)} sites need a redeploy ({'; '.join(reasons)}): "
            f"run '{deploy_command(sites)}'"
        )
    cut_short = [r["site"] for r in data if r["status"] == "interrupted"]
    if cut_short:
        render.out.print(
            f"[red]{len(cut_short)} deploys were interrupted[/] (the dcn that ran them is "
            f"gone; their hosts may be half-changed): {render.escape(name_list(cut_short))}"
        )
    stale = ws.stale_edges()
    if stale:
        render.out.print(render.escape(stale.line(now=False)))
    for export in exports:
        render.out.print(f"[yellow]{render.escape(export.line())}[/]")
    todo = [r["site"] for r in data if r["deploys"]]
    if todo and not (stale and todo == stale.sites):  # else the line above says it all
        # one command for all: the deployer puts the control plane first
        names = list(dict.fromkeys(n for r in data for n in r["deploys"]))
        render.out.print(
            f"{len(todo)} sites need a deploy ({name_list(todo)}): run '{deploy_command(names)}'"
        )
    lost = [r["site"] for r in data if r["orphaned"]]
    if lost:
        render.out.print(
            f"[yellow]{len(lost)} stacks in the state store are not in {ws.file} "
            f"(orphaned: {render.escape(name_list(lost))}); their hosts may still run: "
            f"remove each with 'dcn decommission SITE'[/]"
        )


def show_secrets(ws: Workspace, site: str | None, as_json: bool) -> None:
    dep = ws.deployment
    stored = ws.store.secret_names(dep.name)
    users: dict[str, list[str]] = {}
    for s in dep.sites:
        for name in ws.site_secret_names(s.name):
            users.setdefault(name, []).append(s.name)
    if site is not None:
        names = sorted(ws.site_secret_names(site))
    else:
        names = sorted(set(stored) | set(users))
    rows = [{"name": n, "stored": n in stored, "sites": sorted(users.get(n, []))} for n in names]
    if as_json:
        render.print_json(rows)
        return
    table = Table(
        title=f"secrets{' of ' + site if site else ''} (names only)", title_justify="left"
    )
    for col in ("name", "stored", "delivered to"):
        table.add_column(col)
    for row in rows:
        table.add_row(row["name"], "yes" if row["stored"] else "not yet", ", ".join(row["sites"]))
    render.out.print(table)
