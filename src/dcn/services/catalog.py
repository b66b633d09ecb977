"""The service catalog: every service this package declares, found by looking, and the
tables derived from the declarations.

Nothing here lists a service: each module of `dcn.services` declares its own (module-
level `CatalogService` values), and the catalog imports every module of the package to
find them. Services come in the role catalog's order (as `dcn.model.roles.ROLES`
names them, then any other by name), so a derived table lists them in the order a
node deploys them. Every table other code reads (the databases, keystone's services,
the endpoint rows and TripleO names of the outputs, the secrets and their kinds, the
health probes) is computed here, once, from the declarations.
"""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil
from collections.abc import Iterable
from types import ModuleType

import dcn.services
from dcn.errors import DcnError
from dcn.model.description import Site
from dcn.model.roles import ROLES
from dcn.secrets.catalog import Secret, SecretKind, new_value
from dcn.services.base import (
    CatalogService,
    Database,
    Endpoint,
    Identity,
    Probe,
    Service,
)


def declarations(package: ModuleType = dcn.services) -> list[CatalogService]:
    """Every `CatalogService` at the top level of the package's modules, by module name."""
    found: dict[str, CatalogService] = {}
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        qualified = f"{package.__name__}.{info.name}"
        if qualified == __name__:
            continue
        module = importlib.import_module(qualified)
        for value in vars(module).values():
            is_service = isinstance(value, CatalogService)
            if is_service and found.setdefault(value.name, value) is not value:
                raise ValueError(f"service {value.name} is declared twice ({qualified})")
    return list(found.values())


def role_order(names: Iterable[str]) -> list[str]:
    """Service names in the order roles list them, then the others by name."""
    order = list(dict.fromkeys(s for role in ROLES.values() for s in role.services))
    known = set(names)
    return [n for n in order if n in known] + sorted(known - set(order))


def _references(svc: CatalogService) -> list[str | Secret]:
    """Every secret a declaration names itself: its references, its database's, its user's."""
    refs: list[str | Secret] = [*svc.references]
    refs += [svc.database.secret] if svc.database else []
    return refs + ([svc.identity.secret] if svc.identity else [])


def _name(ref: str | Secret) -> str:
    return ref.name if isinstance(ref, Secret) else ref


def secret_table(declared: Iterable[CatalogService]) -> dict[str, Secret]:
    """Every secret referenced, by name; a bare name is a password unless some
    declaration says more of it."""
    refs = [ref for svc in declared for ref in _references(svc)]
    explicit: dict[str, Secret] = {}
    for ref in refs:
        if isinstance(ref, Secret) and explicit.setdefault(ref.name, ref) != ref:
            raise ValueError(f"secret {ref.name} is declared twice, differently")
    return {n: explicit.get(n, Secret(n)) for n in sorted({_name(r) for r in refs})}


def _resolved(
    svc: CatalogService, databases: Iterable[Database], identities: Iterable[Identity]
) -> CatalogService:
    """The declaration with every secret its files reference, and its endpoints' TripleO
    service filled in."""
    hosted = {d.secret for d in databases} if "databases" in svc.hosts else set()
    hosted |= {i.secret for i in identities} if "identities" in svc.hosts else set()
    service = svc.tripleo_names[0]
    endpoints = tuple(
        ep if ep.service else dataclasses.replace(ep, service=service) for ep in svc.endpoints
    )
    for ep in endpoints:
        if ep.service not in svc.tripleo_names:
            raise ValueError(
                f"{svc.name}: endpoint {ep.name} is served by {ep.service}, "
                f"not one of its TripleO services {svc.tripleo_names}"
            )
    secrets = tuple(sorted({_name(r) for r in _references(svc)} | hosted))
    return dataclasses.replace(svc, secrets=secrets, endpoints=endpoints)


