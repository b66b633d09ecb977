"""`dcn status` and `dcn secrets list`: fleet views from the state store."""

from __future__ import annotations

from typing import Any

from rich.table import Table

from dcn.cli import render
from dcn.nextsteps import deploy_command, name_list
from dcn.workspace import Workspace


def status_data(ws: Workspace) -> list[dict[str, Any]]:
    """One row per site of the description, with what the state store knows of it."""
    dep = ws.deployment
    rows = {r.site: r for r in ws.store.status_rows(dep.name)}
    deployed = ws.store.deployed_generations(dep.name)
    marks = ws.store.redeploy_marks(dep.name)
    steps = ws.next_steps()
    data = []
    for site in dep.sites:
        r = rows.get(site.name)
        d = deployed.get(site.name)
        step = steps[site.name]
        data.append(
            {
                "site": site.name,
                "kind": site.kind,
                "az": site.az,
                "nodes": r.nodes if r else sum(spec.size for spec in site.roles.values()),
                "status": str(r.status) if r else "not planned",
                "generation": r.generation if r else None,
                "deployed_generation": d.number if d else None,
                "export": r.consumed_export if r else None,
                "stale": bool(r and r.stale),
                #: why the nodes need a redeploy (secrets rotated), or None
                "redeploy": marks.get(site.name),
                #: the exact command that converges the site, or None; and why
                "next": step.command or None,
                "reason": step.reason or None,
                "deploys": list(step.deploys),
                "updated": r.updated_at.isoformat(timespec="seconds") if r else None,
            }
        )
    return data


def show_status(ws: Workspace, as_json: bool) -> None:
    data = status_data(ws)
    exports = ws.stale_exports()
    if as_json:
        render.print_json(data)
        return
    table = Table(title=f"deployment {ws.deployment.name}", title_justify="left")
    for col in ("site", "kind", "AZ", "nodes", "status", "gen", "consumed export", "stale", "next"):
        table.add_column(col)
    for row in data:
        stale = "[red]STALE[/]" if row["stale"] else ("no" if row["kind"] == "edge" else "")
        status = row["status"] + (" [yellow](redeploy)[/]" if row["redeploy"] else "")
        table.add_row(
            row["site"],
            row["kind"],
            row["az"],
            str(row["nodes"]),
            status,
            str(row["generation"] or "-"),
            row["export"] or "",
            stale,
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
    stale = ws.stale_edges()
    if stale:
        render.out.print(render.escape(stale.line(now=False)))
    for export in exports:
        render.out.print(f"[yellow]{render.escape(export.line())}[/]")
    todo = [r["site"] for r in data if r["next"]]
    if todo and not (stale and todo == stale.sites):  # else the line above says it all
        # one command for all: the deployer puts the control plane first
        names = list(dict.fromkeys(n for r in data for n in r["deploys"]))
        render.out.print(
            f"{len(todo)} sites need a deploy ({name_list(todo)}): run '{deploy_command(names)}'"
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
