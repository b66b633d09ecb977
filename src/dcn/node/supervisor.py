"""dcn-supervisor: keeps a node's long-running processes running.

On a host with systemd it runs as the ``dcn-supervisor`` unit (installed by
``ensure``), so a reboot brings it and every process back; without systemd (a lab
node that shares the machine's root) it runs detached.

Declarative: each process is one JSON file in ``/etc/dcn/processes.d/<name>.json``
(``name``, ``command``, ``workdir``, ``env``, ``digest``). Every second the supervisor
compares the files with what runs: it starts what is missing, restarts a process whose
file changed (the digest covers its delivered config, so a changed config restarts it
and an unchanged deploy restarts nothing), stops what was removed, and restarts a
process that exited, with a growing back-off. An operator (or a drill) holds a process
stopped with ``supervisor.py stop NAME`` and releases it with ``start NAME``.

Standard library only; one instance per node (an flock on its pid file). Output of each
process goes to ``/var/log/dcn/<name>.log``; the state to ``/run/dcn/supervisor.json``.

Usage: supervisor.py ensure | run | status | stop NAME | start NAME | kill NAME | shutdown
       supervisor.py wait NAME DIGEST SECONDS   (until NAME runs that definition)
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

SPECS = Path(os.environ.get("DCN_PROCESSES_DIR", "/etc/dcn/processes.d"))
RUN = Path(os.environ.get("DCN_RUN_DIR", "/run/dcn"))
LOGS = Path(os.environ.get("DCN_LOG_DIR", "/var/log/dcn"))
PIDFILE = RUN / "supervisor.pid"
STATUS = RUN / "supervisor.json"
HELD = RUN / "held"
TICK = 1.0
STOP_GRACE = 20.0
MAX_BACKOFF = 30.0
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@dataclass
class Child:
    spec: dict
    proc: subprocess.Popen | None = None
    started: float = 0.0
    restarts: int = 0
    next_start: float = 0.0
    last_exit: int | None = None
    history: list = field(default_factory=list)


def log(message: str) -> None:
    line = f"{time.strftime('%Y-%m-%dT%H:%M:%S')} {message}\n"
    with open(LOGS / "supervisor.log", "a") as f:
        f.write(line)


def read_specs() -> dict[str, dict]:
    specs = {}
    for path in sorted(SPECS.glob("*.json")):
        try:
            spec = json.loads(path.read_text())
            specs[spec["name"]] = spec
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log(f"ignoring {path}: {type(exc).__name__}: {exc}")
    return specs


def start(child: Child) -> None:
    spec = child.spec
    env = {"PATH": PATH, "LANG": "C.UTF-8", "HOME": "/root", **spec.get("env", {})}
    out = open(LOGS / f"{spec['name']}.log", "ab")  # noqa: SIM115 - handed to the child
    try:
        child.proc = subprocess.Popen(
            spec["command"],
            cwd=spec.get("workdir") or "/",
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    except OSError as exc:
        log(f"{spec['name']}: cannot start: {exc}")
        child.proc = None
        child.next_start = time.monotonic() + MAX_BACKOFF
        return
    finally:
        out.close()
    child.started = time.monotonic()
    log(f"{spec['name']}: started pid {child.proc.pid}")


def stop(child: Child, sig: int = signal.SIGTERM) -> None:
    proc = child.proc
    if proc is None or proc.poll() is not None:
        child.proc = None
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)
    deadline = time.monotonic() + STOP_GRACE
    while proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    log(f"{child.spec['name']}: stopped (exit {proc.returncode})")
    child.proc = None


def write_status(children: dict[str, Child]) -> None:
    now = time.monotonic()
    state = {}
    for name, c in children.items():
        running = c.proc is not None and c.proc.poll() is None
        state[name] = {
            "state": "running" if running else ("held" if is_held(name) else "exited"),
            "pid": c.proc.pid if running and c.proc else None,
            "uptime": round(now - c.started, 1) if running else 0,
            "restarts": c.restarts,
            "last_exit": c.last_exit,
            "digest": c.spec.get("digest"),
        }
    tmp = STATUS.with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=1, sort_keys=True))
    tmp.replace(STATUS)


def is_held(name: str) -> bool:
    return (HELD / name).exists()


def reconcile(children: dict[str, Child]) -> None:
    specs = read_specs()
    for name in list(children):
        if name not in specs:
            stop(children.pop(name))
    now = time.monotonic()
    for name, spec in specs.items():
        child = children.get(name)
        if child is None:
            child = children[name] = Child(spec)
        elif child.spec != spec:
            log(f"{name}: definition changed, restarting")
            stop(child)
            child.spec, child.next_start = spec, 0.0
        if is_held(name):
            stop(child)
            continue
        if child.proc is not None and child.proc.poll() is not None:
            child.last_exit = child.proc.returncode
            ran = now - child.started
            child.restarts += 1
            backoff = 1.0 if ran > MAX_BACKOFF else min(MAX_BACKOFF, 2.0 ** min(child.restarts, 5))
            child.next_start = now + backoff
            log(f"{name}: exited {child.last_exit} after {ran:.0f}s; restart in {backoff:.0f}s")
            child.proc = None
        if child.proc is None and now >= child.next_start:
            start(child)
    write_status(children)


def run() -> None:
    for d in (RUN, LOGS, HELD, SPECS):
        d.mkdir(parents=True, exist_ok=True)
    lock = open(PIDFILE, "a+")  # noqa: SIM115 - held for the process's life
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        sys.exit(0)  # another supervisor runs
    lock.seek(0)
    lock.truncate()
    lock.write(str(os.getpid()))
    lock.flush()
    children: dict[str, Child] = {}
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    signal.signal(signal.SIGINT, lambda *_: stopping.append(True))
    log(f"supervisor started pid {os.getpid()}")
    while not stopping:
        reconcile(children)
        time.sleep(TICK)
    for child in children.values():
        stop(child)
    log("supervisor stopped")


def running_pid() -> int | None:
    try:
        with open(PIDFILE) as f:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return None  # nobody holds the lock
    except BlockingIOError:
        return int(Path(PIDFILE).read_text().strip() or 0) or None
    except (OSError, ValueError):
        return None


#: where systemd keeps the supervisor running on a host that has systemd (PID 1)
UNIT = Path("/etc/systemd/system/dcn-supervisor.service")


def unit_text() -> str:
    """The supervisor's systemd unit: started at boot, restarted when it dies (its
    processes are its children, so they stop and start with it)."""
    return "\n".join(
        [
            "# managed by dcn",
            "[Unit]",
            "Description=dcn supervisor: the node's OpenStack processes",
            "After=network-online.target",
            "Wants=network-online.target",
            "",
            "[Service]",
            f"ExecStart={sys.executable} {os.path.abspath(__file__)} run",
            "Restart=always",
            "RestartSec=2",
            f"Environment=DCN_PROCESSES_DIR={SPECS} DCN_RUN_DIR={RUN} DCN_LOG_DIR={LOGS}",
            "",
            "[Install]",
            "WantedBy=multi-user.target",
            "",
        ]
    )


def ensure_unit() -> None:
    """systemd runs the supervisor: its unit installed, enabled and started (a reboot
    brings it and every process back). Prints ``started`` or ``running``."""
    text = unit_text()
    changed = not UNIT.exists() or UNIT.read_text() != text
    if changed:
        UNIT.write_text(text)
        subprocess.run(["systemctl", "daemon-reload"], check=True)
    pid = running_pid()
    active = (
        subprocess.run(["systemctl", "is-active", "--quiet", UNIT.name], check=False).returncode
        == 0
    )
    if pid and not active:  # started before by hand, outside systemd: hand it over
        os.kill(pid, signal.SIGTERM)
        for _ in range(200):
            if not running_pid():
                break
            time.sleep(0.1)
    subprocess.run(["systemctl", "enable", "--quiet", UNIT.name], check=True)
    if active and changed:
        subprocess.run(["systemctl", "restart", UNIT.name], check=True)
    elif not active:
        subprocess.run(["systemctl", "start", UNIT.name], check=True)
    for _ in range(50):
        if running_pid():
            break
        time.sleep(0.1)
    print("running" if active and not changed else "started")


def ensure() -> None:
    """Start the supervisor unless it runs; print ``started`` or ``running``. Under
    systemd as a unit (`ensure_unit`), else detached (a lab node without systemd)."""
    if Path("/run/systemd/system").is_dir():
        ensure_unit()
        return
    if running_pid():
        print("running")
        return
    RUN.mkdir(parents=True, exist_ok=True)
    LOGS.mkdir(parents=True, exist_ok=True)
    with open(os.devnull, "rb") as null_in, open(LOGS / "supervisor.out", "ab") as out:
        subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "run"],
            stdin=null_in,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
        )
    for _ in range(50):
        if running_pid():
            break
        time.sleep(0.1)
    print("started")


def hold(name: str, held: bool) -> None:
    HELD.mkdir(parents=True, exist_ok=True)
    marker = HELD / name
    if held:
        marker.touch()
    else:
        marker.unlink(missing_ok=True)


def kill(name: str) -> None:
    """SIGKILL a running process (a crash, for drills); the supervisor restarts it."""
    state = json.loads(STATUS.read_text()).get(name) or {}
    if not state.get("pid"):
        sys.exit(f"{name} is not running")
    os.killpg(state["pid"], signal.SIGKILL)


def wait(name: str, digest: str, seconds: float) -> None:
    """Until `name` runs the definition with `digest` for a moment (bounded): a deploy
    waits on this, so it never checks a process that is about to be restarted."""
    deadline = time.monotonic() + seconds
    state: dict = {}
    while time.monotonic() < deadline:
        try:
            state = json.loads(STATUS.read_text()).get(name) or {}
        except (OSError, ValueError):
            state = {}
        current = state.get("digest") == digest and state.get("state") == "running"
        if current and state.get("uptime", 0) >= 1:
            print(f"{name} running, pid {state['pid']}")
            return
        time.sleep(0.25)
    log_path = LOGS / f"{name}.log"
    tail = log_path.read_text(errors="replace").splitlines()[-5:] if log_path.exists() else []
    sys.exit(f"{name} is not running its new definition: {state}\n" + "\n".join(tail))


def main(argv: list[str]) -> None:
    command = argv[0] if argv else "status"
    if command == "run":
        run()
    elif command == "ensure":
        ensure()
    elif command == "status":
        print(STATUS.read_text() if STATUS.exists() else "{}")
    elif command in ("stop", "start") and len(argv) == 2:
        hold(argv[1], command == "stop")
    elif command == "wait" and len(argv) == 4:
        wait(argv[1], argv[2], float(argv[3]))
    elif command == "kill" and len(argv) == 2:
        kill(argv[1])
    elif command == "shutdown":
        pid = running_pid()
        if pid:
            os.kill(pid, signal.SIGTERM)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
