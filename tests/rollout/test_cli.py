"""`dcn rollout` and `dcn rollout show` on the example: dry runs, refusals as clear
errors (no traceback), the report of a recorded rollout, and a run's live lines with
the deploy and gate stood in (no lab)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dcn.deploy import SiteOutcome
from dcn.deploy.runner import StepEvent
from dcn.hosts import REAL_HOST_SETTINGS
from dcn.rollout.run import GateCall, execute
from dcn.state.rollouts import RolloutStatus, SiteResult
from tests.cli.test_next_steps import grow_central, workspace

DCN = [sys.executable, "-m", "dcn.cli"]


def dcn(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in REAL_HOST_SETTINGS}
    env.update(DCN_FILE=str(folder / "dcn.yaml"), COLUMNS="200")
    env.pop("DCN_STATE_DIR", None)
    return subprocess.run([*DCN, *args], capture_output=True, text=True, env=env, cwd=folder)


def no_traceback(proc: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in proc.stderr + proc.stdout


def test_nothing_to_roll_out_is_said_and_exits_0(deployed: Path) -> None:
    proc = dcn(deployed, "rollout")
    assert proc.returncode == 0, proc.stderr
    assert "nothing to roll out" in proc.stdout
    data = json.loads(dcn(deployed, "rollout", "--format", "json").stdout)
    assert data["waves"] == [] and data["rollout"] is None


def test_dry_run_shows_the_waves_and_records_nothing(stale: Path) -> None:
    proc = dcn(stale, "rollout", "--dry-run", "--canary", "1")
    assert proc.returncode == 0, proc.stderr
    assert "1 (canary)" in proc.stdout and "2 sites in 2 waves; nothing deployed" in proc.stdout
    assert "central generation 1's outputs" in proc.stdout
    data = json.loads(dcn(stale, "rollout", "--dry-run", "--format", "json").stdout)
    assert data["waves"] == [{"wave": 1, "sites": ["dcn0", "dcn1"]}]
    assert data["options"]["max_parallel"] == 5 and data["resumes"] is None
    assert workspace(stale).store.rollout("lab") is None


@pytest.mark.parametrize(
    ("args", "message", "hint"),
    [
        (["central"], "central is the control plane", "dcn deploy central"),
        (["dcn0", "nope"], "no edge site named nope", "edge sites: dcn0, dcn1"),
        (["run", "show"], "no edge site named show", "edge sites"),
        (["--resume"], "there is no rollout of lab to resume", "dcn rollout"),
        (["--resume", "--canary", "1"], "leave out --canary", "dcn rollout show"),
        (["show"], "no rollout yet of lab", "'dcn rollout' starts one"),
        (["show", "4"], "no rollout 4 of lab", "'dcn rollout' starts one"),
        (["--format", "yaml"], "--format yaml is not known", "text or json"),
    ],
)
def test_refusals_are_clear_errors(stale: Path, args: list[str], message: str, hint: str) -> None:
    proc = dcn(stale, "rollout", *args)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    no_traceback(proc)
    assert proc.stderr.startswith("error: ") and message in proc.stderr.split("hint:")[0]
    assert "hint:" in proc.stderr and hint in proc.stderr.split("hint:", 1)[1]


def test_the_control_plane_goes_first(deployed: Path) -> None:
    grow_central(deployed)
    workspace(deployed).plan(["central"])
    proc = dcn(deployed, "rollout", "--dry-run")
    assert proc.returncode == 2
    assert "the control plane central goes first" in proc.stderr
    assert "run 'dcn deploy central'" in proc.stderr


def test_without_hosts_nothing_is_recorded(stale: Path) -> None:
    proc = dcn(stale, "rollout")
    assert proc.returncode == 2 and "no lab is up" in proc.stderr
    no_traceback(proc)
    assert workspace(stale).store.rollout("lab") is None


def recorded(folder: Path) -> int:
    """A stopped rollout: dcn0 ok, dcn1 failed at the gate, dcn2 never reached."""
    store = workspace(folder).store
    rid = store.start_rollout("lab", {"max_parallel": 1, "canary": 1}, [["dcn0"], ["dcn1"], ["x"]])
    at = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
    store.rollout_wave_started(rid, 1, ["dcn0"], {"dcn0": 1}, at)
    store.rollout_site(rid, "dcn0", SiteResult.OK, "3 changes", generation_after=2, seconds=21.0)
    store.rollout_wave_started(rid, 2, ["dcn1"], {"dcn1": 1}, at)
    store.rollout_site(
        rid, "dcn1", SiteResult.GATE_FAILED, "gate: computes: dcn1-c0 down", generation_after=2
    )
    store.finish_rollout(rid, RolloutStatus.STOPPED, "not started: 1 sites failed")
    return rid


def test_show_reports_a_recorded_rollout(stale: Path) -> None:
    rid = recorded(stale)
    proc = dcn(stale, "rollout", "show")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert f"rollout {rid} of lab: stopped" in out and "canary 1" in out
    assert "1 -> 2" in out and "21s" in out and "gate-failed" in out and "not-started" in out
    assert "gate: computes: dcn1-c0 down" in out
    assert "3 sites: 1 ok, 1 failed (1 at the gate), 1 not started; 2 of 3 waves" in out
    assert "next: dcn rollout --resume" in out
    data = json.loads(dcn(stale, "rollout", "show", str(rid), "--format", "json").stdout)
    assert [s["result"] for s in data["sites"]] == ["ok", "gate-failed", "not-started"]
    assert data["totals"]["failed"] == 1 and data["status"] == "stopped"


def test_resume_dry_run_shows_what_is_left(stale: Path) -> None:
    rid = recorded(stale)
    data = json.loads(dcn(stale, "rollout", "--resume", "--dry-run", "--format", "json").stdout)
    assert data["resumes"] == rid and data["waves"] == [{"wave": 3, "sites": ["x"]}]
    assert data["options"]["canary"] == 1


def test_a_run_prints_steps_waves_gates_and_the_report(
    stale: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The command's side of a run: the deploy's step printer, a line per wave and
    gate, the report, exit 1 when a site failed. The deployer and the cloud are stood
    in (execute is the real one)."""

    def fake_run(ws, prepared, on_step, on_event, say=None):
        sites = [w.sites for w in prepared.waves]
        rid = ws.store.start_rollout("lab", prepared.options.as_dict(), sites)

        def deploy(sites, parallel):
            for site in sites:
                on_step(site, StepEvent(f"{site}-compute-0", "nova.conf", "changed"))
            return [SiteOutcome(s, True, 2, message="1 changes", seconds=5.0) for s in sites]

        def gate(call: GateCall) -> dict[str, str]:
            return {"dcn1": "computes: dcn1-compute-0 down (after 120s)"} if call.wave == 2 else {}

        execute(ws.store, "lab", rid, prepared.waves, prepared.options, deploy, gate, on_event)
        return ws.store.rollout("lab", rid)

    monkeypatch.setattr("dcn.rollout.launch.run", fake_run)
    from dcn.cli.app import app

    result = CliRunner().invoke(
        app, ["-f", str(stale / "dcn.yaml"), "rollout", "--canary", "1"], env={"COLUMNS": "200"}
    )
    out = result.output
    assert result.exit_code == 1, out
    assert "dcn0 dcn0-compute-0 nova.conf: changed" in out
    assert "wave 1/2 (canary): 1 site: dcn0" in out and "wave 1 gate passed" in out
    assert "wave 2 gate failed" in out and "dcn1: computes: dcn1-compute-0 down" in out
    assert "2 sites: 1 ok, 1 failed (1 at the gate)" in out and "next: dcn rollout dcn1" in out
