"""The shared node image: one Debian bookworm root that every full-host lab node boots.

Built once with ``mmdebstrap --variant=minbase`` from the machine's configured Debian
mirror and cached under a digest of its inputs (packages, constraints file, dcn's
version, a format number), so a second lab reuses it at once. A build goes to a
temporary directory beside the cache entry and is renamed into place only when it
succeeded: a failed or killed build never leaves a half-built image behind.

Nodes boot the image read-only below an overlay (`dcn.lab.machine`), so anything
per node (ssh host keys, machine-id, hostname) is removed from it here.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import dcn
from dcn.errors import DcnError
from dcn.redact import redact

#: bump when the way the image is built changes (invalidates every cached image)
FORMAT = 1
SUITE = "bookworm"
BASE_PACKAGES = (
    "systemd",
    "systemd-sysv",
    "dbus",
    "openssh-server",
    "python3",
    "python3-venv",
    "iproute2",
    "procps",
    "ca-certificates",
    "sudo",
    # lab workloads: busybox's udhcpc, ping and wget in a guest; ethtool for its veth
    "busybox",
    "ethtool",
)
DEFAULT_MIRRORS = (
    f"deb http://deb.debian.org/debian {SUITE} main",
    f"deb http://deb.debian.org/debian {SUITE}-updates main",
    f"deb http://deb.debian.org/debian-security {SUITE}-security main",
)
SOURCES_DIR = Path("/etc/apt/sources.list.d")
SOURCES_LIST = Path("/etc/apt/sources.list")
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
HOST_LOCAL_CAS = Path("/usr/local/share/ca-certificates")
ROOT = "root"
META = "image.json"
LOG = "build.log"
LOG_TAIL = 25
#: Debian package names (policy 5.6.1), optionally with an =version
_PACKAGE = re.compile(r"^[a-z0-9][a-z0-9+.\-]+(=[A-Za-z0-9.+~:\-]+)?$")


@dataclass(frozen=True, slots=True)
class Image:
    """A built node image: its root (the overlay's lowerdir) and how it came to be."""

    root: Path
    digest: str
    #: False when it came from the cache
    built: bool
    seconds: float


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "dcn" / "images"


def packages(extra: Iterable[str] = ()) -> list[str]:
    """The image's packages: the base set and the extra ones, sorted, each once."""
    chosen = set(BASE_PACKAGES)
    for name in extra:
        name = name.strip()
        if not _PACKAGE.match(name):
            raise DcnError(
                f"node image: {name!r} is not a Debian package name",
                hint="package names are lower case letters, digits and + - . (e.g. mariadb-server)",
            )
        chosen.add(name)
    return sorted(chosen)


def cache_key(
    extra_packages: Iterable[str] = (),
    constraints: bytes | None = None,
    version: str = dcn.__version__,
    fmt: int = FORMAT,
) -> str:
    """The digest naming a cached image: every input that changes what is built."""
    inputs = {
        "format": fmt,
        "suite": SUITE,
        "packages": packages(extra_packages),
        "constraints": hashlib.sha256(constraints).hexdigest() if constraints is not None else None,
        "dcn": version,
    }
    blob = json.dumps(inputs, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(blob).hexdigest()[:24]


def _deb822_stanzas(text: str) -> Iterator[dict[str, str]]:
    stanza: dict[str, str] = {}
    key = ""
    for line in [*text.splitlines(), ""]:
        if not line.strip():
            if stanza:
                yield stanza
            stanza, key = {}, ""
        elif line.startswith("#"):
            continue
        elif line[0] in " \t" and key:
            stanza[key] += "\n" + line.strip()
        elif ":" in line:
            key, _, value = line.partition(":")
            key = key.strip().lower()
            stanza[key] = value.strip()
    return


def _signed_by(value: str) -> str:
    # a keyring path the image has too (debian-archive-keyring); an inline key or a
    # local keyring is left out: the image trusts Debian's archive keys by itself
    path = value.strip()
    if "\n" in path or not path.startswith("/usr/share/keyrings/debian-archive"):
        return ""
    return f"[signed-by={path}] "


def mirrors(sources_dir: Path = SOURCES_DIR, sources_list: Path = SOURCES_LIST) -> list[str]:
    """One-line apt entries for the suite, from the machine's configured mirrors (deb822
    ``*.sources`` and ``sources.list``); Debian's own mirror when none is configured."""
    lines: list[str] = []
    files = sorted(sources_dir.glob("*.sources")) if sources_dir.is_dir() else []
    for path in files:
        for st in _deb822_stanzas(path.read_text(errors="replace")):
            if "deb" not in st.get("types", "").split() or st.get("enabled", "yes") == "no":
                continue
            for uri in st.get("uris", "").split():
                for suite in st.get("suites", "").split():
                    if suite == SUITE or suite.startswith(f"{SUITE}-"):
                        comps = st.get("components", "main")
                        lines.append(
                            f"deb {_signed_by(st.get('signed-by', ''))}{uri} {suite} {comps}"
                        )
    if sources_list.is_file():
        for raw in sources_list.read_text(errors="replace").splitlines():
            parts = raw.split("#", 1)[0].split()
            if not parts or parts[0] != "deb":
                continue
            rest = parts[1:]
            if rest and rest[0].startswith("["):
                while rest and not rest[0].endswith("]"):
                    rest = rest[1:]
                rest = rest[1:]
            if len(rest) >= 2 and (rest[1] == SUITE or rest[1].startswith(f"{SUITE}-")):
                lines.append(" ".join(["deb", *rest]))
    return list(dict.fromkeys(lines)) or list(DEFAULT_MIRRORS)


def customize_script() -> str:
    """Run by mmdebstrap on the finished root ($1): drop what is per node, add the
    machine's CA certificates (package registries over HTTPS, TLS-inspecting proxies)."""
    return "\n".join(
        [
            'set -e; r="$1"',
            # per node: generated at a node's first start (dcn.lab.machine)
            'rm -f "$r"/etc/ssh/ssh_host_*',
            ': > "$r/etc/machine-id"; rm -f "$r/var/lib/dbus/machine-id"',
            'rm -f "$r/etc/hostname"',
            # a persistent, bounded journal: a node that failed to boot can be read after
            'mkdir -p "$r/var/log/journal" "$r/etc/systemd/journald.conf.d"',
            "printf '[Journal]\\nSystemMaxUse=64M\\n'"
            ' > "$r/etc/systemd/journald.conf.d/dcn-lab.conf"',
            f"if [ -d {HOST_LOCAL_CAS} ]; then"
            f' mkdir -p "$r{HOST_LOCAL_CAS}";'
            f' find {HOST_LOCAL_CAS} -maxdepth 1 -name "*.crt" -type f'
            f' -exec cp -f {{}} "$r{HOST_LOCAL_CAS}/" ";"; fi',
            'chroot "$r" update-ca-certificates >/dev/null 2>&1 || true',
            f'if [ -s {HOST_CA_BUNDLE} ]; then cp -f {HOST_CA_BUNDLE} "$r{HOST_CA_BUNDLE}"; fi',
        ]
    )


def build_command(
    target: Path, extra_packages: Iterable[str] = (), mirror_lines: Sequence[str] | None = None
) -> list[str]:
    """The mmdebstrap command line that builds the image into `target`."""
    return [
        "mmdebstrap",
        "--variant=minbase",
        "--mode=root",
        "--format=directory",
        f"--include={','.join(packages(extra_packages))}",
        # nodes install packages from these lists; the downloaded .debs are cleaned
        "--skip=cleanup/apt/lists",
        '--aptopt=Acquire::Retries "3";',
        "--dpkgopt=path-exclude=/usr/share/doc/*",
        "--dpkgopt=path-include=/usr/share/doc/*/copyright",
        "--dpkgopt=path-exclude=/usr/share/man/*",
        f"--customize-hook={customize_script()}",
        SUITE,
        str(target),
        *(mirrors() if mirror_lines is None else mirror_lines),
    ]


def _mounts_under(path: Path) -> list[str]:
    prefix = str(path).rstrip("/") + "/"
    found = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            point = line.split()[4].replace("\\040", " ")
            if point == str(path) or point.startswith(prefix):
                found.append(point)
    return sorted(found, key=len, reverse=True)


def remove_tree(path: Path) -> None:
    """Delete a directory a build or a node used, never crossing into a mount left
    inside it (a killed build can leave /dev or /proc bound there)."""
    if not path.exists():
        return
    for point in _mounts_under(path):
        subprocess.run(["umount", "-l", point], capture_output=True, check=False)
    if _mounts_under(path):
        raise DcnError(
            f"cannot remove {path}: something is still mounted below it",
            hint=f"unmount what 'grep {path} /proc/self/mountinfo' shows, then retry",
        )
    subprocess.run(["rm", "-rf", "--one-file-system", str(path)], check=True, capture_output=True)


@contextlib.contextmanager
def _lock(cache_dir: Path, digest: str) -> Iterator[None]:
    with open(cache_dir / f".{digest}.lock", "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        yield


def log_tail(log: Path, lines: int = LOG_TAIL) -> str:
    """The last `lines` lines of a log, secrets masked ("" if it cannot be read)."""
    try:
        text = log.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    return redact("\n".join(text[-lines:]))


def ensure_image(
    extra_packages: Iterable[str] = (),
    constraints: Path | None = None,
    cache_dir: Path | None = None,
    say: Callable[[str], None] | None = None,
) -> Image:
    """The node image for these inputs: from the cache, or built (minutes, once)."""
    extra = list(extra_packages)
    content = None
    if constraints is not None:
        try:
            content = constraints.read_bytes()
        except OSError as exc:
            raise DcnError(
                f"node image: cannot read the constraints file {constraints}: {exc.strerror}",
                hint="give an existing constraints file (e.g. constraints/openstack.txt)",
            ) from None
    digest = cache_key(extra, content)
    cache = (cache_dir or default_cache_dir()).resolve()
    entry = cache / digest
    if (entry / ROOT).is_dir():
        return Image(entry / ROOT, digest, built=False, seconds=0.0)
    if shutil.which("mmdebstrap") is None:
        raise DcnError(
            "node image: mmdebstrap is not installed",
            hint="install it with 'apt-get install -y mmdebstrap systemd-container'",
        )
    if os.geteuid() != 0:
        raise DcnError("node image: building it needs root", hint="run as root")
    cache.mkdir(parents=True, exist_ok=True)
    with _lock(cache, digest):
        if (entry / ROOT).is_dir():  # built by another process while we waited
            return Image(entry / ROOT, digest, built=False, seconds=0.0)
        for stale in cache.glob(f".build-{digest}-*"):
            remove_tree(stale)  # a killed build (we hold the lock: nobody else builds)
        tmp = cache / f".build-{digest}-{os.getpid()}"
        tmp.mkdir()
        if say is not None:
            say(f"building the node image {digest} (mmdebstrap, about a minute)")
        started = time.monotonic()
        try:
            _build(tmp, extra, content, digest)
            seconds = time.monotonic() - started
            meta = json.loads((tmp / META).read_text())
            meta["build_seconds"] = round(seconds, 1)
            (tmp / META).write_text(json.dumps(meta, indent=1, sort_keys=True))
            tmp.rename(entry)
        except BaseException:
            remove_tree(tmp)
            raise
    return Image(entry / ROOT, digest, built=True, seconds=seconds)


def _build(tmp: Path, extra: list[str], constraints: bytes | None, digest: str) -> None:
    log = tmp / LOG
    cmd = build_command(tmp / ROOT, extra)
    with open(log, "wb") as out:
        result = subprocess.run(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive", "LC_ALL": "C.UTF-8"},
            check=False,
        )
    if result.returncode != 0:
        raise DcnError(
            f"node image: mmdebstrap failed (exit {result.returncode}); "
            f"last lines:\n{log_tail(log)}",
            hint="check the extra package names and that the Debian mirror in "
            "/etc/apt/sources.list.d is reachable, then retry",
        )
    if constraints is not None:
        dest = tmp / ROOT / "etc" / "dcn"
        dest.mkdir(parents=True, exist_ok=True)
        (dest / "constraints.txt").write_bytes(constraints)
    meta = {
        "digest": digest,
        "format": FORMAT,
        "suite": SUITE,
        "dcn": dcn.__version__,
        "packages": packages(extra),
        "constraints_sha256": hashlib.sha256(constraints).hexdigest() if constraints else None,
        "mirrors": [redact(m) for m in mirrors()],
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    (tmp / META).write_text(json.dumps(meta, indent=1, sort_keys=True))
