"""The prepared node image: the node image after a real host's prerequisites ran on it.

A lab node must start from what a real host has after its first deploy, and the lab
must exercise the real-host path, so the prerequisites are not re-implemented here:
the deploy's own tasks (``playbooks/prerequisites.yml``, with the variables the deploy
passes, from `dcn.deploy.bundle.node_vars`) run once with ansible-playbook over SSH
against a build node booted from a copy of the base image (`dcn.lab.image`). The build
node lives in a network namespace ``dcnimg-<pid>`` with a veth to the machine in
10.250.255.0/30 and reaches the Debian mirror and PyPI through the lab proxy on the
machine's end (`dcn.lab.proxy`).

The node is then powered off, what a node must not share is removed (see
`clean_root`), and the result is renamed into the cache under a digest of its inputs:
the base image, the tasks' text, their variables, the constraints file and dcn's
version. A failed or killed build leaves no image, namespace, proxy or mount behind
(the next build removes what a killed one left).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import yaml

import dcn
from dcn.deploy.bundle import node_vars
from dcn.deploy.runner import PLAYBOOKS
from dcn.errors import DcnError
from dcn.lab import image as base_image
from dcn.lab import proxy
from dcn.lab.image import META, ROOT, Image, remove_tree
from dcn.lab.machine import Machine
from dcn.lab.prereqs import constraints_file, venv_stamp
from dcn.plan.types import NodePlan, UnitPlan
from dcn.services.catalog import SERVICES

#: bump when the way the prepared image is made changes (wrapper play, cleaning)
FORMAT = 1
#: what the base image needs besides its own set: Ansible's apt module (python3-apt),
#: its SSH connection (openssh-server) and become on real hosts (sudo)
EXTRA_PACKAGES = ("openssh-server", "python3-apt", "sudo")
NETNS_PREFIX = "dcnimg-"
SUBNET = "10.250.255.0/30"
HOST_ADDRESS = "10.250.255.1"
NODE_ADDRESS = "10.250.255.2"
BUILD_HOST = "dcn-image"
PLAY_NAME = "dcn: node image prerequisites (the deploy's own tasks)"
#: one build network (the /30 above) per machine: builds take this lock in turn
NETWORK_LOCK = Path("/run/lock/dcn-image-prepare.lock")
LOG = "prepare.log"
PLAY_TIMEOUT = 3600.0
#: set to 1 to bind the machine's local pip sources (its pip configuration's find-links
#: and file:// indexes) read-only into the build node. Off by default: the node then gets
#: every package from PyPI through the proxy, as a real host does, and measured here
#: the virtualenv took as long either way (41.9 s from PyPI, 41.2 s with them)
LOCAL_PIP_ENV = "DCN_IMAGE_LOCAL_PIP"
_PIP_SOURCES = ("find-links", "extra-index-url", "index-url")
_VARIABLE = re.compile(r"\b(dcn_[a-z0-9_]+)\b")

Say = Callable[[str], None]


def playbook_path() -> Path:

    return PLAYBOOKS / "prerequisites.yml"


def playbook_variables(text: str) -> set[str]:
    """The ``dcn_*`` variables a task file uses."""
    return set(_VARIABLE.findall(text))


def prerequisite_vars(playbook_text: str) -> dict[str, Any]:
    """The variables the deploy passes to the prerequisite tasks, for a node that runs
    every service of the catalog (so the image holds every package any role needs)."""

    units = tuple(
        UnitPlan(
            service=name,
            files=(),
            packages=tuple(svc.packages),
            packaged_units=tuple(svc.packaged_units),
        )
        for name, svc in SERVICES.items()
    )
    node = NodePlan(
        hostname=BUILD_HOST,
        fqdn=BUILD_HOST,
        role="image",
        mac="",
        addresses={"ctlplane": NODE_ADDRESS},
        services=(),
        files={},
        units=units,
    )
    every = node_vars(node, {}, venv_stamp())
    wanted = playbook_variables(playbook_text)
    missing = sorted(wanted - every.keys())
    if missing:
        raise DcnError(
            f"node image: the prerequisite tasks use {', '.join(missing)}, "
            "which the deploy's host variables do not have",
            hint="keep playbooks/prerequisites.yml and dcn.deploy.bundle.node_vars in step",
        )
    return {name: every[name] for name in sorted(wanted)}


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def cache_key(
    base_digest: str,
    playbook: bytes,
    variables: Mapping[str, Any],
    constraints: bytes,
    version: str = dcn.__version__,
    fmt: int = FORMAT,
) -> str:
    """The digest naming a prepared image: every input that changes what it holds."""
    inputs = {
        "kind": "prepared",
        "format": fmt,
        "base": base_digest,
        "playbook": _sha(playbook),
        "variables": _sha(json.dumps(variables, sort_keys=True, default=str).encode()),
        "constraints": _sha(constraints),
        "dcn": version,
    }
    blob = json.dumps(inputs, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(blob).hexdigest()[:24]


def wrapper_play(playbook: Path) -> str:
    """A play that runs the real prerequisite tasks, nothing else, on the build node."""
    play = [
        {
            "name": PLAY_NAME,
            "hosts": BUILD_HOST,
            "gather_facts": False,
            "tasks": [
                {
                    "name": "dcn: prerequisites of a real host",
                    "ansible.builtin.include_tasks": str(playbook),
                }
            ],
        }
    ]
    return yaml.safe_dump(play, sort_keys=False)


# -- the machine's local pip sources ------------------------------------------------


def local_pip_sources(config_list: str) -> list[tuple[str, Path]]:
    """(pip option, local directory) of the machine's pip configuration (the output of
    ``pip config list``): find-links directories and file:// indexes."""
    found: dict[tuple[str, Path], None] = {}
    for line in config_list.splitlines():
        name, sep, value = line.partition("=")
        option = name.rsplit(".", 1)[-1]
        if not sep or option not in _PIP_SOURCES:
            continue
        for item in value.strip().strip("'\"").split():
            if item.startswith("file://"):
                path = Path(unquote(urlsplit(item).path))
            elif item.startswith("/"):
                path = Path(item)
            else:
                continue
            kind = "find-links" if option == "find-links" else "extra-index-url"
            found[(kind, path)] = None
    return list(found)


