"""Running a rollout: its waves one after another, each deployed in parallel, then
gated on the cloud's health; every site's outcome recorded as it finishes.

How a wave is deployed and how it is gated are parameters (`Deploy`, `Gate`): the
command passes the deployer and the health gate, tests pass stand-ins, so what is
decided here (order, failures, stopping, what is recorded) is tested without hosts.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from dcn.errors import DcnError
from dcn.nextsteps import name_list
from dcn.rollout.waves import Options
from dcn.state.rollouts import RolloutRecord, RolloutStatus, SiteResult
from dcn.state.schema import utcnow
from dcn.state.store import Store


class Outcome(Protocol):
    """What the deploy hands back per site (`dcn.deploy.SiteOutcome` is one)."""

    site: str
    ok: bool
    generation: int
    message: str
    seconds: float


#: deploy these sites, up to `parallel` at once; one outcome per site
Deploy = Callable[[Sequence[str], int], Sequence[Outcome]]


@dataclass(frozen=True, slots=True)
class Wave:
    number: int
    sites: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class GateCall:
    """What the gate checks: a wave's sites that deployed, since the wave started."""

    wave: int
    sites: tuple[str, ...]
    since: datetime


#: site -> why it is not healthy; empty: the wave passed
Gate = Callable[[GateCall], Mapping[str, str]]


@dataclass(frozen=True, slots=True)
class Event:
    """A line of the live view: a wave started, was gated, ended; the rollout stopped."""

    kind: str  # start | gate | end | stop
    wave: int
    text: str
    #: None: neutral; False: something failed
    ok: bool | None = None


OnEvent = Callable[[Event], None]


def waves_of(record: RolloutRecord) -> list[Wave]:
    """The sites a rollout has left, in their waves (a resumed rollout keeps them)."""
    left: dict[int, list[str]] = {}
    for site in record.remaining():
        left.setdefault(site.wave, []).append(site.site)
    return [Wave(n, tuple(sorted(sites))) for n, sites in sorted(left.items())]


def numbered(waves: Sequence[Sequence[str]]) -> list[Wave]:
    return [Wave(n, tuple(sites)) for n, sites in enumerate(waves, 1)]


def execute(
    store: Store,
    deployment: str,
    rollout_id: int,
    waves: Sequence[Wave],
    options: Options,
    deploy: Deploy,
    gate: Gate,
    on_event: OnEvent = lambda _e: None,
) -> RolloutStatus:
    """Run `waves` of rollout `rollout_id` and record its end: done, stopped after more
    than `max_failures` failed sites, or interrupted (Ctrl-C, or anything unexpected)."""
    runner = _Run(store, deployment, rollout_id, options, deploy, gate, on_event)
    last = waves[-1].number if waves else 0
    try:
        for index, wave in enumerate(waves):
            if runner.failures > options.max_failures:
                return runner.stop(sum(len(w.sites) for w in waves[index:]))
            runner.wave(wave, last)
    except BaseException:
        with contextlib.suppress(DcnError):  # the store itself may be what failed
            store.finish_rollout(rollout_id, RolloutStatus.INTERRUPTED)
        raise
    store.finish_rollout(rollout_id, RolloutStatus.DONE)
    return RolloutStatus.DONE


class _Run:
    """One execution of a rollout's waves (a resumed rollout counts its own failures)."""

    def __init__(
        self,
        store: Store,
        deployment: str,
        rollout_id: int,
        options: Options,
        deploy: Deploy,
        gate: Gate,
        on_event: OnEvent,
    ) -> None:
        self.store, self.deployment, self.id = store, deployment, rollout_id
        self.options, self.deploy, self.gate, self.on_event = options, deploy, gate, on_event
        self.failures = 0

    def stop(self, left: int) -> RolloutStatus:
        why = f"{self.failures} sites failed, more than --max-failures {self.options.max_failures}"
        self.store.finish_rollout(self.id, RolloutStatus.STOPPED, f"not started: {why}")
        self.on_event(Event("stop", 0, f"stopped: {why}; {left} sites not started", False))
        return RolloutStatus.STOPPED

    def wave(self, wave: Wave, last: int) -> None:
        started, clock = utcnow(), time.monotonic()
        deployed_gens = self.store.deployed_generations(self.deployment)
        before = {s: deployed_gens[s].number if s in deployed_gens else None for s in wave.sites}
        self.store.rollout_wave_started(self.id, wave.number, wave.sites, before, started)
        canary = " (canary)" if wave.number == 1 and self.options.canary else ""
        self.on_event(
            Event(
                "start",
                wave.number,
                f"wave {wave.number}/{last}{canary}: {len(wave.sites)} "
                f"site{'s' * (len(wave.sites) != 1)}: {name_list(wave.sites)}",
            )
        )
        deployed = self._deploy(wave)
        failed = len(wave.sites) - len(deployed)
        failed += self._gate(wave, deployed, started)
        self.failures += failed
        seconds = time.monotonic() - clock
        self.on_event(
            Event(
                "end",
                wave.number,
                f"wave {wave.number} done in {seconds:.0f}s: "
                f"{len(wave.sites) - failed} ok, {failed} failed",
                not failed,
            )
        )

    def _deploy(self, wave: Wave) -> dict[str, Outcome]:
        """Deploy the wave; record the failed sites; return the deployed ones."""
        refused = ""
        try:
            outcomes = {o.site: o for o in self.deploy(wave.sites, self.options.max_parallel)}
        except DcnError as exc:  # refused before any host was touched, for instance
            outcomes = {}
            refused = exc.message + (f" ({exc.hint})" if exc.hint else "")
        deployed = {}
        for site in wave.sites:
            o = outcomes.get(site)
            if o is None:
                self.store.rollout_site(
                    self.id, site, SiteResult.FAILED, refused or "the deploy gave no outcome"
                )
            elif not o.ok:
                self.store.rollout_site(
                    self.id,
                    site,
                    SiteResult.FAILED,
                    o.message,
                    generation_after=o.generation,
                    seconds=o.seconds,
                )
            else:  # deployed: its result waits for the gate
                self.store.rollout_site(
                    self.id, site, None, o.message, generation_after=o.generation, seconds=o.seconds
                )
                deployed[site] = o
        return deployed

    def _gate(self, wave: Wave, deployed: dict[str, Outcome], since: datetime) -> int:
        """Gate the deployed sites; record their results; return how many failed."""
        if not deployed:
            return 0
        clock = time.monotonic()
        sites = tuple(deployed)
        try:
            problems = dict(self.gate(GateCall(wave.number, sites, since)))
        except DcnError as exc:
            problems = {s: exc.message for s in sites}
        took = time.monotonic() - clock
        if problems:
            detail = "; ".join(f"{s}: {p}" for s, p in sorted(problems.items()))
            text = f"wave {wave.number} gate failed after {took:.0f}s: {detail}"
        else:
            healthy = f"{len(sites)} site{'s' * (len(sites) != 1)} healthy"
            text = f"wave {wave.number} gate passed in {took:.0f}s ({healthy})"
        self.on_event(Event("gate", wave.number, text, not problems))
        for site, o in deployed.items():
            if not problems:
                self.store.rollout_site(self.id, site, SiteResult.OK, o.message)
                continue
            own = problems.get(site)
            why = own or f"wave {wave.number}'s gate failed at {name_list(sorted(problems))}"
            self.store.rollout_site(
                self.id, site, SiteResult.GATE_FAILED, f"{o.message}; gate: {why}"
            )
        return len(deployed) if problems else 0
