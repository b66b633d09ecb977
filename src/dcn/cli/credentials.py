"""`dcn credentials`: write the cloud's admin login for `openstack` (never printed)."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from dcn.cli import render


class Interface(StrEnum):
    public = "public"
    internal = "internal"


class CredentialsFormat(StrEnum):
    """As `dcn.credentials.CredentialsFormat` (not imported here: every command's start
    would pay for the cloud modules)."""

    clouds = "clouds"
    openrc = "openrc"


def register(app: typer.Typer) -> None:
    @app.command()
    def credentials(
        ctx: typer.Context,
        output: Annotated[
            Path | None,
            typer.Option(
                "-o",
                "--output",
                help="file to write, mode 0600 (default: ./clouds.yaml, or "
                "./<deployment>-openrc.sh with --format openrc)",
            ),
        ] = None,
        fmt: Annotated[
            CredentialsFormat,
            typer.Option("--format", help="clouds: a clouds.yaml; openrc: export OS_* lines"),
        ] = CredentialsFormat.clouds,
        force: Annotated[bool, typer.Option("--force", help="replace an existing file")] = False,
        interface: Annotated[
            Interface,
            typer.Option(
                "--interface",
                help="the catalog's endpoints to use: public (the external network's VIP) "
                "or internal (the internal API network)",
            ),
        ] = Interface.public,
    ) -> None:
        """Write the cloud's admin login (a clouds.yaml with one cloud named after the
        deployment, or an openrc) for `openstack --os-cloud NAME ...`."""
        from dcn.credentials import usage, write_credentials

        written = write_credentials(ctx.obj, output, fmt.value, interface.value, force)
        render.out.print(
            f"wrote {render.escape(str(written.path))} (mode 0600, holds the admin password): "
            f"cloud [bold]{render.escape(written.cloud)}[/], keystone "
            f"{render.escape(written.auth_url)} ({written.interface}), region "
            f"{render.escape(written.region)}"
        )
        render.out.print("use it:")
        for line in usage(written):
            render.out.print(f"  {render.escape(line)}")
