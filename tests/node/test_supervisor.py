"""The node supervisor, run for real as a subprocess on directories in tmp_path.

It supervises ``sleep 300``; the tests change its spec file, crash it, hold and
release it, remove it, and shut the supervisor down, reading ``supervisor.json`` as
an operator would. Waits are bounded polls (no timing assertions); every process
started here is killed in teardown whatever happens.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SUPERVISOR = ROOT / "src" / "dcn" / "node" / "supervisor.py"
NAME = "sleeper"
COMMAND = ["sleep", "300"]
POLLS, POLL_INTERVAL = 200, 0.05
#: a bound against hangs only (the supervisor stops a child within its grace period)
HANG_GUARD = 60

Status = dict[str, dict]


def alive(pid: int) -> bool:
    """True while `pid` is our ``sleep 300`` and not a zombie (a reused pid is not)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    state = stat.rsplit(")", 1)[1].split()[0]
    return cmdline.split(b"\0")[:2] == [c.encode() for c in COMMAND] and state != "Z"


class Supervisor:
    def __init__(self, tmp_path: Path) -> None:
        self.specs = tmp_path / "processes.d"
        self.run_dir = tmp_path / "run"
        self.logs = tmp_path / "log"
        self.workdir = tmp_path / "work"
        self.workdir.mkdir()
        self.env = {
            **os.environ,
            "DCN_PROCESSES_DIR": str(self.specs),
            "DCN_RUN_DIR": str(self.run_dir),
            "DCN_LOG_DIR": str(self.logs),
        }
        self.out = tmp_path / "supervisor.out"
        self.proc: subprocess.Popen[bytes] | None = None
        self.pids: set[int] = set()

    def start(self) -> subprocess.Popen[bytes]:
        with open(self.out, "ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, str(SUPERVISOR), "run"],
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        return self.proc

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, str(SUPERVISOR), *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=HANG_GUARD,
            check=False,
        )

    def write_spec(self, digest: str) -> None:
        self.specs.mkdir(parents=True, exist_ok=True)
        body = {
            "name": NAME,
            "command": COMMAND,
            "workdir": str(self.workdir),
            "env": {"DCN_TEST": "1"},
            "digest": digest,
        }
        tmp = self.specs / f".{NAME}.tmp"  # not *.json: the supervisor never reads it
        tmp.write_text(json.dumps(body))
        tmp.replace(self.specs / f"{NAME}.json")

    def status(self) -> Status:
        try:
            state = json.loads((self.run_dir / "supervisor.json").read_text())
        except FileNotFoundError:
            return {}
        self.pids |= {s["pid"] for s in state.values() if s.get("pid")}
        return state

    def wait(self, what: str, ok: Callable[[Status], bool]) -> Status:
        state: Status = {}
        for _ in range(POLLS):
            state = self.status()
            if ok(state):
                return state
            assert self.proc is None or self.proc.poll() is None, "the supervisor exited"
            time.sleep(POLL_INTERVAL)
        log = self.logs / "supervisor.log"
        tail = log.read_text()[-2000:] if log.exists() else ""
        pytest.fail(f"never saw {what}; last status {state}\n{tail}")

    def wait_running(self, what: str, not_pid: int | None = None) -> dict:
        def ok(state: Status) -> bool:
            s = state.get(NAME)
            return bool(s and s["state"] == "running" and s["pid"] and s["pid"] != not_pid)

        return self.wait(what, ok)[NAME]

    def cleanup(self) -> None:
        self.status()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=HANG_GUARD)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for pid in self.pids:
            if alive(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pid, signal.SIGKILL)


@pytest.fixture
def supervisor(tmp_path: Path) -> Iterator[Supervisor]:
    sup = Supervisor(tmp_path)
    try:
        yield sup
    finally:
        sup.cleanup()


def test_supervisor_lifecycle(supervisor: Supervisor) -> None:
    sup = supervisor
    sup.write_spec("digest-a")
    proc = sup.start()

    # started from its spec
    first = sup.wait_running("the process started")
    assert first["digest"] == "digest-a" and first["restarts"] == 0
    assert alive(first["pid"])
    assert (sup.logs / f"{NAME}.log").exists()
    assert int((sup.run_dir / "supervisor.pid").read_text()) == proc.pid

    # a changed definition restarts it
    sup.write_spec("digest-b")
    second = sup.wait_running("a restart for the new digest", not_pid=first["pid"])
    assert second["digest"] == "digest-b"
    assert not alive(first["pid"])

    # a crash restarts it, and is counted
    os.kill(second["pid"], signal.SIGKILL)
    third = sup.wait_running("a restart after SIGKILL", not_pid=second["pid"])
    assert third["restarts"] == second["restarts"] + 1
    assert third["last_exit"] == -signal.SIGKILL
    assert not alive(second["pid"])

    # held: stopped and kept stopped
    assert sup.cli("stop", NAME).returncode == 0
    held = sup.wait("the process held", lambda s: s.get(NAME, {}).get("state") == "held")
    assert held[NAME]["pid"] is None
    assert not alive(third["pid"])

    # released: running again
    assert sup.cli("start", NAME).returncode == 0
    fourth = sup.wait_running("the process released", not_pid=third["pid"])
    assert alive(fourth["pid"])

    # spec removed: stopped and forgotten
    (sup.specs / f"{NAME}.json").unlink()
    sup.wait("the process removed", lambda s: NAME not in s)
    assert not alive(fourth["pid"])

    # shutdown: the supervisor exits and leaves nothing running
    sup.write_spec("digest-c")
    fifth = sup.wait_running("the process started again", not_pid=fourth["pid"])
    assert sup.cli("shutdown").returncode == 0
    assert proc.wait(timeout=HANG_GUARD) == 0
    assert fifth["pid"] in sup.pids and len(sup.pids) == 5
    assert not [pid for pid in sup.pids if alive(pid)]


def test_a_second_supervisor_exits_at_once(supervisor: Supervisor) -> None:
    sup = supervisor
    sup.write_spec("digest-a")
    proc = sup.start()
    sup.wait_running("the first supervisor running its process")

    second = subprocess.run(
        [sys.executable, str(SUPERVISOR), "run"],
        env=sup.env,
        capture_output=True,
        timeout=HANG_GUARD,
        check=False,
    )
    assert second.returncode == 0
    assert proc.poll() is None, "the first supervisor must keep running"
    assert int((sup.run_dir / "supervisor.pid").read_text()) == proc.pid
    assert sup.cli("ensure").stdout.strip() == "running"

    assert sup.cli("shutdown").returncode == 0
    assert proc.wait(timeout=HANG_GUARD) == 0
    assert not [pid for pid in sup.pids if alive(pid)]


def test_under_systemd_the_supervisor_is_a_unit_that_comes_back() -> None:
    """On a host with systemd the supervisor is a unit: started at boot (a reboot
    brings every process back) and restarted when it dies."""
    from dcn.node import supervisor as module

    text = module.unit_text()
    assert "Restart=always" in text
    assert "WantedBy=multi-user.target" in text
    assert f"{Path(module.__file__).resolve()} run" in text
