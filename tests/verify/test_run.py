"""`verify` with the cloud and Tempest faked: what it discovers, writes and reports,
and that the admin password is nowhere but in the 0600 tempest.conf."""

from __future__ import annotations

import json
import stat
import subprocess
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from dcn.cloud import AdminCredentials
from dcn.errors import DcnError
from dcn.verify import install, run
from dcn.verify.areas import DEFAULT_REGEX
from dcn.workspace import Workspace

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "Adm1n-pa$$word-for-tests"
CREDS = AdminCredentials(auth_url="http://198.18.16.10:5000", password=PASSWORD, region="r1")


class FakeConn:
    """The calls `discover` makes of an openstacksdk connection."""

    def __init__(self, flavors: tuple[str, ...] = ("dcn.tiny", "dcn.small")) -> None:
        self.created: list[str] = []
        images: dict[str, Any] = {"dcn-smoke": SimpleNamespace(id="img-smoke")}
        flavor_ids = {name: SimpleNamespace(id=f"id-{name}") for name in flavors}

        def create_image(name: str, **kwargs: Any) -> Any:
            self.created.append(name)
            images[name] = SimpleNamespace(id=f"img-{name}")
            return images[name]

        self.image = SimpleNamespace(find_image=images.get, create_image=create_image)
        self.compute = SimpleNamespace(find_flavor=flavor_ids.get)
        self.network = SimpleNamespace(
            find_network=lambda name: None,
            extensions=lambda: [SimpleNamespace(alias=a) for a in ("segment", "router")],
        )


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    return Workspace(ROOT / "examples" / "dcn-basic.yaml", tmp_path / "state")


def test_discover(ws: Workspace, tmp_path: Path) -> None:
    conn = FakeConn()
    inputs = run.discover(ws, conn, CREDS, tmp_path / "ws")
    assert (inputs.image_ref, inputs.image_ref_alt) == ("img-smoke", "img-dcn-verify-alt")
    assert conn.created == ["dcn-verify-alt"]  # the smoke image existed
    assert (inputs.flavor_ref, inputs.flavor_ref_alt) == ("id-dcn.tiny", "id-dcn.small")
    assert inputs.network_extensions == ("router", "segment")
    assert inputs.auth_url == CREDS.auth_url and inputs.region == "r1"
    assert inputs.admin_password == PASSWORD
    assert inputs.project_networks is True  # neutron always offers geneve project networks


def test_discover_needs_the_deployed_flavors(ws: Workspace, tmp_path: Path) -> None:
    with pytest.raises(DcnError, match=r"flavor dcn\.small is missing") as err:
        run.discover(ws, FakeConn(flavors=("dcn.tiny",)), CREDS, tmp_path / "ws")
    assert "dcn deploy central" in err.value.hint


def test_tempest_command(tmp_path: Path) -> None:
    lay = run.Layout(tmp_path)
    cmd = run.tempest_command(install.Installed(tmp_path / "venv", "47.0.0", False), lay, "^x")
    assert cmd[0] == str(tmp_path / "venv" / "bin" / "tempest")
    assert cmd[1:3] == ["run", "--subunit"]
    assert cmd[cmd.index("--regex") + 1] == "^x"
    assert cmd[cmd.index("--exclude-list") + 1] == str(lay.exclude_list)
    assert cmd[cmd.index("--concurrency") + 1] == "2"


def test_bad_regex() -> None:
    with pytest.raises(DcnError, match="not a regular expression"):
        run.check_regex("tempest.api.(")


CSV = (
    "test,status,start_time,stop_time\r\n"
    "tempest.api.network.test_ports.PortsTestJSON.test_a[id-1],success,,\r\n"
    "tempest.api.network.test_ports.PortsTestJSON.test_b[id-2],fail,,\r\n"
    "tempest.api.image.v2.test_images.X.test_c[id-3],skip,,\r\n"
)


def fake_tempest(monkeypatch: pytest.MonkeyPatch, csv: str = CSV) -> list[list[str]]:
    """Everything past the credentials, faked; Tempest 'prints' the password."""
    calls: list[list[str]] = []
    monkeypatch.setattr(run, "layout", lambda ws: run.Layout(ws.state_dir / "tempest"))
    monkeypatch.setattr("dcn.cloud.admin_credentials", lambda ws: CREDS)
    monkeypatch.setattr("dcn.cloud.connect", lambda creds, timeout=None: FakeConn())

    def ensure(base: Path) -> install.Installed:
        return install.Installed(base / "venv", "47.0.0", changed=False)

    def tempest(installed: Any, lay: run.Layout, regex: str, timeout: float) -> None:
        calls.append(run.tempest_command(installed, lay, regex))
        lay.stream.write_bytes(b"subunit")
        lay.log.write_text(f"DEBUG auth with password {PASSWORD}\n")

    def convert(installed: Any, lay: run.Layout, tool: str, *, errors: bool) -> str:
        return csv if tool == "subunit2csv" else f"FAIL test_b\nbody: {PASSWORD}\n"

    monkeypatch.setattr(run.install, "ensure", ensure)
    monkeypatch.setattr(run, "init_workspace", lambda installed, lay: None)
    monkeypatch.setattr(run, "_tempest", tempest)
    monkeypatch.setattr(run, "_convert", convert)
    return calls


def test_verify_writes_conf_0600_and_masks_the_password(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = fake_tempest(monkeypatch)
    outcome = run.verify(ws)
    lay = run.Layout(ws.state_dir / "tempest")
    assert calls[0][calls[0].index("--regex") + 1] == DEFAULT_REGEX
    assert stat.S_IMODE(lay.conf.stat().st_mode) == 0o600
    assert stat.S_IMODE(lay.base.stat().st_mode) == 0o700
    assert "admin_password = Adm1n-pa$$$$word-for-tests" in lay.conf.read_text()
    for path in (lay.report, lay.log):
        text = path.read_text()
        assert PASSWORD not in text and "<hidden>" in text, path
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert lay.exclude_list.read_text().count("\n") == outcome.exclusions
    network = outcome.results.areas["network"]
    assert (network.passed, network.failed) == (1, 1)
    doc = outcome.as_dict()
    assert doc["ok"] is False and doc["tempest"] == "47.0.0"
    assert doc["total"] == {"area": "total", "passed": 1, "failed": 1, "skipped": 1}
    assert PASSWORD not in json.dumps(doc)
    assert not outcome.notices


def test_verify_with_nothing_run(ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_tempest(monkeypatch, csv="test,status,start_time,stop_time\r\n")
    with pytest.raises(DcnError, match="ran no test") as err:
        run.verify(ws, regex="^tempest\\.nothing")
    assert "--list-tests" in err.value.hint


def test_verify_timeout(ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_tempest(monkeypatch)

    def slow(*args: Any) -> None:
        raise subprocess.TimeoutExpired("tempest", 60)

    monkeypatch.setattr(run, "_tempest", slow)
    with pytest.raises(DcnError, match="did not finish within 60 s"):
        run.verify(ws, timeout=60)


def test_stop_ends_the_process_group(tmp_path: Path) -> None:
    """A run we started (here: a shell and its child) is ended whole."""
    proc = subprocess.Popen(["sh", "-c", "sleep 300 & wait"], start_new_session=True)
    run._stop(proc)
    assert proc.poll() is not None
