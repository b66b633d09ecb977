"""A full-host node's command lines and input checks (pure: nothing is started here)."""

from __future__ import annotations

from pathlib import Path

import pytest

from dcn.errors import DcnError
from dcn.lab.machine import Machine


def _machine(**kw: object) -> Machine:
    args: dict[str, object] = {
        "name": "fh-n1",
        "node_dir": Path("/var/lib/dcn/fh-n1"),
        "image": Path("/cache/img/root"),
        "netns": "fh-ns1",
    }
    return Machine(**{**args, **kw})  # type: ignore[arg-type]


def test_machine_nspawn_command_and_launcher() -> None:
    m = _machine()
    cmd = m.nspawn_command()
    assert cmd[0].endswith("systemd-nspawn")
    assert cmd[1:] == [
        "--boot",
        "--directory=/var/lib/dcn/fh-n1/root",
        "--machine=fh-n1",
        "--network-namespace-path=/run/netns/fh-ns1",
        "--register=no",
        "--keep-unit",
        "--link-journal=no",
        "--console=read-only",
        "--capability=CAP_NET_ADMIN",
    ]
    script = m.launcher_script()
    assert "SYSTEMD_NSPAWN_API_VFS_WRITABLE=network" in script
    assert '[ "$rc" -eq 133 ] || break' in script


@pytest.mark.parametrize(
    "kw",
    [
        {"name": "bad name"},
        {"name": "under_score"},
        {"hostname": "two\nlines"},
        {"netns": "x/../y"},
        {"node_dir": Path("relative")},
        {"image": Path("/a,upperdir=/b")},
        {"authorized_key": "ssh-ed25519 AAAA\nssh-rsa BBBB"},
    ],
)
def test_machine_bad_input_is_a_clear_error(kw: dict[str, object]) -> None:
    with pytest.raises(DcnError):
        _machine(**kw)
