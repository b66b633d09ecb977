"""``unitctl``'s converge: restart only where the digest differs, start a unit again
when systemd marked it failed (bounded), and fail fast once the attempts are spent.
systemd is a stand-in: `systemctl` and `state` replaced in the module."""

from __future__ import annotations

import importlib
from types import ModuleType

import pytest

from dcn.node import unitctl as unitctl_module


class FakeSystemd:
    """A unit whose first `failures` starts fail (as a 219/CGROUP does)."""

    def __init__(self, failures: int, digest: str = "d1") -> None:
        self.failures = failures
        self.digest = digest
        self.starts = 0
        self.now = {"state": "inactive", "digest": None, "uptime": 0}
        self.calls: list[tuple[str, ...]] = []

    def systemctl(self, *args: str, check: bool = True):
        self.calls.append(args)
        if args[0] == "restart":
            self.starts += 1
            failed = self.starts <= self.failures
            self.now = (
                {"state": "failed", "digest": None, "uptime": 0}
                if failed
                else {"state": "active", "digest": self.digest, "uptime": 5}
            )
        out = "Result=exit-code\nExecMainStatus=219\n" if args[0] == "show" else ""
        return type("Done", (), {"stdout": out, "returncode": 0})()

    def state(self, name: str, unit: str) -> dict:
        return {
            **self.now,
            "reload": False,
            "enabled": "enabled",
            "sub": "",
            "pid": None,
            "restarts": 0,
        }


@pytest.fixture
def unitctl(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    module = importlib.reload(unitctl_module)
    monkeypatch.setattr(module, "POLL", 0)
    monkeypatch.setattr(module, "journal_tail", lambda unit: "journal lines")
    return module


def fake(unitctl: ModuleType, monkeypatch: pytest.MonkeyPatch, failures: int) -> FakeSystemd:
    systemd = FakeSystemd(failures)
    monkeypatch.setattr(unitctl, "systemctl", systemd.systemctl)
    monkeypatch.setattr(unitctl, "state", systemd.state)
    return systemd


def test_a_start_systemd_failed_is_tried_again(unitctl, monkeypatch) -> None:
    systemd = fake(unitctl, monkeypatch, failures=1)
    how = unitctl.converge("ovn-controller", "ovn-host.service", "d1", 30)
    assert how == "started (attempt 2: exit-code 219)"
    assert ("reset-failed", "ovn-host.service") in systemd.calls and systemd.starts == 2


def test_a_unit_that_keeps_failing_fails_fast(unitctl, monkeypatch) -> None:
    systemd = fake(unitctl, monkeypatch, failures=99)
    with pytest.raises(unitctl.NotRunning, match="after 3 starts") as raised:
        unitctl.converge("ovn-controller", "ovn-host.service", "d1", 3600)
    assert systemd.starts == unitctl.START_ATTEMPTS
    assert "journal lines" in str(raised.value)


def test_a_unit_running_its_digest_is_left_alone(unitctl, monkeypatch) -> None:
    systemd = fake(unitctl, monkeypatch, failures=0)
    systemd.now = {"state": "active", "digest": "d1", "uptime": 9}
    assert unitctl.converge("nova-compute", "dcn-nova-compute.service", "d1", 30) == "running"
    assert systemd.starts == 0
