"""apply: what a deploy delivers to a node, applied on the node in one call each (run
by the deploy playbook; standard library only).

  write   JSON on stdin: {"keep": [process], "dirs": [{path, owner, mode}], "files":
          [{path, content, mode, owner}]}. dcn's units of processes not kept retired
          (`unitctl`'s retire), directories made, files written (atomically where the
          path allows it) where their bytes, mode or owner differ; systemd reloaded
          when a unit file changed. Prints what it changed, one a line: paths and
          "retired UNIT", never contents.
  units   JSON on stdin: {"listen_host": ADDRESS, "units": [{service, pre, processes,
          post}]}. The units are applied side by side, each in its own order: steps
          before start (a step runs unless its marker exists, which it leaves on
          success), its processes running their planned definition (`unitctl`'s
          ensure) and answering on their health ports, then steps once started.
          Prints one line per unit, "dcn-unit " and JSON: {service, changed, failed}.
          Exits 1 when a unit failed; the others still finish. With ``--stamp PATH
          TEXT`` (a deploy's last level), writes TEXT to PATH (0600) once every unit
          was applied: the deploy's applied stamp (`dcn.deploy.applied`).

Why one call, not a task per file or step: each task of a playbook is a round trip and
a module start, about 0.3 s; a control plane node has a hundred files and steps. Why
side by side: a deploy orders units in levels (`dcn.deploy.bundle`), and the units of
a level need nothing of each other (their schema syncs are most of a deploy's time).

Nothing here prints a file's content or a step's environment: both may hold secrets.
Steps never get secrets on their command line or environment (they read them from
files). A failed step's whole output is kept on the node (`STEP_LOGS`, 0600) and its
last lines are shown, unless the step is quiet (it reads a secret-bearing file: an
error may quote it).
"""

from __future__ import annotations

import errno
import grp
import json
import os
import pwd
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

try:  # on the node, unitctl.py sits beside this file; in dcn, in its package
    import unitctl
except ImportError:  # pragma: no cover - the package form
    from dcn.node import unitctl

#: how long a process may take to run its new definition, then to answer on its port
START_SECONDS = 180
ANSWER_SECONDS = 240
#: lines of a failed step's output shown
TAIL = 6
#: where a failed step's whole output is kept (root's alone)
STEP_LOGS = os.environ.get("DCN_STEP_LOGS", "/var/log/dcn/steps")
_print_lock = threading.Lock()


class Failed(Exception):
    """A unit could not be applied; the message says what and why (no secrets)."""


def _ids(owner: str) -> tuple[int, int]:
    """uid and gid of `owner` (its group of the same name, else its primary group)."""
    user = pwd.getpwnam(owner)
    try:
        return user.pw_uid, grp.getgrnam(owner).gr_gid
    except KeyError:
        return user.pw_uid, user.pw_gid


def _fix(path: str, mode: int, owner: str) -> bool:
    """Set `path`'s mode and owner; True if either differed."""
    st = os.lstat(path)
    uid, gid = _ids(owner)
    changed = False
    if (st.st_uid, st.st_gid) != (uid, gid):
        os.chown(path, uid, gid)
        changed = True
    if st.st_mode & 0o7777 != mode:
        os.chmod(path, mode)
        changed = True
    return changed


def make_dir(path: str, mode: str, owner: str) -> bool:
    """`path` a directory of `mode` and `owner` (its missing parents root's, 0755)."""
    created = not os.path.isdir(path)
    if created:
        os.makedirs(path, mode=0o755, exist_ok=True)
    return _fix(path, int(mode, 8), owner) or created


def _same(path: str, data: bytes) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read() == data
    except OSError:
        return False


def write_file(path: str, content: str, mode: str, owner: str) -> bool:
    """`path` holding `content` with `mode` and `owner`; True if anything changed.

    Written to a temporary file beside it and renamed over it, so a reader never sees
    half a file; in place where the path can't be renamed over (a file bind-mounted
    into a node, as /etc/hosts in the lab). Not synced to disk: a file lost to a power
    cut is written again by the next deploy, and a sync per file cost a deploy of a
    small edge more CPU than its own steps."""
    data = content.encode()
    want = int(mode, 8)
    if _same(path, data):
        return _fix(path, want, owner)
    directory = os.path.dirname(path) or "/"
    if not os.path.isdir(directory):
        os.makedirs(directory, mode=0o755, exist_ok=True)
    uid, gid = _ids(owner)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".dcn-")
    try:
        os.fchmod(fd, want)
        os.fchown(fd, uid, gid)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        try:
            os.rename(tmp, path)
        except OSError as exc:
            if exc.errno not in (errno.EBUSY, errno.EXDEV, errno.EPERM):
                raise
            with open(path, "r+b" if os.path.exists(path) else "wb") as f:
                f.write(data)
                f.truncate()
            _fix(path, want, owner)
    finally:
        if os.path.lexists(tmp):
            os.unlink(tmp)
    return True


