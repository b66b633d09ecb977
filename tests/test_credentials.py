"""`dcn.credentials`: what the clouds.yaml and openrc say, that any password survives
them, and that the file is 0600 from its first byte and replaced only when asked."""

from __future__ import annotations

import os
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from dcn import credentials
from dcn.cloud import AdminCredentials
from dcn.credentials import (
    CredentialsFormat,
    Written,
    render_clouds,
    render_openrc,
    usage,
    write_private,
)
from dcn.errors import DcnError

#: quotes, $, spaces, a backslash, a backtick, a newline, a YAML-looking start
NASTY = "p'a\"ss $HOME $(id) `id` \\n x\ny: on #"
PASSWORDS = ("simple", NASTY, "on", "0755", "@ref", "- dash", "'", "%{x}", "tab\there")
URL = "http://198.18.48.5:5000"


def creds(password: str = NASTY, interface: str = "public") -> AdminCredentials:
    return AdminCredentials(
        auth_url=URL, password=password, region="regionTwo", interface=interface
    )


@pytest.mark.parametrize("password", PASSWORDS)
def test_clouds_yaml_reads_back(password: str) -> None:
    data = yaml.safe_load(render_clouds("lab", creds(password)))
    assert list(data["clouds"]) == ["lab"]
    cloud = data["clouds"]["lab"]
    assert cloud["auth"] == {
        "auth_url": URL,
        "username": "admin",
        "password": password,
        "project_name": "admin",
        "user_domain_name": "Default",
        "project_domain_name": "Default",
    }
    assert cloud["region_name"] == "regionTwo"
    assert cloud["interface"] == "public"
    assert cloud["identity_api_version"] == 3


def test_clouds_yaml_internal_interface() -> None:
    cloud = yaml.safe_load(render_clouds("lab", creds(interface="internal")))["clouds"]["lab"]
    assert cloud["interface"] == "internal"


def sourced(text: str, tmp_path: Path, env: dict[str, str] | None = None) -> dict[str, str]:
    """The OS_* variables a shell has after sourcing `text` (NUL-separated, exact)."""
    rc = tmp_path / "openrc"
    rc.write_text(text)
    script = f'. {rc} && env -0 | grep -z "^OS_"'
    base = {"PATH": os.environ["PATH"], **(env or {})}
    out = subprocess.run(
        ["bash", "-c", script], capture_output=True, env=base, check=True
    ).stdout.decode()
    return dict(item.split("=", 1) for item in out.split("\0") if item)


@pytest.mark.parametrize("password", PASSWORDS)
def test_openrc_is_shell_safe(password: str, tmp_path: Path) -> None:
    found = sourced(render_openrc("lab", creds(password)), tmp_path)
    assert found["OS_PASSWORD"] == password
    assert found["OS_AUTH_URL"] == URL
    assert found["OS_REGION_NAME"] == "regionTwo"
    assert found["OS_INTERFACE"] == "public"
    assert found["OS_IDENTITY_API_VERSION"] == "3"
    assert found["OS_USERNAME"] == found["OS_PROJECT_NAME"] == "admin"
    assert found["OS_USER_DOMAIN_NAME"] == found["OS_PROJECT_DOMAIN_NAME"] == "Default"
    assert not (tmp_path / "pwned").exists()


def test_openrc_clears_earlier_os_settings(tmp_path: Path) -> None:
    """An OS_CLOUD (or a token) left in the shell would win over the file's values."""
    env = {"OS_CLOUD": "other", "OS_TOKEN": "t", "OS_PASSWORD": "old", "KEEP": "1"}
    found = sourced(render_openrc("lab", creds()), tmp_path, env)
    assert "OS_CLOUD" not in found and "OS_TOKEN" not in found
    assert found["OS_PASSWORD"] == NASTY


def test_openrc_runs_nothing_from_the_password(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    sourced(render_openrc("lab", creds(f"$(touch {marker})`touch {marker}`")), tmp_path)
    assert not marker.exists()


# -- the file -------------------------------------------------------------------------


@pytest.fixture
def open_modes(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, int]]]:
    """The mode of every file the write opens, taken the moment it exists (before a byte
    is written), with a umask that would leave it world-readable."""
    seen: list[tuple[str, int]] = []
    real_open = os.open

    def spy(path, flags, mode=0o777, *args, **kwargs):  # type: ignore[no-untyped-def]
        fd = real_open(path, flags, mode, *args, **kwargs)
        seen.append((str(path), stat.S_IMODE(os.fstat(fd).st_mode)))
        return fd

    monkeypatch.setattr(os, "open", spy)
    old = os.umask(0)
    try:
        yield seen
    finally:
        os.umask(old)


