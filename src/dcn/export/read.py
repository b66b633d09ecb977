"""Reading an export: dcn's own file, or a TripleO one, possibly split over several files.

The seed writes a control plane's outputs as separate environment files (endpoint
map, node data, global config, hosts entries, passwords), JSON or YAML; they are
merged here. Secret values go to `ImportedExport.secrets` and the outputs get secret
references back in their place, so plans computed from them stay secret-free.
"""

from __future__ import annotations

import json
import stat
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dcn.errors import ExportError, Location
from dcn.export.confine import check_values
from dcn.export.document import (
    ALL_NODES,
    ENDPOINT_MAP,
    GLOBAL_CONFIG,
    HOSTS,
    OUTPUT_KEYS,
    PARAMETERS,
    VERSION_KEY,
    is_secret_name,
    secret_name_of,
)
from dcn.model.limits import MAX_DEPTH
from dcn.model.sourcemap import SourceMap
from dcn.model.yamlread import Budget, Walker, compose, read_text
from dcn.plan.outputs import SECRET_KEYS
from dcn.plan.types import ControlPlaneOutputs, ExportVersion, secret_ref

#: TripleO kept Fernet keys as one map {"/etc/keystone/fernet-keys/0": {"content": ...}}
FERNET_KEYS = "KeystoneFernetKeys"
#: sections whose values may hold secrets, in the order that decides which value wins
SECRET_SECTIONS = (GLOBAL_CONFIG, ALL_NODES)


@dataclass(frozen=True, slots=True)
class ImportedExport:
    """What an export provides: outputs (secret-free), its version, and the secrets."""

    outputs: ControlPlaneOutputs
    version: ExportVersion | None
    secrets: dict[str, str] = field(repr=False)
    files: tuple[Path, ...] = ()
    #: problems worth telling the operator that do not stop the import (no values in them)
    warnings: tuple[str, ...] = ()


@dataclass
class _Merged:
    """Every file's parameter_defaults in one mapping, and which file gave each key."""

    params: dict[str, Any] = field(default_factory=dict)
    origin: dict[str, Path] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def where(self, key: str) -> str:
        return f"{key} ({self.origin[key]})"


def _parse(path: Path, budget: Budget) -> Any:
    """One export file as plain data, read within the loader's limits (size, depth, aliases)."""
    try:
        text = read_text(path, str(path), budget, ExportError)
    except FileNotFoundError:
        raise ExportError(
            f"export file {path} does not exist",
            hint="check the path (control_plane_export is relative to the description's folder)",
        ) from None
    except UnicodeDecodeError:
        raise ExportError(f"{path} is not UTF-8 text", hint="pass a YAML or JSON file") from None
    except OSError as exc:
        raise ExportError(f"cannot read {path}: {exc.strerror}") from None
    if path.suffix.lower() != ".json":
        # YAML 1.2 core schema, no values echoed in messages (they may be secrets)
        node = compose(text, str(path), ExportError)
        if node is None:
            return None
        return Walker(budget, ExportError, echo=False).walk(node, str(path), SourceMap(str(path)))
    try:
        return json.loads(text, object_pairs_hook=_unique_keys, parse_constant=_no_constant)
    except _JsonRefusal as exc:
        raise ExportError(
            f"not a valid export: {exc}",
            hint="re-create the file with the command that produced it",
            location=Location(str(path)),
        ) from None
    except json.JSONDecodeError as exc:
        # exc.msg is generic ("Expecting ',' delimiter"): no file content, hence no secret
        raise ExportError(
            f"not valid JSON: {exc.msg}",
            hint="fix the file, or re-create it with the export command",
            location=Location(str(path), exc.lineno, exc.colno),
        ) from None
    except RecursionError:
        raise ExportError(
            f"{path} nests lists and mappings too deeply (the nesting limit is {MAX_DEPTH})",
            hint="re-create the file with the command that produced it",
            location=Location(str(path)),
        ) from None
    except ValueError:
        # e.g. an integer of thousands of digits (Python's int conversion limit)
        raise ExportError(
            "a number too long to be a value of an export",
            hint="re-create the file with the command that produced it",
            location=Location(str(path)),
        ) from None