def resolve(declared: list[CatalogService]) -> dict[str, CatalogService]:
    """The declarations by name, in role order, each with its derived fields."""
    by_name = {s.name: s for s in declared}
    ordered = [by_name[n] for n in role_order(by_name)]
    databases = [s.database for s in ordered if s.database]
    identities = [s.identity for s in ordered if s.identity]
    return {s.name: _resolved(s, databases, identities) for s in ordered}


def check_unique(services: Iterable[CatalogService]) -> None:
    """Names two declarations must not share: the tables are keyed by them."""
    seen: dict[tuple[str, str], str] = {}
    for svc in services:
        database = svc.database
        keys = [("database user", database.user)] if database else []
        keys += [("database", db) for db in database.names] if database else []
        keys += [("endpoint", e.name) for e in svc.endpoints]
        keys += [("TripleO service", t) for t in svc.tripleo_names]
        keys += [("GlobalConfig key", k) for k in svc.global_config]
        keys += [("probe", p.name) for p in svc.probes]
        for key in keys:
            if seen.setdefault(key, svc.name) != svc.name:
                raise ValueError(f"{key[0]} {key[1]} is declared by {seen[key]} and {svc.name}")


#: every service a role may run, by the name roles use, in the role catalog's order
SERVICES: dict[str, CatalogService] = resolve(declarations())

#: every database user MariaDB creates, with its databases
DATABASES: tuple[Database, ...] = tuple(s.database for s in SERVICES.values() if s.database)
#: every service keystone registers: its user, service and endpoints
IDENTITIES: tuple[Identity, ...] = tuple(s.identity for s in SERVICES.values() if s.identity)
#: every EndpointMap row, each with the TripleO service whose nodes serve it
ENDPOINTS: tuple[Endpoint, ...] = tuple(e for s in SERVICES.values() for e in s.endpoints)
#: dcn service -> the TripleO service names it stands for in the outputs
TRIPLEO_SERVICES: dict[str, tuple[str, ...]] = {
    name: s.tripleo_names for name, s in SERVICES.items()
}
#: GlobalConfig keys the services publish in the control plane's outputs
GLOBAL_CONFIG: dict[str, object] = {
    k: v for s in SERVICES.values() for k, v in s.global_config.items()
}
#: what `dcn health` probes from every site's nodes
PROBES: tuple[Probe, ...] = tuple(p for s in SERVICES.values() for p in s.probes)
#: every secret any service references, by name, with its kind
SECRETS: dict[str, Secret] = secret_table(SERVICES.values())

#: every secret, for the "full TripleO-style" export (TripleO sent all to every edge)
ALL_TRIPLEO_STYLE: tuple[str, ...] = tuple(SECRETS)
#: secrets `dcn secrets rotate` refuses, and why
NOT_ROTATED: dict[str, str] = {n: s.not_rotated for n, s in SECRETS.items() if s.not_rotated}

check_unique(SERVICES.values())


def kind(name: str) -> SecretKind:
    """The kind of secret `name`; a clear error for a name no service uses."""
    try:
        return SECRETS[name].kind
    except KeyError:
        raise DcnError(
            f"unknown secret {name!r}: no catalog service uses it",
            hint="known secrets: " + ", ".join(SECRETS),
        ) from None


def generate(name: str) -> str:
    """A fresh random value for secret `name` (never logged, never shown)."""
    return new_value(kind(name))


def service(name: str) -> Service:
    """The catalog entry `name`; a clear error for a name the catalog lacks."""
    try:
        return SERVICES[name]
    except KeyError:
        raise DcnError(
            f"unknown service {name!r}", hint="catalog services: " + ", ".join(SERVICES)
        ) from None


def node_services(role: str, site: Site) -> tuple[str, ...]:
    """The services a node of `role` at `site` runs, in deploy order: its role's, less
    those deployed only at sites of a choice this site did not make (`runs_at`)."""
    return tuple(name for name in ROLES[role].services if SERVICES[name].runs_at_site(site))


def secrets_for(services: Iterable[str]) -> tuple[str, ...]:
    """Every secret the given services' files reference: what their stack receives."""
    return tuple(sorted({s for name in services for s in service(name).secrets}))
