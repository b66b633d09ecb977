"""A process's systemd unit, rendered from its declaration (`ProcessSpec`).

Two forms, one place:
- dcn's own unit, ``/etc/systemd/system/dcn-<name>.service``, for the OpenStack
  processes (command, user, working directory, environment, order after its backends);
- a drop-in, ``/etc/systemd/system/<unit>.d/dcn.conf``, where the process runs as the
  unit its Debian package ships (mariadb, rabbitmq-server): dcn changes only what it
  must (environment, restart policy) and keeps the rest of Debian's unit.

Both carry ``DCN_PROCESS`` and ``DCN_DIGEST`` (read back by the node program
``unitctl.py``) and an ``ExecStartPre=`` that records, on every start, the digest the
process starts with in ``/run/dcn/units/<name>`` (the process's own environment is no
witness: gunicorn's setproctitle overwrites /proc/PID/environ). The digest covers the
declaration and the delivered content of its service's files, so ``unitctl.py``
restarts a unit exactly when the digest it started with differs from the file's (a
changed file, or a run that died before the restart).

Unit files are world-readable: a secret never goes in one (`render` refuses), services
read theirs from files of mode 0600/0640.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from dcn.plan.types import SECRET_PREFIX, ProcessSpec

UNIT_DIR = "/etc/systemd/system"
DROP_IN = "dcn.conf"
#: where each start records its digest (a tmpfs: gone with the boot, as the process)
STARTED_DIR = "/run/dcn/units"
#: the wait before systemd starts a failed process again; with no start limit it
#: never gives up (growing back-off, RestartSteps=, needs systemd 254; Debian 12 has 252)
RESTART_SEC = 2
#: SIGTERM, then SIGKILL after this long
STOP_TIMEOUT = 20


def unit_name(spec: ProcessSpec) -> str:
    """The unit `spec` runs as: its package's, or dcn's own."""
    return spec.packaged_unit or f"dcn-{spec.name}.service"


def unit_path(spec: ProcessSpec) -> str:
    """The file dcn writes for it: the whole unit, or a drop-in of the package's."""
    if spec.packaged_unit:
        return f"{UNIT_DIR}/{spec.packaged_unit}.d/{DROP_IN}"
    return f"{UNIT_DIR}/{unit_name(spec)}"


def _checked(value: str, what: str) -> str:
    if "\n" in value or "\r" in value:
        raise ValueError(f"{what} holds a line break: {value!r}")
    if SECRET_PREFIX in value:
        raise ValueError(f"{what} references a secret; unit files are world-readable")
    return value


def _quoted(value: str) -> str:
    """A double-quoted systemd word: backslash and quote escaped, % specifiers off."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("%", "%%")
    return f'"{escaped}"'


def exec_line(argv: Sequence[str]) -> str:
    """ExecStart= of `argv`, each argument one word (no variable expansion)."""
    words = []
    for arg in argv:
        _checked(arg, "a command argument")
        plain = arg and not any(c in arg for c in " \t\"'\\;")
        word = arg.replace("%", "%%") if plain else _quoted(arg)
        words.append(word.replace("$", "$$"))
    return " ".join(words)


def environment(env: Mapping[str, str]) -> str:
    """One Environment= line of `env` (sorted)."""
    for key, value in env.items():
        _checked(value, f"environment variable {key}")
        if not key.replace("_", "").isalnum():
            raise ValueError(f"environment variable name {key!r}")
    return "Environment=" + " ".join(_quoted(f"{k}={v}") for k, v in sorted(env.items()))


def _started(spec: ProcessSpec, digest: str) -> str:
    """ExecStartPre= recording `digest` as the one this start runs (as root: ``+``)."""
    if not re.fullmatch(r"[a-z0-9][a-z0-9_.-]*", spec.name) or not digest.isalnum():
        raise ValueError(f"process name {spec.name!r} or digest {digest!r}")
    record = f"mkdir -p {STARTED_DIR} && echo {digest} > {STARTED_DIR}/{spec.name}"
    return "ExecStartPre=+" + exec_line(("/bin/sh", "-c", record))


def render(spec: ProcessSpec, digest: str, after: Sequence[str] = ()) -> str:
    """The unit file, or the drop-in, of `spec`; `after`: units of its backends on
    the same node."""
    env = {**spec.env, "DCN_PROCESS": spec.name, "DCN_DIGEST": digest}
    restart = [_started(spec, digest)]
    if not spec.group:
        restart += ["Restart=on-failure", f"RestartSec={RESTART_SEC}"]
    if spec.packaged_unit:
        return "\n".join(
            [
                f"# managed by dcn: process {spec.name} as Debian's {spec.packaged_unit}",
                *(["[Unit]", "StartLimitIntervalSec=0", ""] if not spec.group else []),
                "[Service]",
                environment(env),
                *restart,
                "",
            ]
        )
    order = " ".join(["network-online.target", *after])
    return "\n".join(
        [
            f"# managed by dcn: process {spec.name}",
            "[Unit]",
            f"Description=dcn: {spec.name}",
            f"After={order}",
            "Wants=network-online.target",
            "StartLimitIntervalSec=0",
            "",
            "[Service]",
            "Type=simple",
            f"User={_checked(spec.user, 'User')}",
            f"WorkingDirectory={_checked(spec.workdir, 'WorkingDirectory')}",
            environment(env),
            f"ExecStart={exec_line(spec.command)}",
            *restart,
            f"TimeoutStopSec={STOP_TIMEOUT}",
            f"SyslogIdentifier={spec.name}",
            "",
            "[Install]",
            "WantedBy=multi-user.target",
            "",
        ]
    )
