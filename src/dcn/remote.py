"""Run a short command on a node over SSH (the lab's or the operator's settings)."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence

from dcn.lab import Connection

CONNECT_TIMEOUT = 3


def ssh_argv(conn: Connection, address: str, command: Sequence[str]) -> list[str]:
    argv = [
        "ssh",
        "-i",
        str(conn.private_key),
        "-o",
        "BatchMode=yes",
        "-o",
        f"ConnectTimeout={CONNECT_TIMEOUT}",
        "-o",
        "StrictHostKeyChecking=yes",
        "-o",
        "IdentitiesOnly=yes",
    ]
    if conn.known_hosts:
        argv += ["-o", f"UserKnownHostsFile={conn.known_hosts}"]
    return [*argv, f"{conn.user}@{address}", "--", *command]


def run(
    conn: Connection,
    address: str,
    command: Sequence[str],
    timeout: float = 10,
    stdin: str | None = None,
) -> str | None:
    """The command's stdout, or None when the node can't be reached or it failed.
    `stdin` goes to the command's standard input (never its command line, which the
    node's other users can read)."""
    try:
        result = subprocess.run(
            ssh_argv(conn, address, command),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            **({"input": stdin} if stdin is not None else {"stdin": subprocess.DEVNULL}),
        )
    except subprocess.TimeoutExpired:
        return None
    return result.stdout if result.returncode == 0 else None
