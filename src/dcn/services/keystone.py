"""Keystone (identity) under gunicorn, with Fernet tokens and credential encryption.

Key repositories hold two keys each: 0 is the staged key, 1 the primary, as
``keystone-manage fernet_setup`` would create them; every key is its own secret so
the plan references them and their values never enter the plan. An admin
``clouds.yaml`` on the controller lets the deploy step (and the operator) run
``openstack`` as admin without passing the password on a command line.
"""

from __future__ import annotations

import json

from dcn.node import source
from dcn.plan.types import DirSpec, FileSpec, ProcessSpec, StepSpec, secret_ref
from dcn.services.base import RenderContext
from dcn.services.common import (
    DEFAULT_DOMAIN,
    SERVICE_PROJECT,
    db_connection,
    endpoint,
    keystone_url,
    manage,
    region,
)
from dcn.services.render import CatalogService, config_file, file_spec, ini_file
from dcn.services.wsgi import WsgiApi

CONFDIR = "/etc/keystone"
CONF = config_file(f"{CONFDIR}/keystone.conf")
FERNET_KEYS = f"{CONFDIR}/fernet-keys"
CREDENTIAL_KEYS = f"{CONFDIR}/credential-keys"
#: key repository -> its keys' secrets, by file name 0 (staged) and 1 (primary)
KEY_SECRETS = {
    FERNET_KEYS: ("KeystoneFernetKey0", "KeystoneFernetKey1"),
    CREDENTIAL_KEYS: ("KeystoneCredential0", "KeystoneCredential1"),
}
CLOUDS_YAML = "/etc/openstack/clouds.yaml"
CATALOG_DATA = "/etc/dcn/keystone-catalog.json"
CATALOG_SCRIPT = "/etc/dcn/keystone-catalog.py"
#: (service name, type, EndpointMap name, user, password secret) registered in keystone
CATALOG = (
    ("glance", "image", "Glance", "glance", "GlancePassword"),
    ("placement", "placement", "Placement", "placement", "PlacementPassword"),
    ("neutron", "network", "Neutron", "neutron", "NeutronPassword"),
    ("nova", "compute", "Nova", "nova", "NovaPassword"),
)
#: roles every service user holds in the service project (``service`` for service tokens)
SERVICE_ROLES = ("admin", "service")

API = WsgiApi(
    name="keystone",
    app="keystone.wsgi.api:application",
    endpoint="KeystoneInternal",
    port=5000,
    confdir=CONFDIR,
    workers=2,
    env={"OS_KEYSTONE_CONFIG_DIR": CONFDIR},
)


def keystone_conf(ctx: RenderContext) -> FileSpec:
    return ini_file(
        ctx,
        CONF,
        {
            "database": {
                "connection": db_connection(ctx, "keystone", "KeystoneDbPassword", "keystone")
            },
            "token": {"provider": "fernet"},
            "fernet_tokens": {"key_repository": FERNET_KEYS, "max_active_keys": 3},
            "fernet_receipts": {"key_repository": FERNET_KEYS},
            "credential": {"provider": "fernet", "key_repository": CREDENTIAL_KEYS},
        },
    )


def clouds_yaml(ctx: RenderContext) -> FileSpec:
    """openstacksdk's system-wide file; cloud name = the deployment's name."""
    lines = [
        "# managed by dcn: admin credentials of this cloud (mode 0600)",
        "clouds:",
        f"  {ctx.deployment.name}:",
        "    auth:",
        f"      auth_url: {keystone_url(ctx)}",
        "      username: admin",
        # quoted: a plain YAML scalar can't start with "@" (the reference's first char)
        f"      password: '{secret_ref('AdminPassword')}'",
        "      project_name: admin",
        f"      project_domain_name: {DEFAULT_DOMAIN}",
        f"      user_domain_name: {DEFAULT_DOMAIN}",
        f"    region_name: {region(ctx)}",
        "    interface: internal",
        "    identity_api_version: 3",
    ]
    return file_spec("\n".join(lines) + "\n", mode="0600")


