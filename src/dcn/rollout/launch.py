"""A rollout of a workspace: which edges, the checks before any record, and the run
with the deployer and the health gate.

Which edges: what `dcn status` says needs `dcn deploy` (`Workspace.next_steps`), or
the edges named; never the control plane, and only once its newest plan is deployed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from dcn.deploy import Deployer, OnStep, SiteOutcome
from dcn.errors import DcnError
from dcn.nextsteps import SiteNext
from dcn.rollout.run import OnEvent, Wave, execute, numbered, waves_of
from dcn.rollout.waves import Options, plan_waves
from dcn.state.rollouts import RolloutRecord, check_resumable
from dcn.workspace import Workspace


@dataclass(frozen=True, slots=True)
class Prepared:
    """A rollout ready to run (or to show, for a dry run)."""

    options: Options
    waves: list[Wave]
    #: site -> why it is rolled out (`dcn status`'s reason, or "named")
    reasons: dict[str, str] = field(default_factory=dict)
    #: the rollout being resumed (None: a new one)
    resumed: RolloutRecord | None = None

    @property
    def sites(self) -> list[str]:
        return [s for w in self.waves for s in w.sites]


def _check_control_plane(ws: Workspace, steps: Mapping[str, SiteNext]) -> None:
    """Edges are deployed against a control plane whose newest plan is deployed."""
    dep = ws.deployment
    cp = dep.control_plane
    if cp is None or dep.control_plane_export is not None:
        return
    step = steps.get(cp.name)
    reason = step.reason if step and step.command else ""
    if not reason:
        [result] = ws.plan([cp.name], record=False)
        if result.changed:
            reason = "the description changes it (not planned yet)"
    if reason:
        raise DcnError(
            f"the control plane {cp.name} goes first: {reason}",
            hint=f"run 'dcn deploy {cp.name}', then 'dcn rollout' deploys the edges",
        )


def _named(ws: Workspace, sites: Sequence[str]) -> list[str]:
    dep = ws.deployment
    cp = dep.control_plane
    if cp is not None and cp.name in sites:
        raise DcnError(
            f"{cp.name} is the control plane: a rollout deploys edge sites only",
            hint=f"deploy it with 'dcn deploy {cp.name}', then roll out the edges",
        )
    edges = {s.name for s in dep.edges}
    unknown = [s for s in dict.fromkeys(sites) if s not in edges]
    if unknown:
        raise DcnError(
            f"no edge site named {', '.join(unknown)} in {ws.file}",
            hint="edge sites: " + (", ".join(sorted(edges)) or "none"),
        )
    return list(dict.fromkeys(sites))


def prepare(ws: Workspace, sites: Sequence[str] | None, options: Options) -> Prepared:
    """The waves of a new rollout: the edges named, or every edge that needs a deploy;
    refused while the control plane's newest plan is not deployed. No waves: nothing
    to roll out."""
    named = _named(ws, sites) if sites else None
    steps = ws.next_steps()
    _check_control_plane(ws, steps)
    if named is not None:
        reasons = {s: steps[s].reason or "named" for s in named}
    else:
        edges = [s.name for s in ws.deployment.edges]
        reasons = {s: steps[s].reason for s in edges if steps[s].command}
    waves = numbered(plan_waves(reasons, options))
    return Prepared(options, waves, {s: reasons[s] for s in sorted(reasons)})


def prepare_resume(ws: Workspace) -> Prepared:
    """The remaining waves of the latest rollout, with its options (not yet taken
    over: `run` does that)."""
    record = ws.store.rollout(ws.deployment.name)
    check_resumable(ws.deployment.name, record)
    assert record is not None
    _check_control_plane(ws, ws.next_steps())
    options = Options.from_dict(record.options)
    return Prepared(options, waves_of(record), resumed=record)


def run(
    ws: Workspace,
    prepared: Prepared,
    on_step: OnStep,
    on_event: OnEvent,
    say: Callable[[str], None] | None = None,
) -> RolloutRecord:
    """Record the rollout (or take over the one resumed), run its waves with the
    deployer and the health gate, and hand back its record."""
    from dcn.rollout.gate import HealthGate

    deployer = Deployer(ws, on_step)  # no lab, no SSH settings: refused before any record
    if say is not None:
        deployer.say = say  # what a scale-in says besides its steps
    name = ws.deployment.name
    if prepared.resumed is not None:
        record = ws.store.resume_rollout(name)
        rollout_id, waves = record.id, waves_of(record)
    else:
        waves = prepared.waves
        rollout_id = ws.store.start_rollout(
            name, prepared.options.as_dict(), [w.sites for w in waves]
        )
    gate = HealthGate(ws, smoke=prepared.options.smoke, server_prefix=f"dcn-rollout-{rollout_id}")

    def deploy(sites: Sequence[str], parallel: int) -> list[SiteOutcome]:
        return deployer.run(sites, parallel)

    execute(ws.store, name, rollout_id, waves, prepared.options, deploy, gate, on_event)
    found = ws.store.rollout(name, rollout_id)
    assert found is not None
    return found
