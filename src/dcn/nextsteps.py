"""What to do next, per site and per export: the deploys a site needs and why, the
edges still running older control-plane outputs, and export files older than the
deployed control plane. Pure rules over state records; `Workspace` gathers the
records and calls them.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

from dcn.state.records import GenerationRecord, GenerationStatus, StatusRow

#: site names shown in one line before "and N more"
SHOWN_NAMES = 8


def name_list(sites: Sequence[str], shown: int = SHOWN_NAMES) -> str:
    """``a, b, c and 12 more``: many names in a readable line."""
    more = len(sites) - shown
    return ", ".join(sites[:shown]) + (f" and {more} more" if more > 0 else "")


def deploy_command(sites: Sequence[str]) -> str:
    """The exact command that deploys `sites`, every one of them (the control plane
    first: the deployer orders it so)."""
    return "dcn deploy " + " ".join(shlex.quote(s) for s in sites)


@dataclass(frozen=True, slots=True)
class SiteNext:
    """What a site needs next, from what the state store knows (no host is asked)."""

    site: str
    #: the exact command to run; "" when the site is deployed as planned
    command: str = ""
    #: why, in a few words; "" when nothing is needed
    reason: str = ""
    #: the control-plane generation whose (since changed) outputs the site's nodes run
    stale_outputs_of: int | None = None
    #: the sites `command` deploys
    deploys: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class StaleEdges:
    """Edges whose deployed generation consumed other outputs than the control plane's
    deployed generation publishes: their nodes run with old endpoints, nodes, config."""

    control_plane: str
    #: the control plane's deployed generation
    generation: int
    #: edge -> the control-plane generation whose outputs it consumed
    consumed: dict[str, int]

    @property
    def sites(self) -> list[str]:
        return list(self.consumed)

    @property
    def command(self) -> str:
        return deploy_command(self.sites)

    def short_command(self) -> str:
        """The command for a narrow column: exact for a few edges, shortened for many."""
        if len(self.sites) <= 3:
            return self.command
        return f"dcn deploy {' '.join(self.sites[:2])} ... ({len(self.sites)} edges, below)"

    def line(self, now: bool = True) -> str:
        gens = sorted(set(self.consumed.values()))
        cp = self.control_plane
        which = (
            f"{cp} generation {gens[0]}'s outputs"
            if len(gens) == 1
            else f"outputs of {cp} generations {', '.join(map(str, gens))}"
        )
        return (
            f"edges {'now' if now else 'still'} stale (they consumed {which}; "
            f"{cp} is deployed at generation "
            f"{self.generation}): {name_list(self.sites)}; run: {self.command}"
        )


@dataclass(frozen=True, slots=True)
class StaleExport:
    """An export file written from control-plane outputs that have changed since."""

    stack: str
    path: str
    generation: int
    #: the control plane's deployed generation
    current: int
    command: str

    def line(self) -> str:
        return (
            f"export {self.path} ({self.stack} gen {self.generation}) is stale: "
            f"{self.stack} is at gen {self.current}; re-run: {self.command}"
        )


def needs_deploy(
    latest: StatusRow | None,
    deployed: GenerationRecord | None,
    mark: str | None,
    control_plane: GenerationRecord | None,
) -> tuple[str, int | None]:
    """Why a site needs a deploy ("" if it does not) and, for an edge whose nodes run
    with outputs the control plane no longer publishes, the generation they came from."""
    if latest is None:
        return "not planned yet", None
    if latest.status is GenerationStatus.FAILED:
        return f"generation {latest.generation} failed", None
    if latest.status is GenerationStatus.DEPLOYING:
        return _deploying(latest.generation), None
    if latest.status in (GenerationStatus.REMOVING, GenerationStatus.REMOVED):
        return "", None
    used = deployed.consumed_export if deployed else None
    if (
        control_plane is not None
        and control_plane.outputs_digest
        and used is not None
        and used.stack == control_plane.stack
        and used.digest != control_plane.outputs_digest
    ):
        return (
            f"its nodes run with {used.stack} generation {used.generation}'s outputs; "
            f"{used.stack} is deployed at generation {control_plane.number}",
            used.generation,
        )
    if mark:
        return f"redeploy: {mark}", None
    if latest.status is GenerationStatus.PLANNED:
        if deployed is None:
            return f"generation {latest.generation} planned, never deployed", None
        return (
            f"generation {latest.generation} planned (the description changed); "
            f"generation {deployed.number} is deployed",
            None,
        )
    if latest.stale and latest.consumed is not None:
        return f"consumed older {latest.consumed.stack} outputs ({latest.consumed})", None
    return "", None


def _deploying(generation: int) -> str:
    return f"generation {generation} is deploying (or its run was interrupted)"


@dataclass(frozen=True, slots=True)
class RunHolder:
    """Who runs a generation that is `deploying`, as far as this machine can tell."""

    #: alive | gone | elsewhere (another host: this one cannot tell)
    state: str
    pid: int | None = None
    host: str | None = None

    @property
    def interrupted(self) -> bool:
        return self.state == "gone"

    def status(self) -> str:
        """The status column: ``interrupted (pid N gone)``, or ``deploying``."""
        if self.state == "gone":
            return f"interrupted (pid {self.pid} gone)" if self.pid else "interrupted"
        if self.state == "elsewhere":
            return f"deploying (on {self.host})"
        return "deploying"

    def as_dict(self) -> dict[str, object]:
        return {"state": self.state, "pid": self.pid, "host": self.host}


def deploying_step(step: SiteNext, generation: int, holder: RunHolder) -> SiteNext:
    """What a `deploying` site needs, once its run's holder is known: a deploy again when
    the dcn that ran it is gone (its hosts may be half-changed); else nothing but wait."""
    tail = step.reason.removeprefix(_deploying(generation))  # "; the control plane first"
    if holder.interrupted:
        who = f"its dcn, pid {holder.pid}, is gone" if holder.pid else "no dcn holds its lock"
        return replace(
            step,
            reason=f"generation {generation}'s deploy was interrupted ({who}); "
            f"its hosts may be half-changed: deploy again{tail}",
        )
    if holder.state == "elsewhere":
        return SiteNext(
            step.site,
            reason=f"generation {generation} is being deployed from {holder.host} "
            f"(pid {holder.pid}); if that dcn is gone: dcn state unlock, then "
            f"{deploy_command([step.site])}",
        )
    return SiteNext(
        step.site, reason=f"generation {generation} is being deployed (pid {holder.pid})"
    )


def orphaned(statuses: Mapping[str, GenerationStatus], described: Iterable[str]) -> list[str]:
    """Stacks (name -> newest generation's status) in the state store whose site the
    description no longer has and that are not decommissioned: their hosts may still
    run, and nothing else shows them."""
    names = set(described)
    return [
        stack
        for stack, status in statuses.items()
        if stack not in names and status is not GenerationStatus.REMOVED
    ]


def decommission_command(site: str) -> str:
    return f"dcn decommission {shlex.quote(site)}"


def orphan_step(site: str, description: str) -> SiteNext:
    """An orphaned stack's next command, and why."""
    return SiteNext(site, decommission_command(site), f"in the state store, not in {description}")
