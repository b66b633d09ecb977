"""``apply.py`` on a node: the deploy's files written in one call, its units applied a
level at a time (steps, processes, health ports), against a temporary directory and,
for processes, a ``systemctl`` stand-in."""

from __future__ import annotations

import errno
import getpass
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dcn.deploy.runner import unit_reports
from dcn.node import apply

PROGRAM = Path(apply.__file__)
ME = getpass.getuser()


def run(
    command: str, doc: dict, *args: str, logs: Path | None = None
) -> subprocess.CompletedProcess:
    """apply.py on this machine, with no unit of dcn's (DCN_UNIT_DIR: none there) and
    failed steps' output kept in `logs`."""
    env = {**os.environ, "DCN_UNIT_DIR": "/nonexistent/dcn-units"}
    if logs is not None:
        env["DCN_STEP_LOGS"] = str(logs)
    return subprocess.run(
        [sys.executable, str(PROGRAM), command, *args],
        input="\n" + json.dumps(doc),
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


def test_write_reports_what_it_changed_and_nothing_the_second_time(tmp_path: Path) -> None:
    secret = "s3cret-Value-42"
    doc = {
        "dirs": [{"path": f"{tmp_path}/etc/svc", "owner": ME, "mode": "0750"}],
        "files": [
            {
                "path": f"{tmp_path}/etc/svc/a.conf",
                "content": f"pw={secret}\n",
                "mode": "0640",
                "owner": ME,
            },
            {"path": f"{tmp_path}/etc/other/b.conf", "content": "b\n", "mode": "0644", "owner": ME},
        ],
    }
    first = run("write", doc)
    assert first.returncode == 0, first.stderr
    assert first.stdout.split() == [p["path"] for p in doc["dirs"] + doc["files"]]
    assert secret not in first.stdout + first.stderr
    assert (tmp_path / "etc/svc/a.conf").read_text() == f"pw={secret}\n"
    assert (tmp_path / "etc/svc/a.conf").stat().st_mode & 0o7777 == 0o640
    assert (tmp_path / "etc/svc").stat().st_mode & 0o7777 == 0o750
    assert run("write", doc).stdout == ""

    doc["files"][1]["content"] = "b2\n"
    os.chmod(tmp_path / "etc/svc/a.conf", 0o644)
    again = run("write", doc)
    assert again.stdout.split() == [doc["files"][0]["path"], doc["files"][1]["path"]]
    assert (tmp_path / "etc/svc/a.conf").stat().st_mode & 0o7777 == 0o640
    assert not list((tmp_path / "etc/svc").glob(".dcn-*")), "no temporary file left"


def test_a_file_that_cannot_be_renamed_over_is_written_in_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """/etc/hosts bind-mounted into a lab node: rename fails with EBUSY."""
    target = tmp_path / "hosts"
    target.write_text("old\n")
    inode = target.stat().st_ino

    def busy(src: str, dst: str) -> None:
        raise OSError(errno.EBUSY, "busy")

    monkeypatch.setattr(apply.os, "rename", busy)
    assert apply.write_file(str(target), "new and longer\n", "0644", ME)
    assert target.read_text() == "new and longer\n" and target.stat().st_ino == inode
    assert not list(tmp_path.glob(".dcn-*"))


def test_write_names_the_path_it_could_not_write_and_shows_no_content(tmp_path: Path) -> None:
    doc = {
        "files": [
            {
                "path": f"{tmp_path}/x.conf",
                "content": "hidden-Value-9\n",
                "mode": "0600",
                "owner": "no-such-user-dcn",
            },
        ]
    }
    done = run("write", doc)
    assert done.returncode != 0
    assert f"{tmp_path}/x.conf" in done.stderr and "no-such-user-dcn" in done.stderr
    assert "hidden-Value-9" not in done.stdout + done.stderr
    assert "Traceback" not in done.stderr


def step(tmp_path: Path, name: str, script: str) -> dict:
    return {
        "name": name,
        "argv": ["/bin/sh", "-c", script],
        "env": {"STEP_OUT": str(tmp_path / "ran")},
        "marker": str(tmp_path / "markers" / name),
    }


def test_units_run_their_steps_once_and_report_each_unit(tmp_path: Path) -> None:
    record = 'echo "$0" >> "$STEP_OUT"'
    doc = {
        "listen_host": "127.0.0.1",
        "units": [
            {
                "service": "a",
                "pre": [step(tmp_path, "a1", record)],
                "processes": [],
                "post": [step(tmp_path, "a2", record)],
            },
            {"service": "b", "pre": [step(tmp_path, "b1", record)], "processes": [], "post": []},
        ],
    }
    stamp = tmp_path / "applied"
    first = run("units", doc, "--stamp", str(stamp), "sha256:abc")
    assert first.returncode == 0, first.stderr
    assert stamp.read_text() == "sha256:abc" and stamp.stat().st_mode & 0o777 == 0o600
    assert sorted(unit_reports({"stdout": first.stdout})) == [
        ("a", "changed", "step a1, step a2"),
        ("b", "changed", "step b1"),
    ]
    assert (tmp_path / "ran").read_text().count("/bin/sh") == 3
    again = run("units", doc)
    assert sorted(unit_reports({"stdout": again.stdout})) == [("a", "ok", ""), ("b", "ok", "")]
    assert (tmp_path / "ran").read_text().count("/bin/sh") == 3


def test_a_failed_step_fails_its_unit_alone_and_leaves_no_marker(tmp_path: Path) -> None:
    doc = {
        "listen_host": "127.0.0.1",
        "units": [
            {
                "service": "bad",
                "processes": [],
                "post": [],
                "pre": [step(tmp_path, "sync", "echo starting; echo 'schema: broken' >&2; exit 3")],
            },
            {"service": "good", "processes": [], "post": [], "pre": [step(tmp_path, "ok", "true")]},
        ],
    }
    done = run("units", doc, "--stamp", str(tmp_path / "applied"), "sha256:abc", logs=tmp_path)
    assert done.returncode == 1
    assert not (tmp_path / "applied").exists(), "a failed level leaves no stamp"
    reports = dict((u, (o, m)) for u, o, m in unit_reports({"stdout": done.stdout}))
    assert reports["good"] == ("changed", "step ok")
    assert reports["bad"] == ("failed", "step sync failed (exit 3): schema: broken")
    assert not (tmp_path / "markers" / "sync").exists()
    assert (tmp_path / "markers" / "ok").exists()
    kept = tmp_path / "sync.log"
    assert kept.read_text() == "starting\nschema: broken\n" and kept.stat().st_mode & 0o777 == 0o600


def test_a_quiet_step_that_fails_shows_no_output(tmp_path: Path) -> None:
    """A step reading a secret-bearing file (MariaDB's users SQL): an error may quote it."""
    secret = "Pa55-word-in-sql"
    failing = step(tmp_path, "users", f"echo \"ERROR near 'IDENTIFIED BY {secret}'\" >&2; exit 1")
    doc = {
        "listen_host": "127.0.0.1",
        "units": [
            {"service": "mariadb", "processes": [], "pre": [], "post": [{**failing, "quiet": True}]}
        ],
    }
    done = run("units", doc, logs=tmp_path / "logs")
    assert done.returncode == 1 and secret not in done.stdout + done.stderr
    ((_, outcome, message),) = unit_reports({"stdout": done.stdout})
    kept = tmp_path / "logs" / "users.log"
    assert outcome == "failed" and str(kept) in message
    assert secret in kept.read_text() and kept.stat().st_mode & 0o777 == 0o600


def test_a_health_port_nobody_answers_fails_the_unit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(apply.Failed, match=f"nothing answers on 127.0.0.1:{port}"):
        apply.answering("127.0.0.1", port, 0.3)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        apply.answering("127.0.0.1", s.getsockname()[1], 5)


def test_the_runner_reads_only_well_formed_unit_lines() -> None:
    out = "\n".join(
        [
            "noise",
            'dcn-unit {"service": "x", "changed": [], "failed": ""}',
            "dcn-unit {not json",
            'dcn-unit {"service": "y"}',
        ]
    )
    assert unit_reports({"stdout": out}) == [("x", "ok", "")]
