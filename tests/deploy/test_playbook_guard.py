"""A dcn killed with SIGKILL takes its Ansible run with it.

A real run: `run_playbook` starts ansible-playbook (through ansible-runner and the
guard) on a local playbook whose task runs a long command; the process that called it
is killed with SIGKILL once the task runs; then no process naming the run directory
may remain (ansible-playbook, its worker, the task's own command). No host, no lab.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest

from dcn.deploy import runner, runs
from dcn.deploy.runner import GUARD
from dcn.lab import Connection

#: generous bounds for a loaded CI machine; the loops end as soon as the state is seen
START_WAIT = 120.0
GONE_WAIT = 60.0

PLAYBOOK = """\
- hosts: localhost
  gather_facts: false
  tasks:
    - name: a long task that names the run directory on its command line
      command: "{{ ansible_playbook_python }} -c 'import time; time.sleep(300)' {{ marker }}"
"""

SCRIPT = """\
import sys
from pathlib import Path

from dcn.deploy import runner
from dcn.lab import Connection

run_dir, playbooks = Path(sys.argv[1]), Path(sys.argv[2])
host = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
runner.write_inventory(run_dir, {"local": {"localhost": host}}, {})
conn = Connection(Path("/nonexistent"), None)  # root: no become; local: no key used
result = runner.run_playbook(
    run_dir, "long.yml", conn, {"marker": str(run_dir)}, print, 1, playbooks=playbooks
)
print("finished", result.status, flush=True)
"""


def naming(run_dir: Path) -> dict[int, Path]:
    return runs.leftover_processes([run_dir])


def cmdlines(pids: Iterable[int]) -> list[str]:
    out = []
    for pid in pids:
        with contextlib.suppress(OSError):
            out.append(Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode())
    return out


def wait_for(predicate, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return predicate()


@pytest.fixture
def run_dir(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "state" / "runs" / "site-1-0123abcd"
    path.mkdir(parents=True, mode=0o700)
    yield path
    runs.stop_processes(naming(path), wait=5)  # only what this test started, by pid


def test_a_killed_dcn_leaves_no_ansible_process(tmp_path: Path, run_dir: Path) -> None:
    playbooks = tmp_path / "playbooks"
    playbooks.mkdir()
    (playbooks / "long.yml").write_text(PLAYBOOK)
    script = tmp_path / "deploy_like_dcn.py"
    script.write_text(SCRIPT)
    proc = subprocess.Popen(
        [sys.executable, str(script), str(run_dir), str(playbooks)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # our own process group stays out of it
    )
    try:

        def task_runs() -> bool:
            return any("time.sleep(300)" in c for c in cmdlines(naming(run_dir)))

        assert wait_for(lambda: task_runs() or proc.poll() is not None, START_WAIT)
        assert proc.poll() is None, proc.communicate()[0].decode(errors="replace")
        started = cmdlines(naming(run_dir))
        assert any("playbook_guard.py" in c for c in started), started
        assert any("ansible-playbook" in c and "playbook_guard" not in c for c in started)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        assert proc.stdout is not None
        proc.stdout.close()
    assert wait_for(lambda: not naming(run_dir), GONE_WAIT), cmdlines(naming(run_dir))
    # the owner record stays behind: the next dcn command cleans up the secrets
    assert (run_dir / "inventory").exists()
    assert runs.sweep(run_dir.parent.parent) == [run_dir]
    assert not (run_dir / "inventory").exists() and not (run_dir / "env").exists()
    owner = runs.owner_of(run_dir)
    assert owner is not None and owner[0].pid == proc.pid and owner[1] is True


def test_the_guard_runs_nothing_when_its_parent_is_not_the_expected_one() -> None:
    """The parent died before the guard asked for its death signal: nothing starts."""
    done = subprocess.run(
        [sys.executable, "-I", str(GUARD), "--parent", "1", "--", "--version"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1
    assert "ansible-playbook" not in done.stdout


def test_the_guard_runs_ansible_playbook_for_its_parent() -> None:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    code = (
        "import os, subprocess, sys; "
        "sys.exit(subprocess.run([sys.executable, '-I', sys.argv[1], '--parent', "
        "str(os.getpid()), '--', '--version']).returncode)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(GUARD)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "ansible-playbook" in done.stdout


def test_events_and_results_come_through_the_guard(tmp_path: Path, run_dir: Path) -> None:
    """ansible-runner with the guard as its command: each host's steps arrive as before."""
    playbooks = tmp_path / "playbooks"
    playbooks.mkdir()
    (playbooks / "quick.yml").write_text(
        "- hosts: localhost\n  gather_facts: false\n  tasks:\n"
        "    - name: says the variable\n      command: echo {{ word }}\n"
    )
    host = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
    runner.write_inventory(run_dir, {"local": {"localhost": host}}, {})
    steps: list[runner.StepEvent] = []
    result = runner.run_playbook(
        run_dir,
        "quick.yml",
        Connection(Path("/nonexistent"), None),
        {"word": "through"},
        steps.append,
        1,
        playbooks=playbooks,
    )
    assert result.succeeded and result.hosts["localhost"].changed == 1
    assert ("localhost", "says the variable", "changed") in [
        (s.host, s.task, s.outcome) for s in steps
    ]
    runner.clean(run_dir)
    assert runs.owner_of(run_dir) is None and not (run_dir / "inventory").exists()
