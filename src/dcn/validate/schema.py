"""Schema findings (DCN001): pydantic's errors, with the field's file:line and a fix."""

from __future__ import annotations

import difflib
from typing import Any, get_args, get_origin

from pydantic import BaseModel, ValidationError

from dcn.errors import Finding
from dcn.model.loader import LoadedDescription
from dcn.validate.rules import finding


def schema_findings(
    loaded: LoadedDescription, exc: ValidationError, prefix: tuple = ()
) -> list[Finding]:
    """DCN001 for each of pydantic's errors; `prefix` is where the validated value is."""
    out = []
    for err in exc.errors(include_url=False):
        loc, fields = _walk((*prefix, *err["loc"]))
        kind = err["type"]
        if kind == "extra_forbidden":
            key = str(loc[-1])
            close = difflib.get_close_matches(key, fields, n=1)
            msg = f"unknown field {key!r}" + (f"; did you mean {close[0]!r}?" if close else "")
            fix = f"remove or rename {key!r}" + (f" (known: {', '.join(fields)})" if fields else "")
        elif kind == "missing":
            msg = f"missing required field {loc[-1]!r}"
            fix = f"add {loc[-1]!r}"
        elif kind in _STRICT_TYPES:
            msg = f"{err['msg']}, not {err['input']!r}"
            fix = _STRICT_TYPES[kind]
        elif kind in ("union_tag_invalid", "union_tag_not_found"):
            # the only union of the schema: a workload network, told apart by its kind
            msg = "a workload network's kind is provider or tenant"
            if kind == "union_tag_invalid":
                msg += f", not {err['ctx']['tag']!r}"
                loc = (*loc, "kind")
            fix = "set kind: provider (a segment per site) or kind: tenant (geneve, a cidr)"
        else:
            msg = err["msg"].removeprefix("Value error, ")
            fix = "correct the value"
        out.append(finding(loaded, "DCN001", loc, msg, fix))
    return out


#: types read strictly (a YAML 1.1 ``yes`` or a quoted ``"3"`` is not silently converted)
_STRICT_TYPES = {
    "bool_type": "write true or false (unquoted)",
    "int_type": "write a whole number without quotes",
    "string_type": "quote the value so it is read as text",
}


def _models(annotation: Any) -> tuple[list[type[BaseModel]], bool]:
    """The models an annotation holds (a union: each), and whether it is a mapping
    (whose keys, in an error's path, are names, not fields)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation], False
    found: list[type[BaseModel]] = []
    for arg in get_args(annotation):
        found.extend(_models(arg)[0])
    return found, get_origin(annotation) is dict


def _tag(model: type[BaseModel]) -> str | None:
    """The ``kind`` value that selects `model` in a union (pydantic puts it in paths)."""
    info = model.model_fields.get("kind")
    args = get_args(info.annotation) if info is not None else ()
    return args[0] if len(args) == 1 and isinstance(args[0], str) else None


def _walk(loc: tuple) -> tuple[tuple, list[str]]:
    """An error's path as written in the description (pydantic adds the ``kind`` of a
    workload network after its index) and the fields known where it ends."""
    from dcn.model.description import Deployment

    models: list[type[BaseModel]] = [Deployment]
    keyed = False  # the next name is a key of a mapping, not a field
    path: list[Any] = []
    for k, part in enumerate(loc):
        tagged = [m for m in models if _tag(m) == part]
        if len(models) > 1 and tagged:
            models = tagged  # the union's tag: not in the description
            continue
        path.append(part)
        if isinstance(part, int) or k == len(loc) - 1:
            continue
        if keyed:
            keyed = False
            continue
        info = next((m.model_fields[part] for m in models if part in m.model_fields), None)
        found, keyed = _models(info.annotation) if info is not None else ([], False)
        models = found
    fields = sorted({f for m in models[:1] for f in m.model_fields})
    return tuple(path), fields
