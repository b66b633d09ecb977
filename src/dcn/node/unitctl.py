"""unitctl: dcn's processes on a node, as systemd units (run on the node, by the deploy
and by an operator).

dcn writes one unit file per process (``/etc/systemd/system/dcn-<name>.service``) or a
drop-in of the unit a Debian package ships (``<unit>.d/dcn.conf``); each sets
``DCN_PROCESS`` and ``DCN_DIGEST``, and records at every start the digest it starts
with in ``/run/dcn/units/<name>``. This program reads those files and systemd's state,
so what is on the node is the whole truth:

  ensure NAME UNIT DIGEST SECONDS  reload if a file changed, enable, restart only if
                                   the running process's digest is not DIGEST; then
                                   wait (bounded) until it runs that definition.
                                   Prints "started", "restarted" or "running".
  status                           JSON: process name -> unit, state, pid, restarts...
  retire NAME...                   stop, disable and remove dcn's units of processes
                                   not named (and the supervisor of older dcn releases)
  stop|start|kill NAME             systemctl on the process's unit (kill: SIGKILL to
                                   its main process, a crash: Restart=on-failure
                                   brings it back)
  check                            JSON on stdin (what a deploy would apply: applied
                                   stamps, file hashes and modes, step markers,
                                   process digests), JSON out: what differs. Only
                                   hashes come in and only paths and names go out:
                                   files hold secrets

Standard library only.
"""

from __future__ import annotations

import grp
import hashlib
import json
import os
import pwd
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

UNIT_DIR = Path(os.environ.get("DCN_UNIT_DIR", "/etc/systemd/system"))
STARTED_DIR = Path("/run/dcn/units")
DROP_IN = "dcn.conf"
#: what older dcn releases ran instead of units
OLD_SUPERVISOR = "dcn-supervisor.service"
OLD_PROCESSES = Path("/etc/dcn/processes.d")
#: a process counts as running its definition once it has run this long
SETTLED = 1.0
POLL = 0.25
_VALUE = {name: re.compile(rf'"{name}=([^"]*)"') for name in ("DCN_PROCESS", "DCN_DIGEST")}
PROPERTIES = (
    "LoadState",
    "ActiveState",
    "SubState",
    "MainPID",
    "NRestarts",
    "ActiveEnterTimestampMonotonic",
    "UnitFileState",
    "NeedDaemonReload",
)


