"""What to do next, per site and per export: the deploys a site needs and why, the
edges still running older control-plane outputs, and export files older than the
deployed control plane. Pure rules over state records; `Workspace` gathers the
records and calls them.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from dataclasses import dataclass

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
        return f"generation {latest.generation} is deploying (or its run was interrupted)", None
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
