"""Owner records of run directories, and the sweep every dcn command starts with.

Processes here are small Python sleepers this test starts (in sessions of their own)
whose command lines name a run directory, as ansible-playbook's do.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from dcn.deploy import runs
from dcn.deploy.runner import clean, write_inventory
from dcn.state.records import GenerationRecord, GenerationStatus, LockInfo

SLEEPER = "import sys, time; time.sleep(300)"


@pytest.fixture
def state(tmp_path: Path) -> Path:
    path = tmp_path / "state"
    path.mkdir(mode=0o700)
    return path


@pytest.fixture
def started() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Processes the test starts; whatever is left of them is stopped by pid."""
    procs: list[subprocess.Popen[bytes]] = []
    yield procs
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


def make_run(state: Path, name: str = "dcn0-3-0123abcd") -> Path:
    run_dir = state / "runs" / name
    run_dir.mkdir(parents=True, mode=0o700)
    write_inventory(run_dir, {"site": {"n0": {"ansible_host": "198.51.100.7"}}}, {"n0": {}})
    (run_dir / "env").mkdir(mode=0o700)
    (run_dir / "env" / "extravars").write_text("secret: x\n")
    (run_dir / "artifacts").mkdir()
    return run_dir


def sleeper(run_dir: Path, procs: list[subprocess.Popen[bytes]]) -> subprocess.Popen[bytes]:
    """A process whose command line names `run_dir` (as ansible-playbook's does)."""
    proc = subprocess.Popen(
        [sys.executable, "-c", SLEEPER, f"{run_dir}/inventory"], start_new_session=True
    )
    procs.append(proc)
    # its command line reads empty until exec is done: wait until it shows (bounded)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not Path(f"/proc/{proc.pid}/cmdline").read_bytes():
        time.sleep(0.01)
    return proc


def dead_pid(procs: list[subprocess.Popen[bytes]]) -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    procs.append(proc)
    proc.wait()
    return proc.pid


def write_owner(run_dir: Path, owner: runs.Owner) -> None:
    record = run_dir.parent / runs.OWNERS / f"{run_dir.name}.json"
    record.parent.mkdir(mode=0o700, exist_ok=True)
    record.write_text(json.dumps(asdict(owner)))


def test_the_owner_record_comes_before_the_secrets_and_goes_with_them(state: Path) -> None:
    run_dir = make_run(state)
    record = state / "runs" / runs.OWNERS / f"{run_dir.name}.json"
    assert record.stat().st_mode & 0o777 == 0o600
    me = runs.Owner.me()
    assert runs.Owner.parse(record.read_text()) == me
    assert me.pid == os.getpid() and me.host == socket.gethostname() and me.state() == "alive"
    clean(run_dir)  # what the deployer does when a run ends, however it ends
    assert not record.exists()
    assert not (run_dir / "inventory").exists() and not (run_dir / "env").exists()
    assert (run_dir / "artifacts").exists()


def test_a_live_owners_run_is_left_alone(state: Path, started: list) -> None:
    run_dir = make_run(state)  # owned by this (live) process
    proc = sleeper(run_dir, started)
    assert runs.sweep(state) == []
    assert runs.sweep(state, unowned=True) == []
    assert proc.poll() is None
    assert (run_dir / "inventory" / "hosts.yml").exists()


def test_a_dead_owners_run_is_cleaned_up(state: Path, started: list) -> None:
    run_dir = make_run(state)
    gone = replace(runs.Owner.me(), pid=dead_pid(started))
    write_owner(run_dir, gone)
    proc = sleeper(run_dir, started)
    other = sleeper(make_run(state, "dcn1-2-89abcdef"), started)  # a live owner's run
    assert runs.sweep(state) == [run_dir.absolute()]
    assert proc.wait(timeout=60) is not None  # stopped by the sweep
    assert other.poll() is None
    assert not (run_dir / "inventory").exists() and not (run_dir / "env").exists()
    assert not (state / "runs" / runs.OWNERS / f"{run_dir.name}.json").exists()
    assert runs.owner_of(run_dir) == (gone, True)  # for dcn status
    assert runs.sweep(state) == []  # once


def test_a_reused_pid_is_not_the_owner(state: Path) -> None:
    """Same pid (common in containers), another process: its start time differs."""
    me = runs.Owner.me()
    assert replace(me, start=me.start + 1).state() == "gone"
    assert replace(me, boot="another-boot").state() == "gone"
    run_dir = make_run(state)
    write_owner(run_dir, replace(me, start=me.start + 1))
    assert runs.sweep(state) == [run_dir.absolute()]


def test_another_hosts_run_is_not_judged(state: Path, started: list) -> None:
    run_dir = make_run(state)
    elsewhere = replace(runs.Owner.me(), pid=dead_pid(started), host="elsewhere.example")
    write_owner(run_dir, elsewhere)
    assert elsewhere.state() == "elsewhere"
    assert runs.sweep(state) == []
    assert runs.sweep(state, unowned=True) == []
    assert (run_dir / "inventory").exists()


