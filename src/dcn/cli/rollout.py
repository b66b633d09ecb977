"""`dcn rollout [SITE...]` and `dcn rollout show [ID]`: edges deployed wave by wave
with a health gate after each wave, recorded and resumable."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperGroup

from dcn.cli import render
from dcn.errors import DcnError
from dcn.rollout.waves import DEFAULT_MAX_PARALLEL
from dcn.workspace import Workspace

if TYPE_CHECKING:
    from dcn.rollout.launch import Prepared
    from dcn.state.rollouts import RolloutRecord


class _RunByDefault(TyperGroup):
    """`dcn rollout ARGS` is `dcn rollout run ARGS` unless ARGS start with a command
    (`dcn rollout run show` rolls out a site named show)."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if not args or (args[0] not in self.commands and args[0] not in ctx.help_option_names):
            args = ["run", *args]
        return super().parse_args(ctx, args)


app = typer.Typer(
    cls=_RunByDefault,
    help="Roll out edges wave by wave with a health gate after each wave: "
    "'dcn rollout [SITE...]' runs one, 'dcn rollout show [ID]' reports one.",
)

_STYLE = {True: "green", False: "bold red", None: "bold"}
_RESULT = {"ok": "green", "failed": "bold red", "gate-failed": "bold red"}


def _fmt(value: str) -> str:
    if value not in ("text", "json"):
        raise DcnError(f"--format {value} is not known", hint="text or json")
    return value


@app.command("run")
def run(
    ctx: typer.Context,
    sites: Annotated[
        list[str] | None,
        typer.Argument(help="edge sites (default: every edge that needs a deploy)"),
    ] = None,
    max_parallel: Annotated[
        int | None,
        typer.Option(
            "--max-parallel", min=1, help=f"sites of a wave (default {DEFAULT_MAX_PARALLEL})"
        ),
    ] = None,
    canary: Annotated[
        int | None, typer.Option("--canary", min=0, help="the first K sites alone first")
    ] = None,
    max_failures: Annotated[
        int | None,
        typer.Option(
            "--max-failures", min=0, help="no new wave once more sites failed (default 0)"
        ),
    ] = None,
    smoke: Annotated[
        bool, typer.Option("--smoke", help="the gate boots a server in each AZ of the wave")
    ] = False,
    resume: Annotated[
        bool, typer.Option("--resume", help="continue the latest unfinished rollout")
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="show the waves; deploy nothing")
    ] = False,
    fmt: Annotated[str, typer.Option("--format", help="text or json")] = "text",
    verbose: Annotated[bool, typer.Option("-v", "--verbose", help="show unchanged steps")] = False,
) -> None:
    """Deploy edges wave by wave (the canary first), gate each wave on the computes'
    health (and smoke servers), stop after too many failures; resumable."""
    from dcn.rollout.launch import prepare, prepare_resume
    from dcn.rollout.waves import Options

    ws: Workspace = ctx.obj
    as_json = _fmt(fmt) == "json"
    if resume:
        given = [
            name
            for name, value in (
                ("SITE", sites),
                ("--max-parallel", max_parallel),
                ("--canary", canary),
                ("--max-failures", max_failures),
                ("--smoke", smoke),
            )
            if value
        ]
        if given:
            raise DcnError(
                "--resume continues the latest rollout with its own sites and options: "
                f"leave out {', '.join(given)}",
                hint="'dcn rollout show' shows them; 'dcn rollout ...' starts a new rollout",
            )
        prepared = prepare_resume(ws)
    else:
        options = Options(
            max_parallel=max_parallel or DEFAULT_MAX_PARALLEL,
            canary=canary or 0,
            max_failures=max_failures or 0,
            smoke=smoke,
        )
        prepared = prepare(ws, sites, options)
    if not prepared.waves:
        if as_json:
            render.print_json({"rollout": None, "waves": [], "message": "nothing to roll out"})
        else:
            render.out.print(
                "nothing to roll out: every edge is deployed as planned ('dcn status' shows it)"
            )
        return
    if dry_run:
        _show_waves(prepared, as_json)
        return
    _run(ws, prepared, as_json, verbose)