def write(doc: dict) -> list[str]:
    """The ``write`` command: what changed (paths, and units retired first)."""
    # what no longer runs here goes first: it frees its ports and files
    changed = [f"retired {unit}" for unit in unitctl.retire(set(doc.get("keep") or ()))]
    for entry in [*(doc.get("dirs") or ()), *(doc.get("files") or ())]:
        path = entry["path"]
        try:
            if "content" in entry:
                done = write_file(path, entry["content"], entry["mode"], entry["owner"])
            else:
                done = make_dir(path, entry["mode"], entry["owner"])
        except KeyError as exc:  # an owner the node does not have
            raise Failed(f"{path}: {exc.args[0] if exc.args else exc}") from None
        except (OSError, ValueError) as exc:
            raise Failed(f"{path}: {exc}") from None
        if done:
            changed.append(path)
    unit_dir = str(unitctl.UNIT_DIR) + "/"
    if any(p.startswith(unit_dir) for p in changed):
        unitctl.systemctl("daemon-reload")
    return changed


def _tail(text: str) -> str:
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    return " | ".join(lines[-TAIL:])


def _keep_output(step: dict, output: str) -> str:
    """A failed step's whole output, in a file of root's alone (0600): where it is."""
    path = Path(STEP_LOGS) / f"{Path(step['marker']).name}.log"
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(output)
    except OSError as exc:
        return f"(not kept: {exc})"
    return str(path)


def run_step(step: dict) -> bool:
    """Run `step` unless its marker exists; True if it ran."""
    marker = step["marker"]
    if os.path.lexists(marker):
        return False
    env = {**os.environ, **(step.get("env") or {})}
    try:
        done = subprocess.run(step["argv"], env=env, capture_output=True, text=True, check=False)
    except OSError as exc:
        raise Failed(f"step {step['name']}: {exc}") from None
    if done.returncode != 0:
        kept = _keep_output(step, done.stdout + done.stderr)
        if step.get("quiet"):
            why = f"its output may hold secrets: see {kept} on the node"
        else:
            why = _tail(done.stderr) or _tail(done.stdout)
        raise Failed(f"step {step['name']} failed (exit {done.returncode}): {why}")
    Path(marker).parent.mkdir(parents=True, exist_ok=True)
    Path(marker).touch()
    return True


def answering(host: str, port: int, seconds: float) -> None:
    """Wait until something accepts connections on host:port."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            with socket.create_connection((host, port), timeout=2):
                return
        except OSError as exc:
            if time.monotonic() >= deadline:
                why = f"nothing answers on {host}:{port} after {seconds:.0f} s: {exc}"
                raise Failed(why) from None
            time.sleep(unitctl.POLL)


def apply_unit(unit: dict, listen_host: str) -> list[str]:
    """One unit, in its order; what changed (step and process names)."""
    changed = [f"step {s['name']}" for s in unit.get("pre") or () if run_step(s)]
    for p in unit.get("processes") or ():
        try:
            how = unitctl.converge(p["name"], p["unit"], p["digest"], START_SECONDS)
        except unitctl.NotRunning as exc:
            raise Failed(str(exc)) from None
        if how != "running":
            verb, _, note = how.partition(" ")
            changed.append(f"{verb} {p['name']}" + (f" {note}" if note else ""))
    for p in unit.get("processes") or ():
        if p.get("health_port"):
            answering(listen_host, int(p["health_port"]), ANSWER_SECONDS)
    changed += [f"step {s['name']}" for s in unit.get("post") or () if run_step(s)]
    return changed


def _report(service: str, changed: list[str], failed: str = "") -> dict:
    line = {"service": service, "changed": changed, "failed": failed}
    with _print_lock:
        print("dcn-unit " + json.dumps(line, sort_keys=True), flush=True)
    return line


def units(doc: dict) -> bool:
    """The ``units`` command: True if every unit was applied."""
    todo = doc.get("units") or []
    host = doc["listen_host"]

    def one(unit: dict) -> dict:
        try:
            return _report(unit["service"], apply_unit(unit, host))
        except (Failed, unitctl.NotRunning) as exc:
            return _report(unit["service"], [], str(exc))
        except SystemExit as exc:  # unitctl's systemctl() failing
            return _report(unit["service"], [], str(exc.code))
        except Exception as exc:  # a unit's failure is reported, not raised
            return _report(unit["service"], [], f"{type(exc).__name__}: {exc}")

    if not todo:
        return True
    with ThreadPoolExecutor(max_workers=len(todo)) as pool:
        results = list(pool.map(one, todo))
    return not any(r["failed"] for r in results)


def main(argv: list[str]) -> None:
    stamp: list[str] = []
    if len(argv) == 4 and argv[1] == "--stamp":
        argv, stamp = argv[:1], list(argv[2:])
    command = argv[0] if len(argv) == 1 else ""
    if stamp and not stamp[0]:  # no stamp asked for (a playbook run without one)
        stamp = []
    if command == "write":
        try:
            changed = write(json.load(sys.stdin))
        except Failed as exc:
            sys.exit(f"not written: {exc}")
        for path in changed:
            print(path)
    elif command == "units":
        if not units(json.load(sys.stdin)):
            sys.exit(1)
        if stamp:
            write_file(stamp[0], stamp[1], "0600", "root")
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