def test_runs_without_a_record_are_cleaned_only_under_the_lock(state: Path) -> None:
    """An older dcn's run (no record), or a record no dcn wrote: the every-command
    sweep cannot tell whose it is; the deploy's sweep, under the lock, can."""
    old = state / "runs" / "dcn0-1-00000000"
    (old / "inventory").mkdir(parents=True, mode=0o700)
    broken = make_run(state, "dcn1-1-11111111")
    (state / "runs" / runs.OWNERS / f"{broken.name}.json").write_text("{not json")
    assert runs.sweep(state) == []
    assert sorted(runs.sweep(state, unowned=True)) == sorted([old.absolute(), broken.absolute()])
    assert not (old / "inventory").exists() and not (broken / "inventory").exists()


def test_a_symlinked_run_directory_is_not_followed(state: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "inventory").mkdir(parents=True)
    (state / "runs").mkdir(mode=0o700)
    (state / "runs" / "dcn0-1-22222222").symlink_to(elsewhere)
    write_owner(state / "runs" / "dcn0-1-22222222", replace(runs.Owner.me(), start=0))
    runs.sweep(state, unowned=True)
    assert (elsewhere / "inventory").exists()


def test_hostile_records_are_refused() -> None:
    for text in ("[]", '{"pid": -1, "start": 1, "boot": "", "host": ""}', '{"pid": "1"}', "x"):
        assert runs.Owner.parse(text) is None


def test_no_state_dir_no_work(tmp_path: Path) -> None:
    assert runs.sweep(tmp_path / "absent") == []


def record(run_id: str | None, stack: str = "dcn0", number: int = 3) -> GenerationRecord:
    now = datetime.now(UTC)
    return GenerationRecord(
        stack=stack,
        kind="edge",
        az=stack,
        number=number,
        status=GenerationStatus.DEPLOYING,
        input_digest="i",
        plan_digest="p",
        node_count=1,
        outputs_digest=None,
        consumed_export=None,
        run_id=run_id,
        created_at=now,
        updated_at=now,
        _plan_loader=lambda: "{}",
    )


def lock(pid: int, host: str | None = None) -> LockInfo:
    return LockInfo("lab", "dcn deploy dcn0", pid, host or socket.gethostname(), datetime.now(UTC))


def test_who_holds_a_deploying_generation(state: Path, started: list) -> None:
    run_id = "0123abcd" + "0" * 24
    run_dir = make_run(state, f"dcn0-3-{run_id[:8]}")
    live = runs.holder(state, record(run_id), None)
    assert (live.state, live.pid) == ("alive", os.getpid())
    gone = replace(runs.Owner.me(), pid=dead_pid(started))
    write_owner(run_dir, gone)
    held = runs.holder(state, record(run_id), lock(os.getpid()))  # the record decides
    assert (held.state, held.pid, held.status()) == (
        "gone",
        gone.pid,
        f"interrupted (pid {gone.pid} gone)",
    )
    runs.sweep(state)
    assert runs.holder(state, record(run_id), None).interrupted  # from owner.gone.json
    # no record of the run: the deployment's lock
    assert runs.holder(state, record(None), None).status() == "interrupted"
    assert runs.holder(state, record(None), lock(gone.pid)).interrupted
    assert runs.holder(state, record(None), lock(os.getpid())).interrupted  # reused pid
    parent = os.getppid()
    assert runs.holder(state, record(None), lock(parent)).state == "alive"
    far = runs.holder(state, record(None), lock(gone.pid, "elsewhere.example"))
    assert (far.state, far.status()) == ("elsewhere", "deploying (on elsewhere.example)")


def test_leftover_processes_name_the_run_directory_exactly(state: Path, started: list) -> None:
    run_dir = make_run(state, "dcn0-3-0123abcd")
    sleeper(state / "runs" / "dcn0-3-0123abcde", started)  # a longer name: not this run
    mine = sleeper(run_dir, started)
    assert list(runs.leftover_processes([run_dir])) == [mine.pid]


def test_scrub_removes_ansible_runners_record_of_the_environment(state: Path) -> None:
    """artifacts/<id>/command holds dcn's environment (a state URL with a password, an
    OS_PASSWORD): it goes with the host variables; the events stay."""
    run_dir = make_run(state)
    artifact = run_dir / "artifacts" / "0f1e"
    artifact.mkdir(parents=True)
    (artifact / "command").write_text('{"env": {"DCN_STATE_URL": "postgresql://u:pw@h/db"}}')
    (artifact / "job_events").mkdir()
    runs.scrub(run_dir)
    assert not (artifact / "command").exists()
    assert (artifact / "job_events").is_dir()
    assert not (run_dir / "inventory").exists()