def _machine_pip_sources() -> list[tuple[str, Path]]:
    if os.environ.get(LOCAL_PIP_ENV, "0") != "1":
        return []
    result = subprocess.run(
        [sys.executable, "-m", "pip", "config", "list"],
        capture_output=True,
        text=True,
        check=False,
    )
    return [(k, p) for k, p in local_pip_sources(result.stdout) if p.is_dir()]


def pip_binds(sources: list[tuple[str, Path]]) -> list[Path]:
    """Directories to bind read-only into the build node: a find-links directory, or the
    folder holding a simple index (its pages link to files beside it)."""
    binds: dict[Path, None] = {}
    for kind, path in sources:
        where = path.parent if kind == "extra-index-url" and path.name == "simple" else path
        if where != Path("/"):
            binds[where] = None
    return list(binds)


def build_pip_conf(proxy_url: str, sources: list[tuple[str, Path]]) -> str:
    """The build node's pip.conf: the proxy to PyPI, and the local sources if any."""
    text = proxy.node_files(proxy_url)["/etc/pip.conf"] + "timeout = 60\n"
    links = [str(p) for k, p in sources if k == "find-links"]
    indexes = [f"file://{p}" for k, p in sources if k == "extra-index-url"]
    if links:
        text += f"find-links = {' '.join(links)}\n"
    if indexes:
        text += f"extra-index-url = {' '.join(indexes)}\n"
    return text


# -- what a node must not share -------------------------------------------------------

