"""``unitctl.py check``: what differs between what a deploy would apply to a node and the
node, against a temporary directory (files, modes, markers, stamps) and stand-ins for
systemd (``DCN_UNIT_DIR`` holding dcn's unit files, a ``systemctl`` on PATH that
answers ``show``, the started-digest directory)."""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from dcn.deploy import units
from dcn.plan.types import ProcessSpec

API = ProcessSpec(name="nova-api", command=("/opt/dcn/venv/bin/gunicorn",))
DB = ProcessSpec(name="mariadb", packaged_unit="mariadb.service")
RUNNING = {
    "LoadState": "loaded",
    "ActiveState": "active",
    "SubState": "running",
    "MainPID": "42",
    "NRestarts": "0",
    "ActiveEnterTimestampMonotonic": "1",
    "UnitFileState": "enabled",
    "NeedDaemonReload": "no",
}

FAKE_SYSTEMCTL = """#!{python}
import json, os, sys
args = sys.argv[1:]
if args[:1] != ["show"]:
    sys.exit(1)
states = json.loads(open(os.environ["FAKE_UNITS"]).read())
names = [a for a in args[1:] if not a.startswith("--")]
props = [a.split("=", 1)[1] for a in args[1:] if a.startswith("--property=")]
blocks = []
for name in names:
    gone = {{"LoadState": "not-found", "ActiveState": "inactive"}}
    state = {{"Id": name, **states.get(name, gone)}}
    blocks.append("\\n".join(f"{{p}}={{state[p]}}" for p in props if p in state))
if os.environ.get("FAKE_REVERSED") and len(blocks) > 1:
    blocks.reverse()
print("\\n\\n".join(blocks))
"""


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@pytest.fixture
def node(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """unitctl with a stand-in node: unit files in `units/`, started digests in
    `started/`, systemd's state in `systemd.json`."""
    unit_dir = tmp_path / "units"
    unit_dir.mkdir()
    monkeypatch.setenv("DCN_UNIT_DIR", str(unit_dir))
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "systemctl"
    fake.write_text(FAKE_SYSTEMCTL.format(python=sys.executable))
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_UNITS", str(tmp_path / "systemd.json"))
    from dcn.node import unitctl

    module = importlib.reload(unitctl)
    monkeypatch.setattr(module, "STARTED_DIR", tmp_path / "started")
    return module


def install(tmp_path: Path, spec: ProcessSpec, digest: str, started: str | None, **state) -> None:
    """A process's unit file as the deploy writes it, systemd's view of it, and the
    digest its running process started with (None: not started)."""
    path = tmp_path / "units" / units.unit_path(spec).removeprefix(units.UNIT_DIR + "/")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(units.render(spec, digest))
    known = tmp_path / "systemd.json"
    states = json.loads(known.read_text()) if known.exists() else {}
    states[units.unit_name(spec)] = {**RUNNING, **state}
    known.write_text(json.dumps(states))
    if started is not None:
        (tmp_path / "started").mkdir(exist_ok=True)
        (tmp_path / "started" / spec.name).write_text(started + "\n")


def files_request(tmp_path: Path) -> dict:
    """Three planned files (one hand-edited since, one deleted), a directory, a step
    marker that is there and one that is not, the applied stamp."""
    etc = tmp_path / "etc"
    etc.mkdir()
    (etc / "same.conf").write_text("a = 1\n")
    (etc / "same.conf").chmod(0o640)
    (etc / "edited.conf").write_text("a = 2  # by hand\n")
    (tmp_path / "steps").mkdir()
    (tmp_path / "steps" / "db_sync.1234").write_text("")
    (tmp_path / "applied").write_text("sha256:planned")
    (tmp_path / "applied").chmod(0o600)
    return {
        "applied": {
            str(tmp_path / "applied"): "sha256:planned",
            str(tmp_path / "applied-networks"): "sha256:n",
        },
        "files": {
            str(etc / "same.conf"): sha("a = 1\n"),
            str(etc / "edited.conf"): sha("a = 1\n"),
            str(etc / "gone.conf"): sha("x\n"),
        },
        "modes": {
            str(etc / "same.conf"): {"mode": "0640"},
            str(etc / "edited.conf"): {"mode": "0600"},
            str(etc): {"mode": "0755"},
        },
        "markers": [str(tmp_path / "steps" / "db_sync.1234"), str(tmp_path / "steps" / "x.1")],
    }


def test_files_that_match_differ_or_are_gone(tmp_path: Path, node: ModuleType) -> None:
    request = files_request(tmp_path)
    (tmp_path / "etc").chmod(0o755)
    (tmp_path / "etc" / "edited.conf").chmod(0o644)
    answer = node.check(request)
    etc = tmp_path / "etc"
    assert answer["applied"] == {
        str(tmp_path / "applied"): True,
        str(tmp_path / "applied-networks"): None,  # no successful run left one
    }
    assert answer["differ"] == [str(etc / "edited.conf")]
    assert answer["missing"] == [str(etc / "gone.conf")]
    assert answer["modes"] == {str(etc / "edited.conf"): "mode 0644 (planned 0600)"}
    assert answer["markers"] == [str(tmp_path / "steps" / "x.1")]
    # no processes asked about: none answered
    assert answer["processes"] == {} and answer["extra"] == []


def test_everything_in_place_answers_nothing(tmp_path: Path, node: ModuleType) -> None:
    request = files_request(tmp_path)
    etc = tmp_path / "etc"
    (etc / "edited.conf").write_text("a = 1\n")
    (etc / "edited.conf").chmod(0o600)
    (etc / "gone.conf").write_text("x\n")
    (tmp_path / "steps" / "x.1").write_text("")
    etc.chmod(0o755)
    del request["applied"][str(tmp_path / "applied-networks")]
    answer = node.check(request)
    assert answer == {
        "applied": {str(tmp_path / "applied"): True},
        "differ": [],
        "missing": [],
        "modes": {},
        "markers": [],
        "processes": {},
        "extra": [],
    }


def test_an_applied_stamp_of_another_plan(tmp_path: Path, node: ModuleType) -> None:
    (tmp_path / "applied").write_text("sha256:older")
    answer = node.check({"applied": {str(tmp_path / "applied"): "sha256:planned"}})
    assert answer["applied"] == {str(tmp_path / "applied"): False}


def test_owner_and_group_are_compared_by_name(tmp_path: Path, node: ModuleType) -> None:
    import grp
    import pwd

    path = tmp_path / "f"
    path.write_text("x")
    path.chmod(0o640)
    st = path.stat()
    me, group = pwd.getpwuid(st.st_uid).pw_name, grp.getgrgid(st.st_gid).gr_name
    same = {"mode": "0640", "owner": me, "group": group}
    other = {"mode": "0640", "owner": "dcn-no-such-user", "group": group}
    answer = node.check({"modes": {str(path): same, str(tmp_path / "g"): same}})
    assert answer["modes"] == {str(tmp_path / "g"): "missing"}
    answer = node.check({"modes": {str(path): other}})
    assert answer["modes"] == {str(path): f"owner {me} (planned dcn-no-such-user)"}


def test_processes_running_their_planned_definition(tmp_path: Path, node: ModuleType) -> None:
    install(tmp_path, API, "dapi", "dapi")
    install(tmp_path, DB, "ddb", "ddb")
    answer = node.check({"processes": {"nova-api": "dapi", "mariadb": "ddb"}})
    assert answer["processes"] == {} and answer["extra"] == []


@pytest.mark.parametrize(
    ("started", "state", "why"),
    [
        ("dold", {}, "runs digest dold, planned dapi"),
        ("dapi", {"ActiveState": "failed", "SubState": "failed"}, "failed (failed)"),
        ("dapi", {"UnitFileState": "disabled"}, "not enabled (disabled)"),
        ("dapi", {"NeedDaemonReload": "yes"}, "unit file not loaded by systemd"),
        (None, {}, "runs digest unknown, planned dapi"),
    ],
)
def test_a_process_not_running_its_planned_definition(
    tmp_path: Path, node: ModuleType, started: str | None, state: dict, why: str
) -> None:
    install(tmp_path, API, "dapi", started, **state)
    install(tmp_path, DB, "ddb", "ddb")
    answer = node.check({"processes": {"nova-api": "dapi", "mariadb": "ddb"}})
    assert answer["processes"] == {"nova-api": why}


def test_units_missing_from_or_not_planned_on_the_node(tmp_path: Path, node: ModuleType) -> None:
    """A planned process without a unit, a unit file of another definition, and a dcn
    unit the plan no longer has (the deploy would retire it)."""
    install(tmp_path, API, "dother", "dother")
    install(tmp_path, DB, "ddb", "ddb")
    answer = node.check({"processes": {"nova-api": "dapi", "nova-compute": "dc"}})
    assert answer["processes"] == {
        "nova-api": "unit file digest dother, planned dapi",
        "nova-compute": "no unit",
    }
    assert answer["extra"] == ["mariadb.service"]


def test_the_command_reads_json_and_answers_json(tmp_path: Path) -> None:
    """As the deploy runs it over SSH: the request on stdin, no arguments; an older
    program without `check` fails, which the deploy reads as: run Ansible."""
    from dcn.node import source

    program = tmp_path / "unitctl.py"
    program.write_text(source("unitctl.py"))
    request = files_request(tmp_path)
    proc = subprocess.run(
        [sys.executable, str(program), "check"],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "DCN_UNIT_DIR": str(tmp_path)},
    )
    assert proc.returncode == 0, proc.stderr
    answer = json.loads(proc.stdout)
    assert answer["missing"] == [str(tmp_path / "etc" / "gone.conf")]
    # only paths and names come back, never a hash or a content
    assert sha("a = 1\n") not in proc.stdout and "a = 2" not in proc.stdout
    old = subprocess.run(
        [sys.executable, str(program), "check", "extra-argument"],
        input="{}",
        capture_output=True,
        text=True,
        check=False,
    )
    assert old.returncode != 0


def test_blocks_that_are_not_the_units_asked_for_are_not_trusted(
    tmp_path: Path, node: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One `systemctl show` for every unit is read block by block only while each block
    is the unit asked for; otherwise each unit is shown on its own."""
    install(tmp_path, API, "dapi", "dapi", ActiveState="failed", SubState="failed")
    install(tmp_path, DB, "ddb", "ddb")
    monkeypatch.setenv("FAKE_REVERSED", "1")
    answer = node.check({"processes": {"nova-api": "dapi", "mariadb": "ddb"}})
    assert answer["processes"] == {"nova-api": "failed (failed)"}