class _JsonRefusal(ValueError):
    """JSON that json.loads accepts but an export must not hold (no value in the text)."""


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """Refuse a key given twice in one object: JSON would silently keep the last."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _JsonRefusal(f"key {key!r} is given twice in one object")
        out[key] = value
    return out


def _no_constant(name: str) -> Any:
    raise _JsonRefusal(f"{name} is not a JSON value")


def _written_out(value: Any) -> bool:
    """A value given as itself: not a secret reference, not empty."""
    return value not in (None, "") and secret_name_of(value) is None


def _holds_secrets(params: Mapping[str, Any], known: frozenset[str]) -> bool:
    if any(is_secret_name(str(k), known) for k in params):
        return True
    sections = (params.get(s) for s in SECRET_SECTIONS)
    return any(
        isinstance(section, Mapping) and any(_written_out(section.get(k)) for k in SECRET_KEYS)
        for section in sections
    )


def _merge(paths: Sequence[Path], known: frozenset[str]) -> _Merged:
    merged = _Merged()
    budget = Budget()
    for path in paths:
        data = _parse(path, budget)
        params = data.get(PARAMETERS) if isinstance(data, Mapping) else None
        if not isinstance(params, Mapping):
            raise ExportError(
                f"{path} has no {PARAMETERS} mapping",
                hint="an export is a TripleO environment file: "
                f"{PARAMETERS}: {{EndpointMapOverride: ..., AllNodesExtraMapData: ...}}",
            )
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077 and _holds_secrets(params, known):
            merged.warnings.append(
                f"{path} holds secrets but has mode {mode:04o} (others may read it): "
                f"chmod 600 {path}"
            )
        for key, value in params.items():
            key = str(key)
            if key in merged.params and merged.params[key] != value:
                raise ExportError(
                    f"{key} has different values in {merged.origin[key]} and {path}",
                    hint="pass the files of one export only, or remove the key from one file",
                )
            merged.params.setdefault(key, value)
            merged.origin.setdefault(key, path)
    return merged


def _require(merged: _Merged, paths: Sequence[Path]) -> None:
    missing = [k for k in OUTPUT_KEYS if k.required and k.parameter not in merged.params]
    if missing:
        files = ", ".join(str(p) for p in paths)
        raise ExportError(
            f"no {', '.join(k.parameter for k in missing)} in {files}",
            hint="produce it from the TripleO control-plane stack and pass that file too: "
            + "; ".join(k.how_to_produce() for k in missing)
            + " (or export a dcn control plane: dcn export <site> -o FILE)",
        )


def _mapping(merged: _Merged, key: str) -> dict[str, Any]:
    value = merged.params[key]
    if not isinstance(value, Mapping):
        raise ExportError(
            f"{merged.where(key)} must be a mapping, not {type(value).__name__}",
            hint="re-create the file with the command that produced it",
        )
    return {str(k): v for k, v in value.items()}


#: what every EndpointMap entry holds (TripleO's shape); services read each of them
ENDPOINT_KEYS = ("protocol", "host", "host_nobrackets", "port", "uri", "uri_no_suffix")


def _endpoint_map(merged: _Merged, key: str) -> dict[str, dict[str, str]]:
    entries = _mapping(merged, key)
    for name, entry in entries.items():
        missing = [k for k in ENDPOINT_KEYS if k not in entry] if isinstance(entry, Mapping) else []
        if not isinstance(entry, Mapping) or missing:
            lacks = f" (it lacks {', '.join(missing)})" if missing else ""
            raise ExportError(
                f"{merged.where(key)}: entry {name} must be a mapping of "
                f"{', '.join(ENDPOINT_KEYS)}{lacks}",
                hint="re-create the file with the command that produced it",
            )
    # TripleO wrote ports as numbers; the contract has strings
    return {n: {str(k): str(v) for k, v in e.items()} for n, e in entries.items()}


def _hosts(merged: _Merged, key: str) -> list[str]:
    value = merged.params.get(key, [])
    if isinstance(value, str):  # older TripleO: one string, a line per entry
        value = value.splitlines()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ExportError(
            f"{merged.where(key)} must be a list of '<ip> <fqdn> <short>' lines",
            hint="re-create the file with the command that produced it",
        )
    return [line.strip() for line in value if line.strip()]


def _fernet_keys(value: Any) -> dict[str, str]:
    """TripleO's KeystoneFernetKeys map as dcn's KeystoneFernetKey<n> secrets."""
    keys = {}
    for path, item in value.items():
        index = str(path).rstrip("/").rsplit("/", 1)[-1]
        content = item.get("content") if isinstance(item, Mapping) else item
        if index.isdigit() and isinstance(content, str):
            keys[f"KeystoneFernetKey{index}"] = content
    return keys


def _secrets(merged: _Merged, known: frozenset[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for key, value in merged.params.items():
        if not is_secret_name(key, known):
            continue
        if key == FERNET_KEYS and isinstance(value, Mapping):
            found |= _fernet_keys(value)
        elif isinstance(value, str | int | float) and not isinstance(value, bool):
            found[key] = str(value)
        else:
            raise ExportError(
                f"secret {merged.where(key)} is a {type(value).__name__}, not a string",
                hint="give each secret as a plain string value",
            )
    return found


def _take_secrets(
    merged: _Merged, configs: Mapping[str, Mapping[str, Any]], secrets: dict[str, str]
) -> None:
    """Move secret values found in the outputs into `secrets`.

    The first section and key (GlobalConfig's rpc password) wins: it is what TripleO
    gave the broker's clients; a different value elsewhere is reported, not used.
    """
    taken: dict[str, str] = {}
    for section, config in configs.items():
        for key, name in SECRET_KEYS.items():
            value = config.get(key)
            if not _written_out(value):
                continue
            value, where = str(value), f"{key} in {merged.where(section)}"
            if name in taken:
                if secrets[name] != value:
                    merged.warnings.append(
                        f"{where} differs from {taken[name]}; dcn uses the value of "
                        f"{taken[name]} as {name}"
                    )
                continue
            if name in secrets and secrets[name] != value:
                merged.warnings.append(
                    f"{name} ({merged.origin.get(name)}) differs from {where}; dcn uses the "
                    f"value of {where} as {name} (what the broker's clients were given)"
                )
            secrets[name], taken[name] = value, where


def _scrub(merged: _Merged, section: str, config: Mapping[str, Any]) -> dict[str, Any]:
    """`config` with secret references where values were, so plans stay secret-free."""
    clean: dict[str, Any] = {}
    for key, value in config.items():
        if not _written_out(value):
            clean[key] = value
        elif key in SECRET_KEYS:
            clean[key] = secret_ref(SECRET_KEYS[key])
        elif "password" in key.lower():
            merged.warnings.append(
                f"dropped {key} from {merged.where(section)}: dcn does not use it"
            )
        else:
            clean[key] = value
    return clean


def _recorded_version(merged: _Merged) -> ExportVersion | None:
    raw = merged.params.get(VERSION_KEY)
    if raw is None:
        return None
    try:
        return ExportVersion(str(raw["stack"]), int(raw["generation"]), str(raw["digest"]))
    except (TypeError, KeyError, ValueError):
        raise ExportError(
            f"{merged.where(VERSION_KEY)} must have stack, generation (a number) and digest",
            hint="re-create the export with dcn export, or delete the key to import it as "
            "an external export",
        ) from None


def read_export(paths: Sequence[Path], *, known_secrets: Iterable[str] = ()) -> ImportedExport:
    """The outputs, version and secrets of an export given as one file or several."""
    paths = [Path(p) for p in paths]
    if not paths:
        raise ExportError("no export file given", hint="pass the export file(s) to read")
    known = frozenset(known_secrets)
    merged = _merge(paths, known)
    _require(merged, paths)
    check_values(merged.params, merged.origin)
    secrets = _secrets(merged, known)
    raw = {section: _mapping(merged, section) for section in SECRET_SECTIONS}
    _take_secrets(merged, raw, secrets)
    configs = {section: _scrub(merged, section, config) for section, config in raw.items()}
    version = _recorded_version(merged)
    all_nodes = configs[ALL_NODES]
    stack = version.stack if version else None
    stack = stack or str(
        merged.params.get("AuthCloudName") or all_nodes.get("stack_name") or "external"
    )
    outputs = ControlPlaneOutputs(
        stack=stack,
        endpoint_map=_endpoint_map(merged, ENDPOINT_MAP),
        all_nodes_config=all_nodes,
        global_config=configs[GLOBAL_CONFIG],
        hosts_entry=_hosts(merged, HOSTS),
    )
    if version is None:
        version = ExportVersion(stack, 0, outputs.digest())
    elif version.digest != outputs.digest():
        merged.warnings.append(
            f"the outputs in {merged.origin[VERSION_KEY]} do not match the digest recorded "
            f"when {version} was exported (edited since?)"
        )
    return ImportedExport(outputs, version, secrets, tuple(paths), tuple(merged.warnings))
