"""What a catalog service declares: the secrets it needs, the files and processes it runs.

Services render from the control plane's *outputs* (endpoint map, global config, node
lists), never from another stack's internals: a control-plane service and an edge
nova-compute see the same contract, which is what makes an external export usable.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from dcn.model.description import Deployment, Site
from dcn.plan.types import (
    ControlPlaneOutputs,
    DirSpec,
    FileSpec,
    ProcessSpec,
    SiteNetworkPlan,
    StepSpec,
)


@dataclass(frozen=True, slots=True)
class RenderContext:
    """Everything a service may read to render one node's files."""

    deployment: Deployment
    site: Site
    network: SiteNetworkPlan
    hostname: str
    fqdn: str
    #: network -> this node's address
    addresses: Mapping[str, str]
    outputs: ControlPlaneOutputs
    #: where the OpenStack virtualenv is on the node (commands are under <venv>/bin)
    venv: str = "/opt/dcn/venv"

    @property
    def internal_ip(self) -> str:
        return self.addresses.get("internal_api") or self.addresses["ctlplane"]

    def overrides(self, filename: str) -> dict[str, dict[str, Any]]:
        """Operator's config_overrides for a file (by base name, e.g. ``nova.conf``)."""
        return self.site.config_overrides.get(filename, {})


class Service(Protocol):
    """A catalog entry. Modules in this package provide one or more of these."""

    name: str
    #: secret names (TripleO parameter names) the service's files reference
    secrets: tuple[str, ...]
    #: Debian packages the service needs on the host
    packages: tuple[str, ...]
    #: units of those packages its processes run as (kept stopped until configured)
    packaged_units: tuple[str, ...]

    def files(self, ctx: RenderContext) -> dict[str, FileSpec]: ...

    def processes(self, ctx: RenderContext) -> tuple[ProcessSpec, ...]: ...

    def dirs(self, ctx: RenderContext) -> tuple[DirSpec, ...]: ...

    def steps(self, ctx: RenderContext) -> tuple[StepSpec, ...]: ...
