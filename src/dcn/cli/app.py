"""Command-line entry point. Each command: parse flags, call the workspace, render."""

from __future__ import annotations

import contextlib
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from dcn import __version__
from dcn.cli import render
from dcn.errors import DcnError
from dcn.workspace import Workspace

app = typer.Typer(
    name="dcn",
    help="Deploy and operate Distributed Compute Node OpenStack clouds: "
    "one control plane, many edge sites, one stack per site.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
secrets_app = typer.Typer(help="Secrets in the state store (names only; values never shown).")
app.add_typer(secrets_app, name="secrets")
state_app = typer.Typer(help="The state store itself.")
app.add_typer(state_app, name="state")


class Format(StrEnum):
    text = "text"
    json = "json"


FormatOpt = Annotated[Format, typer.Option("--format", help="text for people, json for machines")]


def _ws(ctx: typer.Context) -> Workspace:
    return ctx.obj


@app.callback()
def main_options(
    ctx: typer.Context,
    file: Annotated[
        Path | None,
        typer.Option(
            "-f", "--file", help="deployment description (env DCN_FILE, default dcn.yaml)"
        ),
    ] = None,
    state_dir: Annotated[
        Path | None,
        typer.Option(help="state directory (env DCN_STATE_DIR, default .dcn beside the file)"),
    ] = None,
    state_url: Annotated[
        str | None,
        typer.Option(
            help="SQLAlchemy URL of the state store instead of SQLite (env DCN_STATE_URL)"
        ),
    ] = None,
    allow_include_outside: Annotated[
        bool,
        typer.Option(
            "--allow-include-outside",
            help="let includes and control_plane_export reach files outside the "
            "description's folder "
            "(env DCN_ALLOW_INCLUDE_OUTSIDE=1); only for files you trust",
        ),
    ] = False,
) -> None:
    ws = ctx.obj = Workspace(
        file, state_dir, state_url, allow_include_outside=allow_include_outside or None
    )
    ctx.call_on_close(lambda: render.notices(ws.notices))
    from dcn.cli import crash

    crash.state_dir = ws.state_dir  # crash reports go there when it is ours
    # a dcn killed mid-deploy left its run: stop what still runs of it, delete its
    # secrets (one listing of the runs' owner records; live owners' runs are left alone)
    from dcn.deploy import runs

    with contextlib.suppress(OSError):  # the deploy's own sweep tries again
        runs.sweep(ws.state_dir)


@app.command()
def version() -> None:
    """Print the dcn version."""
    render.out.print(__version__)


@app.command()
def validate(ctx: typer.Context, fmt: FormatOpt = Format.text) -> None:
    """Check the description: schema and rules, each finding with file, line and fix."""
    ws = _ws(ctx)
    result = ws.validation
    if fmt is Format.json:
        render.print_json(
            {
                "file": str(ws.file),
                "ok": result.ok,
                "errors": len(result.errors),
                "warnings": len(result.warnings),
                "findings": [f.as_dict() for f in result.findings],
            }
        )
    else:
        render.findings(result.findings)
        sites = len(result.fleet.refs) if result.fleet else 0
        summary = f"{ws.file}: {len(result.errors)} errors, {len(result.warnings)} warnings"
        if result.ok:
            render.out.print(f"[green]valid[/]: {summary}, {sites} sites")
        else:
            render.out.print(f"[red]invalid[/]: {summary}")
    if not result.ok:
        raise typer.Exit(1)


@app.command()
def plan(
    ctx: typer.Context,
    sites: Annotated[list[str] | None, typer.Argument(help="sites to plan (default: all)")] = None,
    fmt: FormatOpt = Format.text,
    files: Annotated[bool, typer.Option("--files", help="print every rendered file")] = False,
    out: Annotated[
        Path | None, typer.Option("--out", help="write every rendered file under this directory")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="do not record the plan in the state store")
    ] = False,
) -> None:
    """Show each site's plan and what changed since the last recorded one. Touches no host."""
    ws = _ws(ctx)
    results = ws.plan(sites, record=not dry_run)
    if out is not None:
        from dcn.plan.files import write_plan_files

        for r in results:
            write_plan_files(r.plan, out / r.site)
    if fmt is Format.json:
        render.print_json([render.plan_json(r) for r in results])
        return
    for r in results:
        if r.changed or sites or files:
            render.plan_summary(r, show_files=files)
        else:
            render.out.print(f"[bold]{r.site}[/]: no changes (generation {r.generation})")
    changed = sum(r.changed for r in results)
    verb = "would record" if dry_run else "recorded"
    render.out.print(f"{len(results)} sites planned, {changed} changed ({verb}).")


