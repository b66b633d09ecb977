"""One full-host lab node: a systemd-nspawn container booting the shared node image.

The node's root is an overlay: the image (`dcn.lab.image`) read-only below, the node's
own upper and work directories above, so nodes share the image's files and page cache
and each keeps what it writes. systemd is PID 1 inside, in the node's network namespace
(the lab's fabric is unchanged). The machine has no systemd, so there is no machinectl:
a small launcher script per node runs ``systemd-nspawn`` and runs it again when it exits
with 133 (a reboot from inside). Everything another dcn process needs to find and stop
the node is in its directory: ``launcher.pid``, ``nspawn.pid``, ``leader.pid``.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import shutil
import signal
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from dcn.errors import DcnError
from dcn.lab.image import remove_tree
from dcn.redact import redact

REBOOT_EXIT = 133
START_WAIT = 90.0
STOP_WAIT = 20.0
POWEROFF_WAIT = 60.0
TAIL = 30
NETNS_DIR = Path("/run/netns")
#: what nsenter runs with: the node's own environment, not the caller's
NODE_ENV = {
    "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "HOME": "/root",
    "LANG": "C.UTF-8",
    "TERM": "dumb",
}
#: a machine name and hostname (systemd's rules), and a network namespace name
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.\-]{0,63}$")
_NETNS = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")
#: characters overlayfs mount options and the launcher script cannot carry
_BAD_PATH = re.compile(r"[,:\s\\'\"$`]")
_PUBKEY = re.compile(r"^(ssh-|ecdsa-|sk-)[A-Za-z0-9@.\-]+ [A-Za-z0-9+/=]+( [^\n]*)?$")


#: units a node's boot may wait on until their cluster's peers are up
CLUSTER_UNITS = ("mariadb.service", "rabbitmq-server.service")
#: seconds a boot must wait on nothing but those before the node counts as up
PEER_GRACE = 20.0


def _proc_stat(pid: int) -> tuple[str, int] | None:
    """(state, ppid) of a live process, None when gone or a zombie."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text.rsplit(")", 1)[1].split()
    return None if fields[0] in "ZX" else (fields[0], int(fields[1]))  # type: ignore[return-value]


