"""Properties every catalog service keeps: declared secrets, file modes, determinism."""

from __future__ import annotations

import pytest

from dcn.errors import DcnError
from dcn.model.description import Deployment, InstanceMetadata
from dcn.model.roles import ROLES
from dcn.plan.types import FileSpec
from dcn.services.base import RenderContext
from dcn.services.catalog import SECRETS, SERVICES, node_services, secrets_for, service
from dcn.services.render import SECRET_MODES, referenced_secrets
from tests.services.conftest import make_ctx, with_site

EDGE_ALLOWED = {
    "RabbitPassword",
    "NovaPassword",
    "NeutronPassword",
    "PlacementPassword",
    "NeutronMetadataProxySharedSecret",
}
NEVER_AT_EDGE = {
    "MysqlRootPassword",
    "AdminPassword",
    "RabbitCookie",
    "KeystoneFernetKey0",
    "KeystoneFernetKey1",
    "KeystoneCredential0",
    "KeystoneCredential1",
} | {n for n in SECRETS if n.endswith("DbPassword")}


def role_files(role: str, ctx: RenderContext) -> dict[str, FileSpec]:
    files: dict[str, FileSpec] = {}
    for name in node_services(role, ctx.site):
        files.update(service(name).files(ctx))
    return files


def ctx_for(name: str, controller: RenderContext, edge: RenderContext) -> RenderContext:
    return edge if name == "nova_compute" else controller


def test_catalog_has_exactly_the_services_roles_use() -> None:
    used = {s for role in ROLES.values() for s in role.services}
    assert set(SERVICES) == used
    assert all(s.name == name for name, s in SERVICES.items())


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_declared_secrets_are_exactly_what_files_reference(
    name: str, controller: RenderContext, edge: RenderContext
) -> None:
    svc = service(name)
    files = svc.files(ctx_for(name, controller, edge))
    assert files, name
    for path, spec in files.items():
        assert spec.secrets == referenced_secrets(spec.content), path
        if spec.secrets:
            assert spec.mode in SECRET_MODES, path
    assert set(svc.secrets) == {s for f in files.values() for s in f.secrets}
    assert list(svc.secrets) == sorted(svc.secrets)
    assert set(svc.secrets) <= set(SECRETS)


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_rendering_is_deterministic(
    name: str, controller: RenderContext, edge: RenderContext, deployment: Deployment
) -> None:
    ctx = ctx_for(name, controller, edge)
    svc = service(name)
    assert svc.files(ctx) == svc.files(ctx)
    assert svc.processes(ctx) == svc.processes(ctx)
    # an equal context built anew renders byte-equal files
    again = make_ctx(deployment, ctx.site.name, ctx.hostname, dict(ctx.addresses), ctx.network.vips)
    assert svc.files(again) == svc.files(ctx)


@pytest.mark.parametrize("route", [False, True])
def test_edge_compute_receives_only_what_it_needs(edge: RenderContext, route: bool) -> None:
    metadata = InstanceMetadata(config_drive=not route, metadata_route=route)
    ctx = with_site(edge, instance_metadata=metadata)
    files = role_files("DistributedCompute", ctx)
    used = {s for f in files.values() for s in f.secrets}
    # the metadata agent's shared secret only where it runs
    shared = {"NeutronMetadataProxySharedSecret"} if route else set()
    assert used == {"NeutronPassword", "NovaPassword", "RabbitPassword"} | shared
    assert used <= EDGE_ALLOWED
    assert not used & NEVER_AT_EDGE
    assert secrets_for(node_services("DistributedCompute", ctx.site)) == tuple(sorted(used))


def test_services_sharing_a_file_on_a_node_render_it_identically(
    controller: RenderContext,
) -> None:
    seen: dict[str, tuple[str, FileSpec]] = {}
    for name in ROLES["Controller"].services:
        for path, spec in service(name).files(controller).items():
            if path in seen:
                assert spec == seen[path][1], f"{path}: {seen[path][0]} and {name} differ"
            seen[path] = (name, spec)
    assert "/etc/nova/nova.conf" in seen


def test_secrets_for_is_the_sorted_union() -> None:
    assert secrets_for(["rabbitmq", "nova_compute", "rabbitmq"]) == (
        "NeutronPassword",
        "NovaPassword",
        "RabbitCookie",
        "RabbitPassword",
    )
    assert secrets_for([]) == ()
    control = secrets_for(ROLES["Controller"].services)
    assert set(control) == set(SECRETS)


def test_unknown_service_is_a_clear_error() -> None:
    with pytest.raises(DcnError, match="unknown service 'cinder_api'") as err:
        service("cinder_api")
    assert "nova_compute" in err.value.hint


def test_no_reserved_documentation_range_anywhere(
    controller: RenderContext, edge: RenderContext
) -> None:
    for name in SERVICES:
        for spec in service(name).files(ctx_for(name, controller, edge)).values():
            assert "192.0.2." not in spec.content
