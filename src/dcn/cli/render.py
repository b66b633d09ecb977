"""How results look: rich tables for people, JSON for machines. No secret values, ever."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from dcn.errors import DcnError, Finding, Severity
from dcn.plan.diff import Change, diff_plans
from dcn.plan.engine import SitePlanResult

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

_STYLE = {Severity.ERROR: "bold red", Severity.WARNING: "yellow"}


def print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, sort_keys=True, default=str) + "\n")


def notices(items: Sequence[str]) -> None:
    """Warnings that are not errors (an imported export's loose file mode ...)."""
    for item in items:
        err.print(f"[yellow]warning:[/] {escape(item)}")


def finding_line(f: Finding) -> str:
    where = escape(str(f.location))
    field = f" ({escape(f.location.field)})" if f.location.field else ""
    style = _STYLE[f.severity]
    return (
        f"{where}: [{style}]{f.severity} {f.rule}[/] {escape(f.name)}{field}: "
        f"{escape(f.message)}\n  [dim]fix:[/] {escape(f.fix)}"
    )


def findings(items: Sequence[Finding], console: Console = out) -> None:
    for f in items:
        console.print(finding_line(f))


def error(exc: DcnError) -> None:
    where = f"{escape(str(exc.location))}: " if exc.location else ""
    err.print(f"[bold red]error:[/] {where}{escape(exc.message)}")
    if exc.findings:
        findings(exc.findings[:20], err)
        if len(exc.findings) > 20:
            err.print(f"... and {len(exc.findings) - 20} more")
    if exc.hint:
        err.print(f"[dim]hint:[/] {escape(exc.hint)}")


def _change_lines(changes: Iterable[Change], limit: int) -> list[str]:
    lines: list[str] = []
    mark = {"add": "[green]+[/]", "remove": "[red]-[/]", "change": "[yellow]~[/]"}
    for c in changes:
        lines.append(f"  {mark[c.action]} {escape(c.subject)}")
        for d in c.detail[:limit]:
            style = "green" if d.startswith("+") else "red" if d.startswith("-") else "dim"
            lines.append(f"      [{style}]{escape(d)}[/]")
        if len(c.detail) > limit:
            lines.append(
                f"      [dim]... {len(c.detail) - limit} more lines (--files shows all)[/]"
            )
    return lines


def plan_summary(result: SitePlanResult, show_files: bool, diff_limit: int = 12) -> None:
    plan = result.plan
    state = "[yellow]changed[/]" if result.changed else "[green]no changes[/]"
    out.print(
        f"[bold]{plan.site}[/] ({plan.kind}, AZ {plan.az}) generation {result.generation}: {state}"
    )
    table = Table(show_edge=False, pad_edge=False, box=None)
    nets = sorted({n for node in plan.nodes for n in node.addresses})
    for col in ("node", "role", *nets, "services", "files"):
        table.add_column(col)
    for node in plan.nodes:
        table.add_row(
            node.hostname,
            node.role,
            *(node.addresses.get(n, "") for n in nets),
            ",".join(node.services),
            str(len(node.files)),
        )
    out.print(table)
    if plan.network.vips:
        vips = ", ".join(f"{k}={v}" for k, v in sorted(plan.network.vips.items()))
        out.print(f"  VIPs: {vips}")
    for name, subnet in sorted(plan.network.subnets.items()):
        routes = ", ".join(f"{r.destination} via {r.nexthop}" for r in subnet.routes) or "none"
        out.print(f"  [dim]{name}[/] {subnet.cidr} gw {subnet.gateway or '-'}; routes: {routes}")
    out.print(f"  secrets delivered to this stack: {len(plan.secrets)} ({', '.join(plan.secrets)})")
    if plan.consumed_export:
        out.print(f"  consumes control-plane outputs {plan.consumed_export}")
    if plan.outputs:
        out.print(f"  publishes outputs {plan.outputs.digest()[:19]}")
    if result.changed:
        changes = diff_plans(result.previous, plan)
        out.print(f"  changes since the last recorded plan: {len(changes)}")
        limit = 10_000 if show_files else diff_limit
        for line in _change_lines(changes, limit):
            out.print(line)
    if show_files:
        for node in plan.nodes:
            for path, spec in node.files.items():
                out.print(f"[bold]--- {node.hostname}:{path}[/] (mode {spec.mode})")
                out.print(escape(spec.content), end="")


def plan_json(result: SitePlanResult) -> dict[str, Any]:
    changes = diff_plans(result.previous, result.plan) if result.changed else []
    return {
        "site": result.site,
        "generation": result.generation,
        "changed": result.changed,
        "plan_digest": result.plan_digest,
        "changes": [
            {"action": c.action, "subject": c.subject, "detail": list(c.detail)} for c in changes
        ],
        "plan": result.plan.as_dict(),
    }
