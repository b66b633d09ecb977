"""The service catalog: every service a role may run, by the name roles use."""

from __future__ import annotations

from collections.abc import Iterable

from dcn.errors import DcnError
from dcn.services import (
    glance_api,
    keystone,
    mariadb,
    neutron_server,
    nova,
    placement_api,
    rabbitmq,
)
from dcn.services.base import Service

SERVICES: dict[str, Service] = {
    s.name: s
    for s in (
        mariadb.SERVICE,
        rabbitmq.SERVICE,
        keystone.SERVICE,
        glance_api.SERVICE,
        placement_api.SERVICE,
        neutron_server.SERVICE,
        nova.NOVA_API,
        nova.NOVA_CONDUCTOR,
        nova.NOVA_SCHEDULER,
        nova.NOVA_COMPUTE,
    )
}


def service(name: str) -> Service:
    """The catalog entry `name`; a clear error for a name the catalog lacks."""
    try:
        return SERVICES[name]
    except KeyError:
        raise DcnError(
            f"unknown service {name!r}", hint="catalog services: " + ", ".join(SERVICES)
        ) from None


def secrets_for(services: Iterable[str]) -> tuple[str, ...]:
    """Every secret the given services' files reference: what their stack receives."""
    return tuple(sorted({s for name in services for s in service(name).secrets}))
