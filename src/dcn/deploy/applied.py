"""A deploy with nothing to do: each node asked, in one SSH round trip, whether what the
plan would apply is what it holds; Ansible runs only where it is not.

What a node holds after site.yml ran on it successfully:

- the *applied stamp* (`STAMP`, 0600): the digest of everything the playbooks apply to
  the node (its host variables, secret values included, and the playbooks' text),
  removed by the run's first task (with the node programs) and written by its last
  level once every unit succeeded, so that an interrupted or failed run never leaves a
  matching one;
- every file dcn writes, with the planned content (sha256), mode and owner; every
  directory dcn declares; every step's marker; every process active, enabled and
  running its planned digest, and no dcn unit besides.

The node's ``unitctl.py check`` compares (hashes go there, paths and names come back:
never contents, the files hold secrets) and answers what differs, so a hand-edited
file, a stopped process or a deleted marker brings Ansible back. Anything unexpected
(no answer, an older node program, an answer that does not parse) means: Ansible
runs, as it always did.

register.yml (an edge's computes in the control plane) and networks.yml (the workload
networks) converge cloud objects, not node files: each leaves a stamp of its inputs on
the node it runs on, and is left out only when that stamp matches and site.yml was
left out on every node of the site (a node Ansible changed may be a rebuilt one).
"""

from __future__ import annotations

import functools
import hashlib
import json
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import PurePosixPath
from typing import Any

from dcn import remote
from dcn.deploy import bundle, runner
from dcn.lab import Connection
from dcn.plan.types import canonical_json

#: the site playbook's stamp on every node
STAMP = f"{bundle.NODE_HOME}/applied"
#: a check answers in well under a second; this bounds a node that hangs
CHECK_TIMEOUT = 20.0
#: nodes asked at once
WORKERS = 16
#: Ansible ran on the node because of this (shown when there are many)
SHOWN_REASONS = 3


def stamp_path(name: str) -> str:
    """Where another playbook's stamp lives (``register-<site>``, ``networks``)."""
    return f"{STAMP}-{name}"


@functools.cache
def _playbooks() -> bytes:
    """Every playbook's text: a dcn that applies differently applies again."""
    h = hashlib.sha256()
    for path in sorted(runner.PLAYBOOKS.glob("*.yml")):
        h.update(f"{path.name}\0".encode() + path.read_bytes() + b"\0")
    return h.digest()


def digest(values: Mapping[str, Any]) -> str:
    """Of what a playbook applies: its variables (secret values included, so a rotated
    secret is applied again) and the playbooks. Prefixed: Ansible would read a value
    that looks like a number back as one."""
    h = hashlib.sha256(canonical_json(values).encode())
    h.update(_playbooks())
    return f"sha256:{h.hexdigest()}"


def stamped(values: Mapping[str, Any], path: str) -> dict[str, Any]:
    """`values` with the stamp a successful run leaves: where, and their digest."""
    return {**values, "dcn_applied_path": path, "dcn_applied": digest(values)}


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Expected:
    """What a node holds once a run applied its plan: the check's request (hashes,
    modes, names; no content)."""

    #: stamp path -> digest
    applied: Mapping[str, str] = field(default_factory=dict)
    #: path -> sha256 of the content dcn writes
    files: Mapping[str, str] = field(default_factory=dict)
    #: path -> mode (and owner, group where dcn sets them), files and directories
    modes: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    markers: tuple[str, ...] = ()
    #: process -> planned digest; None: processes are not asked about
    processes: Mapping[str, str] | None = None

    def with_stamp(self, path: str, value: str) -> Expected:
        return replace(self, applied={**self.applied, path: value})

    def request(self) -> str:
        doc: dict[str, Any] = {
            "applied": dict(self.applied),
            "files": dict(self.files),
            "modes": {p: dict(m) for p, m in self.modes.items()},
            "markers": list(self.markers),
        }
        if self.processes is not None:
            doc["processes"] = dict(self.processes)
        return json.dumps(doc, sort_keys=True)


