"""What a catalog service declares, in one place: the files, processes, dirs and steps
it renders, and what the tables around it are derived from (its database, its keystone
user and catalog entry, its EndpointMap rows and ports, the secrets it references, its
Debian packages and units, what `dcn health` probes of it).

Each module of this package holds its services' declarations (module-level
`CatalogService` values); `dcn.services.catalog` finds them and derives every table
(the databases MariaDB creates, the services keystone registers, the endpoint map,
the secret catalog, the health targets). Adding a service is its module and its role
in `dcn.model.roles`.

Services render from the control plane's *outputs* (endpoint map, global config, node
lists), never from another stack's internals: a control-plane service and an edge
nova-compute see the same contract, which is what makes an external export usable.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from dcn.model.description import Deployment, Site
from dcn.plan.types import (
    ControlPlaneOutputs,
    DirSpec,
    FileSpec,
    ProcessSpec,
    SiteNetworkPlan,
    StepSpec,
)
from dcn.secrets.catalog import Secret


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
    #: the first node of its role at the site: where a cluster is bootstrapped from
    #: (steps that are `StepSpec.bootstrap_only` run there only)
    bootstrap: bool = True

    @property
    def internal_ip(self) -> str:
        return self.addresses.get("internal_api") or self.addresses["ctlplane"]

    def overrides(self, filename: str) -> dict[str, dict[str, Any]]:
        """Operator's config_overrides for a file (by base name, e.g. ``nova.conf``)."""
        return self.site.config_overrides.get(filename, {})


class Service(Protocol):
    """A catalog entry, as planning and delivery read it (`dcn.services.catalog.service`)."""

    name: str
    #: secret names (TripleO parameter names) the service's files reference
    secrets: tuple[str, ...]
    #: Debian packages the service needs on the host
    packages: tuple[str, ...]
    #: units of those packages its processes run as (kept stopped until configured)
    packaged_units: tuple[str, ...]
    #: services on the same node that must be deployed before it (None: every one
    #: listed before it)
    needs: tuple[str, ...] | None

    def files(self, ctx: RenderContext) -> dict[str, FileSpec]: ...

    def processes(self, ctx: RenderContext) -> tuple[ProcessSpec, ...]: ...

    def dirs(self, ctx: RenderContext) -> tuple[DirSpec, ...]: ...

    def steps(self, ctx: RenderContext) -> tuple[StepSpec, ...]: ...


INTERNAL, PUBLIC, ADMIN = "Internal", "Public", "Admin"
ALL_INTERFACES = (INTERNAL, PUBLIC, ADMIN)


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One EndpointMap row the service provides: ``<name><interface>`` per interface."""

    name: str
    port: int
    #: path after ``host:port`` in ``uri`` (``uri_no_suffix`` never has it)
    suffix: str = ""
    interfaces: tuple[str, ...] = ALL_INTERFACES
    protocol: str = "http"
    #: TripleO's MysqlInternal uri is ``mysql+pymysql://host``: no port
    port_in_uri: bool = True
    #: the TripleO service whose nodes serve it (no entry when no node runs it); empty
    #: in a declaration: the declaring service's first TripleO name
    service: str = ""

    @property
    def internal(self) -> str:
        """Its Internal entry's name (``NovaInternal``): what other services use."""
        return f"{self.name}{INTERNAL}"


@dataclass(frozen=True, slots=True)
class Database:
    """A service's database user: its password secret and the databases it owns (and
    only those: MariaDB's init SQL grants it nothing else)."""

    user: str
    secret: str
    names: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Identity:
    """A service's keystone user (in project ``service``) and its catalog entry, with
    the URLs of its EndpointMap row's interfaces."""

    #: keystone service name and type (``nova``, ``compute``)
    name: str
    type: str
    endpoint: Endpoint
    user: str
    secret: str


@dataclass(frozen=True, slots=True)
class Probe:
    """What every site's nodes must reach of the control plane, as `dcn health` checks
    it: an EndpointMap entry's host and port, or (a broker has no entry) the first node
    of an AllNodesConfig list at a GlobalConfig port."""

    name: str
    #: EndpointMap entry, e.g. ``KeystoneInternal``
    endpoint: str = ""
    #: AllNodesConfig node list, the GlobalConfig key of their port and its default
    nodes: str = ""
    port_key: str = ""
    default_port: int = 0


#: what a service's files gather from every declaration: the SQL server creates each
#: database user, keystone registers each service user
Hosted = Literal["databases", "identities"]

Files = Callable[[RenderContext], dict[str, FileSpec]]
Processes = Callable[[RenderContext], tuple[ProcessSpec, ...]]
Dirs = Callable[[RenderContext], tuple[DirSpec, ...]]
Steps = Callable[[RenderContext], tuple[StepSpec, ...]]


def _none(_ctx: RenderContext) -> tuple[()]:
    return ()


@dataclass(frozen=True, slots=True)
class CatalogService:
    """One service's declaration (satisfies `Service` once the catalog has it)."""

    name: str
    render_files: Files
    render_processes: Processes
    render_dirs: Dirs = _none
    render_steps: Steps = _none
    #: the TripleO service names it stands for in the outputs (empty: its own name)
    tripleo: tuple[str, ...] = ()
    database: Database | None = None
    identity: Identity | None = None
    endpoints: tuple[Endpoint, ...] = ()
    #: secrets its files reference besides its database's and keystone user's (and
    #: those of what it hosts); a name is a password, a `Secret` says more
    references: tuple[str | Secret, ...] = ()
    hosts: tuple[Hosted, ...] = ()
    #: TripleO GlobalConfig keys it publishes in the control plane's outputs
    global_config: Mapping[str, object] = field(default_factory=dict)
    probes: tuple[Probe, ...] = ()
    #: Debian packages the service needs on a host
    packages: tuple[str, ...] = ()
    #: units of those packages: those its processes run as (`ProcessSpec.packaged_unit`,
    #: with dcn's drop-in) and those it keeps stopped (a daemon the package starts that
    #: the service does not use)
    packaged_units: tuple[str, ...] = ()
    #: deployed on its roles' nodes only at sites where this holds (None: at every
    #: site): a choice of the site's, such as the metadata route, rather than a role
    runs_at: Callable[[Site], bool] | None = None
    #: the services on the same node that must be deployed before it starts (their
    #: processes answering, their steps run); those not on the node are ignored. None:
    #: every service before it in its role's order. Services that need nothing of
    #: each other deploy side by side (their schema syncs run at once).
    needs: tuple[str, ...] | None = None
    #: every secret its files reference, sorted: derived by the catalog from the
    #: fields above (`dcn.services.catalog.service`); left out of a declaration
    secrets: tuple[str, ...] = ()

    @property
    def tripleo_names(self) -> tuple[str, ...]:
        return self.tripleo or (self.name,)

    def runs_at_site(self, site: Site) -> bool:
        """Whether its roles' nodes at `site` run it."""
        return self.runs_at is None or self.runs_at(site)

    def files(self, ctx: RenderContext) -> dict[str, FileSpec]:
        return self.render_files(ctx)

    def processes(self, ctx: RenderContext) -> tuple[ProcessSpec, ...]:
        return self.render_processes(ctx)

    def dirs(self, ctx: RenderContext) -> tuple[DirSpec, ...]:
        return self.render_dirs(ctx)

    def steps(self, ctx: RenderContext) -> tuple[StepSpec, ...]:
        return self.render_steps(ctx)
