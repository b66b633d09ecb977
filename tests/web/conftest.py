"""A state store the way dcn leaves it, without hosts: the example planned for real
(secrets generated and sealed by the planner), central and dcn0 recorded as deployed,
events, two drills, a finished and a running rollout, and the traces an untrusted store
could hold (a hostile stack name, event text and drill evidence)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from dcn.hosts import REAL_HOST_SETTINGS
from dcn.state.records import GenerationStatus
from dcn.state.rollouts import RolloutStatus, SiteResult
from dcn.web.app import create_app
from dcn.workspace import Workspace

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "dcn-basic.yaml"
HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'
#: a stack only an untrusted state store would have: orphaned, named to break out
HOSTILE_STACK = '"><svg onload=alert(2)>'


def drill_report(scenario: str, cut: float, held: bool, evidence: str = "") -> dict[str, Any]:
    """A report as `dcn drill run` stores it (dcn.drill.Report.as_dict)."""
    return {
        "scenario": scenario,
        "params": {"site": "dcn0", "cut": cut},
        "settings": {"report_interval": 10, "service_down_time": 60},
        "started": "2026-11-28T10:00:00+00:00",
        "timeline": [
            [0.0, "uplink of dcn0 cut"],
            [cut, "uplink of dcn0 healed"],
            [cut + 4.2, "dcn0-distributedcompute-0 reported (fresh)"],
        ],
        "attempts": [
            {"t": 2.0, "action": "stop server in dcn0", "outcome": "queued", "detail": "done"}
        ],
        "figures": {"reconnect_s": cut / 5, "gateway_pings_lost": 0.0, "gateway_pings_sent": 100.0},
        "claims": [
            {
                "claim": "edge-keeps-running",
                "text": "Loss of an edge site: running Nova VM instances will keep running.",
                "held": True,
                "evidence": evidence or "server ACTIVE throughout",
            },
            {
                "claim": "threshold",
                "text": "Outage thresholds are typically considered to be 15 seconds.",
                "held": held,
                "evidence": f"back after {cut / 5:.1f} s",
            },
        ],
        "ok": True,
        # structured marks, as drills record them for their pictures (dcn.pictures)
        "marks": [
            {"t": 0.0, "kind": "fault", "what": "uplink cut", "target": "dcn0"},
            {"t": cut, "kind": "heal", "what": "uplink cut", "target": "dcn0"},
            *(
                {
                    "t": float(t),
                    "kind": "compute",
                    "host": "dcn0-distributedcompute-0",
                    "state": "down" if 4 <= t <= cut + 3 else "up",
                }
                for t in range(0, int(cut) + 8, 2)
            ),
            *({"t": float(t), "kind": "probe", "ok": True} for t in range(0, int(cut) + 8, 3)),
            {"t": 2.0, "kind": "attempt", "action": "stop server", "outcome": "queued"},
            {"t": 1.0, "kind": "boot", "end": 6.5, "status": "ACTIVE"},
        ],
    }


def fill(folder: Path) -> Workspace:
    """The example in `folder`, planned and partly deployed, with drills and rollouts."""
    shutil.copy(EXAMPLE, folder / "dcn.yaml")
    ws = Workspace(folder / "dcn.yaml", state_dir=folder / ".dcn")
    ws.plan()
    store = ws.store
    for site in ("central", "dcn0"):
        store.set_status("lab", site, 1, GenerationStatus.DEPLOYED, "deployed in 41 s")
    store.set_status("lab", "dcn1", 1, GenerationStatus.FAILED, f"failed: {HOSTILE}")
    store.add_event("lab", "dcn1", "step", f"task said {HOSTILE}", generation=1, host="dcn1-x")
    record = store.latest_generation("lab", "dcn0")
    assert record is not None
    store.record_generation(
        "lab",
        HOSTILE_STACK,
        "edge",
        HOSTILE,
        input_digest="sha256:0",
        plan_digest="sha256:0",
        plan_json=record.plan_json(),
        node_count=1,
    )
    store.add_drill("lab", "edge-site-loss", True, drill_report("edge-site-loss", 20.0, True))
    store.add_drill(
        "lab", "edge-site-loss", True, drill_report("edge-site-loss", 150.0, False, HOSTILE)
    )
    at = datetime.now(UTC) - timedelta(seconds=90)
    done = store.start_rollout(
        "lab", {"max_parallel": 1, "canary": 1, "max_failures": 0}, [["dcn0"], ["dcn1"]]
    )
    store.rollout_wave_started(done, 1, ["dcn0"], {"dcn0": 1}, at)
    store.rollout_site(done, "dcn0", SiteResult.OK, "3 changes", generation_after=1, seconds=21.0)
    store.rollout_wave_started(done, 2, ["dcn1"], {"dcn1": 1}, at)
    store.rollout_site(done, "dcn1", SiteResult.FAILED, f"failed: {HOSTILE}", seconds=9.0)
    store.finish_rollout(done, RolloutStatus.DONE)
    running = store.start_rollout("lab", {"max_parallel": 2, "max_failures": 1}, [["dcn0", "dcn1"]])
    store.rollout_wave_started(running, 1, ["dcn0", "dcn1"], {"dcn0": 1, "dcn1": 1}, at)
    store.rollout_site(
        running, "dcn0", SiteResult.OK, "no changes", generation_after=1, seconds=3.0
    )
    return ws


@pytest.fixture(autouse=True)
def no_ssh_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """No real hosts are meant: reach reads 'lab down', nothing is probed."""
    for name in REAL_HOST_SETTINGS:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def filled(tmp_path: Path) -> Workspace:
    return fill(tmp_path)


@pytest.fixture
def client(filled: Workspace) -> Iterator[TestClient]:
    app = create_app(filled, counts=None)
    with TestClient(app) as c:
        yield c