#: removed: per-node identity (generated at each node's first start), the build's
#: access (its key, the proxy that exists only during the build), secrets a package
#: made at install (RabbitMQ's Erlang cookie: dcn delivers its own)
_REMOVE = (
    "etc/ssh/ssh_host_*",
    "etc/hostname",
    "var/lib/dbus/machine-id",
    "var/lib/systemd/random-seed",
    "var/lib/systemd/credential.secret",
    "root/.ssh/authorized_keys",
    "etc/apt/apt.conf.d/80dcn-proxy",
    "etc/pip.conf",
    "var/lib/rabbitmq/.erlang.cookie",
    "root/.bash_history",
)
#: emptied, the directory kept: caches, temporary files, RabbitMQ's database (named
#: after the build node's host name)
_EMPTY = (
    "var/cache/apt/archives",
    "var/log/journal",
    "tmp",
    "var/tmp",
    "var/lib/rabbitmq/mnesia",
)
#: removed with what they hold: the build's pip cache and Ansible's remote files
_TREES = ("root/.cache", "root/.ansible")
#: their files removed, their directories kept (packages made them, with owners)
_LOGS = "var/log"


def _empty_dir(path: Path, keep_dirs: bool = False) -> None:
    if path.is_symlink() or not path.is_dir():
        return
    for child in path.iterdir():
        if child.is_dir() and not child.is_symlink():
            if keep_dirs:
                _empty_dir(child, keep_dirs)
            else:
                shutil.rmtree(child)
        else:
            child.unlink()


def clean_root(root: Path, restore: Mapping[str, bytes | None], made: list[Path]) -> None:
    """Remove from a powered-off build node's root what a node must not share; put back
    the base's `restore` files (hosts, resolv.conf: the build node's own were written
    over them); remove the empty directories nspawn made for `made` binds."""
    for pattern in _REMOVE:
        for path in root.glob(pattern):
            if path.is_file() or path.is_symlink():
                path.unlink()
    mid = root / "etc" / "machine-id"
    if mid.is_symlink() or mid.exists():
        mid.unlink()  # never written through a link (it could point at the machine's)
        mid.write_text("")  # empty: each node gets its own at its first start
        mid.chmod(0o444)
    for rel in _EMPTY:
        _empty_dir(root / rel)
    _empty_dir(root / _LOGS, keep_dirs=True)
    for rel in _TREES:
        tree = root / rel
        if tree.is_symlink():
            tree.unlink()
        elif tree.is_dir():
            shutil.rmtree(tree)
    for pkgcache in (root / "var" / "cache" / "apt").glob("*.bin"):
        pkgcache.unlink()
    for rel, content in restore.items():
        target = root / rel
        if target.is_symlink() or target.exists():
            target.unlink()
        if content is not None:
            target.write_bytes(content)
    ssh = root / "root" / ".ssh"
    with contextlib.suppress(OSError):
        ssh.rmdir()  # only when empty
    for bind in sorted(made, key=lambda p: len(p.parts), reverse=True):
        with contextlib.suppress(OSError):
            (root / str(bind).lstrip("/")).rmdir()


def _size(path: Path) -> int:
    out = subprocess.run(
        ["du", "-sx", "--block-size=1", str(path)], capture_output=True, text=True, check=False
    ).stdout
    return int(out.split()[0]) if out else 0


# -- the build -------------------------------------------------------------------------


@contextlib.contextmanager
def _flock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        yield


def _ip(*args: str, check: bool = True) -> None:
    result = subprocess.run(["ip", *args], capture_output=True, text=True, check=False)
    if check and result.returncode != 0:
        raise DcnError(
            f"node image: 'ip {' '.join(args)}' failed: {result.stderr.strip()}",
            hint="the build node's network needs root and iproute2",
        )


def _alive(pid: int) -> bool:
    return Path(f"/proc/{pid}").exists()


def _build_machine(
    tmp: Path, pid: int, binds: tuple[Path, ...] = (), authorized_key: str = ""
) -> Machine:
    return Machine(
        name=f"{NETNS_PREFIX}{pid}",
        node_dir=tmp / "node",
        image=tmp / ROOT,
        netns=f"{NETNS_PREFIX}{pid}",
        hostname=BUILD_HOST,
        authorized_key=authorized_key,
        in_place=True,
        binds_ro=binds,
    )