def expected(host_vars: Mapping[str, Any]) -> Expected:
    """What site.yml leaves on a node, from the node's stamped host variables, in the
    playbook's order (a path written twice holds what was written last)."""
    files: dict[str, str] = {}
    modes: dict[str, dict[str, str]] = {bundle.NODE_HOME: {"mode": "0755"}}

    def put(path: str, content: str, mode: str, owner: str | None = None) -> None:
        files[path] = _sha256(content)
        modes[path] = {"mode": mode, **({"owner": owner, "group": owner} if owner else {})}

    for program in json.loads(host_vars["dcn_programs"])["programs"]:
        put(program["path"], program["content"], "0755")
    venv = host_vars["dcn_venv"]
    modes[str(PurePosixPath(venv).parent)] = {"mode": "0755"}
    put(f"{venv}.constraints.txt", host_vars["dcn_constraints"], "0644")
    written = json.loads(host_vars["dcn_write"])
    for d in written["dirs"]:
        modes[d["path"]] = {"mode": d["mode"], "owner": d["owner"]}
    for f in written["files"]:
        put(f["path"], f["content"], f["mode"], f["owner"])
    markers = [host_vars["dcn_venv_stamp"]]
    processes: dict[str, str] = {}
    for level in host_vars["dcn_levels"]:
        for unit in json.loads(level["spec"])["units"]:
            markers += [step["marker"] for step in (*unit["pre"], *unit["post"])]
            processes.update((p["name"], p["digest"]) for p in unit["processes"])
    return Expected(
        applied={host_vars["dcn_applied_path"]: host_vars["dcn_applied"]},
        files=files,
        modes=modes,
        markers=tuple(markers),
        processes=processes,
    )


@dataclass(frozen=True, slots=True)
class Answer:
    """A node's check: its stamps (True: matches, False: another, None: none) and what
    differs, one line each (paths and names only)."""

    stamps: Mapping[str, bool | None]
    drift: tuple[str, ...] = ()


def parse(text: str | None) -> Answer | None:
    """The check's answer, or None for anything else (an older node program, a failure)."""
    try:
        doc = json.loads(text or "")
        stamps = {str(p): v for p, v in doc["applied"].items() if v is None or isinstance(v, bool)}
        drift = [
            *(f"{p} differs" for p in doc["differ"]),
            *(f"{p} missing" for p in doc["missing"]),
            *(f"{p}: {why}" for p, why in sorted(doc["modes"].items())),
            *(f"step marker {PurePosixPath(m).name} missing" for m in doc["markers"]),
            *(f"process {n}: {why}" for n, why in sorted(doc["processes"].items())),
            *(f"{u} is not planned here" for u in doc["extra"]),
        ]
    except (ValueError, TypeError, KeyError, AttributeError):
        return None
    return Answer(stamps, tuple(str(d) for d in drift))


def _why(answer: Answer | None) -> str:
    """Why Ansible runs on a node ("" when it need not)."""
    if answer is None:
        return "no answer to the check"
    stamp = answer.stamps.get(STAMP)
    if stamp is not True:
        return "applied from another plan" if stamp is False else "not applied by a successful run"
    return answer.drift[0] if answer.drift else ""


@dataclass(frozen=True, slots=True)
class Decision:
    """Where a site's deploy runs Ansible, from the nodes' answers."""

    #: the site's nodes, in order
    nodes: tuple[str, ...]
    #: node -> why site.yml runs there; the others are left out
    apply: Mapping[str, str]
    #: playbook after site.yml -> why it runs, or None: left out
    playbooks: Mapping[str, str | None] = field(default_factory=dict)
    seconds: float = 0.0
    #: False: nothing was asked (``--full``)
    checked: bool = True

    @property
    def unchanged(self) -> tuple[str, ...]:
        return tuple(n for n in self.nodes if n not in self.apply)

    def runs(self, playbook: str) -> bool:
        """Whether `playbook` runs (one the check knew nothing about always does)."""
        return self.playbooks.get(playbook, "not checked") is not None

    @property
    def skips_ansible(self) -> bool:
        return not self.apply and not any(w is not None for w in self.playbooks.values())

    def _count(self) -> str:
        kept, total = len(self.unchanged), len(self.nodes)
        plural = "s" * (total != 1)
        count = f"{kept} node{plural}" if kept == total else f"{kept} of {total} node{plural}"
        return f"{count} unchanged (checked in {self.seconds:.1f} s)"

    def note(self) -> str:
        """For the site's outcome, once it ran: how many nodes were left out ("" when
        none)."""
        if not self.checked or not self.unchanged:
            return ""
        if self.skips_ansible:
            return f"{self._count()}; Ansible skipped"
        if not self.apply:
            running = [p for p, w in self.playbooks.items() if w is not None]
            return f"{self._count()}; only {', '.join(running)} ran"
        return self._count()

    def line(self, site: str) -> str:
        """What the operator sees before Ansible starts (or instead of it)."""
        if not self.checked:
            return f"{site}: --full: Ansible on every node"
        if not self.nodes:
            return f"{site}: no nodes"
        if self.skips_ansible:
            return f"{site}: {self.note()}"
        parts = [self._count() if self.unchanged else f"checked in {self.seconds:.1f} s"]
        if self.apply:
            shown = [f"{n} ({w})" for n, w in list(self.apply.items())[:SHOWN_REASONS]]
            more = len(self.apply) - len(shown)
            parts.append("Ansible on " + ", ".join(shown) + (f" and {more} more" if more else ""))
        else:  # no node gets Ansible: why a playbook after site.yml still runs
            parts += [f"{p} runs ({w})" for p, w in self.playbooks.items() if w is not None]
        return f"{site}: " + "; ".join(parts)


