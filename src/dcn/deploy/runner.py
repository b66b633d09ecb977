"""Run a playbook with ansible-runner and report each host's steps as they happen.

The run's private directory (0700) holds the inventory and host variables, which carry
secret values; they are deleted when the run ends, however it ends: by this process,
or, if it was killed, by the next dcn command (`dcn.deploy.runs`, which the owner
record written before any secret names the process for). Ansible's own ``no_log``
keeps values out of the events and artifacts.

ansible-playbook runs under `dcn.deploy.playbook_guard`, so that it (and its workers)
dies with this process even when this process is killed with SIGKILL.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from dcn.deploy import runs
from dcn.lab import Connection
from dcn.paths import write_confined

PLAYBOOKS = Path(__file__).parent / "playbooks"
GUARD = Path(__file__).parent / "playbook_guard.py"


@dataclass(frozen=True, slots=True)
class StepEvent:
    """One task's result on one host, as the progress view and the event log show it."""

    host: str
    task: str
    #: ok | changed | failed | unreachable | skipped; or started: the task began on
    #: the host (its result follows)
    outcome: str
    message: str = ""


@dataclass(slots=True)
class HostResult:
    ok: int = 0
    changed: int = 0
    failed: int = 0
    unreachable: int = 0
    #: the first failure: task and message
    failure: str = ""


@dataclass(slots=True)
class RunResult:
    status: str
    hosts: dict[str, HostResult] = field(default_factory=dict)

    @property
    def succeeded(self) -> bool:
        return self.status == "successful" and not any(
            h.failed or h.unreachable for h in self.hosts.values()
        )

    @property
    def changed(self) -> int:
        return sum(h.changed for h in self.hosts.values())

    def absorb(self, later: RunResult) -> None:
        """Add a later playbook's results of the same deploy (its status decides)."""
        for host, hr in later.hosts.items():
            mine = self.hosts.setdefault(host, HostResult())
            mine.ok += hr.ok
            mine.changed += hr.changed
            mine.failed += hr.failed
            mine.unreachable += hr.unreachable
            mine.failure = mine.failure or hr.failure
        self.status = later.status


OnStep = Callable[[StepEvent], None]

_OUTCOMES = {
    "runner_on_ok": "ok",
    "runner_on_failed": "failed",
    "runner_on_unreachable": "unreachable",
    "runner_on_skipped": "skipped",
    "runner_on_start": "started",
}


def _message(res: Mapping[str, Any]) -> str:
    if res.get("censored"):
        return "output hidden (it handles secrets); see the node's logs"
    parts = [str(res.get("msg") or "")]
    for key in ("stderr", "stdout"):
        text = str(res.get(key) or "").strip()
        if text:
            parts.append(text.splitlines()[-1][:300])
    for item in res.get("results") or []:
        if isinstance(item, Mapping) and item.get("failed"):
            return _message(item)
    return " | ".join(p for p in parts if p)


#: how the node's apply.py reports a unit (`dcn.node.apply`): this, then JSON
UNIT_REPORT = "dcn-unit "


