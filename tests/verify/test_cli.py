"""`dcn verify` from the command line, before any cloud: refusals say what to do."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DCN = [sys.executable, "-m", "dcn.cli"]


def run(state: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    full = {**os.environ, "DCN_STATE_DIR": str(state), "COLUMNS": "200", **env}
    full["DCN_FILE"] = str(ROOT / "examples" / "dcn-basic.yaml")
    for name in ("DCN_SSH_KEY", "DCN_SSH_USER", "DCN_KNOWN_HOSTS"):
        if name not in env:
            full.pop(name, None)
    return subprocess.run([*DCN, *args], capture_output=True, text=True, env=full)


def test_verify_refuses_an_undeployed_control_plane(tmp_path: Path) -> None:
    state = tmp_path / "state"  # nothing recorded: no generation of central at all
    proc = run(state, "verify", DCN_SSH_KEY=str(tmp_path / "no-key"))
    assert proc.returncode == 2, proc.stderr
    assert "the control plane central is not deployed" in proc.stderr
    assert "dcn deploy central" in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    assert not (state / "tempest").exists()  # nothing installed before the check


def test_verify_without_lab_or_hosts(tmp_path: Path) -> None:
    proc = run(tmp_path / "state", "verify", "--format", "json")
    assert proc.returncode == 2
    assert "no lab is up" in proc.stderr


def test_verify_rejects_a_bad_regex_and_format(tmp_path: Path) -> None:
    proc = run(tmp_path / "state", "verify", "--regex", "tempest.(")
    assert proc.returncode == 2 and "not a regular expression" in proc.stderr
    proc = run(tmp_path / "state", "verify", "--format", "text")
    assert proc.returncode == 2 and "table" in proc.stderr


def outcome(failed: bool):  # dcn.verify.run.Outcome
    from dcn.verify.results import parse_csv
    from dcn.verify.run import Outcome

    rows = "test,status\n" + "tempest.api.network.test_ports.P.test_a[id-1],success\n"
    if failed:
        rows += "tempest.api.identity.v3.test_tokens.T.test_b[id-2],fail\n"
    return Outcome(parse_csv(rows), "47.0.0", "^tempest", 2, Path("/state/last-run.txt"))


def test_table_and_json(tmp_path: Path, monkeypatch) -> None:
    import json

    from typer.testing import CliRunner

    from dcn.cli.app import app

    monkeypatch.setenv("DCN_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("COLUMNS", "200")
    runner = CliRunner()
    file = str(ROOT / "examples" / "dcn-basic.yaml")
    monkeypatch.setattr("dcn.verify.run.verify", lambda ws, regex, timeout: outcome(True))
    result = runner.invoke(app, ["-f", file, "verify"])
    assert result.exit_code == 1
    assert "identity" in result.stdout and "compute-servers" in result.stdout
    assert "failed: tempest.api.identity.v3.test_tokens.T.test_b" in result.stdout
    assert "tempest 47.0.0; 2 tests excluded by name" in result.stdout
    assert "other" not in result.stdout  # an empty 'other' area is not shown

    monkeypatch.setattr("dcn.verify.run.verify", lambda ws, regex, timeout: outcome(False))
    result = runner.invoke(app, ["-f", file, "verify", "--format", "json"])
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    assert doc["ok"] is True and doc["excluded_by_name"] == 2
    network = next(a for a in doc["areas"] if a["area"] == "network")
    assert network == {
        "area": "network",
        "passed": 1,
        "failed": 0,
        "skipped": 0,
        "failed_tests": [],
    }