def catalog_data(ctx: RenderContext) -> FileSpec:
    """What keystone-catalog.py registers: service users, services, endpoint URLs."""
    services = []
    for name, kind, entry, user, secret in CATALOG:
        endpoints = {
            iface.lower(): endpoint(ctx, f"{entry}{iface}")["uri"]
            for iface in ("Internal", "Public", "Admin")
            if f"{entry}{iface}" in ctx.outputs.endpoint_map
        }
        services.append(
            {
                "name": name,
                "type": kind,
                "user": user,
                "password": secret_ref(secret),
                "endpoints": endpoints,
            }
        )
    data = {
        "cloud": ctx.deployment.name,
        "region": region(ctx),
        "project": SERVICE_PROJECT,
        "roles": list(SERVICE_ROLES),
        "services": services,
    }
    return file_spec(json.dumps(data, indent=2, sort_keys=True) + "\n", mode="0600")


def files(ctx: RenderContext) -> dict[str, FileSpec]:
    out = {CONF: keystone_conf(ctx), **API.files(ctx)}
    for repository, names in KEY_SECRETS.items():
        for index, name in enumerate(names):
            # no newline: the file is the key, read as is
            out[f"{repository}/{index}"] = file_spec(secret_ref(name), mode="0600")
    out[CLOUDS_YAML] = clouds_yaml(ctx)
    out[CATALOG_DATA] = catalog_data(ctx)
    out[CATALOG_SCRIPT] = file_spec(source("keystone_catalog.py"))
    return out


def dirs(ctx: RenderContext) -> tuple[DirSpec, ...]:
    return (
        DirSpec(FERNET_KEYS, mode="0700"),
        DirSpec(CREDENTIAL_KEYS, mode="0700"),
        DirSpec("/var/log/keystone", mode="0750"),
    )


def steps(ctx: RenderContext) -> tuple[StepSpec, ...]:
    """Schema, the admin user and keystone's own endpoints, then the other services.

    The admin password reaches ``bootstrap`` through its environment, never argv.
    """
    conf = ("--config-file", f"{CONFDIR}/keystone.conf")
    url = keystone_url(ctx)
    bootstrap = manage(
        ctx,
        "keystone-manage",
        *conf,
        "bootstrap",
        "--bootstrap-username",
        "admin",
        "--bootstrap-project-name",
        "admin",
        "--bootstrap-role-name",
        "admin",
        "--bootstrap-service-name",
        "keystone",
        "--bootstrap-region-id",
        region(ctx),
        "--bootstrap-admin-url",
        url,
        "--bootstrap-internal-url",
        url,
        "--bootstrap-public-url",
        keystone_url(ctx, "Public") if "KeystonePublic" in ctx.outputs.endpoint_map else url,
    )
    return (
        StepSpec("db-sync", manage(ctx, "keystone-manage", *conf, "db_sync")),
        StepSpec(
            "bootstrap",
            bootstrap,
            env={"OS_BOOTSTRAP_PASSWORD": secret_ref("AdminPassword")},
            once=True,
        ),
        StepSpec(
            "catalog",
            (f"{ctx.venv}/bin/python", CATALOG_SCRIPT, CATALOG_DATA),
            phase="post",
            rerun_on=(CATALOG_DATA, CATALOG_SCRIPT),
            once=True,
        ),
    )


def processes(ctx: RenderContext) -> tuple[ProcessSpec, ...]:
    return (API.process(ctx),)


SERVICE = CatalogService(
    name="keystone",
    secrets=tuple(
        sorted(
            {
                "AdminPassword",
                "KeystoneDbPassword",
                *(n for v in KEY_SECRETS.values() for n in v),
                *(c[4] for c in CATALOG),
            }
        )
    ),
    render_files=files,
    render_processes=processes,
    render_dirs=dirs,
    render_steps=steps,
)
