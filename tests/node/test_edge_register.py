"""Edge registration: its hosts mapped into the cell (by the scheduler, else by
nova-manage, whose collisions with a parallel edge's are retried)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest

from dcn.node import edge_register


def fake_nova_manage(tmp_path: Path, collisions: int) -> Path:
    """A nova-manage that exits 2 (a concurrent run mapped a host first) `collisions` times."""
    script = tmp_path / "nova-manage"
    count = tmp_path / "count"
    count.write_text("0")
    script.write_text(
        "#!/bin/sh\n"
        f"n=$(($(cat {count}) + 1)); echo $n > {count}\n"
        f'if [ $n -le {collisions} ]; then echo "ERROR: Duplicate host mapping"; exit 2; fi\n'
        'echo "Creating host mapping for service dcn1-distributedcompute-0"\n'
    )
    script.chmod(0o755)
    return script


def test_a_collision_with_a_parallel_registration_is_retried(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(edge_register.time, "sleep", lambda _s: None)
    assert edge_register.discover(str(fake_nova_manage(tmp_path, collisions=2))) is True
    assert (tmp_path / "count").read_text().strip() == "3"


def test_collisions_that_do_not_end_fail(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(edge_register.time, "sleep", lambda _s: None)
    with pytest.raises(subprocess.CalledProcessError):
        edge_register.discover(str(fake_nova_manage(tmp_path, collisions=99)))
    assert (tmp_path / "count").read_text().strip() == str(edge_register._ATTEMPTS)


class FakeHosts:
    """nova's os-hosts: 404 until a host is mapped; the scheduler maps it after a
    number of asks (None: never)."""

    def __init__(self, after: int | None) -> None:
        self.after = after
        self.asked = 0

    def get(self, url: str, microversion: str):
        assert url.startswith("/os-hosts/") and microversion == "2.42"
        self.asked += 1
        mapped = self.after is not None and self.asked > self.after
        return SimpleNamespace(status_code=200 if mapped else 404)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    now = [0.0]
    fake = SimpleNamespace(monotonic=lambda: now[0], sleep=lambda s: now.__setitem__(0, now[0] + s))
    monkeypatch.setattr(edge_register, "time", fake)
    return now


def test_the_schedulers_own_discovery_spares_nova_manage(tmp_path: Path, clock) -> None:
    nova_manage = fake_nova_manage(tmp_path, collisions=0)
    conn = SimpleNamespace(compute=FakeHosts(after=3))
    assert edge_register.mapped(conn, ["h0"], str(nova_manage), wait=10) is True
    assert (tmp_path / "count").read_text().strip() == "0" and clock[0] == 3


def test_nova_manage_maps_what_the_scheduler_did_not(tmp_path: Path, clock) -> None:
    nova_manage = fake_nova_manage(tmp_path, collisions=0)
    conn = SimpleNamespace(compute=FakeHosts(after=None))
    assert edge_register.mapped(conn, ["h0"], str(nova_manage), wait=5) is True
    assert (tmp_path / "count").read_text().strip() == "1" and clock[0] == 5


def test_mapped_hosts_need_nothing(tmp_path: Path, clock) -> None:
    nova_manage = fake_nova_manage(tmp_path, collisions=0)
    conn = SimpleNamespace(compute=FakeHosts(after=0))
    assert edge_register.mapped(conn, ["h0", "h1"], str(nova_manage), wait=5) is False
    assert (tmp_path / "count").read_text().strip() == "0" and clock[0] == 0


class FakePlacement:
    """placement's providers: a host's appears after a number of asks; each holds its
    aggregates (uuids), which `set` replaces."""

    def __init__(self, appear_after: int, aggregates: dict[str, list[str]]) -> None:
        self.appear_after = appear_after
        self.asked = 0
        self.aggregates = aggregates
        self.sets = 0

    def resource_providers(self, name: str):
        self.asked += 1
        return iter([SimpleNamespace(id=f"rp-{name}")] if self.asked > self.appear_after else [])

    def get_resource_provider_aggregates(self, provider):
        return SimpleNamespace(aggregates=self.aggregates[provider.id])

    def set_resource_provider_aggregates(self, provider, *uuids: str) -> None:
        self.sets += 1
        self.aggregates[provider.id] = list(uuids)


def test_registration_waits_for_the_provider_then_puts_it_in_the_aggregates_twin(
    clock,
) -> None:
    """nova-api mirrors membership only for a provider that exists: a provider created
    after the host joined the aggregate is added to it in placement, once."""
    placement = FakePlacement(appear_after=4, aggregates={"rp-h0": ["other"]})
    listed = [SimpleNamespace(name="dcn0", uuid="az-uuid"), SimpleNamespace(name="x", uuid="x")]
    conn = SimpleNamespace(placement=placement, compute=SimpleNamespace(aggregates=lambda: listed))
    providers = edge_register.wait_providers(conn, ["h0"], timeout=60)
    assert clock[0] == 4 and list(providers) == ["h0"]
    assert edge_register.placement_members(conn, "dcn0", providers) is True
    assert placement.aggregates["rp-h0"] == ["other", "az-uuid"]
    assert edge_register.placement_members(conn, "dcn0", providers) is False
    assert placement.sets == 1


def test_an_aggregate_listed_without_uuid_is_an_error_not_a_bad_request() -> None:
    listed = [SimpleNamespace(name="dcn0", uuid=None)]
    conn = SimpleNamespace(compute=SimpleNamespace(aggregates=lambda: listed))
    with pytest.raises(SystemExit, match="no uuid"):
        edge_register.placement_members(conn, "dcn0", {"h0": object()})


def test_a_provider_that_never_appears_stops_the_registration(clock) -> None:
    conn = SimpleNamespace(placement=FakePlacement(appear_after=10**6, aggregates={}))
    with pytest.raises(SystemExit, match="no resource provider in placement after 30s: h0"):
        edge_register.wait_providers(conn, ["h0"], timeout=30)
