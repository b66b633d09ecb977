"""Where a deployment's hosts are: the lab when it is up, real hosts when SSH settings
say so. One rule for every command that reaches hosts or the cloud, so that a lab's
addresses (and its cloud's APIs) are never tried on the machine's real network."""

from __future__ import annotations

import os

from dcn.errors import DcnError
from dcn.lab import Connection, Lab
from dcn.workspace import Workspace

#: any of these set means: deploy onto real hosts over SSH (no lab)
REAL_HOST_SETTINGS = ("DCN_SSH_KEY", "DCN_SSH_USER", "DCN_KNOWN_HOSTS")


def connection_for(ws: Workspace) -> Connection:
    """The lab's connection when it is up; real hosts' only when SSH settings are given."""
    lab = Lab(ws.state_dir, ws.deployment.name)
    if lab.manifest():
        return lab.connection()
    if any(os.environ.get(v) for v in REAL_HOST_SETTINGS):
        return Connection.from_env()
    raise DcnError(
        f"no lab is up for {ws.deployment.name}, and no SSH settings for real hosts are given",
        hint="run 'dcn lab up', or set DCN_SSH_KEY (and DCN_SSH_USER, DCN_KNOWN_HOSTS) "
        "to work with real hosts (docs/deploy.md)",
    )
