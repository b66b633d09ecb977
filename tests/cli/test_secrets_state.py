"""Secrets at rest, rotation, backups, state-dir trust and crash reports, via the real CLI."""

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
EXAMPLE = ROOT / "examples" / "dcn-basic.yaml"


def dcn(folder: Path, *args: str, env: dict[str, str] | None = None, code: int = 0, pre: str = ""):
    """Run `dcn -f folder/dcn.yaml ARGS` (state in the default .dcn beside the file)."""
    full = {**os.environ, "COLUMNS": "200", "XDG_STATE_HOME": str(folder / "xdg"), **(env or {})}
    for name in ("DCN_FILE", "DCN_STATE_DIR", "DCN_STATE_URL", "DCN_KEY_FILE"):
        if env is None or name not in env:
            full.pop(name, None)
    script = pre + "from dcn.cli.app import main\nmain()\n"
    proc = subprocess.run(
        [sys.executable, "-c", script, "-f", str(folder / "dcn.yaml"), *args],
        capture_output=True,
        text=True,
        env=full,
        cwd=folder,
    )
    assert proc.returncode == code, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    return proc


def values(folder: Path) -> list[str]:
    from dcn.state import Store

    with Store.open(folder / ".dcn") as store:
        return list(store.get_secrets("lab").values())


@pytest.fixture
def planned(tmp_path: Path) -> Path:
    shutil.copy(EXAMPLE, tmp_path / "dcn.yaml")
    dcn(tmp_path, "plan")
    dcn(tmp_path, "secrets", "list")
    return tmp_path


def test_secrets_never_in_the_database_and_key_beside_it(planned: Path) -> None:
    key = planned / ".dcn.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    data = b"".join(p.read_bytes() for p in (planned / ".dcn").iterdir() if p.is_file())
    found = values(planned)
    assert len(found) >= 10
    assert not any(v.encode() in data for v in found)


def test_missing_wrong_and_loose_keys_are_clear_errors(planned: Path) -> None:
    key = planned / ".dcn.key"
    key.rename(planned / "kept.key")
    proc = dcn(planned, "status", code=2)
    assert "holds encrypted secrets, but their key file" in proc.stderr
    assert "DCN_KEY_FILE" in proc.stderr and not key.exists()
    dcn(planned, "status", env={"DCN_KEY_FILE": str(planned / "kept.key")})
    other = planned / "other.key"
    other.write_text("QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE=\n")
    other.chmod(0o600)
    proc = dcn(planned, "status", env={"DCN_KEY_FILE": str(other)}, code=2)
    assert "is not the key of the state store" in proc.stderr
    (planned / "kept.key").chmod(0o644)
    proc = dcn(planned, "status", env={"DCN_KEY_FILE": str(planned / "kept.key")}, code=2)
    assert "may be read by others" in proc.stderr and "chmod 600" in proc.stderr


def test_rotate_marks_stacks_and_status_shows_the_next_command(planned: Path) -> None:
    before = values(planned)
    proc = dcn(planned, "secrets", "rotate", "NovaPassword")
    assert "rotated 1 secrets" in proc.stdout and "central, dcn0, dcn1" in proc.stdout
    assert "next: dcn deploy central dcn0 dcn1" in proc.stdout
    after = values(planned)
    assert len(set(before) - set(after)) == 1
    assert not any(v in proc.stdout + proc.stderr for v in before + after)
    rows = json.loads(dcn(planned, "status", "--format", "json").stdout)
    assert {r["site"]: r["redeploy"] for r in rows} == {
        s: "secrets rotated: NovaPassword" for s in ("central", "dcn0", "dcn1")
    }
    text = dcn(planned, "status").stdout
    assert "3 sites need a redeploy" in text and "dcn deploy central dcn0 dcn1" in text
    proc = dcn(planned, "secrets", "rotate", "KeystoneCredential0", code=2)
    assert "not rotated by dcn: KeystoneCredential0" in proc.stderr
    proc = dcn(planned, "secrets", "rotate", "NoSuchPassword", code=2)
    assert "unknown secret" in proc.stderr
    proc = dcn(planned, "secrets", "rotate", "--site", "dcn0")
    assert "not rotated" not in proc.stdout  # an edge receives nothing dcn refuses to rotate
    first = proc.stdout.splitlines()[0]
    assert "NovaPassword" in first and "RabbitPassword" in first


