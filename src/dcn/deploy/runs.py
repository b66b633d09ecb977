"""Run directories and who owns them: a killed dcn's runs are found and cleaned up.

A deploy's run directory (``<state dir>/runs/<site>-<generation>-<run id>``, 0700)
holds, while it runs, what carries secret values (the inventory's host variables, the
extra variables). Its owner record (``runs/owners/<run>.json``: pid, the process's
start time, boot id, host) says which dcn runs it: a pid reused since is not mistaken
for the owner, its start time differs. The owner deletes the secrets and the record
when the run ends, however it ends, short of being killed.

`sweep` runs at the start of every dcn command: one listing of ``runs/owners`` (only
runs in progress, or left by a dead dcn, have a record there). A run whose owner is
gone gets its leftover processes stopped (those whose command line names its
directory) and its secrets deleted; its record moves into the run directory as
``owner.gone.json``, so `dcn status` can still say which run was interrupted. Runs of a
live owner, or of another host (a state directory shared between hosts), are left
alone: another dcn may be deploying.

Standard library only at import: every command's start imports this module.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import stat
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dcn.nextsteps import RunHolder
    from dcn.state.records import GenerationRecord, LockInfo

RUNS = "runs"
OWNERS = "owners"
GONE = "owner.gone.json"
#: what a run directory holds that carries secret values
SECRET_PARTS = ("inventory", "env")
#: how long a dead run's processes get after SIGTERM before SIGKILL
STOP_WAIT = 5.0


def _stat_fields(pid: int) -> list[str] | None:
    """/proc/<pid>/stat from field 3 (state) on; None when there is no such process."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def _boot_id() -> str:
    try:
        with open("/proc/sys/kernel/random/boot_id") as f:
            return f.read().strip()
    except OSError:
        return ""


@dataclass(frozen=True, slots=True)
class Owner:
    """The dcn process that runs a run directory."""

    pid: int
    #: the process's start time, clock ticks after boot (/proc/<pid>/stat field 22)
    start: int
    boot: str
    host: str

    @classmethod
    def me(cls) -> Owner:
        fields = _stat_fields(os.getpid())
        start = int(fields[19]) if fields else 0
        return cls(os.getpid(), start, _boot_id(), socket.gethostname())

    @classmethod
    def parse(cls, text: str) -> Owner | None:
        """A record as written by `claim`; None for anything else (it may be hostile)."""
        try:
            data = json.loads(text)
        except ValueError:
            return None
        if not isinstance(data, dict):
            return None
        pid, start, boot, host = (data.get(k) for k in ("pid", "start", "boot", "host"))
        ints = all(type(v) is int and v >= 0 for v in (pid, start))
        strs = all(isinstance(v, str) and len(v) <= 255 for v in (boot, host))
        return cls(pid, start, boot, host) if ints and strs and pid > 0 else None  # type: ignore[arg-type]

    def state(self) -> str:
        """alive | gone | elsewhere (another host: not ours to judge)."""
        if self.host != socket.gethostname():
            return "elsewhere"
        if self.boot != _boot_id():
            return "gone"  # the machine rebooted since
        fields = _stat_fields(self.pid)
        if fields is None or fields[0] in "ZX" or int(fields[19]) != self.start:
            return "gone"
        return "alive"


def _owners(runs: Path) -> Path:
    return runs / OWNERS


def _record(run_dir: Path) -> Path:
    return _owners(run_dir.parent) / f"{run_dir.name}.json"


def _read(path: Path) -> Owner | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return Owner.parse(f.read(4096))
    except OSError:
        return None


def claim(run_dir: Path) -> None:
    """Record this process as the run's owner (before any secret is written)."""
    path = _record(run_dir)
    me = Owner.me()
    if _read(path) == me:
        return
    path.parent.mkdir(mode=0o700, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(asdict(me), f)
    os.replace(tmp, path)


def scrub(run_dir: Path) -> None:
    """Delete what holds secret values; the artifacts stay (Ansible's no_log kept them
    out), but not ansible-runner's record of the command, which holds dcn's whole
    environment (a DCN_STATE_URL or OS_PASSWORD there would be kept)."""
    for part in SECRET_PARTS:
        shutil.rmtree(run_dir / part, ignore_errors=True)  # refuses a symlink, as it should
    for command in run_dir.glob("artifacts/*/command"):
        if command.is_file() and not command.is_symlink():
            command.unlink(missing_ok=True)


def finish(run_dir: Path) -> None:
    """The owner's end of a run, however it ended: secrets deleted, then the record."""
    scrub(run_dir)
    with contextlib.suppress(FileNotFoundError):
        _record(run_dir).unlink()


def _ours(path: Path, private: bool = True) -> bool:
    """A directory (not a symlink) of this user, `private`: nobody else can write it.
    Only then are its records believed and processes stopped on their word."""
    try:
        st = path.lstat()
    except OSError:
        return False
    writable = private and st.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
    return stat.S_ISDIR(st.st_mode) and st.st_uid == os.geteuid() and not writable


def _cmdline_names(cmdline: bytes, markers: Iterable[tuple[Path, bytes, bytes]]) -> Path | None:
    for run_dir, inside, whole in markers:
        if inside in cmdline or cmdline.endswith(whole) or whole + b"\0" in cmdline:
            return run_dir
    return None


def leftover_processes(run_dirs: Iterable[Path]) -> dict[int, Path]:
    """pid -> run directory, for this user's processes whose command line names one of
    `run_dirs` (ansible-playbook and its workers carry the inventory's path)."""
    # as given and with symlinks resolved: ansible-runner names it as it was handed
    markers = [
        (d, f"{form}/".encode(), str(form).encode())
        for d in (Path(p).absolute() for p in run_dirs)
        for form in dict.fromkeys((d, d.resolve()))
    ]
    found: dict[int, Path] = {}
    if not markers:
        return found
    me, uid = os.getpid(), os.geteuid()
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == me:
            continue
        try:
            if os.stat(f"/proc/{name}").st_uid != uid:
                continue
            with open(f"/proc/{name}/cmdline", "rb") as f:
                cmdline = f.read()
        except OSError:
            continue
        run_dir = _cmdline_names(cmdline, markers)
        if run_dir is not None:
            found[int(name)] = run_dir
    return found


def _alive(pid: int) -> bool:
    fields = _stat_fields(pid)
    return fields is not None and fields[0] not in "ZX"


def stop_processes(pids: Iterable[int], wait: float = STOP_WAIT) -> None:
    """SIGTERM, up to `wait` seconds, then SIGKILL for those still running."""
    left = set(pids)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in left:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, sig)
        deadline = time.monotonic() + wait
        while left and time.monotonic() < deadline:
            left = {p for p in left if _alive(p)}
            if left:
                time.sleep(0.05)
        if not left:
            return


