"""`dcn credentials` through the real command: the file, its mode, refusals, and the
password never in the command's output."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "dcn-basic.yaml"
PASSWORD = 'it\'s a "pass" $HOME `id` word'


def dcn(folder: Path, *args: str, code: int = 0) -> subprocess.CompletedProcess[str]:
    """Run `dcn -f folder/dcn.yaml ARGS` from `folder` (state in .dcn beside the file)."""
    env = {**os.environ, "COLUMNS": "200", "XDG_STATE_HOME": str(folder / "xdg")}
    for name in ("DCN_FILE", "DCN_STATE_DIR", "DCN_STATE_URL", "DCN_KEY_FILE"):
        env.pop(name, None)
    proc = subprocess.run(
        [sys.executable, "-m", "dcn.cli", "-f", str(folder / "dcn.yaml"), *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=folder,
    )
    assert proc.returncode == code, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    assert PASSWORD not in proc.stdout + proc.stderr
    return proc


@pytest.fixture(scope="module")
def planned(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("creds")
    shutil.copy(EXAMPLE, folder / "dcn.yaml")
    dcn(folder, "plan", "central")
    return folder


@pytest.fixture(scope="module")
def deployed(planned: Path) -> Path:
    """The control plane's generation marked deployed (no lab here), with a password
    that a careless writer would break."""
    from dcn.state import Store
    from dcn.state.records import GenerationStatus

    refused = dcn(planned, "credentials", code=2)
    assert "not deployed" in refused.stdout + refused.stderr
    assert not (planned / "clouds.yaml").exists()
    with Store.open(planned / ".dcn") as store:
        record = store.latest_generation("lab", "central")
        assert record is not None
        store.set_status("lab", "central", record.number, GenerationStatus.DEPLOYED)
        store.import_secrets("lab", {"AdminPassword": PASSWORD})
    return planned


def public_vip(folder: Path) -> str:
    from dcn.workspace import Workspace

    ws = Workspace(folder / "dcn.yaml", state_dir=folder / ".dcn")
    return ws.recorded_plans()["central"].network.vips["external"]


def test_clouds_yaml_in_the_current_directory(deployed: Path) -> None:
    target = deployed / "clouds.yaml"
    target.unlink(missing_ok=True)
    out = dcn(deployed, "credentials").stdout
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600
    cloud = yaml.safe_load(target.read_text())["clouds"]["lab"]
    assert cloud["auth"]["password"] == PASSWORD
    assert cloud["auth"]["auth_url"] == f"http://{public_vip(deployed)}:5000"
    assert cloud["interface"] == "public"
    assert cloud["region_name"] == "regionOne"
    assert "openstack --os-cloud lab server list" in out
    assert "clouds.yaml" in out

    again = dcn(deployed, "credentials", code=2)
    assert "--force" in again.stdout + again.stderr
    assert "clouds.yaml" in again.stdout + again.stderr

    target.write_text("old\n")
    target.chmod(0o644)
    dcn(deployed, "credentials", "--force", "--interface", "internal")
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600
    cloud = yaml.safe_load(target.read_text())["clouds"]["lab"]
    assert cloud["interface"] == "internal"
    assert ":5000" in cloud["auth"]["auth_url"]
    assert public_vip(deployed) not in cloud["auth"]["auth_url"]


def test_openrc_elsewhere(deployed: Path, tmp_path: Path) -> None:
    rc = tmp_path / "admin rc"
    out = dcn(deployed, "credentials", "--format", "openrc", "-o", str(rc)).stdout
    assert stat.S_IMODE(os.stat(rc).st_mode) == 0o600
    shown = subprocess.run(
        ["bash", "-c", '. "$1" && printf %s "$OS_PASSWORD"', "sh", str(rc)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert shown == PASSWORD
    assert "&& openstack server list" in out


def test_a_clouds_yaml_elsewhere_says_how_to_find_it(deployed: Path, tmp_path: Path) -> None:
    target = tmp_path / "lab.yaml"
    out = dcn(deployed, "credentials", "-o", str(target)).stdout
    assert f"OS_CLIENT_CONFIG_FILE={target} openstack --os-cloud lab server list" in out


def test_the_terminal_is_refused(deployed: Path) -> None:
    proc = dcn(deployed, "credentials", "-o", "-", code=2)
    assert "terminal" in proc.stdout + proc.stderr