def test_backup_through_the_cli(planned: Path) -> None:
    out = planned / "backup.db"
    proc = dcn(planned, "state", "backup", "-o", str(out))
    assert "keep the key file" in proc.stdout
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert not any(v.encode() in out.read_bytes() for v in values(planned))
    proc = dcn(planned, "state", "backup", "-o", str(out), code=2)
    assert "--force" in proc.stderr
    dcn(planned, "state", "backup", "-o", str(out), "--force")


@pytest.mark.parametrize("command", [("validate",), ("plan",), ("status",), ("secrets", "list")])
def test_a_state_dir_that_came_with_the_folder_is_refused(tmp_path: Path, command) -> None:
    """A cloned repository's .dcn/ (git modes 0755/0644): never read, never trusted."""
    shutil.copy(EXAMPLE, tmp_path / "dcn.yaml")
    hostile = tmp_path / ".dcn"
    hostile.mkdir(mode=0o755)
    hostile.chmod(0o755)
    with sqlite3.connect(hostile / "state.db") as db:
        db.execute("create table meta (key text primary key, value text)")
        db.execute("insert into meta values ('schema_version', '3')")
    (hostile / "state.db").chmod(0o644)
    snapshot = {p.name: p.read_bytes() for p in hostile.iterdir()}
    proc = dcn(tmp_path, *command, code=0 if command == ("validate",) else 2)
    if command != ("validate",):
        assert "is not trusted" in proc.stderr
        assert "did not come from dcn on this machine" in proc.stderr
        assert "--state-dir" in proc.stderr
    # the state store in it is neither opened nor adopted (the parse cache is its own
    # matter: tests/model)
    assert {n: (hostile / n).read_bytes() for n in snapshot} == snapshot
    assert not [p for p in hostile.iterdir() if p.name.startswith("state.db-")]
    assert stat.S_IMODE(hostile.stat().st_mode) == 0o755
    assert not (tmp_path / ".dcn.key").exists()


_BOOM = """
import dcn.cli.status as _status
def _boom(ws, as_json, probe=False):
    value = ws.store.get_secrets(ws.deployment.name)["AdminPassword"]
    raise RuntimeError(
        f"bug with {value} in it, postgresql://dcn:hunter2pw@db.example.com/dcn\\n"
        "[parameters: ('literal-param-secret',)]"
    )
_status.show_status = _boom
"""


def test_crash_report_is_private_and_free_of_secrets(planned: Path) -> None:
    proc = dcn(planned, "status", code=70, pre=_BOOM)
    assert "internal error (RuntimeError)" in proc.stderr
    reports = list((planned / ".dcn" / "crash").iterdir())
    assert len(reports) == 1 and reports[0].name in proc.stderr.replace("\n", "")
    assert stat.S_IMODE((planned / ".dcn" / "crash").stat().st_mode) == 0o700
    assert stat.S_IMODE(reports[0].stat().st_mode) == 0o600
    text = reports[0].read_text()
    assert "bug with <hidden> in it" in text and "RuntimeError" in text
    for secret in [*values(planned), "hunter2pw", "literal-param-secret"]:
        assert secret not in text
    assert "db.example.com" in text


def test_crash_without_a_state_dir_goes_to_a_private_user_dir(tmp_path: Path) -> None:
    shutil.copy(EXAMPLE, tmp_path / "dcn.yaml")
    boom = "import dcn.workspace as w\n"
    boom += "w.Workspace.validation = property(lambda s: 1 / 0)\n"
    proc = dcn(tmp_path, "validate", code=70, pre=boom)
    assert "ZeroDivisionError" in proc.stderr
    assert not (tmp_path / ".dcn").exists()
    crash_dir = tmp_path / "xdg" / "dcn"
    assert stat.S_IMODE(crash_dir.stat().st_mode) == 0o700
    [report] = crash_dir.iterdir()
    assert stat.S_IMODE(report.stat().st_mode) == 0o600