def decide(
    nodes: Sequence[str],
    answers: Mapping[str, Answer | None],
    followers: Mapping[str, tuple[str, str]] | None = None,
    seconds: float = 0.0,
) -> Decision:
    """Which nodes site.yml leaves out (their answer says nothing differs) and which
    playbooks after it run. `followers`: playbook -> (the node holding its stamp, the
    stamp's path). Pure: the answers are given."""
    apply = {n: why for n in nodes if (why := _why(answers.get(n)))}
    playbooks: dict[str, str | None] = {}
    for playbook, (holder, path) in (followers or {}).items():
        answer = answers.get(holder)
        if apply:
            playbooks[playbook] = "after site.yml"
        elif answer is None:
            playbooks[playbook] = f"no answer from {holder}"
        elif answer.stamps.get(path) is not True:
            playbooks[playbook] = "its inputs changed since its last successful run"
        else:
            playbooks[playbook] = None
    return Decision(tuple(nodes), apply, playbooks, seconds)


def check_argv(conn: Connection) -> list[str]:
    """The node's check (as root: it reads 0600 files; sudo without a password else)."""
    argv = [bundle.NODE_PYTHON, bundle.UNITCTL, "check"]
    return argv if conn.user == "root" else ["sudo", "-n", *argv]


def ask(
    conn: Connection, targets: Mapping[str, tuple[str, Expected]], timeout: float = CHECK_TIMEOUT
) -> dict[str, Answer | None]:
    """Every node's answer (host -> (address, request)), one SSH round trip each, in
    parallel."""
    argv = check_argv(conn)

    def one(host: str) -> tuple[str, Answer | None]:
        address, request = targets[host]
        try:
            return host, parse(remote.run(conn, address, argv, timeout, stdin=request.request()))
        except OSError:
            return host, None

    if not targets:
        return {}
    with ThreadPoolExecutor(max_workers=min(WORKERS, len(targets))) as pool:
        return dict(pool.map(one, targets))


@dataclass(slots=True)
class SiteCheck:
    """What one site's deploy asks its nodes (and the node holding a later playbook's
    stamp), built as the deploy prepares its variables."""

    nodes: list[str] = field(default_factory=list)
    targets: dict[str, tuple[str, Expected]] = field(default_factory=dict)
    followers: dict[str, tuple[str, str]] = field(default_factory=dict)

    def node(self, host: str, address: str, host_vars: Mapping[str, Any]) -> None:
        self.nodes.append(host)
        self.targets[host] = (address, expected(host_vars))

    def follower(
        self, playbook: str, host: str, address: str, extravars: Mapping[str, Any]
    ) -> None:
        """A playbook after site.yml, run on `host` with stamped `extravars`."""
        path = extravars["dcn_applied_path"]
        where, request = self.targets.get(host, (address, Expected()))
        self.targets[host] = (where, request.with_stamp(path, extravars["dcn_applied"]))
        self.followers[playbook] = (host, path)

    def run(self, conn: Connection) -> Decision:
        started = time.monotonic()
        answers = ask(conn, self.targets)
        return decide(self.nodes, answers, self.followers, time.monotonic() - started)

    def everything(self) -> Decision:
        """``--full``: Ansible on every node, every playbook."""
        return Decision(tuple(self.nodes), dict.fromkeys(self.nodes, "--full"), checked=False)
