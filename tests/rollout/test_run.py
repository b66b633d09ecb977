"""Executing a rollout with stand-ins for the deploy and the gate, recorded in a real
SQLite state store: canary first, wave sizes, stop after too many failures, resume
continues only the unfinished sites, every outcome recorded."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from dcn.deploy import SiteOutcome
from dcn.errors import DcnError
from dcn.rollout.run import Event, GateCall, Wave, execute, numbered, waves_of
from dcn.rollout.waves import Options, plan_waves
from dcn.state import GenerationStatus, Store
from dcn.state.rollouts import RolloutStatus, SiteResult
from tests.state.helpers import record

SITES = [f"dcn{i}" for i in range(1, 8)]  # dcn1 .. dcn7


@dataclass
class FakeDeploy:
    """Records each call; fails the sites named; can refuse a whole wave or be cut
    short (Ctrl-C) at a given call."""

    store: Store
    fail: set[str] = field(default_factory=set)
    refuse_call: int | None = None
    interrupt_call: int | None = None
    calls: list[tuple[tuple[str, ...], int]] = field(default_factory=list)

    def __call__(self, sites: Sequence[str], parallel: int) -> list[SiteOutcome]:
        self.calls.append((tuple(sites), parallel))
        if len(self.calls) == self.interrupt_call:
            raise KeyboardInterrupt
        if len(self.calls) == self.refuse_call:
            raise DcnError("nothing was deployed: dcn9 hosts unreachable", hint="fix the above")
        outcomes = []
        for site in sites:
            number = record(self.store, site, plan=f"{{{len(self.calls)}}}")
            ok = site not in self.fail
            status = GenerationStatus.DEPLOYED if ok else GenerationStatus.FAILED
            self.store.set_status("lab", site, number, status, "fake deploy")
            message = "3 changes" if ok else f"{site}-compute-0: task failed"
            outcomes.append(SiteOutcome(site, ok, number, message=message, seconds=4.0))
        return outcomes


@dataclass
class FakeGate:
    """Passes, except for the waves named (the first site of such a wave is unwell)."""

    fail_waves: set[int] = field(default_factory=set)
    calls: list[GateCall] = field(default_factory=list)

    def __call__(self, call: GateCall) -> dict[str, str]:
        self.calls.append(call)
        if call.wave in self.fail_waves:
            return {call.sites[0]: "computes: dcn-compute-0 down (after 120s)"}
        return {}


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "state") as opened:
        for site in SITES:  # each edge deployed once (generation 1)
            number = record(opened, site)
            opened.set_status("lab", site, number, GenerationStatus.DEPLOYED, "deployed")
        yield opened


def begin(store: Store, options: Options, sites: Sequence[str] = SITES) -> tuple[int, list[Wave]]:
    waves = numbered(plan_waves(sites, options))
    return store.start_rollout("lab", options.as_dict(), [w.sites for w in waves]), waves


def results(store: Store) -> dict[str, tuple[int, SiteResult | None]]:
    found = store.rollout("lab")
    assert found is not None
    return {s.site: (s.wave, s.result) for s in found.sites}


def test_canary_alone_first_then_waves_of_max_parallel(store: Store) -> None:
    options = Options(max_parallel=3, canary=1)
    rid, waves = begin(store, options)
    deploy, gate, events = FakeDeploy(store), FakeGate(), []
    status = execute(store, "lab", rid, waves, options, deploy, gate, events.append)
    assert status is RolloutStatus.DONE
    assert deploy.calls == [
        (("dcn1",), 3),
        (("dcn2", "dcn3", "dcn4"), 3),
        (("dcn5", "dcn6", "dcn7"), 3),
    ]
    assert [c.sites for c in gate.calls] == [c[0] for c in deploy.calls]
    assert all(r == SiteResult.OK for _, r in results(store).values())
    done = store.rollout("lab")
    assert done.status is RolloutStatus.DONE and done.finished_at is not None
    dcn2 = next(s for s in done.sites if s.site == "dcn2")
    assert (dcn2.wave, dcn2.generation_before, dcn2.generation_after) == (2, 1, 2)
    assert dcn2.seconds == 4.0 and dcn2.message == "3 changes"
    kinds = [(e.kind, e.wave) for e in events]
    assert kinds[:3] == [("start", 1), ("gate", 1), ("end", 1)] and len(kinds) == 9
    assert events[0].text == "wave 1/3 (canary): 1 site: dcn1"
    assert events[1].ok is True and "gate passed" in events[1].text


def test_a_failed_canary_stops_the_rollout(store: Store) -> None:
    options = Options(max_parallel=3, canary=1)
    rid, waves = begin(store, options)
    deploy, events = FakeDeploy(store, fail={"dcn1"}), []
    status = execute(store, "lab", rid, waves, options, deploy, FakeGate(), events.append)
    assert status is RolloutStatus.STOPPED
    assert deploy.calls == [(("dcn1",), 3)]
    found = results(store)
    assert found["dcn1"] == (1, SiteResult.FAILED)
    assert {r for s, (_, r) in found.items() if s != "dcn1"} == {SiteResult.NOT_STARTED}
    row = next(s for s in store.rollout("lab").sites if s.site == "dcn7")
    assert row.message == "not started: 1 sites failed, more than --max-failures 0"
    failed = next(s for s in store.rollout("lab").sites if s.site == "dcn1")
    assert failed.message == "dcn1-compute-0: task failed" and failed.generation_after == 2
    assert events[-1].kind == "stop" and "6 sites not started" in events[-1].text


def test_max_failures_lets_waves_go_on_until_exceeded(store: Store) -> None:
    options = Options(max_parallel=2, max_failures=1)
    rid, waves = begin(store, options)
    deploy = FakeDeploy(store, fail={"dcn1", "dcn4"})
    status = execute(store, "lab", rid, waves, options, deploy, FakeGate())
    assert status is RolloutStatus.STOPPED
    assert [c[0] for c in deploy.calls] == [("dcn1", "dcn2"), ("dcn3", "dcn4")]
    found = results(store)
    assert found["dcn2"] == (1, SiteResult.OK) and found["dcn3"] == (2, SiteResult.OK)
    assert found["dcn5"] == (3, SiteResult.NOT_STARTED)


def test_a_failed_gate_fails_its_wave_sites(store: Store) -> None:
    options = Options(max_parallel=3, max_failures=5)
    rid, waves = begin(store, options)
    status = execute(store, "lab", rid, waves, options, FakeDeploy(store), FakeGate({2}))
    assert status is RolloutStatus.DONE  # 3 failures, not more than 5
    rows = {s.site: s for s in store.rollout("lab").sites}
    assert [rows[s].result for s in ("dcn4", "dcn5", "dcn6")] == [SiteResult.GATE_FAILED] * 3
    assert rows["dcn4"].message == "3 changes; gate: computes: dcn-compute-0 down (after 120s)"
    assert rows["dcn5"].message == "3 changes; gate: wave 2's gate failed at dcn4"
    assert rows["dcn5"].generation_after == 2  # deployed: the gate judged it
    assert rows["dcn7"].result is SiteResult.OK


def test_a_refused_wave_counts_its_sites_failed(store: Store) -> None:
    options = Options(max_parallel=3, max_failures=10)
    rid, waves = begin(store, options)
    deploy, gate = FakeDeploy(store, refuse_call=1), FakeGate()
    execute(store, "lab", rid, waves, options, deploy, gate)
    rows = {s.site: s for s in store.rollout("lab").sites}
    assert rows["dcn1"].result is SiteResult.FAILED
    assert rows["dcn1"].message == ("nothing was deployed: dcn9 hosts unreachable (fix the above)")
    assert [c.wave for c in gate.calls] == [2, 3]  # no gate for a wave with nothing deployed


def test_resume_continues_only_the_unfinished_sites(store: Store) -> None:
    options = Options(max_parallel=2, canary=1)
    rid, waves = begin(store, options)
    deploy = FakeDeploy(store, interrupt_call=3)  # Ctrl-C during wave 3's deploy
    with pytest.raises(KeyboardInterrupt):
        execute(store, "lab", rid, waves, options, deploy, FakeGate())
    cut = store.rollout("lab")
    assert cut.status is RolloutStatus.INTERRUPTED
    found = results(store)
    assert [s for s, (_, r) in found.items() if r is SiteResult.OK] == ["dcn1", "dcn2", "dcn3"]
    assert found["dcn4"] == (3, None) and found["dcn5"] == (3, None)
    assert next(s for s in cut.sites if s.site == "dcn4").started_at is not None

    resumed = store.resume_rollout("lab")
    assert resumed.id == rid
    left = waves_of(resumed)
    assert left == [Wave(3, ("dcn4", "dcn5")), Wave(4, ("dcn6", "dcn7"))]
    again = FakeDeploy(store)
    status = execute(store, "lab", rid, left, Options.from_dict(resumed.options), again, FakeGate())
    assert status is RolloutStatus.DONE
    assert [c[0] for c in again.calls] == [("dcn4", "dcn5"), ("dcn6", "dcn7")]
    assert all(r is SiteResult.OK for _, r in results(store).values())


def test_resume_of_a_stopped_rollout_counts_its_own_failures(store: Store) -> None:
    options = Options(max_parallel=3, canary=1)
    rid, waves = begin(store, options)
    execute(store, "lab", rid, waves, options, FakeDeploy(store, fail={"dcn1"}), FakeGate())
    resumed = store.resume_rollout("lab")  # the cause fixed: go on with the rest
    assert [s.site for s in resumed.remaining()] == SITES[1:]
    again = FakeDeploy(store)
    execute(store, "lab", rid, waves_of(resumed), options, again, FakeGate())
    assert [c[0] for c in again.calls] == [("dcn2", "dcn3", "dcn4"), ("dcn5", "dcn6", "dcn7")]
    found = results(store)
    assert found["dcn1"] == (1, SiteResult.FAILED)
    assert store.rollout("lab").status is RolloutStatus.DONE


def test_a_gate_that_cannot_ask_the_cloud_fails_the_wave(store: Store) -> None:
    def gate(call: GateCall) -> dict[str, str]:
        raise DcnError("the control plane central is not deployed")

    options = Options(max_parallel=7)
    rid, waves = begin(store, options)
    events: list[Event] = []
    assert execute(store, "lab", rid, waves, options, FakeDeploy(store), gate, events.append)
    rows = store.rollout("lab").sites
    assert {s.result for s in rows} == {SiteResult.GATE_FAILED}
    assert rows[0].message.endswith("gate: the control plane central is not deployed")
    assert [e.ok for e in events if e.kind == "gate"] == [False]