def systemctl(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(["systemctl", *args], capture_output=True, text=True, check=False)
    if check and result.returncode != 0:
        sys.exit(f"systemctl {' '.join(args)}: {result.stderr.strip() or result.returncode}")
    return result


def show(unit: str) -> dict[str, str]:
    out = systemctl("show", unit, *(f"--property={p}" for p in PROPERTIES)).stdout
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


def managed() -> dict[str, dict[str, str]]:
    """dcn's process name -> {unit, path, digest} from the unit files and drop-ins."""
    found: dict[str, dict[str, str]] = {}
    candidates = [(p, p.name) for p in sorted(UNIT_DIR.glob("dcn-*.service"))]
    candidates += [
        (p, p.parent.name[: -len(".d")]) for p in sorted(UNIT_DIR.glob(f"*.d/{DROP_IN}"))
    ]
    for path, unit in candidates:
        try:
            text = path.read_text()
        except OSError:
            continue
        name, digest = (_VALUE[k].search(text) for k in ("DCN_PROCESS", "DCN_DIGEST"))
        if name:
            found[name.group(1)] = {
                "unit": unit,
                "path": str(path),
                "digest": digest.group(1) if digest else "",
            }
    return found


def started_digest(name: str) -> str | None:
    """The digest the process's last start ran with (its unit's ExecStartPre)."""
    try:
        return (STARTED_DIR / name).read_text().strip()
    except OSError:
        return None


def state(name: str, unit: str) -> dict:
    props = show(unit)
    pid = int(props.get("MainPID") or 0)
    active = props.get("ActiveState") == "active"
    entered = int(props.get("ActiveEnterTimestampMonotonic") or 0) / 1e6
    return {
        "unit": unit,
        "state": props.get("ActiveState", "unknown"),
        "sub": props.get("SubState", ""),
        "enabled": props.get("UnitFileState", ""),
        "pid": pid or None,
        "restarts": int(props.get("NRestarts") or 0),
        "uptime": round(time.monotonic() - entered, 1) if active and entered else 0,
        "digest": started_digest(name) if active else None,
        "reload": props.get("NeedDaemonReload") == "yes" or props.get("LoadState") == "not-found",
    }


def journal_tail(unit: str, lines: int = 8) -> str:
    result = subprocess.run(
        ["journalctl", "-u", unit, "-n", str(lines), "--no-pager", "-o", "cat"],
        capture_output=True,
        text=True,
        check=False,
    )
    return result.stdout.strip()


class NotRunning(Exception):
    """A process did not come to run its planned definition (the message says how)."""


#: starts of a unit that systemd gave up on ("failed": a unit without a restart policy,
#: such as a package's grouping unit) before the deploy gives up too. In the lab's
#: nspawn nodes a start now and then fails before the process runs (219/CGROUP:
#: systemd could not place it in its cgroup) and succeeds when started again.
START_ATTEMPTS = 3


def converge(name: str, unit: str, digest: str, seconds: float) -> str:
    """Reload if a file changed, enable, restart only if the running process's digest
    is not `digest`, then wait (bounded) until it runs that definition: "started",
    "restarted" or "running" (with the attempt that did it when it took more than one).
    A unit systemd marked failed is started again, up to `START_ATTEMPTS` in all."""
    now = state(name, unit)
    if now["reload"]:
        systemctl("daemon-reload")
    if now["enabled"] != "enabled":
        systemctl("enable", "--quiet", unit)
    if now["state"] == "active" and now["digest"] == digest:
        return "running"
    was_running = now["state"] == "active"
    systemctl("restart", "--no-block", unit)
    attempt, failures = 1, []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        now = state(name, unit)
        if now["state"] == "active" and now["digest"] == digest and now["uptime"] >= SETTLED:
            verb = "restarted" if was_running else "started"
            return verb if attempt == 1 else f"{verb} (attempt {attempt}: {failures[-1]})"
        if now["state"] == "failed":
            failures.append(failure_of(unit))
            if attempt >= START_ATTEMPTS:
                break
            attempt += 1
            systemctl("reset-failed", unit, check=False)
            systemctl("restart", "--no-block", unit)
        time.sleep(POLL)
    shown = {k: now[k] for k in ("state", "sub", "pid", "restarts")}
    tried = f" after {attempt} starts" if attempt > 1 else ""
    raise NotRunning(
        f"{name} ({unit}) is not running its new definition{tried}: {shown}\n{journal_tail(unit)}"
    )


def failure_of(unit: str) -> str:
    """Why systemd marked `unit` failed, as it says (e.g. "exit-code 219/CGROUP")."""
    props = systemctl(
        "show", unit, "--property=Result", "--property=ExecMainStatus", check=False
    ).stdout
    values = dict(line.split("=", 1) for line in props.splitlines() if "=" in line)
    return " ".join(v for v in (values.get("Result"), values.get("ExecMainStatus")) if v)


def ensure(name: str, unit: str, digest: str, seconds: float) -> None:
    try:
        print(converge(name, unit, digest, seconds))
    except NotRunning as exc:
        sys.exit(str(exc))


def status() -> dict:
    return {
        name: {**state(name, u["unit"]), "file_digest": u["digest"]}
        for name, u in managed().items()
    }


def retire(keep: set[str]) -> list[str]:
    """Remove dcn's units of processes no longer planned here; the old supervisor too."""
    retired = []
    if (UNIT_DIR / OLD_SUPERVISOR).exists():
        systemctl("disable", "--now", "--quiet", OLD_SUPERVISOR, check=False)
        (UNIT_DIR / OLD_SUPERVISOR).unlink()
        for spec in OLD_PROCESSES.glob("*.json") if OLD_PROCESSES.is_dir() else ():
            spec.unlink()
        retired.append(OLD_SUPERVISOR)
    for name, unit in managed().items():
        if name in keep:
            continue
        systemctl("disable", "--now", "--quiet", unit["unit"], check=False)
        Path(unit["path"]).unlink()
        retired.append(unit["unit"])
    if retired:
        systemctl("daemon-reload")
    return retired


def _stamp(path: str, digest: str) -> bool | None:
    """Whether a deploy's last successful run left `digest` at `path` (None: none did)."""
    try:
        return Path(path).read_text().strip() == digest
    except OSError:
        return None


def _sha256(path: str) -> str | None:
    h = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 16), b""):
                h.update(block)
    except OSError:
        return None
    return h.hexdigest()


def _name(table, ident: int) -> str:
    try:
        return table(ident)[0]
    except KeyError:
        return str(ident)


def _mode(path: str, want: dict) -> str | None:
    """How `path`'s mode, owner or group differs from `want` (None: it does not)."""
    try:
        st = os.stat(path)
    except OSError:
        return "missing"
    have = {"mode": f"{st.st_mode & 0o7777:04o}"}
    if "owner" in want:
        have["owner"] = _name(pwd.getpwuid, st.st_uid)
    if "group" in want:
        have["group"] = _name(grp.getgrgid, st.st_gid)
    wanted = {**want, "mode": f"{int(want.get('mode', '0'), 8):04o}"} if "mode" in want else want
    wrong = {k: have[k] for k in wanted if have.get(k) != wanted[k]}
    return " ".join(f"{k} {v} (planned {wanted[k]})" for k, v in wrong.items()) or None


