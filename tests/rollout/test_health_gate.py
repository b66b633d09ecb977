"""The health gate against a stand-in of openstacksdk's connection (no cloud): the
computes of the wave's plans, smoke servers named per rollout and AZ on the site's
network, found on the site's hosts, always deleted."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from dcn.rollout.gate import HealthGate
from dcn.rollout.run import GateCall
from tests.cli.test_next_steps import EXAMPLE, mark_deployed, workspace

SINCE = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
FRESH = (SINCE + timedelta(seconds=4)).replace(tzinfo=None).isoformat()


class ResourceFailure(Exception):
    pass


@dataclass
class FakeCompute:
    states: dict[str, str] = field(default_factory=dict)
    #: AZ -> (final status, host it lands on)
    lands: dict[str, tuple[str, str]] = field(default_factory=dict)
    servers: dict[str, Any] = field(default_factory=dict)
    created: list[dict[str, Any]] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)

    def services(self, binary: str) -> list[Any]:
        assert binary == "nova-compute"
        return [
            SimpleNamespace(host=h, state=s, status="enabled", updated_at=FRESH)
            for h, s in self.states.items()
        ]

    def find_flavor(self, name: str) -> Any:
        return SimpleNamespace(id="flavor-1", name=name)

    def find_server(self, name: str) -> Any:
        return self.servers.get(name)

    def create_server(self, **kwargs: Any) -> Any:
        self.created.append(kwargs)
        status, host = self.lands[kwargs["availability_zone"]]
        server = SimpleNamespace(
            id=f"id-{kwargs['name']}",
            name=kwargs["name"],
            status=status,
            compute_host=host,
            hypervisor_hostname=host,
            fault={"message": "No valid host was found"} if status == "ERROR" else None,
        )
        self.servers[server.name] = server
        return server

    def wait_for_server(self, server: Any, status: str, wait: float) -> Any:
        if server.status != status:
            raise ResourceFailure(server.status)
        return server

    def get_server(self, server_id: str) -> Any:
        return next(s for s in self.servers.values() if s.id == server_id)

    def delete_server(self, server: Any, ignore_missing: bool = False) -> None:
        self.deleted.append(server.name)
        self.servers.pop(server.name, None)

    def wait_for_delete(self, server: Any, wait: float) -> None:
        pass


class FakeConn:
    def __init__(self, compute: FakeCompute) -> None:
        self.compute = compute
        self.image = SimpleNamespace(find_image=lambda name: SimpleNamespace(id="image-1"))
        self.network = SimpleNamespace(find_network=lambda name: SimpleNamespace(id=f"net-{name}"))


@pytest.fixture
def ws(tmp_path: Path):
    shutil.copy(EXAMPLE, tmp_path / "dcn.yaml")
    found = workspace(tmp_path)
    found.plan()
    mark_deployed(found, "central", "dcn0", "dcn1")
    return found


def gate_with(ws, monkeypatch: pytest.MonkeyPatch, compute: FakeCompute, **kw) -> HealthGate:
    monkeypatch.setattr("dcn.cloud.admin_connection", lambda _ws, timeout=None: FakeConn(compute))
    return HealthGate(ws, server_prefix="dcn-rollout-7", interval=0, **kw)


CALL = GateCall(2, ("dcn0", "dcn1"), SINCE)
UP = {"dcn0-distributedcompute-0": "up", "dcn1-distributedcompute-0": "up"}


def test_healthy_computes_and_smoke_servers_pass_and_leave_nothing(ws, monkeypatch) -> None:
    compute = FakeCompute(
        states=dict(UP),
        lands={
            "dcn0": ("ACTIVE", "dcn0-distributedcompute-0"),
            "dcn1": ("ACTIVE", "dcn1-distributedcompute-0"),
        },
    )
    assert gate_with(ws, monkeypatch, compute, smoke=True)(CALL) == {}
    assert [(c["name"], c["availability_zone"]) for c in compute.created] == [
        ("dcn-rollout-7-dcn0", "dcn0"),
        ("dcn-rollout-7-dcn1", "dcn1"),
    ]
    assert compute.created[0]["networks"] == [{"uuid": "net-edge-provider"}]
    assert compute.servers == {} and len(compute.deleted) == 2


def test_a_down_compute_fails_its_site_without_smoke(ws, monkeypatch) -> None:
    compute = FakeCompute(states={**UP, "dcn1-distributedcompute-0": "down"})
    gate = gate_with(ws, monkeypatch, compute, smoke=True, timeout=0)
    assert gate(CALL) == {"dcn1": "computes: dcn1-distributedcompute-0 down (after 0s)"}
    assert compute.created == []


def test_a_failed_or_misplaced_smoke_server_fails_its_site_and_is_deleted(ws, monkeypatch) -> None:
    compute = FakeCompute(
        states=dict(UP),
        lands={"dcn0": ("ERROR", ""), "dcn1": ("ACTIVE", "dcn0-distributedcompute-0")},
    )
    problems = gate_with(ws, monkeypatch, compute, smoke=True)(CALL)
    assert problems == {
        "dcn0": "smoke server dcn-rollout-7-dcn0 ERROR: No valid host was found",
        "dcn1": "smoke server dcn-rollout-7-dcn1 runs on dcn0-distributedcompute-0, "
        "not on a host of dcn1",
    }
    assert compute.servers == {}


def test_a_leftover_smoke_server_is_replaced(ws, monkeypatch) -> None:
    compute = FakeCompute(states=dict(UP), lands={"dcn0": ("ACTIVE", "dcn0-distributedcompute-0")})
    compute.servers["dcn-rollout-7-dcn0"] = SimpleNamespace(name="dcn-rollout-7-dcn0", id="old")
    gate = gate_with(ws, monkeypatch, compute, smoke=True)
    assert gate(GateCall(1, ("dcn0",), SINCE)) == {}
    assert compute.deleted == ["dcn-rollout-7-dcn0", "dcn-rollout-7-dcn0"]  # old, then ours
