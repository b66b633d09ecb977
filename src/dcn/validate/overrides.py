"""config_overrides: only files dcn renders, names a parser reads back, no credentials.

An override is merged into the files dcn renders for every node of the site, after
dcn's own settings. The known file names come from the service catalog (each service
declares its config files with `dcn.services.render.config_file`), not from a list here.
"""

from __future__ import annotations

from fnmatch import fnmatchcase
from typing import Any

import dcn.services.catalog  # noqa: F401  (imports every service, so every file is declared)
from dcn.errors import Finding
from dcn.lines import unsafe_char
from dcn.model.description import Site
from dcn.model.loader import LoadedDescription
from dcn.services.ini import OPTION
from dcn.services.render import OVERRIDABLE
from dcn.validate.rules import finding

#: options that carry a credential, an identity that a credential goes with, or where a
#: service connects with its credentials. dcn writes them from the secret store, per
#: stack and least-privilege; an override could hand a site another stack's secret or
#: send a password elsewhere. Matched case-insensitively, whole names (shell patterns).
CREDENTIAL_OPTIONS: tuple[str, ...] = (
    # secrets themselves
    "*password*",
    "*passwd*",
    "*_pass",
    "default_pass",
    "*secret*",
    "*token*",
    "*_key",
    "fernet*",
    "key_repository",
    # connections that embed credentials (SQLAlchemy URLs, transport URLs)
    "connection",
    "*_connection",
    "transport_url",
    "*backend_url",
    # where a service authenticates, and as whom
    "auth_url",
    "auth_uri",
    "www_authenticate_uri",
    "identity_uri",
    "auth_type",
    "auth_section",
    "user",
    "username",
    "user_name",
    "user_id",
    "default_user",
)
#: values an override may hold; None removes the option dcn writes
_SCALARS = (str, int, float, bool)
#: characters of one override value, and of all of a site's overrides together: they
#: are rendered into a file on every node of the site, so a large value is multiplied
#: by the node count (10 MiB on 10,000 nodes would be 100 GiB of plans)
MAX_VALUE_CHARS = 4096
MAX_SITE_CHARS = 65536


def credential_pattern(option: str) -> str | None:
    """The entry of CREDENTIAL_OPTIONS that `option` matches, or None."""
    lowered = option.lower()
    return next((p for p in CREDENTIAL_OPTIONS if fnmatchcase(lowered, p)), None)


def override_findings(loaded: LoadedDescription, i: int, site: Site) -> list[Finding]:
    """One site's config_overrides: known files, INI-safe names, no credentials, sizes."""
    out: list[Finding] = []
    for name, sections in site.config_overrides.items():
        at = ("sites", i, "config_overrides", name)
        if name not in OVERRIDABLE:
            known = ", ".join(sorted(OVERRIDABLE))
            msg = f"config_overrides names {name!r}, a file dcn does not render"
            fix = f"use one of {known} (the file's base name)"
            out.append(finding(loaded, "DCN601", at, msg, fix))
            continue
        for section, options in sections.items():
            out.extend(_section(loaded, (*at, section), section, options))
    total = _size(site.config_overrides)
    if total > MAX_SITE_CHARS:
        at = ("sites", i, "config_overrides")
        msg = (
            f"config_overrides of {site.name} hold {total:,} characters (the limit is "
            f"{MAX_SITE_CHARS:,}): every node of the site renders them"
        )
        fix = "keep overrides to the settings that differ; move bulk data out of config"
        out.append(finding(loaded, "DCN604", at, msg, fix))
    return out


def _size(value: Any) -> int:
    """Characters of every name and value under `value`."""
    if isinstance(value, dict):
        return sum(len(str(k)) + _size(v) for k, v in value.items())
    if isinstance(value, list):
        return sum(_size(v) for v in value)
    return len(str(value))


def _section(
    loaded: LoadedDescription, at: tuple, section: str, options: dict[str, Any]
) -> list[Finding]:
    out = []
    if not unsafe_char(section, tab=False) and (
        not section or "]" in section or "[" in section or section != section.strip()
    ):
        msg = f"section name {section!r} would not read back as one INI section header"
        fix = "use the section's name without brackets or surrounding spaces"
        out.append(finding(loaded, "DCN602", at, msg, fix))
    for option, value in options.items():
        where = (*at, option)
        if not unsafe_char(option, tab=False) and OPTION.fullmatch(option) is None:
            out.append(
                finding(
                    loaded,
                    "DCN602",
                    where,
                    f"option name {option!r} is not letters, digits, '_', '.' and '-': "
                    "'=' or ':' would end it early, a space or '#' changes what is read",
                    "use the option's name as oslo.config documents it",
                )
            )
            continue
        pattern = credential_pattern(option)
        if pattern is not None:
            out.append(
                finding(
                    loaded,
                    "DCN603",
                    where,
                    f"option {option!r} (matches {pattern!r}) carries a credential or a "
                    "connection: dcn writes it from the secret store, least-privilege per "
                    "stack; an override could give this site another stack's secret or send "
                    "one elsewhere",
                    "remove it; change the setting in dcn's description or secrets instead",
                )
            )
        if _value_ok(value) and _size(value) > MAX_VALUE_CHARS:
            out.append(
                finding(
                    loaded,
                    "DCN604",
                    where,
                    f"value of {option!r} is {_size(value):,} characters long (the limit is "
                    f"{MAX_VALUE_CHARS:,}): it is rendered on every node of the site",
                    "shorten it; an INI option rarely needs more than a few hundred characters",
                )
            )
        if not _value_ok(value):
            out.append(
                finding(
                    loaded,
                    "DCN602",
                    where,
                    f"value of {option!r} is a {type(value).__name__}: an INI value is one "
                    "string, number or boolean, or a list of them (null removes the option)",
                    "write a single value, or a list of values",
                )
            )
    return out


def _value_ok(value: Any) -> bool:
    if value is None or isinstance(value, _SCALARS):
        return True
    return isinstance(value, list) and all(isinstance(v, _SCALARS) for v in value)