def _working_in(folder: Path) -> list[int]:
    """Processes whose working directory is `folder` (a killed build's play and ssh)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if os.readlink(entry / "cwd") == str(folder):
                    found.append(int(entry.name))
    return found


def _remove_stale(cache: Path) -> None:
    """What killed builds left: their nodes, proxies, trees and namespaces. Called with
    the network lock held, so no live build owns a ``dcnimg-`` namespace."""
    for stale in cache.glob(".prepare-*-*"):
        pid = stale.name.rsplit("-", 1)[-1]
        if not pid.isdigit() or _alive(int(pid)):
            continue
        for orphan in _working_in(stale / "work"):  # its ansible-playbook and ssh
            with contextlib.suppress(ProcessLookupError):
                os.kill(orphan, signal.SIGKILL)
        proxy.stop(stale / "work" / "proxy")
        _build_machine(stale, int(pid)).stop()
        remove_tree(stale)
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=False)
    for line in listed.stdout.splitlines():
        name = line.split()[0] if line.split() else ""
        if name.startswith(NETNS_PREFIX) and name != f"{NETNS_PREFIX}{os.getpid()}":
            _ip("netns", "del", name, check=False)
            _ip("link", "del", name.replace("-", ""), check=False)


@contextlib.contextmanager
def _network(pid: int) -> Iterator[str]:
    """The build node's namespace and a veth to the machine; removed however it ends."""
    netns, host_if = f"{NETNS_PREFIX}{pid}", f"{NETNS_PREFIX.rstrip('-')}{pid}"
    try:
        _ip("netns", "add", netns)
        _ip("link", "add", host_if, "type", "veth", "peer", "name", "eth0", "netns", netns)
        _ip("addr", "add", f"{HOST_ADDRESS}/30", "dev", host_if)
        _ip("link", "set", host_if, "up")
        _ip("-n", netns, "addr", "add", f"{NODE_ADDRESS}/30", "dev", "eth0")
        _ip("-n", netns, "link", "set", "eth0", "up")
        _ip("-n", netns, "link", "set", "lo", "up")
        yield netns
    finally:
        _ip("netns", "del", netns, check=False)
        _ip("link", "del", host_if, check=False)


def _ansible_env(work: Path, key: Path, known_hosts: Path) -> dict[str, str]:
    ssh_args = (
        "-o ControlMaster=no -o ConnectTimeout=10 -o IdentitiesOnly=yes "
        f"-o StrictHostKeyChecking=yes -o UserKnownHostsFile={known_hosts}"
    )
    (work / "ansible.cfg").write_text("[defaults]\n")
    return {
        "PATH": f"{Path(sys.executable).parent}:/usr/sbin:/usr/bin:/sbin:/bin",
        "HOME": str(work),
        "LANG": "C.UTF-8",
        "ANSIBLE_CONFIG": str(work / "ansible.cfg"),
        "ANSIBLE_HOME": str(work / "ansible"),
        "ANSIBLE_LOCAL_TEMP": str(work / "ansible" / "tmp"),
        "ANSIBLE_SSH_ARGS": ssh_args,
        "ANSIBLE_PIPELINING": "True",
        "ANSIBLE_PRIVATE_KEY_FILE": str(key),
        "ANSIBLE_REMOTE_USER": "root",
        "ANSIBLE_PYTHON_INTERPRETER": "/usr/bin/python3",
        "ANSIBLE_RETRY_FILES_ENABLED": "False",
        "ANSIBLE_NOCOLOR": "True",
        "ANSIBLE_HOST_KEY_CHECKING": "True",
        "ANSIBLE_DEPRECATION_WARNINGS": "False",
        # per task times (the virtualenv's is the figure to watch)
        "ANSIBLE_CALLBACKS_ENABLED": "ansible.builtin.junit",
        "JUNIT_OUTPUT_DIR": str(work / "junit"),
        "JUNIT_TASK_CLASS": "False",
        "JUNIT_HIDE_TASK_ARGUMENTS": "True",
    }


