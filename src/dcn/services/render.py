"""Building blocks every service module shares: file specs and declared config files.

A FileSpec's ``secrets`` is computed from its content by `file_spec`, never written
by hand, so what a stack receives can't drift from what its files reference.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath

from dcn.plan.types import SECRET_PREFIX, SECRET_SUFFIX, FileSpec
from dcn.services import ini
from dcn.services.base import RenderContext

_REF = re.compile(re.escape(SECRET_PREFIX) + r"([A-Za-z0-9_]+)" + re.escape(SECRET_SUFFIX))
#: modes a file holding secret references may have (owner, or owner and service group)
SECRET_MODES = ("0600", "0640", "0400")


def referenced_secrets(content: str) -> tuple[str, ...]:
    """Secret names referenced in `content`, sorted, each once."""
    if SECRET_PREFIX not in content:
        return ()
    return tuple(sorted(set(_REF.findall(content))))


def file_spec(content: str, mode: str | None = None, owner: str = "root") -> FileSpec:
    """A file with its referenced secrets filled in.

    Default mode: 0640 when it holds secret references (readable by the service's
    group), 0644 otherwise. A world-readable mode for a secret-bearing file is a bug.
    """
    names = referenced_secrets(content)
    if mode is None:
        mode = "0640" if names else "0644"
    elif names and mode not in SECRET_MODES:
        raise ValueError(f"a file holding secrets {names} must not have mode {mode}")
    return FileSpec(content=content, mode=mode, secrets=names, owner=owner)


#: every file `config_overrides` may change: its name there (the file's base name) ->
#: whether it is a section-less ``key = value`` file. Filled by `config_file` as each
#: service module declares the files it renders, so validation and rendering share it.
OVERRIDABLE: dict[str, bool] = {}


def override_name(path: str) -> str:
    """A rendered file's name in ``config_overrides``: its base name (``nova.conf``)."""
    return PurePosixPath(path).name


def config_file(path: str, *, flat: bool = False) -> str:
    """Declare a config file operators may override; returns `path` for the module."""
    name = override_name(path)
    if OVERRIDABLE.get(name, flat) != flat:
        raise ValueError(f"{name} is declared both flat and with sections")
    OVERRIDABLE[name] = flat
    return path


def ini_file(ctx: RenderContext, path: str, sections: ini.Sections) -> FileSpec:
    """The INI file at `path` (declared with `config_file`) with the site's overrides."""
    name = override_name(path)
    if name not in OVERRIDABLE:
        raise ValueError(f"{path} is not declared with config_file()")
    overrides = ctx.overrides(name)
    merged = ini.merge(sections, overrides) if overrides else sections
    return file_spec(ini.render(merged))


def url_host(address: str) -> str:
    """An address as it goes in a URL or ``host:port`` (IPv6 in brackets)."""
    return f"[{address}]" if ":" in address and not address.startswith("[") else address
