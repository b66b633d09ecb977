"""`dcn verify`: Tempest against the deployed cloud, passed / failed / skipped per API area."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from dcn.cli import render


class VerifyFormat(StrEnum):
    table = "table"
    json = "json"


def register(app: typer.Typer) -> None:
    @app.command()
    def verify(
        ctx: typer.Context,
        regex: Annotated[
            str | None,
            typer.Option(
                "--regex",
                help="Tempest test ids to run (Python re.search); default: the API areas "
                "of docs/operate.md",
            ),
        ] = None,
        fmt: Annotated[
            VerifyFormat, typer.Option("--format", help="table for people, json for machines")
        ] = VerifyFormat.table,
        timeout: Annotated[
            int, typer.Option("--timeout", min=60, help="stop Tempest after this many seconds")
        ] = 3600,
    ) -> None:
        """Run Tempest (installed on first use under the state dir) against the deployed
        cloud; exit 1 if any test failed."""
        from dcn.verify.run import verify as run_verify

        outcome = run_verify(ctx.obj, regex, timeout)
        ctx.obj.notices.extend(outcome.notices)
        if fmt is VerifyFormat.json:
            render.print_json(outcome.as_dict())
        else:
            _table(outcome)
        if outcome.results.total.failed:
            raise typer.Exit(1)


def _table(outcome) -> None:  # dcn.verify.run.Outcome
    table = render.Table("area", "passed", "failed", "skipped")
    for r in [*outcome.results.areas.values(), outcome.results.total]:
        if r.area == "other" and not (r.passed or r.failed or r.skipped):
            continue
        failed = f"[bold red]{r.failed}[/]" if r.failed else "0"
        table.add_row(r.area, str(r.passed), failed, str(r.skipped))
    render.out.print(table)
    for name in outcome.results.total.failed_tests:
        render.out.print(f"[red]failed:[/] {render.escape(name)}")
    render.out.print(
        f"tempest {outcome.tempest_version}; {outcome.exclusions} tests excluded by name "
        f"(dcn.verify.exclusions); every test and traceback: {outcome.report}"
    )
