"""The dcn command end to end on the bundled example: outputs, exit codes, no secrets."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DCN = [sys.executable, "-m", "dcn.cli"]


def run(state: Path, *args: str, file: Path | None = None, ok: bool = True):
    env = {**os.environ, "DCN_STATE_DIR": str(state), "COLUMNS": "200"}
    env["DCN_FILE"] = str(file or ROOT / "examples" / "dcn-basic.yaml")
    proc = subprocess.run([*DCN, *args], capture_output=True, text=True, env=env, cwd=state.parent)
    if ok:
        assert proc.returncode == 0, proc.stderr + proc.stdout
    return proc


def secret_values(state: Path) -> list[str]:
    """The plaintext values (the database holds them sealed)."""
    from dcn.state import Store

    with sqlite3.connect(state / "state.db") as db:
        deployments = [n for (n,) in db.execute("select name from deployment")]
    with Store.open(state) as store:
        return [v for d in deployments for v in store.get_secrets(d).values()]


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """Plan and export the example once; keep every command's output for the checks."""
    tmp = tmp_path_factory.mktemp("cli")
    state = tmp / "state"
    outputs = {
        "validate": run(state, "validate"),
        "plan": run(state, "plan"),
        "export": run(state, "export", "central", "-o", str(tmp / "export.yaml")),
        "export-dcn0": run(state, "export", "central", "-o", str(tmp / "e0.yaml"), "--for", "dcn0"),
        "export-all": run(state, "export", "central", "-o", str(tmp / "all.yaml"), "--all-secrets"),
        "status": run(state, "status"),
        "status-json": run(state, "status", "--format", "json"),
        "secrets": run(state, "secrets", "list"),
        "secrets-dcn0": run(state, "secrets", "list", "dcn0"),
        "replan": run(state, "plan", "--files"),
        "plan-json": run(state, "plan", "dcn0", "--format", "json"),
        "refuse": run(state, "export", "central", "-o", str(tmp / "export.yaml"), ok=False),
    }
    return {"tmp": tmp, "state": state, "outputs": outputs}


def test_no_secret_value_in_any_output(deployed: dict) -> None:
    values = secret_values(deployed["state"])
    assert len(values) >= 10
    for name, proc in deployed["outputs"].items():
        for value in values:
            assert value not in proc.stdout, f"a secret value is in the output of {name}"
            assert value not in proc.stderr, f"a secret value is in the errors of {name}"


def test_state_and_export_modes(deployed: dict) -> None:
    state: Path = deployed["state"]
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    assert stat.S_IMODE((state / "state.db").stat().st_mode) == 0o600
    for name in ("export.yaml", "e0.yaml", "all.yaml"):
        assert stat.S_IMODE((deployed["tmp"] / name).stat().st_mode) == 0o600


def test_export_scopes(deployed: dict) -> None:
    import yaml

    tmp: Path = deployed["tmp"]
    edge = yaml.safe_load((tmp / "e0.yaml").read_text())["parameter_defaults"]
    full = yaml.safe_load((tmp / "all.yaml").read_text())["parameter_defaults"]
    for key in (
        "EndpointMapOverride",
        "AllNodesExtraMapData",
        "GlobalConfigExtraMapData",
        "ExtraHostFileEntries",
        "DcnExportVersion",
    ):
        assert key in edge and key in full
    assert "RabbitPassword" in edge
    assert "MysqlRootPassword" not in edge and "KeystoneFernetKey0" not in edge
    assert "MysqlRootPassword" in full and "KeystoneFernetKey0" in full
    assert edge["DcnExportVersion"]["scope"] == "least-privilege"
    assert full["DcnExportVersion"]["scope"] == "full"


def test_plan_records_then_reports_no_change(deployed: dict) -> None:
    out = deployed["outputs"]
    assert "3 sites planned, 3 changed" in out["plan"].stdout
    assert "3 sites planned, 0 changed" in out["replan"].stdout
    assert "@@dcn-secret:RabbitPassword@@" in out["replan"].stdout  # references, not values
    data = json.loads(out["plan-json"].stdout)
    assert data[0]["site"] == "dcn0" and data[0]["changed"] is False


def test_status_rows(deployed: dict) -> None:
    rows = json.loads(deployed["outputs"]["status-json"].stdout)
    assert [r["site"] for r in rows] == ["central", "dcn0", "dcn1"]
    assert all(r["status"] == "planned" and r["generation"] == 1 for r in rows)
    assert [r["stale"] for r in rows] == [False, False, False]
    assert rows[1]["az"] == "dcn0"


def test_refuses_to_overwrite_export(deployed: dict) -> None:
    proc = deployed["outputs"]["refuse"]
    assert proc.returncode != 0
    assert "--force" in proc.stderr and "Traceback" not in proc.stderr


def test_secrets_list_names_only(deployed: dict) -> None:
    text = deployed["outputs"]["secrets-dcn0"].stdout
    assert "RabbitPassword" in text and "MysqlRootPassword" not in text


def test_change_makes_edges_stale_until_replanned(deployed: dict, tmp_path: Path) -> None:
    state = tmp_path / "state"
    shutil.copytree(deployed["state"], state)
    shutil.copy2(deployed["tmp"] / "state.key", tmp_path / "state.key")  # its key beside it
    desc = tmp_path / "dcn.yaml"
    text = (ROOT / "examples" / "dcn-basic.yaml").read_text()
    desc.write_text(text.replace("Controller: {count: 1}", "Controller: {count: 2}"))
    desc.write_text(desc.read_text().replace("ha_size: 1 ", "ha_size: 2 "))
    run(state, "plan", "central", file=desc)
    rows = json.loads(run(state, "status", "--format", "json", file=desc).stdout)
    assert [r["stale"] for r in rows] == [False, True, True]
    run(state, "plan", "dcn0", file=desc)
    rows = json.loads(run(state, "status", "--format", "json", file=desc).stdout)
    assert [r["stale"] for r in rows] == [False, False, True]
    assert rows[1]["generation"] == 2 and rows[2]["generation"] == 1


def test_bad_description_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    text = (ROOT / "examples" / "dcn-basic.yaml").read_text()
    bad.write_text(text.replace("kind: edge              # availability", "kindd: edge  # x"))
    for args, code in ((("validate",), 1), (("plan",), 2)):
        proc = run(tmp_path / "state", *args, file=bad, ok=False)
        assert proc.returncode == code
        both = proc.stdout + proc.stderr
        assert "bad.yaml:" in both and "kindd" in both and "Traceback" not in both


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    proc = run(tmp_path / "state", "plan", file=tmp_path / "nope.yaml", ok=False)
    assert proc.returncode == 2 and "does not exist" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_lab_down_needs_no_valid_description(tmp_path: Path) -> None:
    """The manifest says what a lab is: a description broken since 'lab up' must not
    keep its lab running."""
    broken = tmp_path / "dcn.yaml"
    broken.write_text("sites: [{name: central, kind: nonsense}]\n")
    state = tmp_path / "state"
    proc = run(state, "lab", "down", file=broken)
    assert "no lab is up" in proc.stdout
    # other lab commands still need the description, and say why
    status = run(state, "plan", file=broken, ok=False)
    assert status.returncode != 0 and "Traceback" not in status.stderr