def _show_waves(prepared: Prepared, as_json: bool) -> None:
    resumed = prepared.resumed
    if as_json:
        render.print_json(
            {
                "dry_run": True,
                "resumes": resumed.id if resumed else None,
                "options": prepared.options.as_dict(),
                "waves": [{"wave": w.number, "sites": list(w.sites)} for w in prepared.waves],
                "reasons": prepared.reasons,
            }
        )
        return
    what = f"resuming rollout {resumed.id}" if resumed else "a new rollout"
    render.out.print(f"[bold]dry run[/] ({what}, {_options(prepared.options.as_dict())}):")
    table = render.Table("wave", "sites", "why")
    for w in prepared.waves:
        why = "; ".join(
            dict.fromkeys(prepared.reasons[s] for s in w.sites if s in prepared.reasons)
        )
        canary = " (canary)" if w.number == 1 and prepared.options.canary else ""
        table.add_row(f"{w.number}{canary}", ", ".join(w.sites), render.escape(why))
    render.out.print(table)
    render.out.print(
        f"{len(prepared.sites)} sites in {len(prepared.waves)} waves; nothing deployed"
    )


def _run(ws: Workspace, prepared: Prepared, as_json: bool, verbose: bool) -> None:
    from dcn.cli.operate import progress
    from dcn.rollout.launch import run as run_rollout
    from dcn.rollout.report import FAILED
    from dcn.rollout.run import Event

    console = render.err if as_json else render.out

    def on_event(e: Event) -> None:
        console.print(f"[{_STYLE[e.ok]}]{render.escape(e.text)}[/]")

    def say(message: str) -> None:
        console.print(render.escape(message))

    # per-host steps: the deploy's own printer (stdout: left out when it carries JSON)
    on_step = progress(verbose) if not as_json else (lambda _site, _event: None)
    try:
        record = run_rollout(ws, prepared, on_step, on_event, say)
    except KeyboardInterrupt:
        latest = ws.store.rollout(ws.deployment.name)
        raise DcnError(
            f"interrupted: rollout {latest.id if latest else '?'} stopped where it was; "
            "every site that finished is recorded",
            hint="'dcn rollout --resume' continues it; 'dcn rollout show' reports it",
            exit_code=130,
        ) from None
    _report(record, as_json)
    if record.status.value != "done" or any(s.result in FAILED for s in record.sites):
        raise typer.Exit(1)


def _options(options: dict[str, Any]) -> str:
    parts = [f"max-parallel {options.get('max_parallel')}"]
    if options.get("canary"):
        parts.append(f"canary {options['canary']}")
    parts.append(f"max-failures {options.get('max_failures')}")
    if options.get("smoke"):
        parts.append("smoke")
    return ", ".join(parts)


def _report(record: RolloutRecord, as_json: bool) -> None:
    from dcn.rollout.report import as_dict, next_command, site_state, totals

    if as_json:
        render.print_json(as_dict(record))
        return
    when = record.started_at.strftime("%Y-%m-%d %H:%M:%S")
    render.out.print(
        f"[bold]rollout {record.id}[/] of {record.deployment}: {record.status.value} "
        f"(started {when} UTC; {_options(record.options)})"
    )
    table = render.Table("wave", "site", "generation", "time", "result", "message")
    for s in record.sites:
        before = "-" if s.generation_before is None else str(s.generation_before)
        after = "-" if s.generation_after is None else str(s.generation_after)
        state = site_state(record, s)
        style = _RESULT.get(state, "yellow")
        table.add_row(
            str(s.wave),
            s.site,
            f"{before} -> {after}",
            "-" if s.seconds is None else f"{s.seconds:.0f}s",
            f"[{style}]{state}[/]",
            render.escape(s.message),
        )
    render.out.print(table)
    render.out.print(totals(record).line())
    command = next_command(record)
    if command:
        render.out.print(f"next: {command}")


@app.command("show")
def show(
    ctx: typer.Context,
    rollout_id: Annotated[
        int | None, typer.Argument(help="rollout id (default: the latest)")
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="text or json")] = "text",
) -> None:
    """A recorded rollout: per site its wave, generations, time, result and message;
    totals (sites per minute, waves, failures)."""
    ws: Workspace = ctx.obj
    as_json = _fmt(fmt) == "json"
    record = ws.store.rollout(ws.deployment.name, rollout_id)
    if record is None:
        which = f"no rollout {rollout_id}" if rollout_id is not None else "no rollout yet"
        raise DcnError(f"{which} of {ws.deployment.name}", hint="'dcn rollout' starts one")
    _report(record, as_json)