def _dead_runs(runs: Path, unowned: bool) -> list[tuple[Path, Path | None, Owner | None]]:
    """(run dir, its record, owner) of every run whose owner is gone."""
    dead = []
    owners = _owners(runs)
    records = sorted(owners.glob("*.json")) if _ours(owners) else []
    for record in records:
        owner = _read(record)
        # a record no dcn wrote names nobody: judged only under the lock, with `unowned`
        if (owner is None and unowned) or (owner is not None and owner.state() == "gone"):
            dead.append((runs / record.name[: -len(".json")], record, owner))
    if unowned:  # runs with secrets left and no record (an older dcn's, a broken record)
        named = {d for d, _, _ in dead} | {runs / r.name[: -len(".json")] for r in records}
        for entry in sorted(runs.iterdir()):
            if entry.name == OWNERS or entry in named or not _ours(entry):
                continue
            if any(os.path.lexists(entry / part) for part in SECRET_PARTS):
                dead.append((entry, None, None))
    return dead


def sweep(state_dir: Path, *, unowned: bool = False) -> list[Path]:
    """Clean up the runs of dead dcn processes; return their run directories.

    `unowned`: also runs with secrets left and no owner record; only under the
    deployment's lock (no run of this state can start meanwhile).
    """
    runs = Path(state_dir).absolute() / RUNS
    if not _ours(runs, private=False):  # made with the umask's mode; owners/ is 0700
        return []
    dead = _dead_runs(runs, unowned)
    if not dead:
        return []
    for _ in range(3):  # again: a process that was forking or exec'ing may show up late
        left = leftover_processes(d for d, _, _ in dead)
        if not left:
            break
        stop_processes(left)
    for run_dir, record, owner in dead:
        if _ours(run_dir):
            scrub(run_dir)
            if owner is not None:
                _write_gone(run_dir, owner)
        if record is not None:
            with contextlib.suppress(FileNotFoundError):
                record.unlink()
    return [d for d, _, _ in dead]


def _write_gone(run_dir: Path, owner: Owner) -> None:
    path = run_dir / GONE
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(asdict(owner), f)


def run_dir(state_dir: Path, site: str, generation: int, run_id: str) -> Path:
    """Where the deploy of `site`'s generation with `run_id` runs (the deployer's name)."""
    return Path(state_dir) / RUNS / f"{site}-{generation}-{run_id[:8]}"


def owner_of(run: Path) -> tuple[Owner, bool] | None:
    """The run's owner and whether a sweep already found it gone; None if unrecorded."""
    owner = _read(_record(run))
    if owner is not None:
        return owner, False
    gone = _read(run / GONE)
    return (gone, True) if gone is not None else None


def holder(state_dir: Path, record: GenerationRecord, lock: LockInfo | None) -> RunHolder:
    """Who runs a generation that is `deploying`, as far as this machine can tell.

    The run's owner record decides when there is one (the run id names the run
    directory). Else the deployment's lock: a deploy holds it for its whole run, so a
    holder on another host is deploying (not ours to judge), one on this host whose
    process is gone was interrupted, and no holder at all means nobody deploys.
    """
    from dcn.nextsteps import RunHolder

    if record.run_id:
        found = owner_of(run_dir(state_dir, record.stack, record.number, record.run_id))
        if found is not None:
            owner, swept = found
            state = "gone" if swept else owner.state()
            return RunHolder(state, owner.pid, owner.host)
    if lock is None:
        return RunHolder("gone")
    if lock.host != socket.gethostname():
        return RunHolder("elsewhere", lock.pid, lock.host)
    # this process holds no deploy lock: the same pid is a previous owner of it
    alive = lock.pid != os.getpid() and _alive(lock.pid)
    return RunHolder("alive" if alive else "gone", lock.pid, lock.host)
