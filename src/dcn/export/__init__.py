"""The control plane's outputs as a TripleO-compatible export: build, write, read.

A dcn export is one YAML environment file (``parameter_defaults``) that edge stacks
consume, versioned with ``DcnExportVersion`` so stale consumers can be found; a
TripleO export (the seed's separate files) reads the same way.
"""

from dcn.export.document import build_export, substitute_secrets
from dcn.export.read import ImportedExport, read_export
from dcn.export.write import write_export

__all__ = [
    "ImportedExport",
    "build_export",
    "read_export",
    "substitute_secrets",
    "write_export",
]
