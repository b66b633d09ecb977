"""The export document: the control plane's outputs as a TripleO environment file.

Keys are TripleO's (``EndpointMapOverride``, ``AllNodesExtraMapData``, ...), so the same
file feeds a dcn edge or ``openstack overcloud deploy -e``. Heat environments accept
only ``parameter_defaults`` and friends at the top level, so dcn's version record
(``DcnExportVersion``) is a parameter too; TripleO ignores parameters it does not know.
Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from dcn import __version__
from dcn.errors import ExportError
from dcn.plan.types import SECRET_PREFIX, SECRET_SUFFIX, ControlPlaneOutputs, ExportVersion

PARAMETERS = "parameter_defaults"
ENDPOINT_MAP = "EndpointMapOverride"
ALL_NODES = "AllNodesExtraMapData"
GLOBAL_CONFIG = "GlobalConfigExtraMapData"
HOSTS = "ExtraHostFileEntries"
VERSION_KEY = "DcnExportVersion"
SCOPES = ("least-privilege", "full")
#: the seed's extra environment: edges talk to the broker without TLS
SEED_EXTRA_CONFIG = {"oslo_messaging_notify_use_ssl": False, "oslo_messaging_rpc_use_ssl": False}
#: parameter names treated as secrets when reading a foreign export
SECRET_NAME_PATTERNS = ("*Password", "*Cookie", "KeystoneFernetKey*", "KeystoneCredential*")

SECRET_REF = re.compile(re.escape(SECRET_PREFIX) + r"([A-Za-z0-9_]+)" + re.escape(SECRET_SUFFIX))
_PARAMETER_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


@dataclass(frozen=True, slots=True)
class OutputKey:
    """One control-plane output: its field, its export parameter, how TripleO made it."""

    field: str
    parameter: str
    #: the TripleO stack output it comes from
    output: str
    #: the file name the seed's commands write it to
    file: str
    required: bool = True

    def how_to_produce(self) -> str:
        """The seed's command that writes this key from a TripleO control-plane stack."""
        jq = f'{{"parameter_defaults": {{"{self.parameter}": .output_value}}}}'
        return (
            f"openstack stack output show $STACK {self.output} --format json "
            f"| jq '{jq}' > {self.file}"
        )


OUTPUT_KEYS: tuple[OutputKey, ...] = (
    OutputKey("endpoint_map", ENDPOINT_MAP, "EndpointMap", "endpoint-map.json"),
    OutputKey(
        "all_nodes_config",
        ALL_NODES,
        "AllNodesConfig",
        "all-nodes-extra-map-data.json",
    ),
    OutputKey(
        "global_config",
        GLOBAL_CONFIG,
        "GlobalConfig",
        "global-config-extra-map-data.json",
    ),
    OutputKey(
        "hosts_entry",
        HOSTS,
        "HostsEntry",
        "extra-host-file-entries.json",
        required=False,
    ),
)
#: parameters dcn writes besides the outputs and the secrets
FIXED_KEYS = ("AddVipsToEtcHosts", "AuthCloudName", "ExtraConfig", VERSION_KEY)
RESERVED_KEYS = frozenset({k.parameter for k in OUTPUT_KEYS} | set(FIXED_KEYS))


def is_secret_name(name: str, known: frozenset[str] = frozenset()) -> bool:
    """Whether a parameter holds a secret (TripleO's password naming, or a known name)."""
    return name in known or any(fnmatchcase(name, p) for p in SECRET_NAME_PATTERNS)


def secret_name_of(value: object) -> str | None:
    """The secret a value is exactly a reference to, if it is one."""
    match = SECRET_REF.fullmatch(value) if isinstance(value, str) else None
    return match.group(1) if match else None


def substitute_secrets(value: Any, secrets: Mapping[str, str]) -> Any:
    """A copy of `value` (nested dicts, lists, strings) with every secret reference
    replaced by its value; an ExportError names every missing secret (never a value)."""
    missing: set[str] = set()

    def one(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in secrets:
            missing.add(name)
            return match.group(0)
        return secrets[name]

    def walk(item: Any) -> Any:
        if isinstance(item, str):
            return SECRET_REF.sub(one, item) if SECRET_PREFIX in item else item
        if isinstance(item, Mapping):
            return {k: walk(v) for k, v in item.items()}
        if isinstance(item, list | tuple):
            return [walk(v) for v in item]
        return item

    result = walk(value)
    if missing:
        names = ", ".join(sorted(missing))
        raise ExportError(
            f"no value for secret{'s' * (len(missing) > 1)} {names}, which the outputs reference",
            hint="include them in the secrets given to the export "
            "(every edge needs the broker password RabbitPassword)",
        )
    return result


def _check_request(secrets: Mapping[str, str], scope: str) -> None:
    if scope not in SCOPES:
        raise ExportError(
            f"unknown export scope {scope!r}", hint=f"use one of: {', '.join(SCOPES)}"
        )
    bad = sorted(n for n in secrets if n in RESERVED_KEYS or not _PARAMETER_NAME.match(n))
    if bad:
        raise ExportError(
            f"secret names {', '.join(map(repr, bad))} cannot be export parameters",
            hint="secret names are TripleO parameter names such as RabbitPassword, and must "
            f"not be one of {', '.join(sorted(RESERVED_KEYS))}",
        )


def build_export(
    outputs: ControlPlaneOutputs,
    version: ExportVersion,
    secrets: Mapping[str, str],
    *,
    scope: str,
    for_site: str | None,
    dcn_version: str = __version__,
) -> dict[str, Any]:
    """The export of `outputs` with exactly the secrets given (the caller chose them)."""
    _check_request(secrets, scope)
    body = {key.parameter: getattr(outputs, key.field) for key in OUTPUT_KEYS}
    params: dict[str, Any] = substitute_secrets(body, secrets)
    params |= {
        "AddVipsToEtcHosts": False,
        "AuthCloudName": outputs.stack,
        "ExtraConfig": dict(SEED_EXTRA_CONFIG),
    }
    params |= dict(sorted(secrets.items()))
    params[VERSION_KEY] = {
        "stack": version.stack,
        "generation": version.generation,
        "digest": version.digest,
        "scope": scope,
        "for_site": for_site,
        "dcn_version": dcn_version,
    }
    return {PARAMETERS: params}
