"""`dcn drill ...` and `dcn health`: failure drills on the lab, live health per site."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from dcn.cli import render
from dcn.workspace import Workspace

app = typer.Typer(
    help="Failure drills on the lab: inject a fault, measure, judge the seed's claims."
)


def _say(text: str) -> None:
    """Progress goes to stderr, so --format json keeps stdout to the report."""
    render.err.print(f"[dim]{render.escape(text)}[/]")


def show_report(report: dict[str, Any], drill_id: int | None = None) -> None:
    title = f"drill {drill_id}: " if drill_id is not None else ""
    scenario, params = report.get("scenario"), report.get("params", {})
    render.out.print(
        f"[bold]{render.escape(title + str(scenario))}[/] {render.escape(str(params))}"
    )
    render.out.print(f"settings: {render.escape(str(report.get('settings', {})))}")
    table = render.Table("t (s)", "attempted", "outcome", "detail")
    for a in report.get("attempts", []):
        table.add_row(f"{a['t']:.1f}", a["action"], a["outcome"], a["detail"])
    render.out.print(table)
    figures = render.Table("figure", "value")
    for name, value in report.get("figures", {}).items():
        figures.add_row(name, _figure(name, value))
    render.out.print(figures)
    claims = render.Table("claim of the seed", "held", "evidence")
    for c in report.get("claims", []):
        held = {True: "[green]held[/]", False: "[red]not held[/]"}.get(c.get("held"), "?")
        claims.add_row(
            render.escape(str(c.get("text", c.get("claim")))),
            held,
            render.escape(str(c.get("evidence", ""))),
        )
    render.out.print(claims)


@app.command("run")
def run(
    ctx: typer.Context,
    scenario: Annotated[
        str,
        typer.Argument(
            help="edge-site-loss, control-plane-loss, compute-failure, db-outage, "
            "broker-restart, controller-loss, controller-return, control-plane-power-loss"
        ),
    ],
    site: Annotated[str | None, typer.Option(help="the edge site (default: the first)")] = None,
    node: Annotated[
        str | None,
        typer.Option(help="the controller to lose (default: the one holding the VIPs)"),
    ] = None,
    seconds: Annotated[
        list[float] | None,
        typer.Option(
            "--seconds",
            "--cut",
            help="fault duration; repeat for several runs (edge-site-loss default: 20 and 150)",
        ),
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="text or json")] = "text",
) -> None:
    """Run a drill on the lab and print its report (stored in the state store)."""
    from dcn.drill.scenarios import run as run_drill

    ws: Workspace = ctx.obj
    durations = seconds or ([20.0, 150.0] if scenario == "edge-site-loss" else [None])
    reports = []
    for duration in durations:
        drill_id, report = run_drill(ws, scenario, _say, site=site, seconds=duration, node=node)
        reports.append({"id": drill_id, **report.as_dict()})
        if fmt != "json":
            show_report(report.as_dict(), drill_id)
    if fmt == "json":
        render.print_json(reports)


@app.command("list")
def list_(ctx: typer.Context) -> None:
    """Stored drills, newest first: scenario, parameters, claims held, key figures."""
    ws: Workspace = ctx.obj
    table = render.Table("id", "started", "scenario", "params", "claims held", "figures")
    for d in ws.store.drills(ws.deployment.name):
        r = d["report"]
        held = sum(c["held"] is True for c in r["claims"])
        figures = ", ".join(f"{k}={v}" for k, v in r["figures"].items())
        table.add_row(
            str(d["id"]),
            d["started"].strftime("%Y-%m-%d %H:%M"),
            d["scenario"],
            str(r["params"]),
            f"{held}/{len(r['claims'])}",
            figures,
        )
    render.out.print(table)


def _find(ws: Workspace, drill_id: int) -> dict[str, Any]:
    from dcn.errors import DcnError

    found = ws.store.drill(ws.deployment.name, drill_id)
    if found is None:
        raise DcnError(f"no drill {drill_id}", hint="'dcn drill list' shows the stored drills")
    return found["report"]


_PLOT_HELP = (
    "also draw the timeline into FILE: .svg or .png, by its suffix (fault band, compute "
    "hosts up/down, API probes, attempts, the seed's claims)"
)


@app.command("show")
def show(
    ctx: typer.Context,
    drill_id: int,
    plot: Annotated[Path | None, typer.Option("--plot", metavar="FILE", help=_PLOT_HELP)] = None,
) -> None:
    """One stored drill's whole report; with --plot, its timeline as a picture."""
    from dcn.pictures.files import picture_format

    fmt = picture_format(plot) if plot else None
    report = _find(ctx.obj, drill_id)
    show_report(report, drill_id)
    timeline = render.Table("t (s)", "event")
    for t, text in report.get("timeline", []):
        timeline.add_row(f"{t:.1f}", render.escape(text))
    render.out.print(timeline)
    if plot:
        from dcn.pictures.timeline import timeline_png, timeline_svg

        drawn = {"id": drill_id, **report}
        _wrote(plot, timeline_svg(drawn) if fmt == "svg" else timeline_png(drawn))


@app.command("compare")
def compare(
    ctx: typer.Context,
    first: int,
    second: int,
    plot: Annotated[
        Path | None,
        typer.Option(
            "--plot",
            metavar="FILE",
            help="also draw both timelines, one above the other, on one time scale into FILE.svg",
        ),
    ] = None,
) -> None:
    """Two drills side by side: settings, figures and claims; with --plot, a picture."""
    from dcn.pictures.files import picture_format

    if plot:
        picture_format(plot, allowed=("svg",))
    from dcn.drill import compare_rows

    a, b = _find(ctx.obj, first), _find(ctx.obj, second)
    table = render.Table("", f"drill {first}", f"drill {second}")
    for row in compare_rows(a, b):
        table.add_row(*(render.escape(cell) for cell in row))
    render.out.print(table)
    if plot:
        from dcn.pictures.timeline import compare_svg

        _wrote(plot, compare_svg({"id": first, **a}, {"id": second, **b}))


def _wrote(path: Path, data: str | bytes) -> None:
    from dcn.pictures.files import write_picture

    write_picture(path, data)
    render.out.print(f"picture: {render.escape(str(path))}")


def _figure(name: str, value: float | None) -> str:
    from dcn.drill import figure_text

    return figure_text(name, value)