def task_seconds(junit_dir: Path) -> dict[str, float]:
    """Seconds per task of the run, from the junit callback's report."""
    times: dict[str, float] = {}
    for report in sorted(junit_dir.glob("*.xml")):
        with contextlib.suppress(ET.ParseError, OSError):
            for case in ET.parse(report).getroot().iter("testcase"):
                name = re.sub(r"^\[[^\]]*\]\s*", "", case.get("name", ""))
                name = name.removeprefix(f"{PLAY_NAME}: ")
                times[name] = round(times.get(name, 0.0) + float(case.get("time") or 0), 1)
    return times


def _run_play(work: Path, log: Path, key: Path, known_hosts: Path, variables: Any) -> None:
    from dcn.deploy.runner import ansible_yaml

    (work / "inventory.yml").write_text(
        yaml.safe_dump({"all": {"hosts": {BUILD_HOST: {"ansible_host": NODE_ADDRESS}}}})
    )
    (work / "vars.yml").write_text(ansible_yaml(variables))
    (work / "image.yml").write_text(wrapper_play(playbook_path()))
    command = [
        str(Path(sys.executable).parent / "ansible-playbook"),
        "-i",
        str(work / "inventory.yml"),
        "-e",
        f"@{work / 'vars.yml'}",
        str(work / "image.yml"),
    ]
    with open(log, "ab") as out:
        play = subprocess.Popen(
            command,
            cwd=work,
            env=_ansible_env(work, key, known_hosts),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            code = play.wait(timeout=PLAY_TIMEOUT)
        except subprocess.TimeoutExpired:
            code = None
        finally:
            if play.poll() is None:  # timed out or interrupted: its ssh children too
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(play.pid, signal.SIGKILL)
                play.wait()
    if code != 0:
        what = f"exit {code}" if code is not None else f"no end after {PLAY_TIMEOUT:.0f} s"
        raise DcnError(
            f"node image: the prerequisite tasks failed on the build node ({what}); "
            f"last lines:\n{base_image.log_tail(log)}",
            hint="fix the cause above (the Debian mirror and PyPI must be reachable from "
            "this machine) and run it again",
        )


def _prepare(tmp: Path, base: Image, variables: Mapping[str, Any], say: Say) -> dict[str, Any]:
    """Boot a build node on a copy of the base in tmp/root, run the tasks, power it off,
    clean what is per node; return the figures of the build."""
    pid = os.getpid()
    root, work = tmp / ROOT, tmp / "work"
    work.mkdir(mode=0o700)
    figures: dict[str, Any] = {}
    started = time.monotonic()
    subprocess.run(["cp", "-a", str(base.root), str(root)], check=True, capture_output=True)
    figures["copy_seconds"] = round(time.monotonic() - started, 1)
    restore: dict[str, bytes | None] = {}
    for rel in ("etc/hosts", "etc/resolv.conf"):
        path = root / rel
        restore[rel] = path.read_bytes() if path.is_file() and not path.is_symlink() else None
    sources = _machine_pip_sources()
    binds = tuple(pip_binds(sources))
    made = [b for b in binds if not (root / str(b).lstrip("/")).exists()]
    key = work / "id_ed25519"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "dcn-image", "-f", str(key)],
        check=True,
        capture_output=True,
    )
    machine = _build_machine(tmp, pid, binds, key.with_suffix(".pub").read_text())
    proxy_dir = work / "proxy"
    with _network(pid):
        try:
            url = proxy.start(HOST_ADDRESS, [SUBNET], proxy_dir)
            files = {**proxy.node_files(url), "/etc/pip.conf": build_pip_conf(url, sources)}
            for path, content in files.items():
                target = root / path.lstrip("/")
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(content)
            t = time.monotonic()
            machine.start()
            figures["boot_seconds"] = round(time.monotonic() - t, 1)
            host_key = (root / "etc/ssh/ssh_host_ed25519_key.pub").read_text().split()
            known_hosts = work / "known_hosts"
            known_hosts.write_text(f"{NODE_ADDRESS} {host_key[0]} {host_key[1]}\n")
            local = ", ".join(str(b) for b in binds) or "none"
            say(f"running the prerequisite tasks on the build node (local pip sources: {local})")
            t = time.monotonic()
            _run_play(work, tmp / LOG, key, known_hosts, variables)
            figures["tasks_seconds"] = round(time.monotonic() - t, 1)
            figures["tasks"] = task_seconds(work / "junit")
            machine.exec(["apt-get", "clean"], timeout=60)
            figures["clean_poweroff"] = machine.shutdown()
        finally:
            proxy.stop(proxy_dir)
            machine.remove()  # stops it if it still runs, unmounts its root, deletes node/
    clean_root(root, restore, made)
    remove_tree(work)
    figures["pip_local_sources"] = [str(b) for b in binds]
    return figures


