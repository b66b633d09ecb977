"""Edge registration survives a parallel edge's discover_hosts colliding with its own."""

from __future__ import annotations

import subprocess
from pathlib import Path
from types import SimpleNamespace

import openstack
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


class FakeAggregates:
    """nova's aggregates: adding a host it has not mapped into a cell is NotFound."""

    def __init__(self, members: list[str], mapped: set[str]) -> None:
        self.agg = SimpleNamespace(name="dcn0", availability_zone="dcn0", hosts=list(members))
        self.mapped = mapped

    def aggregates(self):
        return [self.agg]

    def add_host_to_aggregate(self, agg, host: str):
        if host not in self.mapped:
            raise openstack.exceptions.NotFoundException(f"compute host {host} not found")
        agg.hosts.append(host)
        return agg


def test_hosts_already_in_the_aggregate_cost_no_discovery(tmp_path: Path) -> None:
    """A rollout re-registers a site whose hosts are members: nova-manage is not run."""
    nova_manage = fake_nova_manage(tmp_path, collisions=0)
    conn = SimpleNamespace(compute=FakeAggregates(["h0"], mapped={"h0"}))
    assert edge_register.aggregate(conn, "dcn0", ["h0"], str(nova_manage)) is False
    assert (tmp_path / "count").read_text().strip() == "0"


def test_an_unmapped_host_is_discovered_then_added(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    nova_manage = fake_nova_manage(tmp_path, collisions=0)
    compute = FakeAggregates(["h0"], mapped={"h0"})
    real_discover = edge_register.discover

    def discover(path: str) -> bool:  # the fake nova-manage stands for the mapping
        compute.mapped.add("h1")
        return real_discover(path)

    monkeypatch.setattr(edge_register, "discover", discover)
    conn = SimpleNamespace(compute=compute)
    assert edge_register.aggregate(conn, "dcn0", ["h0", "h1"], str(nova_manage)) is True
    assert compute.agg.hosts == ["h0", "h1"]
    assert (tmp_path / "count").read_text().strip() == "1"