def show_many(units: list[str]) -> list[dict[str, str]]:
    """`show` of every unit in one systemctl call, a block per unit in their order; one
    call per unit when a block is not the unit asked for (an alias)."""
    if not units:
        return []
    props = (f"--property={p}" for p in ("Id", *PROPERTIES))
    out = systemctl("show", *units, *props, check=False)
    blocks = [b for b in re.split(r"\n\s*\n", out.stdout.strip()) if b.strip()]
    shown = [dict(ln.split("=", 1) for ln in b.splitlines() if "=" in ln) for b in blocks]
    if out.returncode != 0 or [s.get("Id") for s in shown] != units:
        return [show(u) for u in units]
    return shown


def _process(name: str, digest: str, unit: dict[str, str] | None, props: dict) -> str | None:
    """Why `name` is not running its planned definition (None: it is); what `ensure`
    would act on."""
    if unit is None:
        return "no unit"
    if unit["digest"] != digest:
        return f"unit file digest {unit['digest'] or 'none'}, planned {digest}"
    if props.get("LoadState") != "loaded" or props.get("NeedDaemonReload") == "yes":
        return "unit file not loaded by systemd"
    if props.get("UnitFileState") != "enabled":
        return f"not enabled ({props.get('UnitFileState') or 'unknown'})"
    if props.get("ActiveState") != "active":
        return f"{props.get('ActiveState', 'unknown')} ({props.get('SubState', '')})"
    running = started_digest(name)
    if running != digest:
        return f"runs digest {running or 'unknown'}, planned {digest}"
    return None


def check(request: dict) -> dict:
    """What differs between a deploy's plan for this node and the node (the ``check``
    command): the deploy leaves Ansible out where nothing does."""
    answer: dict = {
        "applied": {p: _stamp(p, d) for p, d in (request.get("applied") or {}).items()},
        "differ": [],
        "missing": [],
        "modes": {},
        "markers": [m for m in request.get("markers") or () if not os.path.lexists(m)],
        "processes": {},
        "extra": [],
    }
    for path, want in (request.get("files") or {}).items():
        have = _sha256(path)
        if have is None:
            answer["missing" if not os.path.lexists(path) else "differ"].append(path)
        elif have != want:
            answer["differ"].append(path)
    for path, want in (request.get("modes") or {}).items():
        wrong = _mode(path, want)
        if wrong and path not in answer["missing"]:
            answer["modes"][path] = wrong
    planned = request.get("processes")
    if planned is None:
        return answer
    units = managed()
    names = [n for n in sorted(planned) if n in units]
    shown = dict(zip(names, show_many([units[n]["unit"] for n in names]), strict=True))
    for name, digest in sorted(planned.items()):
        why = _process(name, digest, units.get(name), shown.get(name, {}))
        if why:
            answer["processes"][name] = why
    answer["extra"] = sorted(units[n]["unit"] for n in units if n not in planned)
    if (UNIT_DIR / OLD_SUPERVISOR).exists():
        answer["extra"].append(OLD_SUPERVISOR)
    return answer


def act(action: str, name: str) -> None:
    units = managed()
    if name not in units:
        sys.exit(f"no process named {name} here; dcn's processes: {', '.join(sorted(units))}")
    unit = units[name]["unit"]
    if action == "kill":
        # the main process, as a crash would (systemd then stops the rest of the unit);
        # `systemctl kill` of the whole cgroup fails in a container on mixed cgroups
        pid = int(show(unit).get("MainPID") or 0)
        if not pid:
            sys.exit(f"{name} ({unit}) is not running")
        os.kill(pid, signal.SIGKILL)
    else:
        systemctl(action, unit)
    print(f"{action} {name} ({unit})")


def main(argv: list[str]) -> None:
    command, args = (argv[0], argv[1:]) if argv else ("status", [])
    if command == "ensure" and len(args) == 4:
        ensure(args[0], args[1], args[2], float(args[3]))
    elif command == "status" and not args:
        print(json.dumps(status(), indent=1, sort_keys=True))
    elif command == "retire":
        done = retire(set(args))
        print("retired " + " ".join(done) if done else "nothing to retire")
    elif command in ("stop", "start", "kill") and len(args) == 1:
        act(command, args[0])
    elif command == "check" and not args:
        print(json.dumps(check(json.load(sys.stdin)), sort_keys=True))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