def ensure_prepared_image(cache_dir: Path | None = None, say: Say = print) -> Image:
    """The node image with a real host's prerequisites applied: from the cache, or built
    (the base image first if needed, then the prerequisite tasks: minutes, once)."""
    base = base_image.ensure_image(EXTRA_PACKAGES, cache_dir=cache_dir, say=say)
    playbook = playbook_path()
    text = playbook.read_bytes()
    variables = prerequisite_vars(text.decode())
    constraints = constraints_file().read_bytes()
    digest = cache_key(base.digest, text, variables, constraints)
    cache = (cache_dir or base_image.default_cache_dir()).resolve()
    entry = cache / digest
    if (entry / ROOT).is_dir():
        return Image(entry / ROOT, digest, built=False, seconds=0.0)
    if os.geteuid() != 0:
        raise DcnError("node image: preparing it needs root", hint="run as root")
    for tool in ("systemd-nspawn", "ssh", "ssh-keygen", "ip"):
        if shutil.which(tool) is None:
            raise DcnError(
                f"node image: {tool} is not installed",
                hint="install systemd-container, openssh-client and iproute2",
            )
    cache.mkdir(parents=True, exist_ok=True)
    with base_image._lock(cache, digest), _flock(NETWORK_LOCK):
        if (entry / ROOT).is_dir():  # prepared by another process while we waited
            return Image(entry / ROOT, digest, built=False, seconds=0.0)
        _remove_stale(cache)
        tmp = cache / f".prepare-{digest}-{os.getpid()}"
        tmp.mkdir()
        say(f"preparing the node image {digest}: the prerequisite tasks on base {base.digest}")
        started = time.monotonic()
        try:
            figures = _prepare(tmp, base, variables, say)
            seconds = time.monotonic() - started
            meta = {
                "digest": digest,
                "kind": "prepared",
                "format": FORMAT,
                "base": base.digest,
                "dcn": dcn.__version__,
                "playbook_sha256": _sha(text),
                "constraints_sha256": _sha(constraints),
                "packages": variables.get("dcn_packages", []),
                "venv": variables.get("dcn_venv"),
                "prepare_seconds": round(seconds, 1),
                "size_bytes": _size(tmp / ROOT),
                "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                **figures,
            }
            (tmp / META).write_text(json.dumps(meta, indent=1, sort_keys=True))
            tmp.rename(entry)
        except BaseException:
            remove_tree(tmp)
            raise
    return Image(entry / ROOT, digest, built=True, seconds=seconds + base.seconds)


#: the image lab nodes boot: "prepared" (the real-host prerequisites applied once, as
#: a host has them after its first deploy) or "base" (Debian and sshd only: a deploy in
#: real-host mode installs everything, as on a fresh host)
IMAGE_ENV = "DCN_LAB_IMAGE"
PREPARED, BASE = "prepared", "base"


def node_image(say: Say = print) -> Path:
    """The root of the image full-host lab nodes boot (`IMAGE_ENV`), built once and then
    taken from the cache."""
    kind = os.environ.get(IMAGE_ENV, PREPARED) or PREPARED
    if kind not in (PREPARED, BASE):
        raise DcnError(
            f"{IMAGE_ENV}={kind!r} is not a node image", hint=f"use {PREPARED} or {BASE}"
        )
    image = base_image.ensure_image(say=say) if kind == BASE else ensure_prepared_image(say=say)
    if image.built:
        say(f"node image ({kind}) built in {image.seconds:.0f} s ({image.root})")
    return image.root
