"""Schema findings (DCN001): pydantic's errors, with the field's file:line and a fix."""

from __future__ import annotations

import difflib

from pydantic import ValidationError

from dcn.errors import Finding
from dcn.model.loader import LoadedDescription
from dcn.validate.rules import finding


def schema_findings(
    loaded: LoadedDescription, exc: ValidationError, prefix: tuple = ()
) -> list[Finding]:
    """DCN001 for each of pydantic's errors; `prefix` is where the validated value is."""
    out = []
    for err in exc.errors(include_url=False):
        loc = (*prefix, *err["loc"])
        kind = err["type"]
        if kind == "extra_forbidden":
            key = str(loc[-1])
            fields = _fields_at(loc[:-1])
            close = difflib.get_close_matches(key, fields, n=1)
            msg = f"unknown field {key!r}" + (f"; did you mean {close[0]!r}?" if close else "")
            fix = f"remove or rename {key!r}" + (f" (known: {', '.join(fields)})" if fields else "")
        elif kind == "missing":
            msg = f"missing required field {loc[-1]!r}"
            fix = f"add {loc[-1]!r}"
        elif kind in _STRICT_TYPES:
            msg = f"{err['msg']}, not {err['input']!r}"
            fix = _STRICT_TYPES[kind]
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


def _fields_at(loc: tuple) -> list[str]:
    from dcn.model import description as d

    model: type = d.Deployment
    for part in loc:
        if isinstance(part, int):
            continue
        info = model.model_fields.get(part) if hasattr(model, "model_fields") else None
        if info is None:
            break
        ann = str(info.annotation)
        for candidate in ("Site", "RoleSpec", "Subnet", "Network", "Sdn", "InstanceMetadata"):
            if f"{candidate}" in ann:
                model = getattr(d, candidate)
                break
    return sorted(getattr(model, "model_fields", {}))
