"""ansible-playbook that dies with the dcn that started it.

ansible-runner starts its command in a session of its own (a pty), so a dcn killed
with SIGKILL used to leave ansible-playbook and its forked workers running, still
changing hosts. dcn runs this program (a script with dcn's own interpreter, ``-I``: no
package import, nothing from the environment) as ansible-runner's command instead:

    python -I playbook_guard.py --parent PID -- ARGS...

It asks the kernel for SIGTERM when its parent dies (``PR_SET_PDEATHSIG``), checks
the parent is still the dcn that started it (it may have died before that request),
then runs ``ansible-playbook ARGS`` as its child in its own process group. On SIGTERM
(the parent died, or a sweep stops a dead dcn's run), SIGHUP (the pty hung up) or
SIGINT it stops the whole group: SIGTERM, a short grace, then SIGKILL. ansible-runner's
own cancel (SIGKILL to the process group) reaches every member the same way.

Standard library only: it is run by file path, never imported by dcn.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import time

PR_SET_PDEATHSIG = 1
#: how long ansible-playbook and its workers get to stop after SIGTERM
GRACE = 3.0
STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)
PLAYBOOK = "ansible-playbook"


class _Stop(Exception):
    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _raise_stop(signum: int, _frame: object) -> None:
    raise _Stop(signum)


def die_with_parent(sig: int = signal.SIGTERM) -> None:
    """Ask the kernel to send `sig` when the thread that forked us exits."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"prctl(PR_SET_PDEATHSIG): {os.strerror(err)}")


def _members(pgid: int) -> list[int]:
    """Live processes of process group `pgid` other than this one (zombies are done)."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == os.getpid():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[0] not in "ZX" and int(fields[2]) == pgid:
            found.append(int(name))
    return found


def stop_group(child: subprocess.Popen[bytes] | None) -> None:
    """SIGTERM to every member of our group, a grace, then SIGKILL to those left."""
    for sig in STOP_SIGNALS:
        signal.signal(sig, signal.SIG_IGN)
    pgid = os.getpgrp()
    os.killpg(pgid, signal.SIGTERM)  # ignored here, default for the others
    deadline = time.monotonic() + GRACE
    while time.monotonic() < deadline:
        if child is not None:
            child.poll()  # reap it, else it stays a member (a zombie) of the group
        if not _members(pgid):
            return
        time.sleep(0.05)
    os.killpg(pgid, signal.SIGKILL)  # this process too: it has nothing left to do


def _parse(argv: list[str]) -> tuple[int, list[str]]:
    if len(argv) < 3 or argv[0] != "--parent" or not argv[1].isdigit() or argv[2] != "--":
        raise SystemExit("usage: playbook_guard.py --parent PID -- ANSIBLE_PLAYBOOK_ARGS...")
    return int(argv[1]), argv[3:]


def main(argv: list[str]) -> int:
    parent, args = _parse(argv)
    child = None
    try:
        for sig in STOP_SIGNALS:
            signal.signal(sig, _raise_stop)
        die_with_parent(signal.SIGTERM)
        if os.getppid() != parent:  # it died before the request above: run nothing
            return 1
        if os.getpgrp() != os.getpid():  # a session leader (ansible-runner's pty) leads
            os.setpgid(0, 0)  # its group already; else lead one, never stop the caller's
        child = subprocess.Popen([PLAYBOOK, *args])
        code = child.wait()
        for sig in STOP_SIGNALS:  # done: a late signal just ends this process
            signal.signal(sig, signal.SIG_DFL)
    except _Stop as stop:
        stop_group(child)
        return 128 + stop.signum
    except FileNotFoundError:
        print(f"{PLAYBOOK} is not on PATH", file=sys.stderr)
        return 127
    return 128 - code if code < 0 else code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
