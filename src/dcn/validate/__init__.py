"""Validation of a loaded description: schema findings, then semantic rules.

Each finding has a stable rule id (`RULES`, documented one row each in docs/rules.md),
the file, line and field, what is wrong and a fix. The rules live in modules named
after what they check: sites, addresses, names, overrides.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import ValidationError

from dcn.errors import Finding, Severity
from dcn.heap import collector_paused
from dcn.model.description import Deployment, parse
from dcn.model.loader import LoadedDescription
from dcn.validate.addresses import address_findings
from dcn.validate.names import name_findings, string_findings
from dcn.validate.overrides import override_findings
from dcn.validate.rules import RULES
from dcn.validate.schema import schema_findings
from dcn.validate.sites import DVR_MECHANISMS, site_findings

__all__ = ["DVR_MECHANISMS", "RULES", "ValidationResult", "validate"]


@dataclass
class ValidationResult:
    deployment: Deployment | None
    findings: list[Finding] = field(default_factory=list)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity is Severity.ERROR]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity is Severity.WARNING]

    @property
    def ok(self) -> bool:
        return not self.errors


def validate(loaded: LoadedDescription) -> ValidationResult:
    """Every finding of `loaded`, sorted by file and line; the Deployment if it parsed."""
    with collector_paused():
        return _validate(loaded)


def _validate(loaded: LoadedDescription) -> ValidationResult:
    try:
        dep = parse(loaded.data)
    except ValidationError as exc:
        return ValidationResult(None, schema_findings(loaded, exc))
    findings = [
        *string_findings(loaded),
        *site_findings(loaded, dep),
        *name_findings(loaded, dep),
        *address_findings(loaded, dep),
        *override_findings(loaded, dep),
    ]
    findings.sort(key=lambda f: (f.location.file, f.location.line or 0))
    return ValidationResult(dep, findings)
