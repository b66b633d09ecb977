"""Tempest's virtualenv: the commands it takes, idempotence, rebuild on new pins,
failures that say what pip said. No package is installed here."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from dcn.errors import DcnError
from dcn.verify import install

PINS = "# comment\nstestr==4.2.1\ntempest==47.0.0\n"


class FakeRun:
    """subprocess.run for the install steps: records commands, makes bin/tempest."""

    def __init__(self, fail_on: str | None = None) -> None:
        self.calls: list[list[str]] = []
        self.fail_on = fail_on

    def __call__(self, cmd: list[str], **kwargs: object) -> subprocess.CompletedProcess:
        self.calls.append(cmd)
        assert kwargs.get("timeout")
        if self.fail_on and self.fail_on in cmd:
            out = "Collecting tempest\n" + "\n".join(f"line {i}" for i in range(20))
            return subprocess.CompletedProcess(cmd, 1, out, "ERROR: No matching distribution\n")
        if "venv" in cmd:
            venv = Path(cmd[-1])
            (venv / "bin").mkdir(parents=True, exist_ok=True)
        if "pip" in cmd:
            tempest = Path(cmd[0]).parent / "tempest"
            tempest.write_text("#!/bin/sh\n")
        return subprocess.CompletedProcess(cmd, 0, "ok\n", "")


@pytest.fixture
def pins(tmp_path: Path) -> Path:
    path = tmp_path / "tempest.txt"
    path.write_text(PINS)
    return path


def test_the_project_pins_tempest() -> None:
    text = install.constraints_file().read_text()
    assert install.pinned_version(text) == "47.0.0"
    assert "tempest==" in text and "nova" not in text


def test_pinned_version_needs_a_pin() -> None:
    assert install.pinned_version("Tempest == 1.2.3  # x\n") == "1.2.3"
    with pytest.raises(DcnError, match="pins no tempest"):
        install.pinned_version("stestr==4.2.1\n# tempest==1\n")


def test_pip_command(tmp_path: Path, pins: Path) -> None:
    venv = tmp_path / "venv"
    cmd = install.pip_command(venv, pins, "47.0.0")
    assert cmd[:4] == [str(venv / "bin" / "python"), "-m", "pip", "install"]
    assert cmd[cmd.index("--constraint") + 1] == str(pins)
    assert cmd[-1] == "tempest==47.0.0"
    assert install.venv_command(venv)[:3] == [sys.executable, "-m", "venv"]


def test_install_once_then_nothing(tmp_path: Path, pins: Path) -> None:
    run = FakeRun()
    base = tmp_path / "tempest"
    first = install.ensure(base, pins, run)
    assert first.changed and first.version == "47.0.0"
    assert [c[2] for c in run.calls] == ["venv", "pip"]
    marker = json.loads((base / install.MARKER).read_text())
    assert marker == {"constraints_sha256": install.digest(PINS), "tempest": "47.0.0"}
    assert (base / install.MARKER).stat().st_mode & 0o777 == 0o600
    again = install.ensure(base, pins, run)
    assert not again.changed and len(run.calls) == 2
    assert again.bin("tempest") == str(base / "venv" / "bin" / "tempest")


def test_new_pins_rebuild_the_venv(tmp_path: Path, pins: Path) -> None:
    run = FakeRun()
    base = tmp_path / "tempest"
    install.ensure(base, pins, run)
    leftover = base / "venv" / "lib-from-old-pins"
    leftover.mkdir()
    pins.write_text(PINS.replace("stestr==4.2.1", "stestr==4.2.2"))
    assert install.ensure(base, pins, run).changed
    assert len(run.calls) == 4 and not leftover.exists()


def test_a_venv_without_tempest_is_rebuilt(tmp_path: Path, pins: Path) -> None:
    run = FakeRun()
    base = tmp_path / "tempest"
    install.ensure(base, pins, run)
    (base / "venv" / "bin" / "tempest").unlink()
    assert install.ensure(base, pins, run).changed


def test_pip_failing_says_what_pip_said(tmp_path: Path, pins: Path) -> None:
    base = tmp_path / "tempest"
    with pytest.raises(DcnError) as err:
        install.ensure(base, pins, FakeRun(fail_on="pip"))
    assert "installing tempest 47.0.0 failed (exit 1)" in err.value.message
    assert "No matching distribution" in err.value.message
    assert "line 0" not in err.value.message  # only the last lines
    assert str(base / "install.log") in err.value.hint
    assert "No matching distribution" in (base / "install.log").read_text()
    assert (base / "install.log").stat().st_mode & 0o777 == 0o600
    assert not (base / install.MARKER).exists()  # the next run tries again