def test_a_new_file_is_0600_from_its_first_byte(
    tmp_path: Path, open_modes: list[tuple[str, int]]
) -> None:
    target = tmp_path / "clouds.yaml"
    write_private(target, "secret\n", force=False)
    assert open_modes == [(str(target), 0o600)]
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600
    assert target.read_text() == "secret\n"


def test_a_restrictive_umask_still_gives_0600(tmp_path: Path) -> None:
    old = os.umask(0o277)
    try:
        write_private(tmp_path / "c.yaml", "x", force=False)
        write_private(tmp_path / "c.yaml", "y", force=True)
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / "c.yaml").st_mode) == 0o600


def test_an_existing_file_is_refused_without_force(tmp_path: Path) -> None:
    target = tmp_path / "clouds.yaml"
    target.write_text("mine\n")
    with pytest.raises(DcnError) as err:
        write_private(target, "new\n", force=False)
    assert str(target) in str(err.value) and "--force" in str(err.value)
    assert target.read_text() == "mine\n"


def test_a_link_is_never_followed(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("keep\n")
    link = tmp_path / "clouds.yaml"
    link.symlink_to(victim)
    with pytest.raises(DcnError):
        write_private(link, "new\n", force=False)
    dangling = tmp_path / "dangling.yaml"
    dangling.symlink_to(tmp_path / "nowhere")
    with pytest.raises(DcnError):
        write_private(dangling, "new\n", force=False)
    assert not (tmp_path / "nowhere").exists()
    # --force replaces the link itself, never what it points at
    write_private(link, "new\n", force=True)
    assert victim.read_text() == "keep\n"
    assert not link.is_symlink() and link.read_text() == "new\n"


def test_force_replaces_atomically_with_a_private_file(
    tmp_path: Path, open_modes: list[tuple[str, int]]
) -> None:
    target = tmp_path / "clouds.yaml"
    target.write_text("old\n")
    target.chmod(0o644)
    write_private(target, "new\n", force=True)
    assert target.read_text() == "new\n"
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600
    # written to a temporary 0600 file beside it, moved over the old one
    assert [m for _, m in open_modes] == [0o600]
    assert Path(open_modes[0][0]).parent == tmp_path
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clouds.yaml"]


def test_the_terminal_and_bad_places_are_refused(tmp_path: Path) -> None:
    with pytest.raises(DcnError, match="terminal"):
        write_private(Path("-"), "x", force=True)
    with pytest.raises(DcnError, match="not a directory"):
        write_private(tmp_path / "missing" / "clouds.yaml", "x", force=False)
    with pytest.raises(DcnError, match="is a directory"):
        write_private(tmp_path, "x", force=True)


def test_a_failed_write_leaves_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(credentials.os, "fsync", boom)
    with pytest.raises(DcnError, match="No space left"):
        write_private(tmp_path / "clouds.yaml", "x", force=False)
    assert list(tmp_path.iterdir()) == []


# -- what the operator is told ----------------------------------------------------------


def written(path: Path, fmt: CredentialsFormat = CredentialsFormat.clouds) -> Written:
    return Written(path, "lab", fmt, URL, "regionOne", "public")


def test_usage_in_the_current_directory(tmp_path: Path) -> None:
    lines = usage(written(tmp_path / "clouds.yaml"), cwd=tmp_path)
    assert lines == [
        "openstack --os-cloud lab server list",
        f"OS_CLIENT_CONFIG_FILE={tmp_path}/clouds.yaml openstack --os-cloud lab server list",
    ]


def test_usage_elsewhere_names_the_file(tmp_path: Path) -> None:
    lines = usage(written(tmp_path / "my clouds.yaml"), cwd=Path("/"))
    assert lines == [
        f"OS_CLIENT_CONFIG_FILE='{tmp_path}/my clouds.yaml' openstack --os-cloud lab server list"
    ]


def test_usage_in_a_standard_place(tmp_path: Path) -> None:
    home = Path("~/.config/openstack/clouds.yaml").expanduser()
    assert usage(written(home), cwd=tmp_path) == ["openstack --os-cloud lab server list"]


def test_usage_of_an_openrc(tmp_path: Path) -> None:
    rc = tmp_path / "lab-openrc.sh"
    assert usage(written(rc, CredentialsFormat.openrc)) == [f". {rc} && openstack server list"]
