"""`dcn decommission SITE`: an edge site out of the cloud, off its nodes, out of the lab."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from dcn.cli import render
from dcn.errors import DcnError
from dcn.workspace import Workspace


def register(app: typer.Typer) -> None:
    @app.command()
    def decommission(
        ctx: typer.Context,
        site: Annotated[str, typer.Argument(help="the edge site (in the description or not)")],
        yes: Annotated[bool, typer.Option("--yes", help="do not ask for confirmation")] = False,
        force: Annotated[
            bool,
            typer.Option(
                "--force",
                help="delete the servers running there, and retire nodes that do not "
                "answer from the cloud only",
            ),
        ] = False,
        verbose: Annotated[
            bool, typer.Option("-v", "--verbose", help="show unchanged steps")
        ] = False,
    ) -> None:
        """Decommission an edge site: refused while servers run there (unless --force);
        then its compute services, resource providers, aggregate and AZ, network segments
        and subnets, its nodes' services and files, and its lab nodes and leaf are
        removed, and its stack is marked removed. Run it again to resume."""
        from dcn.cli.operate import progress
        from dcn.decommission import decommission as run

        ws: Workspace = ctx.obj
        if not yes:
            if not sys.stdin.isatty():
                raise DcnError(
                    f"decommissioning {site} removes it from the cloud for good",
                    hint=f"confirm with 'dcn decommission {site} --yes'",
                )
            typer.confirm(
                f"Decommission {site}: its computes, AZ, segments and nodes go for good. Go on?",
                abort=True,
            )
        on_step = progress(verbose)
        result = run(
            ws,
            site,
            force,
            lambda e: on_step(site, e),
            lambda message: render.out.print(render.escape(message)),
        )
        if result.already:
            render.out.print(f"{render.escape(site)} is already decommissioned")
            return
        for line in result.done.lines():
            render.out.print(f"  {render.escape(line)}")
        if result.unreachable:
            render.out.print(
                "[yellow]not cleaned (unreachable): "
                + render.escape(", ".join(result.unreachable))
                + "; their files keep the secrets they held: consider "
                + "'dcn secrets rotate --site SITE' for a site that shares them[/]"
            )
        render.out.print(
            f"[green]{render.escape(site)} decommissioned[/] (generation {result.generation}; "
            f"{len(result.hosts)} nodes retired)"
        )
        if result.in_description:
            render.out.print(
                f"[yellow]{render.escape(site)} is still in {render.escape(str(ws.file))}: "
                "remove it there (a later 'dcn deploy' would build it again)[/]"
            )
