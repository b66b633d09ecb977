"""`dcn credentials`: the cloud's admin login as a clouds.yaml or an openrc, for the
operator's own tools (``openstack --os-cloud NAME ...``).

The values come from the state store and the control plane's deployed outputs
(`dcn.cloud.recorded_credentials`); the file holds the admin password, so it is 0600
from its first byte, never replaces a file unless asked, and is never printed.
"""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import yaml

from dcn.cloud import AdminCredentials, recorded_credentials
from dcn.errors import DcnError
from dcn.paths import private_temp
from dcn.workspace import Workspace

IDENTITY_API_VERSION = 3
#: where openstacksdk looks for clouds.yaml besides the current directory
#: (`OS_CLIENT_CONFIG_FILE` names any other file)
STANDARD_CLOUDS_FILES = (
    Path("~/.config/openstack/clouds.yaml"),
    Path("/etc/openstack/clouds.yaml"),
)
_HEADER = (
    "# written by 'dcn credentials': the admin login of cloud {name} ({interface} endpoints).\n"
    "# It holds the admin password: keep it 0600, never commit or share it.\n"
)


class CredentialsFormat(StrEnum):
    clouds = "clouds"
    openrc = "openrc"


@dataclass(frozen=True, slots=True)
class Written:
    """What `write_credentials` wrote (no secret): for the operator's next step."""

    path: Path
    cloud: str
    fmt: CredentialsFormat
    auth_url: str
    region: str
    interface: str


def default_path(fmt: CredentialsFormat, cloud: str) -> Path:
    """``./clouds.yaml`` (openstacksdk finds it there without any setting) or
    ``./<cloud>-openrc.sh``, in the current directory."""
    return Path("clouds.yaml") if fmt is CredentialsFormat.clouds else Path(f"{cloud}-openrc.sh")


def render_clouds(cloud: str, creds: AdminCredentials) -> str:
    """A clouds.yaml with one cloud; dumped by PyYAML, so any password reads back as is."""
    data = {
        "clouds": {
            cloud: {
                "auth": {
                    "auth_url": creds.auth_url,
                    "username": creds.username,
                    "password": creds.password,
                    "project_name": creds.project,
                    "user_domain_name": creds.domain,
                    "project_domain_name": creds.domain,
                },
                "region_name": creds.region,
                "interface": creds.interface,
                "identity_api_version": IDENTITY_API_VERSION,
            }
        }
    }
    body = yaml.safe_dump(data, sort_keys=False, default_flow_style=False, allow_unicode=True)
    return _HEADER.format(name=cloud, interface=creds.interface) + body


def render_openrc(cloud: str, creds: AdminCredentials) -> str:
    """``export OS_*=...`` lines, every value shell-quoted; earlier OS_* settings (an
    ``OS_CLOUD`` would win over these) are cleared first, as kolla's admin-openrc does."""
    values = {
        "OS_AUTH_URL": creds.auth_url,
        "OS_USERNAME": creds.username,
        "OS_PASSWORD": creds.password,
        "OS_PROJECT_NAME": creds.project,
        "OS_USER_DOMAIN_NAME": creds.domain,
        "OS_PROJECT_DOMAIN_NAME": creds.domain,
        "OS_REGION_NAME": creds.region,
        "OS_INTERFACE": creds.interface,
        "OS_IDENTITY_API_VERSION": str(IDENTITY_API_VERSION),
    }
    clear = (
        "for dcn_var in $(env | sed -n 's/^\\(OS_[A-Za-z0-9_]*\\)=.*/\\1/p'); "
        'do unset "$dcn_var"; done; unset dcn_var\n'
    )
    lines = "".join(f"export {k}={shlex.quote(v)}\n" for k, v in values.items())
    return _HEADER.format(name=cloud, interface=creds.interface) + clear + lines


def write_private(path: Path, text: str, force: bool) -> None:
    """`text` at `path`, 0600 from its first byte; an existing file only with `force`
    (then replaced atomically by a 0600 file moved into place)."""
    _refuse_terminal(path)
    parent = path.parent
    if not parent.is_dir():
        raise DcnError(
            f"cannot write {path}: {parent} is not a directory",
            hint=f"create it first (mkdir -p {parent}) or choose another -o path",
        )
    if path.is_dir():
        raise DcnError(f"cannot write {path}: it is a directory", hint="name a file with -o")
    try:
        if force:
            tmp = private_temp(parent, path.name, text)
            try:
                os.replace(tmp, path)
            except BaseException:
                tmp.unlink(missing_ok=True)
                raise
        else:
            _create(path, text)
    except FileExistsError:
        raise DcnError(
            f"{path} exists; pass --force to replace it",
            hint="or write the credentials to another file with -o FILE",
        ) from None
    except OSError as exc:
        raise DcnError(
            f"cannot write {path}: {exc.strerror or exc}",
            hint="choose a file in a directory you can write with -o FILE",
        ) from None


def _refuse_terminal(path: Path) -> None:
    if str(path) == "-":
        raise DcnError(
            "credentials are not written to the terminal (they hold the admin password)",
            hint="name a file with -o FILE; it is created with mode 0600",
        )


def _create(path: Path, text: str) -> None:
    """A new file (O_EXCL: never an existing one, nor through a link), 0600 whatever the
    umask, removed again if writing it fails."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    fd = os.open(path, flags, 0o600)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            fd = -1
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        if fd >= 0:
            os.close(fd)
        path.unlink(missing_ok=True)
        raise


def write_credentials(
    ws: Workspace,
    path: Path | None,
    fmt: str = CredentialsFormat.clouds,
    interface: str = "public",
    force: bool = False,
) -> Written:
    """Write the admin login of the deployment's cloud (named after the deployment)."""
    fmt = CredentialsFormat(fmt)
    cloud = ws.deployment.name
    target = path or default_path(fmt, cloud)
    _refuse_terminal(target)  # before any secret is read
    creds = recorded_credentials(ws, interface)
    render = render_clouds if fmt is CredentialsFormat.clouds else render_openrc
    write_private(target, render(cloud, creds), force)
    return Written(target, cloud, fmt, creds.auth_url, creds.region, creds.interface)


def usage(written: Written, cwd: Path | None = None) -> list[str]:
    """How to use the file: shell commands to copy (they name the file, never a value)."""
    where = written.path.absolute()
    quoted = shlex.quote(str(where))
    if written.fmt is CredentialsFormat.openrc:
        return [f". {quoted} && openstack server list"]
    command = f"openstack --os-cloud {shlex.quote(written.cloud)} server list"
    if any(where == p.expanduser().absolute() for p in STANDARD_CLOUDS_FILES):
        return [command]  # found from any directory
    elsewhere = f"OS_CLIENT_CONFIG_FILE={quoted} {command}"
    if where == ((cwd or Path.cwd()) / "clouds.yaml").absolute():
        return [command, elsewhere]  # found from this directory only
    return [elsewhere]