@app.command()
def export(
    ctx: typer.Context,
    stack: Annotated[str, typer.Argument(help="the control-plane site")],
    output: Annotated[Path, typer.Option("-o", "--output", help="file to write (mode 0600)")],
    for_site: Annotated[
        str | None, typer.Option("--for", help="only the secrets this edge site needs")
    ] = None,
    all_secrets: Annotated[
        bool, typer.Option("--all-secrets", help="every secret, as TripleO exported them")
    ] = False,
    force: Annotated[bool, typer.Option("--force", help="replace an existing file")] = False,
) -> None:
    """Write the control plane's outputs for edge stacks (TripleO parameter_defaults)."""
    ws = _ws(ctx)
    result = ws.export(stack, output, for_site=for_site, all_secrets=all_secrets, force=force)
    who = f"edge site {result.for_site}" if result.for_site else "every edge site"
    render.out.print(
        f"wrote {result.path} (mode 0600): outputs of {result.version}, "
        f"{len(result.secret_names)} secrets ({result.scope}, for {who})"
    )


@app.command()
def status(
    ctx: typer.Context,
    fmt: FormatOpt = Format.text,
    probe: Annotated[
        bool,
        typer.Option(
            "--probe",
            help="real hosts: try every node's SSH port now (bounded, in parallel) "
            "instead of showing when 'dcn health' last reached each site",
        ),
    ] = False,
) -> None:
    """One row per site: kind, AZ, nodes, status, generation, stale export, whether its
    hosts can be reached, and the command to run next; stacks in the state store that
    the description no longer has, too."""
    from dcn.cli.status import show_status

    show_status(_ws(ctx), fmt is Format.json, probe=probe)


@app.command()
def history(
    ctx: typer.Context,
    site: Annotated[str | None, typer.Argument(help="one site (default: all)")] = None,
    limit: Annotated[int, typer.Option(help="how many events")] = 50,
    fmt: FormatOpt = Format.text,
) -> None:
    """The event log: plans recorded, exports written, deploy steps and failures."""
    ws = _ws(ctx)
    events = ws.store.events(ws.deployment.name, site, limit)
    if fmt is Format.json:
        render.print_json([_event(e) for e in events])
        return
    for e in events:
        gen = f" gen {e.generation}" if e.generation is not None else ""
        host = f" {e.host}" if e.host else ""
        when = e.at.strftime("%Y-%m-%d %H:%M:%S")
        render.out.print(f"{when} [bold]{e.stack}[/]{gen}{host} {e.kind}: {e.message}")


def _event(e: object) -> dict[str, object]:
    return {k: getattr(e, k) for k in ("stack", "generation", "at", "kind", "host", "message")}


@state_app.command("unlock")
def state_unlock(ctx: typer.Context) -> None:
    """Break the deployment's write lock (after a dcn process died holding it)."""
    ws = _ws(ctx)
    info = ws.store.unlock(ws.deployment.name)
    render.out.print(f"released the lock held by {info}" if info else "no lock was held")


@secrets_app.command("list")
def secrets_list(
    ctx: typer.Context,
    site: Annotated[str | None, typer.Argument(help="only the secrets this site receives")] = None,
    fmt: FormatOpt = Format.text,
) -> None:
    """Secret names (never values), and which sites receive each."""
    from dcn.cli.status import show_secrets

    show_secrets(_ws(ctx), site, fmt is Format.json)


def _register_operations() -> None:
    """Commands that touch hosts live in their own modules (imported lazily inside)."""
    from dcn.cli import (
        credentials,
        decommission,
        drill,
        lab,
        operate,
        secrets_state,
        serve,
        verify,
    )
    from dcn.cli.rollout import app as rollout_app

    secrets_state.register(secrets_app, state_app)
    app.add_typer(lab.app, name="lab")
    app.add_typer(drill.app, name="drill")
    operate.register(app)
    verify.register(app)
    credentials.register(app)
    decommission.register(app)
    app.add_typer(rollout_app, name="rollout")
    serve.register(app)


_register_operations()


def main() -> None:
    """Entry point: turn operator-fixable problems into messages, never tracebacks."""
    try:
        app()
    except DcnError as exc:
        render.error(exc)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        render.err.print("interrupted; state is unchanged or consistent, re-run the command")
        sys.exit(130)
    except Exception as exc:  # a bug in dcn: say so, keep the details out of the terminal
        from dcn.cli import crash

        log = crash.write_report(exc)
        where = f"Details (mode 0600, secrets masked): {log}" if log else "no report written"
        render.err.print(
            f"[bold red]internal error[/] ({type(exc).__name__}); this is a bug in dcn. {where}"
        )
        sys.exit(70)
