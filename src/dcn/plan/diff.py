"""What changed between two plans of the same site: nodes, addresses, files, outputs."""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from dcn.plan.types import StackPlan


@dataclass(frozen=True, slots=True)
class Change:
    #: add | remove | change
    action: str
    #: what changed, e.g. "node dcn0-compute-1" or "dcn0-compute-0:/etc/nova/nova.conf"
    subject: str
    #: unified diff lines or a short description (secret references only, never values)
    detail: tuple[str, ...] = ()


def diff_plans(old: StackPlan | None, new: StackPlan, context: int = 1) -> list[Change]:
    """Changes from `old` (the last recorded plan) to `new`; everything is new if no old."""
    if old is None:
        return [Change("add", f"stack {new.site}", (f"{len(new.nodes)} nodes",))]
    changes: list[Change] = []
    before = {n.hostname: n for n in old.nodes}
    after = {n.hostname: n for n in new.nodes}
    for host in sorted(after.keys() - before.keys()):
        node = after[host]
        addrs = ", ".join(f"{k}={v}" for k, v in sorted(node.addresses.items()))
        changes.append(Change("add", f"node {host}", (f"role {node.role}", addrs)))
    for host in sorted(before.keys() - after.keys()):
        changes.append(Change("remove", f"node {host}"))
    for host in sorted(before.keys() & after.keys()):
        a, b = before[host], after[host]
        if a.addresses != b.addresses:
            detail = tuple(
                f"{net}: {a.addresses.get(net)} -> {b.addresses.get(net)}"
                for net in sorted(set(a.addresses) | set(b.addresses))
                if a.addresses.get(net) != b.addresses.get(net)
            )
            changes.append(Change("change", f"{host} addresses", detail))
        if a.services != b.services:
            changes.append(Change("change", f"{host} services", (f"{a.services} -> {b.services}",)))
        for path in sorted(b.files.keys() - a.files.keys()):
            changes.append(Change("add", f"{host}:{path}"))
        for path in sorted(a.files.keys() - b.files.keys()):
            changes.append(Change("remove", f"{host}:{path}"))
        for path in sorted(a.files.keys() & b.files.keys()):
            fa, fb = a.files[path], b.files[path]
            if fa.content != fb.content or fa.mode != fb.mode:
                lines = tuple(
                    line.rstrip("\n")
                    for line in difflib.unified_diff(
                        fa.content.splitlines(),
                        fb.content.splitlines(),
                        lineterm="",
                        n=context,
                    )
                    if not line.startswith(("---", "+++"))
                )
                if fa.mode != fb.mode:
                    lines = (f"mode {fa.mode} -> {fb.mode}", *lines)
                changes.append(Change("change", f"{host}:{path}", lines))
    if (old.outputs and new.outputs) and old.outputs.digest() != new.outputs.digest():
        changes.append(Change("change", "control-plane outputs", ("edges must re-plan",)))
    if old.consumed_export != new.consumed_export and new.consumed_export:
        changes.append(
            Change(
                "change", "consumed export", (f"{old.consumed_export} -> {new.consumed_export}",)
            )
        )
    return changes
