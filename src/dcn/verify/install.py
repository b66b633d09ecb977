"""Tempest in its own virtualenv under the state dir, installed on first use.

Tempest pulls in libraries (oslo, cliff, paramiko ...) at versions of its own; it
never goes into dcn's environment nor the nodes' (constraints/openstack.txt). The
venv is built from constraints/tempest.txt, and a marker records that file's digest:
the same pins mean nothing to do, new pins mean a fresh venv (pip over an old one
would keep packages the new pins dropped).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from dcn.errors import DcnError
from dcn.paths import private_opener, private_temp

MARKER = "installed.json"
#: pip resolving and downloading ~60 wheels; a bound, not an expectation
PIP_TIMEOUT = 1800
#: how much of pip's output a failure shows (the whole is in the log)
TAIL_LINES = 6

Run = Callable[..., subprocess.CompletedProcess]


@dataclass(frozen=True, slots=True)
class Installed:
    venv: Path
    version: str
    #: the venv was (re)built by this call
    changed: bool

    def bin(self, name: str) -> str:
        return str(self.venv / "bin" / name)


def constraints_file() -> Path:
    """constraints/tempest.txt, shipped beside the package or in the source tree."""
    here = Path(__file__).resolve()
    for candidate in (
        here.parents[1] / "constraints" / "tempest.txt",
        here.parents[3] / "constraints" / "tempest.txt",
    ):
        if candidate.exists():
            return candidate
    raise DcnError("constraints/tempest.txt not found", hint="reinstall dcn from its source")


def pinned_version(constraints: str) -> str:
    """The ``tempest==X`` pin of a constraints file's text."""
    for line in constraints.splitlines():
        match = re.fullmatch(r"\s*tempest\s*==\s*([\w.+-]+)\s*(#.*)?", line, re.IGNORECASE)
        if match:
            return match.group(1)
    raise DcnError(
        "constraints/tempest.txt pins no tempest version",
        hint="add a line 'tempest==VERSION' (the other pins are its dependencies)",
    )


def digest(constraints: str) -> str:
    return hashlib.sha256(constraints.encode()).hexdigest()


def venv_command(venv: Path, python: str = sys.executable) -> list[str]:
    return [python, "-m", "venv", "--clear", str(venv)]


def pip_command(venv: Path, constraints: Path, version: str) -> list[str]:
    """pip installing exactly the pinned tempest, every dependency held by the pins."""
    return [
        str(venv / "bin" / "python"),
        "-m",
        "pip",
        "install",
        "--no-input",
        "--disable-pip-version-check",
        "--constraint",
        str(constraints),
        f"tempest=={version}",
    ]


def read_marker(base: Path) -> dict[str, str]:
    try:
        data = json.loads((base / MARKER).read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def up_to_date(base: Path, venv: Path, want_digest: str, version: str) -> bool:
    """The venv holds tempest `version`, built from constraints of `want_digest`."""
    marker = read_marker(base)
    return (
        marker.get("constraints_sha256") == want_digest
        and marker.get("tempest") == version
        and (venv / "bin" / "tempest").exists()
    )


def _write_marker(base: Path, data: dict[str, str]) -> None:
    tmp = private_temp(base, MARKER, json.dumps(data, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, base / MARKER)


def _tail(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    return "\n".join(lines[-TAIL_LINES:])


def _step(run: Run, cmd: list[str], log: Path, doing: str) -> None:
    """Run one install step with its output appended to `log`; a failure shows the
    output's last lines (pip prints no secret) and where the rest is."""
    try:
        proc = run(cmd, capture_output=True, text=True, timeout=PIP_TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        raise DcnError(
            f"{doing} did not finish within {PIP_TIMEOUT} s",
            hint="check this machine's access to PyPI, then run 'dcn verify' again",
        ) from None
    except OSError as exc:
        raise DcnError(
            f"{doing}: {exc.strerror or exc}", hint="is python3-venv installed?"
        ) from None
    output = (proc.stdout or "") + (proc.stderr or "")
    with open(log, "a", encoding="utf-8", opener=private_opener) as handle:
        handle.write(f"$ {' '.join(cmd)}\n{output}\n")
    if proc.returncode != 0:
        raise DcnError(
            f"{doing} failed (exit {proc.returncode}):\n{_tail(output)}",
            hint=f"the whole output is in {log}; check access to PyPI and that "
            "constraints/tempest.txt installs on this Python",
        )


def ensure(base: Path, constraints: Path | None = None, run: Run = subprocess.run) -> Installed:
    """Tempest's venv at `base`/venv, built from `constraints` unless it already is."""
    constraints = constraints or constraints_file()
    text = constraints.read_text()
    version, want = pinned_version(text), digest(text)
    venv = base / "venv"
    if up_to_date(base, venv, want, version):
        return Installed(venv, version, changed=False)
    base.mkdir(mode=0o700, parents=True, exist_ok=True)
    (base / MARKER).unlink(missing_ok=True)  # a half-built venv is never taken as done
    if venv.exists():
        shutil.rmtree(venv)
    log = base / "install.log"
    log.unlink(missing_ok=True)
    _step(run, venv_command(venv), log, "creating Tempest's virtualenv")
    _step(run, pip_command(venv, constraints, version), log, f"installing tempest {version}")
    _write_marker(base, {"constraints_sha256": want, "tempest": version})
    return Installed(venv, version, changed=True)