def _cmdline(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")[:-1]
    except OSError:
        return []


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _children(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            st = _proc_stat(int(entry.name))
            if st is not None and st[1] == pid:
                out.append(int(entry.name))
    return out


def _is_ns_init(pid: int) -> bool:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("NSpid:"):
                ids = line.split()[1:]
                return len(ids) > 1 and ids[-1] == "1"
    except OSError:
        pass
    return False


def _mounted(path: Path) -> bool:
    with open("/proc/self/mountinfo") as f:
        return any(line.split()[4] == str(path) for line in f)


def _tail(path: Path, lines: int = TAIL) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


@dataclass(frozen=True, slots=True)
class Machine:
    """A node: its name (nspawn's machine name), its directory, the image it boots, the
    network namespace it lives in, its hostname and root's authorized public key."""

    name: str
    node_dir: Path
    image: Path
    netns: str
    hostname: str = ""
    authorized_key: str = ""
    #: boot the image directory itself, writable, instead of an overlay on it: only to
    #: build an image (`dcn.lab.prepared`), never for a lab node
    in_place: bool = False
    #: machine directories the node sees read-only at the same path (local wheel dirs)
    binds_ro: tuple[Path, ...] = ()

    def __post_init__(self) -> None:
        for what, value, rule in (
            ("name", self.name, _NAME),
            ("hostname", self.hostname or self.name, _NAME),
            ("network namespace", self.netns, _NETNS),
        ):
            if not rule.match(value):
                raise DcnError(
                    f"lab node: {what} {value!r} is not valid",
                    hint="use letters, digits, '-' and '.' (and '_' in a namespace name), "
                    "at most 64 characters",
                )
        paths = [("directory", self.node_dir), ("image", self.image)]
        paths += [("read-only bind", p) for p in self.binds_ro]
        for what, path in paths:
            if not path.is_absolute() or _BAD_PATH.search(str(path)):
                raise DcnError(
                    f"lab node {self.name}: its {what} {str(path)!r} cannot be used",
                    hint="use an absolute path without spaces, commas, colons or quotes",
                )
        if self.authorized_key and not _PUBKEY.match(self.authorized_key.strip()):
            raise DcnError(
                f"lab node {self.name}: the authorized key is not one OpenSSH public key line",
                hint="pass the content of a .pub file (e.g. 'ssh-ed25519 AAAA... comment')",
            )

    # -- layout ------------------------------------------------------------------

    @property
    def root(self) -> Path:
        """The merged overlay: the node's / as seen from the machine."""
        return self.node_dir / "root"

    @property
    def upper(self) -> Path:
        return self.node_dir / "upper"

    @property
    def launcher(self) -> Path:
        return self.node_dir / "launcher.sh"

    @property
    def console_log(self) -> Path:
        return self.node_dir / "console.log"

    def _pidfile(self, what: str) -> Path:
        return self.node_dir / f"{what}.pid"

    # -- processes ---------------------------------------------------------------

    def launcher_pid(self) -> int | None:
        """The node's launcher, if it runs (checked by its command line, not just a pid)."""
        pid = _read_pid(self._pidfile("launcher"))
        if pid is None or _proc_stat(pid) is None:
            return None
        return pid if _cmdline(pid)[-1:] == [str(self.launcher)] else None

    def nspawn_pid(self) -> int | None:
        pid = _read_pid(self._pidfile("nspawn"))
        if pid is None or _proc_stat(pid) is None:
            return None
        return pid if f"--machine={self.name}" in _cmdline(pid) else None

    def leader_pid(self) -> int | None:
        """PID (on the machine) of the node's PID 1, recorded in ``leader.pid``."""
        nspawn = self.nspawn_pid()
        if nspawn is None:
            return None
        recorded = _read_pid(self._pidfile("leader"))
        if recorded is not None and _is_ns_init(recorded) and self._descends(recorded, nspawn):
            return recorded
        for pid in self._descendants(nspawn):
            if _is_ns_init(pid):
                tmp = self._pidfile("leader").with_suffix(".tmp")
                tmp.write_text(f"{pid}\n")
                tmp.replace(self._pidfile("leader"))
                return pid
        return None

    @staticmethod
    def _descends(pid: int, ancestor: int) -> bool:
        for _ in range(8):
            st = _proc_stat(pid)
            if st is None or st[1] <= 1:
                return False
            if st[1] == ancestor:
                return True
            pid = st[1]
        return False

    @staticmethod
    def _descendants(pid: int, depth: int = 3) -> list[int]:
        found, level = [], [pid]
        for _ in range(depth):
            level = [c for p in level for c in _children(p)]
            found.extend(level)
        return found

    def is_running(self) -> bool:
        return self.leader_pid() is not None

    def processes(self) -> list[int]:
        """Every process in the node's PID namespace (PIDs as the machine sees them)."""
        leader = self.leader_pid()
        if leader is None:
            return []
        try:
            ns = os.readlink(f"/proc/{leader}/ns/pid")
        except OSError:
            return []
        pids = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                with contextlib.suppress(OSError):
                    if os.readlink(f"/proc/{entry.name}/ns/pid") == ns:
                        pids.append(int(entry.name))
        return pids

    def memory_pss_kib(self) -> int:
        """Proportional set size of the node's processes (shared pages counted once)."""
        total = 0
        for pid in self.processes():
            with contextlib.suppress(OSError):
                for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                    if line.startswith("Pss:"):
                        total += int(line.split()[1])
                        break
        return total

    # -- the root ----------------------------------------------------------------

    def mount(self) -> None:
        """Mount the overlay root (once) and give the node what is its own: machine-id,
        hostname, ssh host keys (first start only) and root's authorized key."""
        if not (self.image / "usr" / "lib" / "systemd" / "systemd").exists():
            raise DcnError(
                f"lab node {self.name}: {self.image} is not a node image",
                hint="build it with dcn.lab.image.ensure_image()",
            )
        self.node_dir.mkdir(parents=True, exist_ok=True)
        self.node_dir.chmod(0o700)
        for d in (self.upper, self.node_dir / "work", self.root):
            d.mkdir(exist_ok=True)
        if not _mounted(self.root):
            if self.in_place:
                command = ["mount", "--bind", str(self.image), str(self.root)]
            else:
                opts = (
                    f"lowerdir={self.image},upperdir={self.upper},workdir={self.node_dir / 'work'}"
                )
                command = ["mount", "-t", "overlay", "overlay", "-o", opts, str(self.root)]
            result = subprocess.run(
                command,
                capture_output=True,
                text=True,
                check=False,
            )
            if result.returncode != 0:
                raise DcnError(
                    f"lab node {self.name}: cannot mount its root: {result.stderr.strip()}",
                    hint="the node directory must be on a local file system (not overlayfs)",
                )
        self._first_boot_files()

    def _first_boot_files(self) -> None:
        etc = self.root / "etc"
        mid = etc / "machine-id"
        if not mid.exists() or not mid.read_text().strip():
            mid.write_text(uuid.uuid4().hex + "\n")
            mid.chmod(0o444)
        hostname = self.hostname or self.name
        (etc / "hostname").write_text(hostname + "\n")
        if not (self.upper / "etc" / "hosts").exists():
            (etc / "hosts").write_text(
                f"127.0.0.1\tlocalhost\n127.0.1.1\t{hostname}\n"
                "::1\tlocalhost ip6-localhost ip6-loopback\n"
            )
        if not list((etc / "ssh").glob("ssh_host_*_key")):
            # per node, like a host's first boot (ssh-keygen -A under the node's root)
            result = subprocess.run(
                ["ssh-keygen", "-A", "-f", str(self.root)],
                capture_output=True,
                text=True,
                check=False,
            )
            if result.returncode != 0:
                raise DcnError(
                    f"lab node {self.name}: ssh host keys: {result.stderr.strip()}",
                    hint="install openssh-client on the machine",
                )
        if self.authorized_key:
            ssh = self.root / "root" / ".ssh"
            ssh.mkdir(mode=0o700, parents=True, exist_ok=True)
            ssh.chmod(0o700)
            keys = ssh / "authorized_keys"
            tmp = ssh / ".authorized_keys.tmp"
            tmp.write_text(self.authorized_key.strip() + "\n")
            tmp.chmod(0o600)
            tmp.replace(keys)

    def unmount(self) -> None:
        if _mounted(self.root):
            result = subprocess.run(["umount", str(self.root)], capture_output=True, check=False)
            if result.returncode != 0:
                subprocess.run(["umount", "-l", str(self.root)], capture_output=True, check=False)

    # -- life cycle --------------------------------------------------------------

    def nspawn_command(self) -> list[str]:
        return [
            shutil.which("systemd-nspawn") or "systemd-nspawn",
            "--boot",
            f"--directory={self.root}",
            f"--machine={self.name}",
            f"--network-namespace-path={NETNS_DIR / self.netns}",
            "--register=no",
            "--keep-unit",
            "--link-journal=no",
            "--console=read-only",
            "--capability=CAP_NET_ADMIN",
            *(f"--bind-ro={p}" for p in self.binds_ro),
        ]

    def launcher_script(self) -> str:
        """The launcher: runs nspawn again after a reboot inside (exit 133), stops on
        any other exit. Written before it starts, never while it runs."""
        nspawn = " ".join(shlex.quote(a) for a in self.nspawn_command())
        return "\n".join(
            [
                "#!/bin/sh",
                f"# dcn lab node {self.name}: generated, do not edit while it runs",
                f"cd {shlex.quote(str(self.node_dir))} || exit 1",
                "echo $$ > launcher.pid",
                "export SYSTEMD_NSPAWN_API_VFS_WRITABLE=network",
                "while :; do",
                f"  {nspawn} >>console.log 2>&1 </dev/null &",
                "  echo $! > nspawn.pid",
                "  wait $!",
                "  rc=$?",
                "  rm -f nspawn.pid leader.pid",
                '  echo "$(date -u +%FT%TZ) nspawn exited $rc" >>launcher.log',
                f'  [ "$rc" -eq {REBOOT_EXIT} ] || break',
                "done",
                'echo "$rc" > exit.code',
                "rm -f launcher.pid",
                "",
            ]
        )

    def start(self, wait: float = START_WAIT) -> str:
        """Boot the node; return once its systemd reports running or degraded (that
        state is returned). A node already running is left as it is."""
        if self.is_running():
            return self.wait_running(wait)
        if shutil.which("systemd-nspawn") is None:
            raise DcnError(
                "systemd-nspawn is not installed",
                hint="install it with 'apt-get install -y systemd-container'",
            )
        if not (NETNS_DIR / self.netns).exists():
            raise DcnError(
                f"lab node {self.name}: network namespace {self.netns} does not exist",
                hint=f"create it first ('ip netns add {self.netns}')",
            )
        if self.launcher_pid() is not None:
            raise DcnError(
                f"lab node {self.name}: its launcher runs but the node has not booted",
                hint="stop it first (Machine.stop) and look at console.log in its directory",
            )
        self.mount()
        for stale in ("launcher", "nspawn", "leader"):
            self._pidfile(stale).unlink(missing_ok=True)
        (self.node_dir / "exit.code").unlink(missing_ok=True)
        tmp = self.launcher.with_suffix(".tmp")
        tmp.write_text(self.launcher_script())
        tmp.chmod(0o700)
        tmp.replace(self.launcher)
        with open(self.node_dir / "launcher.log", "ab") as log:
            # setsid -f: the launcher belongs to no dcn process and outlives it
            subprocess.run(
                ["setsid", "-f", "/bin/sh", str(self.launcher)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                check=True,
            )
        deadline = time.monotonic() + 10
        while self.launcher_pid() is None and not (self.node_dir / "exit.code").exists():
            if time.monotonic() > deadline:
                raise DcnError(
                    f"lab node {self.name}: its launcher did not start",
                    hint=f"see launcher.log in {self.node_dir}",
                )
            time.sleep(0.02)
        try:
            return self.wait_running(wait)
        except DcnError:
            self.stop()
            raise

    def wait_running(self, wait: float = START_WAIT, not_leader: int | None = None) -> str:
        """Wait until systemd in the node says running or degraded (bounded)."""
        deadline = time.monotonic() + wait
        state = "not started"
        waiting_since: float | None = None
        while time.monotonic() < deadline:
            leader = self.leader_pid()
            if leader is not None and leader != not_leader:
                result = self.exec(["systemctl", "is-system-running"], timeout=10)
                state = result.stdout.strip() or "no answer"
                if state in ("running", "degraded"):
                    return state
                waiting = self.waiting_for_peers() if state == "starting" else None
                if not waiting:
                    waiting_since = None
                elif waiting_since is None:
                    waiting_since = time.monotonic()
                elif time.monotonic() - waiting_since >= PEER_GRACE:
                    # a lone server starts in seconds; one that waits this long waits
                    # for its cluster's peers
                    return f"starting ({', '.join(waiting)} waiting for cluster peers)"
            elif self.launcher_pid() is None:
                code = _tail(self.node_dir / "exit.code", 1) or "?"
                raise DcnError(
                    f"lab node {self.name}: systemd-nspawn exited ({code}) before the node "
                    f"booted; console:\n{redact(_tail(self.console_log))}",
                    hint=f"see console.log and launcher.log in {self.node_dir}",
                )
            time.sleep(0.1)
        raise DcnError(
            f"lab node {self.name}: not running after {wait:.0f} s (systemd says {state!r}); "
            f"journal:\n{self.journal_tail()}",
            hint=f"see 'systemctl --failed' inside the node, and console.log in {self.node_dir}",
        )

    def waiting_for_peers(self) -> list[str]:
        """The cluster units the boot waits on when nothing else runs: a member of a
        Galera or RabbitMQ cluster that lost power with its peers waits for them (or for
        'dcn recover'); the node is up all the same. Empty: the boot waits on more."""
        jobs = self.exec(["systemctl", "list-jobs", "--no-legend", "--plain"], timeout=10)
        # each line: JOB UNIT TYPE STATE
        rows = [line.split() for line in jobs.stdout.splitlines()]
        running = [row[1] for row in rows if len(row) >= 4 and row[3] == "running"]
        if running and all(unit in CLUSTER_UNITS for unit in running):
            return running
        return []

    def journal_tail(self, lines: int = TAIL) -> str:
        """The node's last journal lines (from inside, or from its files when stopped)."""
        journal = self.root / "var" / "log" / "journal"
        if self.is_running():
            out = self.exec(["journalctl", "-q", "--no-pager", "-n", str(lines)], timeout=20)
            text = out.stdout
        elif shutil.which("journalctl") and journal.is_dir():
            out = subprocess.run(
                ["journalctl", "-q", "--no-pager", "-n", str(lines), "-D", str(journal)],
                capture_output=True,
                text=True,
                check=False,
            )
            text = out.stdout
        else:
            text = _tail(self.console_log, lines)
        return redact(text.rstrip())

    def exec(
        self,
        args: list[str],
        input: str | None = None,
        timeout: float | None = None,
        check: bool = False,
    ) -> subprocess.CompletedProcess[str]:
        """Run a command inside the node (all its namespaces, its environment)."""
        leader = self.leader_pid()
        if leader is None:
            raise DcnError(
                f"lab node {self.name} is not running", hint="start it first (dcn lab node start)"
            )
        try:
            result = subprocess.run(
                ["nsenter", "-t", str(leader), "-a", "--", *args],
                input=input,
                capture_output=True,
                text=True,
                timeout=timeout,
                env=NODE_ENV,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise DcnError(
                f"lab node {self.name}: '{args[0]}' did not finish in {timeout} s",
                hint="look at the node with 'dcn lab exec NODE journalctl -n 50'",
            ) from None
        if check and result.returncode != 0:
            raise DcnError(
                f"lab node {self.name}: '{shlex.join(args)}' exited {result.returncode}: "
                f"{redact(result.stderr.strip()[-2000:])}",
                hint="look at the node with 'dcn lab exec NODE journalctl -n 50'",
            )
        return result

    def stop(self) -> None:
        """Stop like a host losing power: kill every process of the node, no shutdown."""
        launcher, nspawn, leader = self.launcher_pid(), self.nspawn_pid(), self.leader_pid()
        # the launcher first, so it does not boot the node again
        for pid in (launcher, leader):
            if pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        # nspawn leaves once its container is gone; kill it if it lingers
        if nspawn is not None and not self._wait_gone(nspawn, STOP_WAIT):
            with contextlib.suppress(ProcessLookupError):
                os.kill(nspawn, signal.SIGKILL)
            self._wait_gone(nspawn, STOP_WAIT)
        for what in ("launcher", "nspawn", "leader"):
            self._pidfile(what).unlink(missing_ok=True)
        self.unmount()

    @staticmethod
    def _wait_gone(pid: int, wait: float) -> bool:
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if _proc_stat(pid) is None:
                return True
            time.sleep(0.05)
        return False

    def shutdown(self, wait: float = POWEROFF_WAIT) -> bool:
        """Clean shutdown (``systemctl poweroff`` inside). False when the node did not
        power off in time and was stopped like a power loss instead."""
        launcher = self.launcher_pid()
        if self.is_running():
            self.exec(["systemctl", "poweroff"], timeout=30)
        clean = launcher is None or self._wait_gone(launcher, wait)
        self.stop()
        return clean

    def reboot(self, wait: float = START_WAIT) -> str:
        """Reboot from inside (``systemctl reboot``); the launcher boots it again.
        Returns once the new boot's systemd reports running or degraded."""
        old = self.leader_pid()
        if old is None:
            raise DcnError(f"lab node {self.name} is not running", hint="start it instead")
        self.exec(["systemctl", "reboot"], timeout=30)
        if not self._wait_gone(old, wait):
            raise DcnError(
                f"lab node {self.name}: still running {wait:.0f} s after 'systemctl reboot'",
                hint=f"stop it and look at console.log in {self.node_dir}",
            )
        return self.wait_running(wait, not_leader=old)

    def remove(self) -> None:
        """Stop the node if it runs, unmount its root and delete its directory."""
        self.stop()
        remove_tree(self.node_dir)
