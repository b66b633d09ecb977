"""`dcn secrets rotate` and `dcn state backup`: changing secrets, keeping the state safe."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dcn.cli import render
from dcn.workspace import Workspace


def _deploy_hint(stacks: tuple[str, ...]) -> str:
    shown = " ".join(stacks[:8]) + (" ..." if len(stacks) > 8 else "")
    return f"dcn deploy {shown}"


def register(secrets_app: typer.Typer, state_app: typer.Typer) -> None:
    @secrets_app.command("rotate")
    def secrets_rotate(
        ctx: typer.Context,
        names: Annotated[
            list[str] | None, typer.Argument(help="secrets to rotate (see: dcn secrets list)")
        ] = None,
        site: Annotated[
            str | None, typer.Option("--site", help="every secret this site receives")
        ] = None,
    ) -> None:
        """New random values for stored secrets; marks the stacks that must redeploy."""
        from dcn.rotation import rotate

        ws: Workspace = ctx.obj
        result = rotate(ws, names or (), site)
        render.out.print(
            f"rotated {len(result.rotated)} secrets (values never shown): "
            + ", ".join(result.rotated)
        )
        for name, why in result.skipped.items():
            render.out.print(f"  not rotated: {name}: {render.escape(why)}")
        if result.stacks:
            render.out.print(
                f"{len(result.stacks)} stacks use them and must be redeployed before their "
                f"nodes have the new values: {', '.join(result.stacks)}\n"
                f"next: {_deploy_hint(result.stacks)}"
            )
        else:
            render.out.print("no recorded plan uses them: the next deploy delivers them")
        cp = ws.deployment.control_plane
        if cp and ws.store.latest_export(ws.deployment.name, cp.name):
            render.out.print(
                f"exports written before hold the old values: write them again "
                f"(dcn export {cp.name} -o FILE --force)"
            )

    @state_app.command("backup")
    def state_backup(
        ctx: typer.Context,
        output: Annotated[Path, typer.Option("-o", "--output", help="file to write (0600)")],
        force: Annotated[bool, typer.Option("--force", help="replace an existing file")] = False,
    ) -> None:
        """A consistent copy of the SQLite state store; its secrets stay encrypted."""
        ws: Workspace = ctx.obj
        store = ws.store
        store.backup(output, force)
        render.out.print(
            f"wrote {output} (mode 0600): a consistent copy of {store.location}. Its secrets "
            f"are encrypted: keep the key file {store.key_path} backed up too, apart from "
            "it (a backup is useless without its key)"
        )