def unit_reports(res: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """The units a task's output reports, as (unit, outcome, message): a level of units
    is one task, reported unit by unit."""
    out = []
    for line in str(res.get("stdout") or "").splitlines():
        if not line.startswith(UNIT_REPORT):
            continue
        try:
            unit = json.loads(line[len(UNIT_REPORT) :])
            service, changed, failed = unit["service"], list(unit["changed"]), unit["failed"]
        except (ValueError, KeyError, TypeError):
            continue
        if failed:
            out.append((str(service), "failed", str(failed)))
        else:
            out.append((str(service), "changed" if changed else "ok", ", ".join(changed)))
    return out


def write_inventory(
    run_dir: Path,
    groups: Mapping[str, Mapping[str, Mapping[str, Any]]],
    host_vars: Mapping[str, Mapping[str, Any]],
) -> None:
    """inventory/hosts.yml (groups -> host -> connection vars) and host_vars/<host>.yml.

    The run's owner record comes first: a kill from here on is cleaned up after."""
    runs.claim(run_dir)
    inv = run_dir / "inventory"
    doc = {"all": {"children": {g: {"hosts": dict(h)} for g, h in groups.items()}}}
    # hosts in the order given (a site's in plan order): a clustered control plane's
    # play goes host by host in inventory order, the bootstrap node first
    write_confined(inv, ("hosts.yml",), ansible_yaml(doc, sort_keys=False), 0o600)
    for host, values in host_vars.items():
        write_confined(inv, ("host_vars", f"{host}.yml"), ansible_yaml(dict(values)), 0o600)


class _Unsafe(str):
    """A string Ansible must take as it is: written with YAML's ``!unsafe`` tag."""


class _AnsibleDumper(yaml.SafeDumper):
    pass


_AnsibleDumper.add_representer(
    _Unsafe, lambda dumper, value: dumper.represent_scalar("!unsafe", str(value))
)


def _unsafe(value: Any) -> Any:
    if isinstance(value, str):
        return _Unsafe(value)
    if isinstance(value, Mapping):
        return {k: _unsafe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_unsafe(v) for v in value]
    return value


def ansible_yaml(data: Mapping[str, Any], sort_keys: bool = True) -> str:
    """YAML for Ansible with every string value tagged ``!unsafe``.

    Ansible templates variables when it uses them: a value holding ``{{ lookup('pipe',
    ...) }}`` (from a description, an override, an imported export) would run a command
    on the operator's machine. Marked unsafe, every value is data, never a template.
    """
    return yaml.dump(_unsafe(data), Dumper=_AnsibleDumper, sort_keys=sort_keys)


def _envvars(conn: Connection, forks: int) -> dict[str, str]:
    ssh_args = [
        "-o ControlMaster=auto",
        "-o ControlPersist=60s",
        "-o ConnectTimeout=10",
        "-o IdentitiesOnly=yes",
        "-o ServerAliveInterval=15",
    ]
    # host keys are always checked: the lab's are recorded when it comes up; real
    # hosts' must be in the operator's known_hosts (or DCN_KNOWN_HOSTS)
    ssh_args.append("-o StrictHostKeyChecking=yes")
    if conn.known_hosts:
        ssh_args.append(f"-o UserKnownHostsFile={conn.known_hosts}")
    return {
        "ANSIBLE_SSH_ARGS": " ".join(ssh_args),
        "ANSIBLE_PIPELINING": "True",
        "ANSIBLE_FORKS": str(forks),
        "ANSIBLE_PRIVATE_KEY_FILE": str(conn.private_key),
        "ANSIBLE_REMOTE_USER": conn.user,
        "ANSIBLE_PYTHON_INTERPRETER": "/usr/bin/python3",
        "ANSIBLE_RETRY_FILES_ENABLED": "False",
        "ANSIBLE_NOCOLOR": "True",
        "ANSIBLE_HOST_KEY_CHECKING": "True",
        "ANSIBLE_BECOME": "False" if conn.user == "root" else "True",
        "ANSIBLE_LOCALHOST_WARNING": "False",
        "ANSIBLE_DEPRECATION_WARNINGS": "False",
        "ANSIBLE_ROLES_PATH": str(PLAYBOOKS),
        # ansible-playbook and friends from dcn's own environment
        "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}",
    }


def run_playbook(
    run_dir: Path,
    playbook: str | Sequence[str],
    conn: Connection,
    extravars: Mapping[str, Any],
    on_step: OnStep,
    forks: int = 10,
    cancel: threading.Event | None = None,
    playbooks: Path = PLAYBOOKS,
) -> RunResult:
    """Run `playbook` (a file in `playbooks`, dcn's own by default; or several, one
    after the other in one ansible-playbook) against the inventory in `run_dir`."""
    import ansible_runner  # imported here: it is slow to import and only deploys need it

    result = RunResult(status="unknown")

    def count(host_name: str, task: str, outcome: str, message: str) -> None:
        host = result.hosts.setdefault(host_name, HostResult())
        if outcome in ("ok", "changed", "failed", "unreachable"):
            setattr(host, outcome, getattr(host, outcome) + 1)
        if outcome in ("failed", "unreachable") and not host.failure:
            host.failure = f"{task}: {message}"
        on_step(StepEvent(host_name, task, outcome, message))

    def handler(event: dict[str, Any]) -> bool:
        outcome = _OUTCOMES.get(event.get("event", ""))
        data = event.get("event_data") or {}
        if outcome is None or "host" not in data:
            return True
        res = data.get("res") or {}
        if outcome == "ok" and res.get("changed"):
            outcome = "changed"
        if outcome == "failed" and data.get("ignore_errors"):
            outcome = "ok"
        reported = unit_reports(res) if outcome in ("ok", "changed", "failed") else []
        for task, unit_outcome, message in reported:
            count(data["host"], task, unit_outcome, message)
        if not reported or (outcome == "failed" and not any(r[1] == "failed" for r in reported)):
            message = _message(res) if outcome in ("failed", "unreachable") else ""
            count(data["host"], str(data.get("task", "")), outcome, message)
        return True

    runs.claim(run_dir)
    # extra variables go through a file too (a dict would be passed as JSON on the
    # command line, where it could be neither marked unsafe nor kept out of ps)
    write_confined(run_dir, ("env", "extravars"), ansible_yaml(dict(extravars)), 0o600)
    runner = ansible_runner.run(
        private_data_dir=str(run_dir),
        project_dir=str(playbooks),
        # ansible-playbook under the guard, which dies with this process (PDEATHSIG).
        # The kernel signals it when the *thread* that forked it exits: edges deploy in
        # a ThreadPoolExecutor's threads, which live until the pool shuts down, after
        # every run has ended. With `binary`, ansible-runner appends -i and -e but not
        # the playbook: it goes on our part of the command line.
        binary=sys.executable,
        cmdline=shlex.join(
            ["-I", str(GUARD), "--parent", str(os.getpid()), "--"]
            + [str(playbooks / p) for p in ([playbook] if isinstance(playbook, str) else playbook)]
        ),
        envvars=_envvars(conn, forks),
        event_handler=handler,
        cancel_callback=(lambda: cancel.is_set()) if cancel else None,
        quiet=True,
        suppress_env_files=True,
        timeout=1800,
    )
    result.status = str(runner.status)
    return result


def clean(run_dir: Path) -> None:
    """Remove what holds secrets (inventory, extra vars) and the owner record; keep the
    artifacts (no_log'ed)."""
    runs.finish(run_dir)
